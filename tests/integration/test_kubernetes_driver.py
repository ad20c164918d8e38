"""The Kubernetes driver on the sandbox's real single-node cluster."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.errors import EngineUnavailable, InvalidInput, NotFound
from jupyter_virtwork.models import Kind, Progress, State, WorkloadSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki

from .conftest import ensure_up
from .contract import DriverContract
from .manifests import BUSYBOX, Container, as_yaml, deployment, httpd, pod, service


def _pod(name: str, command: str = "sleep 300") -> dict[str, Any]:
    return pod(name, Container("main", command=("sh", "-c", command)))


def _deployment_yaml(name: str, replicas: int = 1) -> str:
    return as_yaml(deployment(name, Container("web", command=httpd("started")),
                              replicas=replicas), service(name))


@pytest.fixture(scope="module")
def driver() -> Iterator[KubernetesDriver]:
    ensure_up("kubernetes")
    connected = connect(f"k8s://{kube_pki.CONTEXT}/default",
                        kubeconfig=str(kube_pki.kubeconfig_path()))
    assert isinstance(connected, KubernetesDriver)
    yield connected
    connected.close()


@pytest.fixture
def labels(driver: KubernetesDriver) -> Iterator[dict[str, str]]:
    """Session labels; whatever a test made with them is deleted afterwards."""
    mine = ownership.ownership(f"k8s-{uuid.uuid4().hex[:8]}")
    yield mine
    for kind in driver.kinds:
        for resource in driver.list(kind, labels=mine):
            try:
                driver.destroy(kind, resource.id, force=True)
            except NotFound:
                pass


def _name() -> str:
    return f"vw-{uuid.uuid4().hex[:8]}"


class TestContract(DriverContract):
    kind: ClassVar[Kind] = Kind.POD
    unsupported: ClassVar[tuple[str, Kind]] = ("pause", Kind.POD)

    @pytest.fixture
    def fresh_driver(self, driver: KubernetesDriver) -> Iterator[KubernetesDriver]:
        connected = connect(driver.uri, kubeconfig=driver.kubeconfig)
        assert isinstance(connected, KubernetesDriver)
        yield connected
        connected.close()

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        manifest = _pod(name)
        manifest["metadata"]["labels"] = labels
        return WorkloadSpec((manifest,))


def test_apply_scale_logs_exec_delete(driver: KubernetesDriver,
                                      labels: dict[str, str]) -> None:
    name = _name()
    applied = driver.apply(_deployment_yaml(name), labels=labels)
    assert [(r.kind, r.name) for r in applied] == [(Kind.DEPLOYMENT, name),
                                                     (Kind.SERVICE, name)]
    progress: list[Progress] = []
    scaled = driver.scale(Kind.DEPLOYMENT, name, 3, wait=True, timeout=90,
                          on_progress=progress.append)
    assert scaled.state is State.AVAILABLE and scaled.details["ready"] == "3/3"
    assert progress[-1].done and progress[-1].current == 3
    pods = driver.list(Kind.POD, labels=labels)
    assert len(pods) == 3 and all(ownership.is_ours(p.labels) for p in pods)
    assert all(p.state is State.RUNNING for p in pods)
    pod = pods[0].name
    assert list(driver.logs(pod)) == ["started"]
    result = driver.exec(pod, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 3)
    driver.delete(Kind.DEPLOYMENT, name, wait=True)
    assert driver.list(Kind.POD, labels=labels) == []


def test_dry_run_and_diff_change_nothing(driver: KubernetesDriver,
                                         labels: dict[str, str]) -> None:
    name = _name()
    planned = driver.apply(_deployment_yaml(name), labels=labels, dry_run=True)
    assert [r.name for r in planned] == [name, name]
    assert driver.list(Kind.DEPLOYMENT, labels=labels) == []
    driver.apply(_deployment_yaml(name), labels=labels)
    diff = driver.diff(_deployment_yaml(name, replicas=2), labels=labels)
    assert "-  replicas: 1" in diff and "+  replicas: 2" in diff
    assert driver.get(Kind.DEPLOYMENT, name).raw["spec"]["replicas"] == 1


def test_watch_sees_pods_of_a_scaled_deployment(driver: KubernetesDriver,
                                                labels: dict[str, str]) -> None:
    from jupyter_virtwork.models import EventType

    name = _name()
    driver.apply(_deployment_yaml(name), labels=labels)
    with driver.watch(Kind.POD, labels=labels) as stream:
        seen: set[str] = set()
        driver.scale(Kind.DEPLOYMENT, name, 2)
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            event = stream.get(timeout=1)
            if event is not None and event.type is EventType.ADDED and event.resource:
                seen.add(event.resource.name)
        assert len(seen) == 2


def test_events_of_a_pod_are_listed(driver: KubernetesDriver,
                                    labels: dict[str, str]) -> None:
    name = _name()
    manifest = _pod(name)
    manifest["metadata"]["labels"] = labels
    driver.create(WorkloadSpec((manifest,)))
    deadline = time.monotonic() + 30
    reasons: set[str] = set()
    while "Started" not in reasons and time.monotonic() < deadline:
        reasons = {e.details["reason"] for e in driver.list(Kind.EVENT)
                   if e.details["object"] == f"pod/{name}"}
        time.sleep(0.5)
    assert {"Scheduled", "Started"} <= reasons


def test_a_pod_whose_image_cannot_be_pulled_is_pending_not_failed(
        driver: KubernetesDriver, labels: dict[str, str]) -> None:
    """Kubernetes keeps such a pod in phase Pending and retries the pull: the record says
    pending, and the waiting reason says why."""
    name = _name()
    manifest = _pod(name)
    manifest["metadata"]["labels"] = labels
    # Nothing listens on port 1: the pull fails at once, with or without a network.
    manifest["spec"]["containers"][0].update(image="127.0.0.1:1/nothing:1",
                                             imagePullPolicy="Always")
    driver.create(WorkloadSpec((manifest,)))
    pulls_failed = ("ErrImagePull", "ImagePullBackOff")
    deadline = time.monotonic() + 60
    pod = driver.get(Kind.POD, name)  # first waiting on ContainerCreating
    while pod.details["reason"] not in pulls_failed and time.monotonic() < deadline:
        time.sleep(0.5)
        pod = driver.get(Kind.POD, name)
    assert pod.details["reason"] in pulls_failed, pod.details
    assert pod.raw["status"]["phase"] == "Pending"
    assert pod.state is State.PENDING


# --- bad input: one line, nothing created ---------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("kind: Pod\n  metadata: [", "malformed"),
    ("apiVersion: v1\nkind: Pod\n", "metadata.name"),
    ("apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", "unknown kind 'Pdo'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n", "not a valid name"),
    ("- just\n- a list\n", "not a mapping"),
])
def test_bad_yaml(driver: KubernetesDriver, labels: dict[str, str], text: str,
                  words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        driver.apply(text, labels=labels)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_an_invalid_field_applies_nothing_of_a_multi_document_cell(
        driver: KubernetesDriver, labels: dict[str, str]) -> None:
    name = _name()
    bad = _deployment_yaml(name) + f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {name}-bad}}
spec:
  containers:
  - name: main
    image: {BUSYBOX}
    restartPolicy: sometimes
"""
    with pytest.raises(InvalidInput):
        driver.apply(bad, labels=labels)
    for kind in (Kind.DEPLOYMENT, Kind.SERVICE, Kind.POD):
        assert driver.list(kind, labels=labels) == []


def test_scaling_a_missing_deployment(driver: KubernetesDriver) -> None:
    with pytest.raises(NotFound) as caught:
        driver.scale(Kind.DEPLOYMENT, "no-such-deployment", 3)
    assert "no-such-deployment" in str(caught.value)


def test_impossible_replicas(driver: KubernetesDriver) -> None:
    with pytest.raises(InvalidInput):
        driver.scale(Kind.DEPLOYMENT, "anything", -1)


def test_a_cluster_that_is_down_fails_fast(tmp_path: Any) -> None:
    config = kube_pki.kubeconfig_path().read_text().replace("127.0.0.1:6443",
                                                            "127.0.0.1:6599")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(config)
    down = connect(f"k8s://{kube_pki.CONTEXT}/default", kubeconfig=str(kubeconfig))
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        down.list(Kind.POD)
    assert time.monotonic() - started < 10
    assert "did not answer" in str(caught.value)


def test_an_unknown_context(driver: KubernetesDriver) -> None:
    other = connect("k8s://no-such-context/default",
                    kubeconfig=str(kube_pki.kubeconfig_path()))
    with pytest.raises(InvalidInput) as caught:
        other.list(Kind.POD)
    assert "no-such-context" in str(caught.value)


def test_show_command(driver: KubernetesDriver) -> None:
    assert driver.command("scale", "--replicas=3", "deployment/web") == (
        f"kubectl --kubeconfig {kube_pki.kubeconfig_path()} --context {kube_pki.CONTEXT} "
        "-n default scale --replicas=3 deployment/web")


def test_a_pod_applied_with_its_new_namespace_waits_for_the_namespace_to_be_ready(
        driver: KubernetesDriver) -> None:
    """The API server refuses a pod in a namespace made a moment before until the
    namespace's default ServiceAccount has its token (500, "retry after"): one apply of
    both still succeeds, as the server asks, every time."""
    mine = ownership.ownership(f"k8s-{uuid.uuid4().hex[:8]}")
    try:
        for _ in range(3):
            namespace = _name()
            pod = _pod("first")
            pod["metadata"]["namespace"] = namespace
            applied = driver.apply([{"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": namespace}}, pod], labels=mine)
            assert [r.name for r in applied] == [namespace, "first"]
    finally:
        left = driver.remove_owned(mine, deadline=time.monotonic() + 120).left
        assert left == []
