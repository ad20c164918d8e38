"""Every ``%k8s`` verb's ``--show-command`` line does what the magic does: the magic acts on
one fresh name, the printed kubectl line (that name replaced by another; the line names the
sandbox's kubeconfig itself) runs with the real kubectl, and the two objects are compared on
the cluster: image, command, env, ports, labels, replicas; pods' output and state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, State

from .conftest import ensure_up, ipython_shell
from .equivalence import fresh, run_cli, shown
from .manifests import Container, as_yaml, deployment, httpd, pod


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "images", "kubernetes")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")


def _deployment(name: str, greeting: str = "hello") -> str:
    return as_yaml(deployment(name, Container("web", pull="IfNotPresent", command=httpd("serving"),
                                              env={"GREETING": greeting}, port=8080),
                              labels={"tier": "web"}))


def _pod(name: str) -> str:
    command = ("sh", "-c", "echo first; echo second; exec sleep 3600")
    return as_yaml(pod(name, Container(pull="IfNotPresent", command=command, env={"WHO": name})))


def _view(kind: Kind, name: str, other: str) -> Any:
    """The object as the cluster holds it, minus what the server makes up per object."""
    try:
        obj = session().driver("kubernetes").read(kind, name)  # type: ignore[attr-defined]
    except NotFound:
        return None
    spec = obj["spec"]
    pod = spec["template"]["spec"] if kind is not Kind.POD else spec
    view = {"labels": obj["metadata"].get("labels"),
            "containers": [{k: c.get(k) for k in ("image", "command", "args", "env", "ports",
                                                  "imagePullPolicy")}
                           for c in pod["containers"]]}
    if kind is Kind.DEPLOYMENT:
        view |= {"replicas": spec["replicas"], "selector": spec["selector"],
                 "template_labels": spec["template"]["metadata"].get("labels"),
                 "ready": obj.get("status", {}).get("readyReplicas")}
    return json.loads(json.dumps(view).replace(name, other))


def _until(check: Any, what: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def _running(name: str) -> bool:
    return bool(session().driver("kubernetes").get(Kind.POD, name).state is State.RUNNING)


def test_apply_scale_delete(ip: Any, capsys: pytest.CaptureFixture[str],
                            tmp_path: Path) -> None:
    ours, theirs = fresh("vw-eq-web"), fresh("vw-eq-web")
    line, _ = shown(ip, capsys, "k8s", "apply --dry-run", _deployment(ours))
    run_cli(line.replace(ours, theirs))
    assert _view(Kind.DEPLOYMENT, ours, theirs) is None is _view(Kind.DEPLOYMENT, theirs, theirs)

    line, _ = shown(ip, capsys, "k8s", "apply", _deployment(ours))
    run_cli(line.replace(ours, theirs))
    assert _view(Kind.DEPLOYMENT, ours, theirs)["labels"]["tier"] == "web"
    manifest = tmp_path / "web.yaml"  # -f FILE: the same manifests, the same line
    manifest.write_text(_deployment(ours, greeting="again"))
    line, _ = shown(ip, capsys, "k8s", f"apply -f {manifest}")
    run_cli(line.replace(ours, theirs))
    assert _view(Kind.DEPLOYMENT, ours, theirs)["containers"][0]["env"][0]["value"] == "again"

    line, _ = shown(ip, capsys, "k8s", f"scale --replicas=2 deployment/{ours} --wait")
    run_cli(line.replace(ours, theirs))
    assert _view(Kind.DEPLOYMENT, ours, theirs) == _view(Kind.DEPLOYMENT, theirs, theirs)
    assert _view(Kind.DEPLOYMENT, ours, theirs)["ready"] == 2

    line, pods = shown(ip, capsys, "k8s", f"get pods -l app={ours}")
    listed = run_cli(line.replace(ours, theirs)).stdout.splitlines()[1:]
    assert len(listed) == len(pods) == 2

    line, _ = shown(ip, capsys, "k8s", f"delete deployment/{ours} --wait")
    run_cli(line.replace(ours, theirs))
    for name in (ours, theirs):
        assert _view(Kind.DEPLOYMENT, name, name) is None
        assert session().driver("kubernetes").list(Kind.POD, labels={"app": name}) == []


def test_objects_of_another_namespace(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A cell may name another namespace for some objects: kubectl gets each object's own."""
    from jupyter_virtwork import defaults

    default = defaults.for_family("kubernetes")
    assert default is not None
    # The default names its kubeconfig only when KUBECONFIG does; else kubectl's own default.
    kubeconfig = default.options.get("kubeconfig")
    kubectl = f"kubectl --kubeconfig {kubeconfig}" if kubeconfig else "kubectl"
    elsewhere, ours, theirs = fresh("vw-eq-ns"), fresh("vw-eq-svc"), fresh("vw-eq-svc")
    run_cli(f"{kubectl} create namespace {elsewhere}")
    try:
        cell = (f"apiVersion: v1\nkind: Service\nmetadata: {{name: {ours}, namespace: "
                f"{elsewhere}}}\nspec: {{ports: [{{port: 80}}], selector: {{app: {ours}}}}}\n"
                f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {ours}}}\n"
                f"spec: {{ports: [{{port: 81}}], selector: {{app: {ours}}}}}\n")
        line, _ = shown(ip, capsys, "k8s", "apply", cell)
        run_cli(line.replace(ours, theirs))
        for namespace in (elsewhere, "default"):
            views = [json.loads(run_cli(f"{kubectl} -n {namespace} get service {name} -o json")
                                .stdout) for name in (ours, theirs)]
            assert [(v["metadata"]["labels"], v["spec"]["ports"][0]["port"]) for v in views] \
                == [(session().labels, 80 if namespace == elsewhere else 81)] * 2
    finally:
        run_cli(f"{kubectl} delete namespace {elsewhere} --wait=false")
        run_cli(f"{kubectl} -n default delete service {ours} {theirs} --ignore-not-found")


def test_diff_line(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl diff shows the change the magic's diff shows (it exits 1 when it finds one)."""
    name = fresh("vw-eq-web")
    ip.run_cell_magic("k8s", "apply", _deployment(name))
    line, _ = shown(ip, capsys, "k8s", "apply --diff", _deployment(name, greeting="bye"))
    assert "kubectl " in line and " diff " in line
    done = run_cli(f"set +e\n{line}\n[ $? -le 1 ]")
    changed = {(line[0], line.split(":")[-1].strip()) for line in done.stdout.splitlines()
               if line.endswith(("value: bye", "value: hello"))}
    assert changed == {("-", "hello"), ("+", "bye")}, done.stdout
    ip.run_line_magic("k8s", f"delete deployment/{name}")


def test_pod_lines(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq-pod"), fresh("vw-eq-pod")
    for name in (ours, theirs):
        ip.run_cell_magic("k8s", "apply", _pod(name))
    for name in (ours, theirs):
        _until(lambda n=name: _running(n), f"pod {name} did not start")
    assert _view(Kind.POD, ours, theirs) == _view(Kind.POD, theirs, theirs)

    for flags in ("", "--tail 1 ", "-c c "):
        capsys.readouterr()
        ip.run_line_magic("k8s", f"logs --show-command {flags}{ours}")
        printed = capsys.readouterr().out.splitlines()
        assert run_cli(printed[0].replace(ours, theirs)).stdout.splitlines() == printed[1:]

    line, result = shown(ip, capsys, "k8s", f"exec {ours} -c c -- sh -c 'echo $WHO; ls /'")
    assert run_cli(line.replace(ours, theirs)).stdout == result.stdout.replace(ours, theirs)

    line, pod = shown(ip, capsys, "k8s", f"get pods {ours}")
    assert pod.name == ours and theirs in run_cli(line.replace(ours, theirs)).stdout

    line, _ = shown(ip, capsys, "k8s", f"delete pod/{ours} --force")
    run_cli(line.replace(ours, theirs))
    for name in (ours, theirs):
        _until(lambda n=name: _view(Kind.POD, n, n) is None, f"pod {name} stayed")


def test_the_namespace_is_the_same_on_every_line(ip: Any) -> None:
    """A connection without a namespace in its URI takes its context's: the line printed
    before its first request names it as the lines after do."""
    from jupyter_virtwork import defaults
    from jupyter_virtwork.registry import connect

    default = defaults.for_family("kubernetes")
    assert default is not None
    context = default.uri.removeprefix("k8s://").split("/")[0]
    driver = connect(f"k8s://{context}", **default.options)
    try:
        first = driver.command("get", "pods")
        driver.list(Kind.POD)
        assert driver.command("get", "pods") == first and " -n default " in first
    finally:
        driver.close()
