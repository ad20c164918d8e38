"""The current connection is the one the magics use, and ``%vw status`` shows each object
once, with the alias of the connection it came through (issue 20), on the sandbox's cluster.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork import defaults
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind

from .conftest import ensure_up, ipython_shell
from .equivalence import fresh
from .manifests import Container, as_yaml, pod


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "images", "kubernetes")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")


@pytest.fixture
def namespace() -> Iterator[tuple[str, str, str]]:
    """A namespace of its own: (its name, the sandbox's context, its kubeconfig). The
    sandbox's connection is current again afterwards."""
    default = defaults.for_family("kubernetes")
    assert default is not None
    # the file the default read: KUBECONFIG when set (then named), else kubectl's own
    kubeconfig = str(default.options.get("kubeconfig") or Path.home() / ".kube" / "config")
    context = default.uri.removeprefix("k8s://").split("/")[0]
    name = fresh("vw-conn")
    kubectl = ["kubectl", "--kubeconfig", kubeconfig, "--context", context]
    subprocess.run([*kubectl, "create", "namespace", name], check=True, capture_output=True)
    yield name, context, kubeconfig
    session().connect(default.uri, "kubernetes", **default.options)
    subprocess.run([*kubectl, "delete", "namespace", name, "--wait=false"], check=True,
                   capture_output=True)


def _pod(name: str) -> str:
    return as_yaml(pod(name, Container(pull="IfNotPresent", command=("sleep", "600"))))


def test_the_connection_made_current_is_used(ip: Any, namespace: tuple[str, str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    name, context, kubeconfig = namespace
    ip.run_line_magic("k8s", "get pods")  # the default connection, aliased "kubernetes"
    ip.run_line_magic("vw", f"connect k8s://{context}/{name} --as b --kubeconfig {kubeconfig}")
    connections = ip.run_line_magic("vw", "connections")
    current = set(connections[connections.current]["alias"])
    assert "b" in current and "kubernetes" not in current

    pod = fresh("vw-conn-pod")
    [applied] = ip.run_cell_magic("k8s", "apply", _pod(pod))
    assert applied.raw["metadata"]["namespace"] == name
    assert [p.name for p in ip.run_line_magic("k8s", "get pods")] == [pod]
    capsys.readouterr()
    ip.run_line_magic("k8s", "get pods --show-command")
    assert f" -n {name} get pods" in capsys.readouterr().out

    # A second connection that reaches the same namespace: the pod is still listed once.
    ip.run_line_magic("vw", f"connect k8s://{context}/{name} --as c --kubeconfig {kubeconfig}")
    deadline = time.monotonic() + 30
    while True:
        rows = [r for r in ip.run_line_magic("vw", "status") if r.name == pod]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(r.kind, r.details["alias"]) for r in rows] == [(Kind.POD, "b")]
    frame = ip.run_line_magic("vw", "status").to_dataframe()
    assert "alias" in frame.columns
    # --watch follows one connection per namespace (here, without a front end: its rows)
    watched = [r for r in ip.run_line_magic("vw", "status --watch") if r.name == pod]
    assert [(r.kind, r.details["alias"]) for r in watched] == [(Kind.POD, "b")]
    ip.run_line_magic("k8s", f"delete pod/{pod} --force")
