"""Workloads started from outside the panel, on the sandbox's real engines (shared by the
handler tests and the browser tests)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki

BUSYBOX = "localbase/busybox:1.35"
SANDBOX_K8S = f"k8s://{kube_pki.CONTEXT}/default"
# The user's own configuration, which the sandbox wrote and the defaults read; taken at
# import, before pytest-jupyter's jp_environ moves HOME to a temporary directory.
KUBECONFIG = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
CONFIG_HOME = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")


def name(prefix: str = "vw-panel") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_busybox(client: Any, labels: dict[str, str], container_name: str | None = None) -> Any:
    """``docker run -d --network none`` through docker-py: not through the toolkit. The
    shell leaves on SIGTERM (a bare ``sleep`` as PID 1 ignores it: every stop took 10 s)."""
    return client.containers.run(BUSYBOX, ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"],
                                 name=container_name or name(),
                                 detach=True, network_mode="none", labels=labels)


def remove_labelled(client: Any, labels: dict[str, str]) -> None:
    selector = [f"{k}={v}" for k, v in labels.items()]
    for container in client.containers.list(all=True, filters={"label": selector}):
        container.remove(force=True)


def kubernetes() -> Any:
    return connect(SANDBOX_K8S, kubeconfig=str(kube_pki.kubeconfig_path()))


def pod_manifest(pod_name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sleep", "300"]}]}}
