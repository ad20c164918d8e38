"""The magics in a real IPython shell, on the sandbox's real engines.

Each test types what a notebook user types; results are checked on the engines themselves
(docker-py, the Kubernetes driver), not only on what the magic printed.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.errors import EngineUnavailable, InvalidInput, NotFound, VirtworkError
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, ResourceList, State

from .conftest import ensure_up, ipython_shell
from .manifests import BUSYBOX, STUBBORN, Container, as_yaml, deployment, httpd, pod


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "registry", "images", "kubernetes", "libvirt")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


@pytest.fixture
def docker_client() -> Iterator[Any]:
    client = docker.from_env()
    yield client
    client.close()


def _name(prefix: str = "vw-magic") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _fails(ip: Any, magic: str, line: str, cell: str | None = None) -> str:
    """Run a magic that must fail; the one line IPython shows for it (the cell fails)."""
    with pytest.raises(VirtworkError) as caught:
        if cell is None:
            ip.run_line_magic(magic, line)
        else:
            ip.run_cell_magic(magic, line, cell)
    (shown,) = caught.value._render_traceback_()
    assert "\n" not in shown
    return str(shown)


# --- docker ---------------------------------------------------------------------------------


def test_dockerfile_cell_build_push_run_exec(ip: Any, docker_client: Any,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    image, container = _name("vw-image"), _name()
    built = ip.run_cell_magic("dockerfile", f"-t {image}",
                              f"FROM {BUSYBOX}\nRUN echo built > /built.txt\n"
                              'CMD ["sleep", "300"]\n')
    assert built.name == f"{image}:latest" or built.name == image
    pushed = ip.run_line_magic("docker", f"push {image}")
    assert pushed == f"127.0.0.1:5000/{image}"
    run = ip.run_line_magic("docker", f"run -d --name {container} --network none {image}")
    assert run.state is State.RUNNING
    live = docker_client.containers.get(container)
    assert ownership.is_ours(live.labels, session(ip).id)
    result = ip.run_line_magic("docker", f"exec {container} cat /built.txt")
    assert (result.stdout, result.exit_code) == ("built\n", 0)
    ip.run_line_magic("docker", f"pause {container}")
    live.reload()
    assert live.status == "paused"
    ip.run_line_magic("docker", f"unpause {container}")
    ip.run_line_magic("docker", f"stop -t 1 {container}")
    live.reload()
    assert live.status == "exited"
    ps = ip.run_line_magic("docker", "ps -a")
    assert container in {r.name for r in ps}
    assert container not in {r.name for r in ip.run_line_magic("docker", "ps")}
    ip.run_line_magic("docker", f"rm {container}")
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container)


def test_build_from_a_directory(ip: Any, tmp_path: Any) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY page.html /www/index.html\n")
    (tmp_path / "page.html").write_text("<h1>hello</h1>\n")
    image = _name("vw-dir-image")
    built = ip.run_line_magic("docker", f"build -t {image} {tmp_path}")
    assert built.name.startswith(image)
    out = ip.run_line_magic("docker", f"run --network none --name {_name()} {image} "
                                      "cat /www/index.html")
    assert out.state is State.STOPPED


def test_foreground_run_prints_the_output(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    ip.run_line_magic("docker", f"run --network none --name {_name()} {BUSYBOX} echo hi there")
    assert "hi there" in capsys.readouterr().out


def test_show_command(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    name = _name()
    ip.run_line_magic("docker", f"run -d --show-command --network none --name {name} {BUSYBOX} "
                                "sleep 30")
    assert f"docker run -d --name {name} --label" in capsys.readouterr().out
    ip.run_line_magic("docker", f"rm -f {name}")


@pytest.mark.parametrize(("line", "words"), [
    (f"run --name 'x;rm -rf /' {BUSYBOX}", "is not a valid name"),
    ("run localbase/never-built:1", "pulling is disabled"),
    ("exec no-such-container-here ls", "no such object"),
    ("rm no-such-container-here", "no such object"),
    ("run Uppercase/Image", "lowercase"),
])
def test_docker_bad_input_is_one_line(ip: Any, docker_client: Any, line: str,
                                      words: str) -> None:
    before = _containers_outside_kubernetes(docker_client)
    assert words in _fails(ip, "docker", line)
    assert _containers_outside_kubernetes(docker_client) == before


@pytest.fixture
def in_chinese(ip: Any) -> Iterator[Any]:
    """The shell with ``%config VirtworkMagics.language = "zh"``, as a learner sets it."""
    ip.run_cell('%config VirtworkMagics.language = "zh"')
    yield ip
    ip.run_cell('%config VirtworkMagics.language = "en"')


@pytest.mark.parametrize(("line", "chinese", "english"), [
    ("rm no-such-container-zh", "：找不到 'no-such-container-zh'（docker://）",
     "no such object 'no-such-container-zh'"),
    ("ps --nope", "：不认识的参数：--nope（用法见 %docker?）", "unrecognized arguments: --nope"),
    ("rm", "%docker rm：缺少必填的参数：", "the following arguments are required:"),
])
def test_errors_follow_the_learners_language(in_chinese: Any, capsys: pytest.CaptureFixture[str],
                                             line: str, chinese: str, english: str) -> None:
    """A cell as a learner runs it: the line IPython prints is in Chinese, the cell fails,
    and the error still says the same in English to code that reads it."""
    capsys.readouterr()
    ran = in_chinese.run_cell(f"%docker {line}")
    assert not ran.success and isinstance(ran.error_in_exec, VirtworkError)
    shown = capsys.readouterr().out.strip()
    assert chinese in shown and "\n" not in shown, shown
    assert english in str(ran.error_in_exec)


def _containers_outside_kubernetes(client: Any) -> set[str]:
    """Container ids, leaving out the kubelet's: it starts and removes pods' containers in
    the same dockerd whenever it likes (one listing call, so none vanishes mid-list)."""
    return {c["Id"] for c in client.api.containers(all=True)
            if "io.kubernetes.pod.name" not in (c.get("Labels") or {})}


def test_bad_dockerfile_cell(ip: Any) -> None:
    assert "unknown instruction" in _fails(ip, "dockerfile", f"-t {_name()}",
                                           f"FROM {BUSYBOX}\nFORM x\n")


@pytest.mark.parametrize("line", ["frobnicate", "run", "ps --bogus", "run -p nope busybox",
                                  "run -e =nameless localbase/busybox:1.35"])
def test_usage_errors(ip: Any, line: str) -> None:
    with pytest.raises(InvalidInput):  # InvalidArguments, or the spec's own check
        ip.run_line_magic("docker", line)


def test_short_errors_off_shows_the_exception(ip: Any) -> None:
    ip.run_line_magic("config", "VirtworkMagics.short_errors = False")
    try:
        with pytest.raises(VirtworkError):
            ip.run_line_magic("docker", "rm no-such-container-here")
    finally:
        ip.run_line_magic("config", "VirtworkMagics.short_errors = True")


# --- kubernetes -----------------------------------------------------------------------------


def test_k8s_apply_scale_get_logs_exec_delete(ip: Any) -> None:
    name = _name("web")
    web = Container("web", pull="IfNotPresent", command=httpd("serving"))
    applied = ip.run_cell_magic("k8s", "apply", as_yaml(deployment(name, web)))
    assert [r.name for r in applied] == [name]
    done = ip.run_line_magic("k8s", f"scale --replicas=3 deployment/{name} --wait")
    assert done.details["ready"] == "3/3"
    pods = ip.run_line_magic("k8s", f"get pods -l app={name}")
    assert len(pods) == 3
    assert ip.run_line_magic("k8s", f"exec {pods[0].name} -- echo inside").stdout == "inside\n"
    ip.run_line_magic("k8s", f"delete deployment/{name} --wait")
    assert ip.run_line_magic("k8s", f"get pods -l app={name}") == ResourceList()


def _until_running(pod: str, within: float = 60) -> None:
    pods = session().driver("kubernetes")
    deadline = time.monotonic() + within
    while pods.get(Kind.POD, pod).state is not State.RUNNING:
        assert time.monotonic() < deadline, f"pod {pod} did not start"
        time.sleep(0.2)


def test_k8s_delete_force_does_not_wait_for_the_grace_period(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = _name("stubborn")
    stubborn = pod(name, Container(pull="IfNotPresent", command=STUBBORN), grace=120)
    ip.run_cell_magic("k8s", "apply", as_yaml(stubborn))
    _until_running(name)  # its TERM trap is set
    capsys.readouterr()
    started = time.monotonic()
    ip.run_line_magic("k8s", f"delete pod/{name} --force --wait --show-command")
    assert time.monotonic() - started < 60  # not the pod's 120 s
    assert "--grace-period=0 --force" in capsys.readouterr().out
    assert name not in {p.name for p in ip.run_line_magic("k8s", "get pods")}


def test_a_pods_containers_are_not_counted_as_docker_workloads(ip: Any) -> None:
    """The kubelet copies the pod's labels, ours too, onto the pod's docker containers."""
    name = _name("counted-once")
    ip.run_cell_magic("k8s", "apply", as_yaml(pod(name, Container(command=("sleep", "60")))))
    try:
        _until_running(name)
        all_containers = ip.run_line_magic("docker", "ps")
        assert any(name in r.name for r in all_containers)  # docker ps still shows them
        created = ip.run_line_magic("vw", "created")
        assert [(r.kind, r.name) for r in created if name in r.name] == [(Kind.POD, name)]
    finally:
        ip.run_line_magic("k8s", f"delete pod/{name} --force --wait")


def test_k8s_bad_yaml(ip: Any) -> None:
    assert "malformed" in _fails(ip, "k8s", "apply", "kind: Pod\n  metadata: [")
    assert _fails(ip, "k8s", "scale --replicas=3 web").startswith("InvalidArguments: ")


# --- VMs and %vw ------------------------------------------------------------------------------


def test_vm_walkthrough_on_the_test_driver(ip: Any) -> None:
    name = _name("my-xen-vm")
    vm = ip.run_line_magic("vm", f"create {name} --on test:///default --os 'ubuntu 18.04' "
                                 "--cpus 2 --memory 4G --disk 100G")
    assert vm.state is State.RUNNING
    assert (vm.details["cpus"], vm.details["memory"]) == (2, 4 * 1024**3)
    assert ip.run_line_magic("vm", f"suspend {name}").state is State.PAUSED
    assert ip.run_line_magic("vm", f"resume {name}").state is State.RUNNING
    ip.run_line_magic("vm", f"stop {name} --force")
    configured = ip.run_line_magic("vm", f"config {name} --cpus 1 --memory 2G")
    assert configured.details["cpus"] == 1
    ip.run_line_magic("vm", f"delete {name}")
    assert name not in {r.name for r in ip.run_line_magic("vm", "ls")}


@pytest.mark.parametrize(("line", "words"), [
    ("create vm-a --on test:///default --cpus 0", "0 CPUs is impossible"),
    ("create vm-a --on test:///default --cpus 10000", "10000 CPUs"),
    ("create vm-a --on test:///default --memory lots", "not a size"),
    ("create vm-a --on test:///default --disk=-5G", "not a size"),
    ("create 'vm;reboot' --on test:///default", "not a valid name"),
])
def test_vm_bad_input(ip: Any, line: str, words: str) -> None:
    assert words in _fails(ip, "vm", line)
    assert "vm-a" not in {r.name for r in ip.run_line_magic("vm", "ls --on test:///default")}


def test_vm_on_a_connection_of_another_kind_is_one_line(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_up("vcsim")
    opened = {c.alias for c in session().connections()}
    assert _fails(ip, "vm", "ls --on docker").startswith(
        "InvalidInput: 'docker' is a docker connection, not a hypervisor")
    assert "docker:// is not a vSphere or libvirt connection" in _fails(
        ip, "vm", "ls --on docker://")
    assert "the vsphere driver has no serial console" in _fails(
        ip, "vm", "console no-such-vm --on vsphere --show-command")
    assert capsys.readouterr().out == ""  # no govc line: govc has no console command
    assert {c.alias for c in session().connections()} <= opened | {"docker", "vsphere"}
    ip.run_line_magic("vm", "ls --on test:///default")  # later %vm lines: where they were


@pytest.mark.parametrize("uri", ["test:///default", "vsphere"])
def test_vm_create_no_start_leaves_it_off(ip: Any, uri: str) -> None:
    if uri.startswith("vsphere"):
        ensure_up("vcsim")
    name = _name("vm-off")
    vm = ip.run_line_magic("vm", f"create {name} --on {uri} --memory 128M --no-start")
    try:
        assert vm.state is State.STOPPED
        assert ip.run_line_magic("vm", f"start {name} --on {uri}").state is State.RUNNING
    finally:
        ip.run_line_magic("vm", f"delete {name} --on {uri} --force")  # it runs


VM_LINES = ("create {name} --memory 128M", "config {name} --cpus 1", "start {name}",
            "suspend {name}", "resume {name}", "stop {name} --force", "ls", "delete {name}")


def _shown_commands(ip: Any, capsys: pytest.CaptureFixture[str], on: str,
                    lines: tuple[str, ...]) -> list[list[str]]:
    name = _name("vm-shown")
    shown = []
    for line in lines:
        capsys.readouterr()
        ip.run_line_magic("vm", f"{line.format(name=name)} --on {on} --show-command")
        shown.append(capsys.readouterr().out.splitlines()[0].split())
    return shown


def test_vm_show_command_lines_are_real_virsh_commands(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shown = _shown_commands(ip, capsys, "test:///default", VM_LINES)
    with pytest.raises(NotFound):  # no VM x: the line is shown before the engine is asked
        ip.run_line_magic("vm", "console x --on test:///default --show-command")
    shown.append(capsys.readouterr().out.splitlines()[0].split())
    for words in shown:
        assert words[:3] == ["virsh", "-c", "test:///default"], words
        known = subprocess.run(["virsh", "help", words[3]], capture_output=True, check=False)
        assert known.returncode == 0, f"virsh has no {words[3]!r} command: {words}"


def test_vm_show_command_lines_are_govc_commands(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from jupyter_virtwork.drivers.vsphere.driver import GOVC

    ensure_up("vcsim")
    govc_commands = {words[0] for words in GOVC.values()}
    for words in _shown_commands(ip, capsys, "vsphere", VM_LINES):
        assert words[0] == "govc" and words[1] in govc_commands, words


def test_a_connection_that_never_answered_is_not_remembered(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = _name("vm-remembered")
    ip.run_line_magic("vm", f"create {name} --on test:///default --memory 128M")
    try:
        with pytest.raises(EngineUnavailable, match="no Xen hypervisor"):
            ip.run_line_magic("vm", "create vm-nowhere --on xen:///system")
        assert name in {r.name for r in ip.run_line_magic("vm", "ls")}
        assert session(ip).driver("libvirt").uri == "test:///default"
    finally:
        ip.run_line_magic("vm", f"delete {name} --on test:///default --force")


def test_created_and_cleanup_touch_only_ours(ip: Any, docker_client: Any) -> None:
    stranger = docker_client.containers.run(BUSYBOX, "sleep 60", detach=True,
                                            network_mode="none", name=_name("stranger"))
    try:
        mine = _name()
        ip.run_line_magic("docker", f"run -d --network none --name {mine} {BUSYBOX} sleep 60")
        created = ip.run_line_magic("vw", "created")
        assert mine in {r.name for r in created}
        assert stranger.name not in {r.name for r in created}
        removed = ip.run_line_magic("vw", "cleanup --yes")
        assert mine in {r.name for r in removed}
        assert ip.run_line_magic("vw", "created") == ResourceList()
        stranger.reload()
        assert stranger.status == "running"
    finally:
        stranger.remove(force=True)


def test_status_spans_every_connection(ip: Any) -> None:
    rows = ip.run_line_magic("vw", "status")
    assert {r.kind for r in rows} >= {Kind.VM}
    frame = rows.to_dataframe()
    assert list(frame.columns[:3]) == ["kind", "name", "state"]


def test_a_vm_connection_closed_since_is_forgotten_not_an_error(ip: Any) -> None:
    """`%vm ls --on ALIAS` makes ALIAS the VM connection of later lines; once the Session
    that held it is gone (reset, extension reloaded), %vm falls back to its default instead
    of failing on a name nobody can reach."""
    session(ip).connect("test:///default", "gone-soon")
    assert ip.run_line_magic("vm", "ls --on gone-soon") is not None
    session(ip).close()
    listed = ip.run_line_magic("vm", "ls")
    assert isinstance(listed, ResourceList)
    assert "gone-soon" not in {c.alias for c in session(ip).connections()}
