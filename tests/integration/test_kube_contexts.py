"""Any kubeconfig context works: names as EKS and GKE write them, and names with ``@`` and
``/``, each pointing at the sandbox's cluster through a kubeconfig of their own. Switched to
with ``%k8s use-context``, named per line with ``--context`` on every verb, and written as
a percent-encoded ``k8s://`` URI."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_virtwork.errors import InvalidInput, OperationTimeout
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, ResourceList
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.uri import k8s_uri

from .conftest import ensure_up, ipython_shell
from .manifests import Container, as_yaml, deployment, httpd

EKS = "arn:aws:eks:us-east-1:123456789012:cluster/demo"
GKE = "gke_proj_europe-west1_demo"
SLASHED = "alice@team/dev"
NAMES = (EKS, GKE, SLASHED)


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's kubeconfig, its one context copied under each of NAMES; GKE's is the
    current one."""
    ensure_up("docker", "images", "kubernetes")
    config = yaml.safe_load(kube_pki.kubeconfig_path().read_text())
    (sandbox,) = [c for c in config["contexts"] if c["name"] == kube_pki.CONTEXT]
    config["contexts"] = [{"name": name, "context": dict(sandbox["context"])} for name in NAMES]
    config["current-context"] = GKE
    path = tmp_path_factory.mktemp("kube") / "config"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def ip(kubeconfig: Path) -> Iterator[Any]:
    shell = ipython_shell()
    shell.run_line_magic("config", f"K8sMagics.kubeconfig = {str(kubeconfig)!r}")
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")
    shell.run_line_magic("config", "K8sMagics.kubeconfig = ''")
    shell.run_line_magic("config", "K8sMagics.connection = ''")
    shell.run_line_magic("config", "K8sMagics.timeout = 120.0")
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


def _current() -> Any:
    return session().driver("kubernetes")


def test_the_configured_kubeconfig_and_its_current_context(ip: Any) -> None:
    assert isinstance(ip.run_line_magic("k8s", "get pods"), ResourceList)
    assert _current().kubeconfig == os.fspath(ip.magics_manager.registry["K8sMagics"].kubeconfig)
    assert _current().target.context is None  # the kubeconfig's current one: GKE's


def test_the_connection_setting_names_any_context(ip: Any) -> None:
    ip.run_line_magic("config", f"K8sMagics.connection = {k8s_uri(EKS, 'default')!r}")
    try:
        assert _current().target.context == EKS
        assert isinstance(ip.run_line_magic("k8s", "get pods"), ResourceList)
    finally:
        ip.run_line_magic("config", "K8sMagics.connection = ''")
    assert _current().target.context is None


@pytest.mark.parametrize("name", NAMES)
def test_use_context_switches_to_any_name(ip: Any, capsys: pytest.CaptureFixture[str],
                                          name: str) -> None:
    capsys.readouterr()
    ip.run_line_magic("k8s", f"use-context {name} -n kube-system")
    assert f"now using context {name!r}, namespace kube-system" in capsys.readouterr().out
    assert (_current().target.context, _current().namespace) == (name, "kube-system")
    assert isinstance(ip.run_line_magic("k8s", "get pods"), ResourceList)  # the cluster answers
    ip.run_line_magic("k8s", f"use-context {GKE} -n default")


def test_an_unknown_context_fails_at_once_and_is_not_kept(ip: Any) -> None:
    before = _current().uri
    with pytest.raises(InvalidInput, match="no-such-context"):
        ip.run_line_magic("k8s", "use-context no-such-context")
    with pytest.raises(InvalidInput, match="no-such-context"):
        ip.run_line_magic("k8s", "get pods --context no-such-context")
    assert _current().uri == before
    assert not [c for c in session().connections() if "no-such-context" in c.uri]


def test_every_verb_takes_context(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The current context is GKE's; each line names EKS's instead, and says so in its
    kubectl equivalent."""
    app, context = f"ctx-{uuid.uuid4().hex[:6]}", f"--context {EKS}"

    def shown(line: str, cell: str | None = None) -> Any:
        verb, _, rest = line.partition(" ")  # the flags before `exec`'s `-- COMMAND`
        line = f"{verb} {context} --show-command {rest}"
        capsys.readouterr()
        result = ip.run_cell_magic("k8s", line, cell) if cell is not None else \
            ip.run_line_magic("k8s", line)
        shown = capsys.readouterr().out
        assert shown.startswith("kubectl ") and f" --context {EKS} " in shown, line
        return result

    applied = shown("apply", as_yaml(deployment(app, Container("web", command=httpd("serving")))))
    assert [r.name for r in applied] == [app]
    assert shown(f"scale --replicas=2 deployment/{app} --wait").details["ready"] == "2/2"
    pods = shown(f"get pods -l app={app}")
    assert len(pods) == 2 and all(p.uri == k8s_uri(EKS) for p in pods)
    shown(f"logs {pods[0].name}")
    assert shown(f"exec {pods[0].name} -- echo inside").stdout == "inside\n"
    shown(f"delete deployment/{app} --wait")
    assert ip.run_line_magic("k8s", f"get pods -l app={app}") == ResourceList()
    assert _current().target.context == GKE  # the current connection did not change


def test_a_percent_encoded_uri_connects(ip: Any, kubeconfig: Path) -> None:
    uri = k8s_uri(SLASHED, "default")
    assert "%2F" in uri and "%40" in uri
    ip.run_line_magic("vw", f"connect {uri} --kubeconfig {kubeconfig} --as team")
    team = session().driver("team")
    assert (team.target.context, team.uri) == (SLASHED, uri)
    assert isinstance(team.list(Kind.POD), ResourceList)


def test_the_timeout_setting_bounds_a_wait(ip: Any) -> None:
    app = f"never-ready-{uuid.uuid4().hex[:6]}"
    never_ready = deployment(app, Container(image="localbase/never-built:1"))
    ip.run_cell_magic("k8s", "apply", as_yaml(never_ready))
    ip.run_line_magic("config", "K8sMagics.timeout = 2.0")
    try:
        started = time.monotonic()
        with pytest.raises(OperationTimeout):
            ip.run_line_magic("k8s", f"scale --replicas=2 deployment/{app} --wait")
        assert time.monotonic() - started < 30
    finally:
        ip.run_line_magic("config", "K8sMagics.timeout = 120.0")
        ip.run_line_magic("k8s", f"delete deployment/{app} --wait")
