"""``%vw check`` on the sandbox's real engines (issue 15): each check run on a wrong state
fails with its hint (a ``CheckFailed``, an AssertionError shown as one ✘ line), and on the
right state passes with one ✔ line on stdout and nothing on stderr; the Chinese setting
gives the Chinese line; and in a real kernel, timed as nbgrader times a cell, a passing
check writes no stderr stream and a failing one is an error output of one line.

What the checks look at is made with the magics, so it carries this session's ownership
labels; ``%vw cleanup --yes`` removes it at the end (the VMs, the registry's tags too).
"""

from __future__ import annotations

import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.errors import (
    CheckFailed,
    InvalidArguments,
    InvalidInput,
    OperationTimeout,
)
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.uri import k8s_uri

from .conftest import ensure_up, ipython_shell
from .manifests import BUSYBOX, Container, as_yaml, deployment, pod

REGISTRY = "127.0.0.1:5000"
WAIT = 180.0  # s an object may take to reach the state a test needs (a pod's start...)


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "registry", "images", "kubernetes", "libvirt", "vcsim")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


@pytest.fixture
def chinese(ip: Any) -> Iterator[None]:
    ip.run_line_magic("config", "VirtworkMagics.language = 'zh'")
    yield
    ip.run_line_magic("config", "VirtworkMagics.language = 'en'")


@pytest.fixture(autouse=True)
def english(ip: Any) -> None:
    """The learner's environment may be Chinese; these tests read the English lines."""
    ip.run_line_magic("config", "VirtworkMagics.language = 'en'")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _passes(ip: Any, capsys: pytest.CaptureFixture[str], line: str) -> str:
    """Run a check that must pass: it returns nothing, prints one ✔ line to stdout and
    nothing to stderr; that line."""
    capsys.readouterr()
    assert ip.run_line_magic("vw", f"check {line}") is None
    out, err = capsys.readouterr()
    assert err == "", err
    assert out.count("\n") == 1 and out.startswith("✔ "), out
    return out.rstrip("\n")


def _fails(ip: Any, line: str) -> str:
    """Run a check that must fail: a CheckFailed, an AssertionError, shown as one ✘ line."""
    with pytest.raises(CheckFailed) as caught:
        ip.run_line_magic("vw", f"check {line}")
    assert isinstance(caught.value, AssertionError)
    (shown,) = caught.value._render_traceback_()
    assert "\n" not in shown and shown.startswith("✘ "), shown
    return str(shown)


def _eventually(ip: Any, capsys: pytest.CaptureFixture[str], line: str) -> str:
    """The check's ✔ line once the engine gets there (a pod starting, a rollout); the last
    failure, with its hint, if it never does."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return _passes(ip, capsys, line)
        except CheckFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


# --- containers and images -------------------------------------------------------------------


def test_container(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = _name("vw-check")
    shown = _fails(ip, f"container {name} running")
    assert f"no container named {name} on docker://" in shown
    assert f"%docker run -d --name {name}" in shown

    ip.run_line_magic("docker", f"run -d --name {name} --network none {BUSYBOX} sleep 600")
    assert _passes(ip, capsys, f"container {name} running") == \
        f"✔ container {name} on docker:// is running"

    ip.run_line_magic("docker", f"pause {name}")
    shown = _fails(ip, f"container {name} running")
    assert f"container {name} on docker:// is paused, not running" in shown
    assert shown.endswith(f"try %docker unpause {name}")
    _passes(ip, capsys, f"container {name} paused")

    ip.run_line_magic("docker", f"unpause {name}")
    ip.run_line_magic("docker", f"stop -t 0 {name}")
    shown = _fails(ip, f"container {name} running")
    assert f"is stopped, not running: try %docker start {name}; %docker logs {name}" in shown
    assert "is stopped" in _passes(ip, capsys, f"container {name} exited")  # docker's word


def test_image_pushed(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = _name("vw-check-image")
    shown = _fails(ip, f"image {name} --pushed")
    assert f"no image named {name}" in shown and f"%%dockerfile -t {name}" in shown

    ip.run_cell_magic("dockerfile", f"-t {name}", f"FROM {BUSYBOX}\nLABEL built=first\n")
    assert _passes(ip, capsys, f"image {name}") == f"✔ image {name} is here on docker://"
    shown = _fails(ip, f"image {name} --pushed")
    assert f"image {name} on docker:// is not in a registry" in shown
    assert shown.endswith(f"push it with %docker push {name}")

    ip.run_line_magic("docker", f"push {name}")
    assert _passes(ip, capsys, f"image {name} --pushed") == \
        f"✔ image {name} is in its registry as {REGISTRY}/{name}:latest"

    # Built again: the registry still holds the first build under that tag.
    ip.run_cell_magic("dockerfile", f"-t {name}", f"FROM {BUSYBOX}\nLABEL built=second\n")
    session().driver("docker").tag(name, f"{REGISTRY}/{name}")  # not pushed
    shown = _fails(ip, f"image {name} --pushed")
    assert f"the registry does not hold image {name} as built here" in shown
    assert f"push it again with %docker push {name}" in shown


# --- pods and deployments ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def namespace(ip: Any) -> str:
    """A namespace of this session's, where the pods can start (its default ServiceAccount
    has its token); %vw cleanup removes it with what is in it."""
    name = _name("vw-check-ns")
    ip.run_cell_magic("k8s", "apply", f"apiVersion: v1\nkind: Namespace\n"
                                      f"metadata: {{name: {name}}}\n")
    return name


NOWHERE = "vw-nobody"  # a scheduler no one runs: what waits for it stays Pending
SLEEPER = ("sleep", "600")


def _pod(name: str, *, scheduled: bool = True, image: str = BUSYBOX,
         command: tuple[str, ...] = SLEEPER, restart: str = "Always") -> str:
    """A pod that runs; or, not ``scheduled``, one no scheduler ever takes (it stays
    Pending)."""
    return as_yaml(pod(name, Container(image=image, command=command), restart=restart,
                       scheduler=None if scheduled else NOWHERE))


def _apply(ip: Any, namespace: str, manifest: str) -> None:
    """Apply in ``namespace``, again while the new namespace's ServiceAccount has no token
    yet (the API server refuses pods until it has)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            ip.run_cell_magic("k8s", f"apply -n {namespace}", manifest)
            return
        except InvalidInput:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_pod(ip: Any, capsys: pytest.CaptureFixture[str], namespace: str) -> None:
    name, stuck = _name("vw-check-pod"), _name("vw-check-stuck")
    shown = _fails(ip, f"pod {name} Running -n {namespace}")
    assert f"no Pod named {name} in namespace {namespace}" in shown
    assert "%%k8s apply" in shown and f"%k8s get pods -n {namespace}" in shown

    _apply(ip, namespace, _pod(stuck, scheduled=False))
    shown = _fails(ip, f"pod {stuck} Running -n {namespace}")
    assert f"Pod {stuck} in namespace {namespace}" in shown and "is pending" in shown
    assert "has not started yet" in shown and f"%k8s get events -n {namespace}" in shown
    _passes(ip, capsys, f"pod {stuck} Pending -n {namespace}")

    _apply(ip, namespace, _pod(name))
    line = _eventually(ip, capsys, f"pod {name} Running --namespace {namespace}")
    assert line.startswith(f"✔ Pod {name} in namespace {namespace} (k8s://")
    assert line.endswith(") is running")

    # An image the node does not have, never pulled: the pod waits (Pending), it has not
    # failed, and the line says why.
    broken = _name("vw-check-broken")
    _apply(ip, namespace, _pod(broken, image="localbase/no-such-image:1"))
    shown = _fails(ip, f"pod {broken} Running -n {namespace}")
    assert "is pending" in shown and "not Running" in shown
    _eventually_shown(ip, f"pod {broken} Running -n {namespace}", "ErrImageNeverPull")

    failed = _name("vw-check-failed")  # its only container exits 3 and is not restarted
    _apply(ip, namespace, _pod(failed, command=("sh", "-c", "exit 3"), restart="Never"))
    _eventually(ip, capsys, f"pod {failed} Failed -n {namespace}")
    shown = _fails(ip, f"pod {failed} Running -n {namespace}")
    assert "is failed" in shown and "not Running" in shown
    assert f"%k8s logs {failed} -n {namespace} and %k8s get events -n {namespace}" in shown


def _eventually_shown(ip: Any, check: str, wanted: str) -> None:
    """The failing ``check``'s line comes to include ``wanted`` within WAIT seconds (the
    kubelet reports a waiting reason a moment after the pod is scheduled)."""
    deadline = time.monotonic() + WAIT
    while wanted not in (shown := _fails(ip, check)):
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)


def test_the_namespace_comes_from_the_flag_then_the_environment(
        ip: Any, capsys: pytest.CaptureFixture[str], namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    name = _name("vw-check-where")
    _apply(ip, namespace, _pod(name, scheduled=False))
    monkeypatch.delenv("VW_NAMESPACE", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", namespace)
    assert f"in namespace {namespace}" in _passes(ip, capsys, f"pod {name} pending")
    monkeypatch.setenv("VW_NAMESPACE", "vw-check-elsewhere")
    assert "in namespace vw-check-elsewhere" in _fails(ip, f"pod {name} pending")
    assert f"in namespace {namespace}" in _passes(ip, capsys,
                                                  f"pod {name} pending -n {namespace}")
    monkeypatch.setenv("VW_NAMESPACE", "Not_A_Namespace")
    with pytest.raises(InvalidInput, match=r"\$VW_NAMESPACE"):
        ip.run_line_magic("vw", f"check pod {name}")


def test_no_insecure_tls_warning_on_an_unverified_connection(
        ip: Any, capsys: pytest.CaptureFixture[str], namespace: str) -> None:
    """urllib3 warns on every request of a connection made with --insecure; a check on one
    warns nothing (pytest would catch a warning before stderr: they are recorded here)."""
    from urllib3.exceptions import InsecureRequestWarning

    name = _name("vw-check-tls")
    _apply(ip, namespace, _pod(name, scheduled=False))
    current = session().driver("kubernetes")
    kubeconfig = f" --kubeconfig {current.kubeconfig}" if current.kubeconfig else ""
    alias = _name("unverified")
    ip.run_line_magic("vw", f"connect {k8s_uri(current.target.context, namespace)} "
                            f"--insecure --as {alias}{kubeconfig}")
    try:
        with warnings.catch_warnings(record=True) as during_check:
            warnings.simplefilter("always")
            _passes(ip, capsys, f"pod {name} Pending --connection {alias}")
        with warnings.catch_warnings(record=True) as during_list:
            warnings.simplefilter("always")
            session().driver(alias).list(Kind.POD)
    finally:
        session().disconnect(alias)
    assert [w for w in during_list if w.category is InsecureRequestWarning]  # it does warn
    assert [str(w.message) for w in during_check] == []


def _deployment(name: str, replicas: int, *, scheduled: bool = True) -> str:
    return as_yaml(deployment(name, Container(command=SLEEPER), replicas=replicas,
                              scheduler=None if scheduled else NOWHERE))


def test_deployment(ip: Any, capsys: pytest.CaptureFixture[str], namespace: str) -> None:
    name, stuck = _name("vw-check-web"), _name("vw-check-stuck")
    _apply(ip, namespace, _deployment(name, 1))
    shown = _fails(ip, f"deployment {name} --replicas 3 -n {namespace}")
    assert f"deployment {name} in namespace {namespace}" in shown
    assert "asks for 1 replicas, not 3" in shown
    assert f"%k8s scale --replicas=3 deployment/{name} -n {namespace} --wait" in shown

    ip.run_line_magic("k8s", f"scale --replicas=3 deployment/{name} -n {namespace}")
    line = _eventually(ip, capsys, f"deployment {name} --replicas 3 Available -n {namespace}")
    assert line.endswith(": 3 of 3 replicas ready, available")

    _apply(ip, namespace, _deployment(stuck, 2, scheduled=False))
    shown = _fails(ip, f"deployment {stuck} --replicas 2 -n {namespace}")
    assert f"only 0 of the 2 replicas of deployment {stuck}" in shown
    assert "wait for the rollout" in shown


# --- VMs ---------------------------------------------------------------------------------------


def test_vsphere_vm_as_the_source_document_configures_it(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = _name("vw-check-vm")
    wanted = "--cpus 2 --memory 4G --disk 100G poweredOn"
    shown = _fails(ip, f"vm {name} --on vsphere {wanted}")
    assert f"no VM named {name} on vsphere://" in shown and f"%vm create {name}" in shown

    ip.run_line_magic("vm", f"create {name} --on vsphere --memory 128M --no-start")
    shown = _fails(ip, f"vm {name} --on vsphere {wanted}")
    assert "vCPUs 1 (wanted 2); memory 128 MiB (wanted 4 GiB); no disk (wanted 100 GiB); " \
           "stopped (wanted poweredOn)" in shown
    assert f"try %vm config {name} --on vsphere --cpus 2 --memory 4G --disk 100G, then " \
           f"%vm start {name} --on vsphere" in shown

    ip.run_line_magic("vm", f"config {name} --on vsphere --cpus 2 --memory 4G --disk 100G")
    ip.run_line_magic("vm", f"start {name} --on vsphere")
    line = _passes(ip, capsys, f"vm {name} --on vsphere {wanted}")
    assert line.endswith(": vCPUs 2, memory 4 GiB, disks 100 GiB, running")
    # Without --on: the VM connections in use are looked through.
    assert "on vsphere://" in _passes(ip, capsys, f"vm {name} running")


def test_libvirt_vm_on_qemu(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name, on = _name("vw-check-qemu"), "qemu:///system"
    ip.run_line_magic("vm", f"create {name} --on {on} --tiny-guest --memory 128M --disk 1G "
                            "--no-start")
    shown = _fails(ip, f"vm {name} --on {on} --cpus 2 --disk 2G running")
    assert "vCPUs 1 (wanted 2); disks 1 GiB (wanted 2 GiB); stopped (wanted running)" in shown
    assert f"%vm config {name} --on {on} --cpus 2 --disk 2G, then %vm start {name}" in shown

    ip.run_line_magic("vm", f"config {name} --on {on} --cpus 2 --memory 256M --disk 2G")
    line = _passes(ip, capsys, f"vm {name} --on {on} --cpus 2 --memory 256M --disk 2G "
                               "'shut off'")  # virsh's word
    assert line == f"✔ VM {name} on {on}: vCPUs 2, memory 256 MiB, disks 2 GiB, stopped"
    ip.run_line_magic("vm", f"start {name} --on {on}")
    _passes(ip, capsys, f"vm {name} --on {on} running")
    ip.run_line_magic("vm", f"stop {name} --on {on} --force")


# --- the learner's language --------------------------------------------------------------------


def test_chinese_lines(ip: Any, capsys: pytest.CaptureFixture[str], chinese: None) -> None:
    name = _name("vw-check-zh")
    shown = _fails(ip, f"container {name} running")
    assert shown == (f"✘ docker:// 上没有名为 {name} 的容器。先用 %docker run -d --name {name} "
                     "镜像名 创建它（%docker ps -a 列出所有容器）")
    ip.run_line_magic("docker", f"run -d --name {name} --network none {BUSYBOX} sleep 600")
    assert _passes(ip, capsys, f"container {name} running") == \
        f"✔ docker:// 上的容器 {name} 正在运行（running）"
    with pytest.raises(InvalidArguments, match="不是容器会有的状态"):
        ip.run_line_magic("vw", f"check container {name} runing")


def test_the_language_setting_takes_locales_and_refuses_others(ip: Any) -> None:
    from traitlets import TraitError

    magics = ip.magics_manager.registry["VWMagics"]
    ip.run_line_magic("config", "VirtworkMagics.language = 'zh_CN.UTF-8'")
    assert magics.language == "zh"
    with pytest.raises(TraitError, match="'fr' is not one of en, zh"):
        magics.language = "fr"


# --- mistakes in the check's own line, and an engine that never answers -------------------------


@pytest.mark.parametrize(("line", "words"), [
    ("container web bogus", "'bogus' is not a state a container can be in; use one of "
                            "created, running, paused, restarting, removing, exited, dead"),
    ("image web --replicas 3", "%vw check image: --replicas is only for checks of deployment"),
    ("vm web --on docker", "'docker' is a docker connection, not a hypervisor"),
    ("pod web --on docker", "'docker' is a docker connection, not a cluster"),
    ("image web running", "STATE is only for checks of"),
])
def test_mistakes_in_the_line(ip: Any, line: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words.replace("(", r"\(").replace(")", r"\)")):
        ip.run_line_magic("vw", f"check {line}")


def test_help(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert ip.run_line_magic("vw", "check -h") is None
    shown = capsys.readouterr().out
    assert shown.startswith("usage: %vw check [-h] [--pushed]")
    assert "example: %vw check vm my-vmware-vm --cpus 2 --memory 4G --disk 100G poweredOn" \
        in shown


def test_an_engine_that_never_answers_fails_within_the_timeout(ip: Any) -> None:
    """A socket that takes the connection and never answers: the check gives up after its
    --timeout, long before the driver's own request would."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        uri = f"docker+tcp://127.0.0.1:{silent.getsockname()[1]}"
        try:
            with pytest.raises(OperationTimeout, match="did not finish within 1 s"):
                ip.run_line_magic("vw", f"check container web --on {uri} --timeout 1")
        finally:
            session().disconnect(uri)


# --- in a real kernel, as nbgrader runs a graded cell ------------------------------------------


def test_in_a_kernel_a_pass_writes_no_stderr_and_a_failure_one_error_line(
        ip: Any, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    name = _name("vw-check-kernel")
    ip.run_line_magic("docker", f"run -d --name {name} --network none {BUSYBOX} sleep 600")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (
        "%load_ext jupyter_virtwork",
        f"%vw check container {name} running",  # the first use of docker in this kernel
        f"%vw check container {name} paused")]
    # nbgrader's autograder: 30 s a cell; a graded cell scores 0 with any stderr output.
    NotebookClient(notebook, timeout=30, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    passed, failed = notebook.cells[1].outputs, notebook.cells[2].outputs
    assert [(o.output_type, o.get("name")) for o in passed] == [("stream", "stdout")], passed
    assert passed[0].text == f"✔ container {name} on docker:// is running\n"
    errors = [o for o in failed if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CheckFailed"], failed
    assert errors[0].traceback == [
        f"✘ container {name} on docker:// is running, not paused: try %docker pause {name}"]
