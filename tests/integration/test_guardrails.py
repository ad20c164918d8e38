"""Guardrails on the real engines: read-only mode refuses every verb that changes something
before any engine is asked (and lists still work); a destructive verb asks first, through
a real kernel's stdin, as JupyterLab answers ``input()``.

The questions are answered by a real ipykernel (jupyter_client's KernelManager and
BlockingKernelClient) whose execute requests allow stdin and whose ``input_request``
messages the test answers: the path a notebook's frontend takes. Headless runs are the same
kernel with ``allow_stdin`` off, as nbval, papermill and nbclient run it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from jupyter_virtwork.errors import NotFound, ReadOnly, VirtworkError
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind

from .conftest import ensure_up, ipython_shell
from .manifests import BUSYBOX, Container, as_yaml, pod


def _name(prefix: str = "vw-guard") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _pod(name: str) -> str:
    return as_yaml(pod(name, Container("main", command=("sleep", "300"))))


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "registry", "images", "kubernetes")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("config", "VirtworkMagics.read_only = False")
    shell.run_line_magic("vw", "cleanup --yes")


@pytest.fixture
def client() -> Iterator[Any]:
    engine = docker.from_env()
    yield engine
    engine.close()


@pytest.fixture
def read_only(ip: Any) -> Iterator[None]:
    ip.run_line_magic("config", "VirtworkMagics.read_only = True")
    yield
    ip.run_line_magic("config", "VirtworkMagics.read_only = False")


def _refused(ip: Any, magic: str, line: str, cell: str | None = None) -> str:
    with pytest.raises(ReadOnly) as caught:
        if cell is None:
            ip.run_line_magic(magic, line)
        else:
            ip.run_cell_magic(magic, line, cell)
    (shown,) = caught.value._render_traceback_()
    assert "\n" not in shown and "VirtworkMagics.read_only = False" in shown
    return str(shown)


def _exists(client: Any, name: str) -> bool:
    return bool(client.api.containers(all=True, filters={"name": f"^/{name}$"}))


# --- read-only mode -------------------------------------------------------------------------


def test_read_only_refuses_each_changing_docker_verb_and_creates_nothing(
        ip: Any, client: Any, tmp_path: Path) -> None:
    there, image = _name(), _name("vw-guard-image")
    ip.run_line_magic("docker", f"run -d --name {there} --network none {BUSYBOX} sleep 300")
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\n")
    new = _name()
    ip.run_line_magic("config", "VirtworkMagics.read_only = True")
    try:
        for line in (f"run -d --name {new} --network none {BUSYBOX} sleep 300",
                     f"build -t {image} {tmp_path}", f"push {BUSYBOX}",
                     f"exec {there} touch /changed", f"stop {there}", f"rm -f {there}",
                     f"pause {there}", f"rmi {BUSYBOX}"):
            assert f"%docker {line.split()[0]} would change something" in \
                _refused(ip, "docker", line)
        _refused(ip, "dockerfile", f"-t {image}", f"FROM {BUSYBOX}\n")
        _refused(ip, "vw", "cleanup --yes")
        # Reads still work, and show the engine as it was.
        assert there in {r.name for r in ip.run_line_magic("docker", "ps")}
        assert ip.run_line_magic("docker", f"inspect {there}").name == there
        assert ip.run_line_magic("docker", "images")
        ip.run_line_magic("docker", f"logs {there}")
        ip.run_line_magic("vw", f"check container {there} running")
        assert there in {r.name for r in ip.run_line_magic("vw", "status")}
    finally:
        ip.run_line_magic("config", "VirtworkMagics.read_only = False")
    assert not _exists(client, new)
    assert not client.images.list(name=image)
    assert client.containers.get(there).status == "running"  # not stopped, not removed
    ip.run_line_magic("docker", f"rm -f {there}")


def test_read_only_refuses_before_any_engine_is_asked(ip: Any, read_only: None) -> None:
    magics = ip.magics_manager.registry["DockerMagics"]
    magics.connection = "docker+tcp://127.0.0.1:9"  # nothing listens: asking it would fail
    try:
        _refused(ip, "docker", "rm -f anything")
        with pytest.raises(VirtworkError) as unreachable:
            ip.run_line_magic("docker", "ps")  # a read goes to the engine, and fails there
        assert not isinstance(unreachable.value, ReadOnly)
    finally:
        magics.connection = ""


def test_read_only_on_kubernetes(ip: Any) -> None:
    there, new = _name(), _name()
    ip.run_cell_magic("k8s", "apply", _pod(there))
    cluster = session(ip).cluster("kubernetes")
    ip.run_line_magic("config", "VirtworkMagics.read_only = True")
    try:
        _refused(ip, "k8s", "apply", _pod(new))
        _refused(ip, "k8s", f"delete pod/{there}")
        _refused(ip, "k8s", "scale --replicas=2 deployment/web")
        _refused(ip, "k8s", f"exec {there} -- touch /changed")
        assert there in {r.name for r in ip.run_line_magic("k8s", "get pods")}
        assert ip.run_line_magic("k8s", f"get pods {there}").name == there
    finally:
        ip.run_line_magic("config", "VirtworkMagics.read_only = False")
    with pytest.raises(NotFound):
        cluster.get(Kind.POD, new)
    assert cluster.get(Kind.POD, there).name == there
    ip.run_line_magic("k8s", f"delete pod/{there} --wait=false")


# --- a real kernel: VW_READONLY, and the questions ------------------------------------------


@dataclass
class Ran:
    """What a cell did in the kernel: its status, error, output and the questions asked."""

    status: str
    ename: str = ""
    evalue: str = ""
    out: str = ""
    asked: list[str] = field(default_factory=list)


class Kernel:
    """A real ipykernel with the extension loaded; ``run`` executes a cell as a frontend."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env)
        assert self.run("%load_ext jupyter_virtwork").status == "ok"

    def run(self, code: str, *, answer: str | None = None, stdin: bool = True) -> Ran:
        """``stdin``: the frontend answers input() (JupyterLab) or not (nbval). A question
        is answered with ``answer`` (None: the test expects none; "" is then sent)."""
        ran = Ran("")
        out: list[str] = []

        def on_input(message: dict[str, Any]) -> None:
            ran.asked.append(message["content"]["prompt"])
            self.client.input("" if answer is None else answer)

        def on_output(message: dict[str, Any]) -> None:
            if message["msg_type"] == "stream":
                out.append(message["content"]["text"])

        reply = self.client.execute_interactive(code, allow_stdin=stdin, timeout=180,
                                                stdin_hook=on_input, output_hook=on_output)
        content = reply["content"]
        ran.status, ran.out = content["status"], "".join(out)
        ran.ename, ran.evalue = content.get("ename", ""), content.get("evalue", "")
        return ran

    def close(self) -> None:
        self.run("%vw cleanup --yes", stdin=False)
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VW_READONLY"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    ensure_up("docker", "images", "kubernetes")
    started = Kernel(_environment())
    yield started
    started.close()


def test_vw_readonly_turns_read_only_on_in_a_fresh_kernel(client: Any) -> None:
    ensure_up("docker", "images")
    fresh = Kernel(_environment(VW_READONLY="1"))
    name = _name()
    try:
        ran = fresh.run(f"%docker run -d --name {name} --network none {BUSYBOX} sleep 300")
        assert (ran.status, ran.ename) == ("error", "ReadOnly"), ran
        assert fresh.run("%docker ps").status == "ok"
        turned_off = fresh.run("%config VirtworkMagics.read_only = False\n%docker ps -a")
        assert turned_off.status == "ok"
    finally:
        fresh.close()
    assert not _exists(client, name)


def test_a_question_answered_with_nothing_cancels_and_y_goes_ahead(kernel: Kernel,
                                                                   client: Any) -> None:
    name = _name()
    assert kernel.run(f"%docker run -d --name {name} --network none {BUSYBOX} sleep 300"
                      ).status == "ok"
    cancelled = kernel.run(f"%docker rm -f {name}", answer="")
    assert len(cancelled.asked) == 1
    assert re.fullmatch(rf"Remove 1 container on docker\S*: {name}\? \[y/N\] ",
                        cancelled.asked[0]), cancelled.asked
    assert (cancelled.status, cancelled.ename) == ("error", "Cancelled")
    assert cancelled.evalue.startswith("remove cancelled; nothing was changed"), cancelled
    assert client.containers.get(name).status == "running"
    assert kernel.run(f"%docker stop -t 1 {name}", answer="n").ename == "Cancelled"
    assert client.containers.get(name).status == "running"

    removed = kernel.run(f"%docker rm -f {name}", answer="y")
    assert removed.status == "ok" and len(removed.asked) == 1, removed
    assert not _exists(client, name)


def test_yes_skips_the_question_and_a_headless_run_goes_ahead(kernel: Kernel,
                                                              client: Any) -> None:
    first, second = _name(), _name()
    for name in (first, second):
        assert kernel.run(f"%docker run -d --name {name} --network none {BUSYBOX} sleep 300"
                          ).status == "ok"
    stopped = kernel.run(f"%docker stop -t 1 --yes {first}")
    assert (stopped.status, stopped.asked) == ("ok", []), stopped
    assert client.containers.get(first).status == "exited"
    headless = kernel.run(f"%docker rm -f {first} {second}", stdin=False)
    assert (headless.status, headless.asked) == ("ok", []), headless
    assert not _exists(client, first) and not _exists(client, second)


def test_confirm_off_asks_no_more(kernel: Kernel, client: Any) -> None:
    name = _name()
    kernel.run(f"%docker run -d --name {name} --network none {BUSYBOX} sleep 300")
    try:
        ran = kernel.run(f"%config VirtworkMagics.confirm = False\n%docker rm -f {name}")
        assert (ran.status, ran.asked) == ("ok", []), ran
    finally:
        kernel.run("%config VirtworkMagics.confirm = True")
    assert not _exists(client, name)


def test_a_name_that_does_not_exist_fails_before_the_question(kernel: Kernel) -> None:
    ran = kernel.run(f"%docker rm {_name('vw-never')}")
    assert (ran.status, ran.ename, ran.asked) == ("error", "NotFound", []), ran


def test_k8s_delete_and_cleanup_ask_naming_what(kernel: Kernel) -> None:
    pod = _name()
    assert kernel.run(f"%%k8s apply\n{_pod(pod)}").status == "ok"
    kept = kernel.run(f"%k8s delete pod/{pod} --wait=false", answer="")
    assert kept.ename == "Cancelled", kept
    assert re.fullmatch(rf"Delete 1 pod in namespace \S+: {pod}\? \[y/N\] ",
                        kept.asked[0]), kept.asked
    assert kernel.run(f"%k8s get pods {pod}").status == "ok"  # still there

    container = _name()
    assert kernel.run(f"%docker run -d --name {container} --network none {BUSYBOX} "
                      "sleep 300").status == "ok"
    declined = kernel.run("%vw cleanup", answer="no")
    assert declined.ename == "Cancelled", declined
    (question,) = declined.asked
    assert question.startswith("Remove ") and "created by this notebook: " in question
    assert f"container {container}" in question and f"pod {pod}" in question
    assert kernel.run(f"%k8s get pods {pod}").status == "ok"  # nothing removed
    cleaned = kernel.run("%vw cleanup", answer="y")
    assert cleaned.status == "ok" and len(cleaned.asked) == 1, cleaned
    assert kernel.run(f"%k8s get pods {pod}").ename == "NotFound"
