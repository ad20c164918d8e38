"""The Docker driver on the sandbox's real dockerd and registry."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.docker.driver import KUBELET_LABEL, DockerDriver
from jupyter_virtwork.errors import (
    BuildError,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
)
from jupyter_virtwork.models import (
    ContainerExit,
    ContainerSpec,
    ImageSpec,
    Kind,
    Progress,
    State,
)
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sizes import MiB
from jupyter_virtwork.watch import Stopper

from .conftest import ensure_up
from .contract import DriverContract

BUSYBOX = "localbase/busybox:1.35"
REGISTRY = "127.0.0.1:5000"


@pytest.fixture(scope="module")
def driver() -> Iterator[DockerDriver]:
    ensure_up("docker", "registry", "images")
    connected = connect("docker://")
    assert isinstance(connected, DockerDriver)
    yield connected
    connected.close()


def _name(prefix: str = "vw-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def labels() -> dict[str, str]:
    return ownership.ownership(_name("session"))


@pytest.fixture
def cleanup(driver: DockerDriver, labels: dict[str, str]) -> Iterator[None]:
    """Whatever a test created with ``labels`` is removed afterwards, containers first."""
    yield
    for kind in driver.kinds:
        for resource in driver.list(kind, labels=labels):
            driver.destroy(kind, resource.id, force=True)


class TestContract(DriverContract):
    kind: ClassVar[Kind] = Kind.CONTAINER
    unsupported: ClassVar[tuple[str, Kind]] = ("pause", Kind.IMAGE)

    @pytest.fixture
    def fresh_driver(self, driver: DockerDriver) -> Iterator[DockerDriver]:
        connected = connect("docker://")
        assert isinstance(connected, DockerDriver)
        yield connected
        connected.close()

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        return ContainerSpec(BUSYBOX, name=name, command=("sleep", "300"), labels=labels,
                             network="none")


def test_ping_reports_the_engine_version(driver: DockerDriver) -> None:
    assert driver.ping().startswith("20.")


def test_container_lifecycle(driver: DockerDriver, labels: dict[str, str],
                             cleanup: None) -> None:
    # PID 1 ignores SIGTERM unless it traps it: trap it, so stop is quick and graceful.
    spec = ContainerSpec(BUSYBOX, name=_name(),
                         command=("sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"),
                         labels=labels, network="none", env={"GREETING": "hello"})
    container = driver.create(spec)
    assert container.state is State.RUNNING and container.name == spec.name
    assert driver.pause(Kind.CONTAINER, container.id).state is State.PAUSED
    assert driver.resume(Kind.CONTAINER, container.id).state is State.RUNNING
    result = driver.exec(container.id, ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"])
    assert (result.stdout, result.stderr, result.exit_code) == ("hello\n", "oops\n", 3)
    assert driver.stop(Kind.CONTAINER, spec.name or "").state is State.STOPPED
    assert driver.start(Kind.CONTAINER, container.id).state is State.RUNNING
    assert driver.stats(container.id)["memory_bytes"] > 0


def test_a_container_past_its_memory_limit_is_oom_killed(driver: DockerDriver,
                                                         labels: dict[str, str],
                                                         cleanup: None) -> None:
    # dd's one 64 MiB buffer, filled from /dev/zero, cannot fit in 32 MiB; in 128 it does.
    fill = ("dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
    small = driver.create(ContainerSpec(BUSYBOX, name=_name(), command=fill, labels=labels,
                                        network="none", memory=32 * MiB))
    large = driver.create(ContainerSpec(BUSYBOX, name=_name(), command=fill, labels=labels,
                                        network="none", memory=128 * MiB))
    assert driver.wait(small.id) == ContainerExit(137, oom_killed=True)
    assert driver.wait(large.id) == ContainerExit(0, oom_killed=False)
    assert "--memory 33554432b --memory-swap 33554432b" in driver.create_command(
        ContainerSpec(BUSYBOX, memory=32 * MiB))


def test_logs_follow_stops_from_another_thread(driver: DockerDriver, labels: dict[str, str],
                                               cleanup: None) -> None:
    container = driver.create(ContainerSpec(
        BUSYBOX, name=_name(), labels=labels, network="none",
        command=("sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done")))
    stopper = Stopper()
    lines: list[str] = []
    for line in driver.logs(container.id, follow=True, stopper=stopper):
        lines.append(line)
        if len(lines) == 3:
            threading.Timer(0.1, stopper.stop).start()
    assert lines[:3] == ["line 0", "line 1", "line 2"]


def test_build_tag_push_and_pull_back(driver: DockerDriver, labels: dict[str, str],
                                      cleanup: None) -> None:
    tag = f"{_name('vw-image')}:1"
    steps: list[Progress] = []
    image = driver.build(ImageSpec(tag, f"FROM {BUSYBOX}\nCOPY hello.txt /hello.txt\n"
                                        'CMD ["cat", "/hello.txt"]\n',
                                   files={"hello.txt": b"hi from a cell\n"}, labels=labels),
                         on_progress=steps.append)
    assert image.name == tag and ownership.is_ours(image.labels)
    numbered = [(p.current, p.total) for p in steps if p.current is not None]
    assert numbered == [(1, 3), (2, 3), (3, 3)]  # the user's steps, not the engine's LABELs
    assert steps[-1].done
    remote = f"{REGISTRY}/{tag}"
    driver.tag(tag, remote)
    pushed: list[Progress] = []
    digest = driver.push(remote, on_progress=pushed.append)
    assert digest.startswith("sha256:") and pushed[-1].done
    driver.destroy(Kind.IMAGE, remote)
    import docker

    docker.APIClient().pull(f"{REGISTRY}/{tag.split(':')[0]}", tag="1")
    pulled = driver.get(Kind.IMAGE, remote)
    assert pulled.id == image.id
    driver.destroy(Kind.IMAGE, remote)
    run = driver.create(ContainerSpec(tag, name=_name(), labels=labels, network="none"))
    time.sleep(0.5)
    assert list(driver.logs(run.id)) == ["hi from a cell"]


# --- bad input: one line, and the engine as it was ----------------------------------------


def _images(driver: DockerDriver) -> set[str]:
    return {r.id for r in driver.list(Kind.IMAGE)}


def _containers(driver: DockerDriver) -> set[str]:
    """Every container but the kubelet's: it removes the exited containers of deleted pods
    whenever it likes, which would make a before/after comparison fail for nothing."""
    return {r.id for r in driver.list(Kind.CONTAINER) if KUBELET_LABEL not in r.labels}


@pytest.mark.parametrize(("dockerfile", "error", "words"), [
    (f"FROM {BUSYBOX}\nFORM oops\n", InvalidInput, "unknown instruction"),
    ("FROM localbase/no-such-base:9\n", NotFound, "pulling is disabled"),
    (f"FROM {BUSYBOX}\nRUN echo before\nRUN exit 7\n", BuildError, "step 3/3"),
    # As on a fresh machine: the layer of the step before the failure is new, not cached.
    (f"FROM {BUSYBOX}\nRUN echo before-{uuid.uuid4().hex}\nENV A=1\nRUN exit 7\n",
     BuildError, "step 4/4"),
    ("RUN echo no from\n", InvalidInput, "no FROM line"),
])
def test_bad_dockerfiles(driver: DockerDriver, labels: dict[str, str], cleanup: None,
                         dockerfile: str, error: type[Exception], words: str) -> None:
    images, containers = _images(driver), _containers(driver)
    with pytest.raises(error) as caught:
        driver.build(ImageSpec(f"{_name('vw-bad')}:1", dockerfile, labels=labels))
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert _containers(driver) == containers
    assert _images(driver) - images == set()


def test_failed_build_keeps_the_log(driver: DockerDriver, labels: dict[str, str],
                                    cleanup: None) -> None:
    with pytest.raises(BuildError) as caught:
        driver.build(ImageSpec(f"{_name('vw-bad')}:1",
                               f"FROM {BUSYBOX}\nRUN echo marker-42 && exit 1\n",
                               labels=labels))
    assert "marker-42" in caught.value.log
    assert "\x1b" not in caught.value.log  # no terminal colour codes
    assert caught.value.step is not None and caught.value.step.startswith("step 2/2")


def test_a_failed_build_leaves_none_of_its_layers(driver: DockerDriver,
                                                  labels: dict[str, str]) -> None:
    """Every step before the failure made an image (new, not from the cache); all go, with
    their containers: nothing dangling, nothing a label filter could not find."""
    fresh = uuid.uuid4().hex
    before = {r["Id"] for r in driver._api().images(all=True)}
    containers = _containers(driver)
    with pytest.raises(BuildError):
        driver.build(ImageSpec(f"{_name('vw-bad')}:1",
                               f"FROM {BUSYBOX}\nRUN echo {fresh} > /a\nCOPY x /x\n"
                               f"ENV B={fresh}\nRUN echo to-stderr >&2 && exit 3\n",
                               files={"x": b"x"}, labels=labels))
    assert {r["Id"] for r in driver._api().images(all=True)} - before == set()
    assert _containers(driver) == containers


def test_unknown_image_is_not_pulled(driver: DockerDriver) -> None:
    containers = _containers(driver)
    with pytest.raises(NotFound) as caught:
        driver.create(ContainerSpec("localbase/not-here:1", name=_name()))
    assert "build it, or push it to the local registry" in str(caught.value)
    assert _containers(driver) == containers


def test_duplicate_container_name(driver: DockerDriver, labels: dict[str, str],
                                  cleanup: None) -> None:
    spec = ContainerSpec(BUSYBOX, name=_name(), command=("sleep", "60"), labels=labels,
                         network="none")
    driver.create(spec)
    with pytest.raises(Exception) as caught:
        driver.create(spec)
    assert "already exists" in str(caught.value)


def test_push_to_an_unreachable_registry(driver: DockerDriver, labels: dict[str, str],
                                         cleanup: None) -> None:
    reference = f"127.0.0.1:5999/{_name('vw-push')}:1"
    driver.tag(BUSYBOX, reference)
    try:
        with pytest.raises(OperationFailed) as caught:
            driver.push(reference)
        assert "127.0.0.1:5999" in str(caught.value)
    finally:
        driver.destroy(Kind.IMAGE, reference)


def test_an_engine_that_is_down_fails_fast_and_clearly() -> None:
    down = connect("docker+unix:///run/jupyter-virtwork/no-such-docker.sock")
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        down.list(Kind.CONTAINER)
    assert time.monotonic() - started < 10
    assert "did not answer" in str(caught.value) and "sandbox up docker" in str(caught.value)


def test_show_command(driver: DockerDriver) -> None:
    assert driver.command("resume", "web") == "docker unpause web"
    assert driver.command("get", "web") == "docker inspect web"
    assert driver.command("create", "--name", "a b", BUSYBOX) == \
        f"docker run -d --name 'a b' {BUSYBOX}"


def test_interrupting_a_build_cancels_it_in_the_engine(driver: DockerDriver,
                                                       labels: dict[str, str],
                                                       cleanup: None) -> None:
    """Interrupting a kernel sends SIGINT to it: sent here for real, to this process."""
    import os
    import signal

    from jupyter_virtwork.errors import Cancelled

    tag = f"{_name('vw-slow')}:1"
    marker = uuid.uuid4().hex
    # A kernel turns SIGINT into KeyboardInterrupt; a test run started in the background by
    # a script inherits SIGINT ignored, and Python then keeps it ignored: set it as a kernel.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(Cancelled) as caught:
            driver.build(ImageSpec(tag, f"FROM {BUSYBOX}\nRUN echo {marker} && sleep 60\n",
                                   labels=labels))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "cancelled" in str(caught.value)
    import docker

    client = docker.APIClient()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
            marker in " ".join(c.get("Command", "").split()) for c in
            client.containers(all=True)):
        time.sleep(0.2)
    assert not any(marker in c.get("Command", "") for c in client.containers(all=True))
    with pytest.raises(NotFound):
        driver.get(Kind.IMAGE, tag)
