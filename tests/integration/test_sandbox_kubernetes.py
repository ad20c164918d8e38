"""The sandbox's real Kubernetes cluster, driven through the official Python client.

The fixture brings the cluster up through the CLI only if it is not ready (a cold machine
builds Kubernetes first, ~13 min); once it is up the tests take a few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.sandbox.kubernetes import KubernetesEngine

pytestmark = pytest.mark.engines("kubernetes")

BUSYBOX = "localbase/busybox:1.35"


def _cli(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def core() -> Iterator[Any]:
    if not KubernetesEngine().status().ready:
        proc = _cli("up", "kubernetes")
        assert proc.returncode == 0, proc.stderr[-3000:]
    from kubernetes import client, config

    api_client = config.new_client_from_config(
        config_file=str(kube_pki.kubeconfig_path()), context=kube_pki.CONTEXT)
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_node_is_ready(core: Any) -> None:
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == [kube_pki.NODE_NAME]
    ready = {c.type: c.status for c in nodes[0].status.conditions}["Ready"]
    assert ready == "True"


def test_pod_with_local_busybox_runs(core: Any) -> None:
    from kubernetes import client

    name = f"vw-test-{uuid.uuid4().hex[:8]}"
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"virtwork.test": "kubernetes"}),
        spec=client.V1PodSpec(
            restart_policy="Never", termination_grace_period_seconds=0,
            containers=[client.V1Container(
                name="main", image=BUSYBOX, image_pull_policy="Never",
                command=["sh", "-c", "echo hello-from-pod; sleep 300"])]))
    core.create_namespaced_pod("default", pod)
    try:
        phase = ""
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            phase = core.read_namespaced_pod(name, "default").status.phase
            if phase != "Pending":
                break
            time.sleep(0.5)
        assert phase == "Running"
        assert "hello-from-pod" in core.read_namespaced_pod_log(name, "default")
    finally:
        core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if name not in [p.metadata.name for p in core.list_namespaced_pod("default").items]:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"pod {name} was not deleted")


def test_status_json_never_shows_the_token(core: Any) -> None:
    proc = _cli("status", "kubernetes", "--json", timeout=60)
    assert proc.returncode == 0
    (entry,) = json.loads(proc.stdout)
    assert entry["ready"] is True
    assert entry["endpoint"] == "https://127.0.0.1:6443"
    assert entry["version"] == "v1.20.2"
    assert entry["extra"]["context"] == kube_pki.CONTEXT
    tokens = kube_pki.pki_file("tokens.csv").read_text().splitlines()
    secrets = [row.split(",")[0] for row in tokens]
    assert secrets and all(s not in proc.stdout + proc.stderr for s in secrets)


def test_kubectl_in_a_terminal_finds_the_cluster(core: Any) -> None:
    """`up` merged its context into the user's kubeconfig (ENGINES.md trap 8): a plain
    `kubectl`, with no --kubeconfig and no KUBECONFIG, reaches the sandbox by its name."""
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    kubectl = ["kubectl", "--context", kube_pki.CONTEXT, "get", "nodes", "-o", "name"]
    found = subprocess.run(kubectl, env=env, capture_output=True, text=True, timeout=60,
                           check=False)
    assert found.stdout.split() == [f"node/{kube_pki.NODE_NAME}"], found.stderr
