"""The magics behave as Jupyter users expect (issue 13), on the sandbox's real engines:

- a failed magic fails the cell, shown in one line: in IPython (``run_cell``) and in a real
  kernel run by nbclient (an ``error`` output; Run All stops; a ``raises-exception`` cell is
  expected to fail); Ctrl-C cancels the engine's work and fails the cell in one line;
- every setting is a trait set with ``%config``, with a visible effect;
- ``%docker?`` and its siblings show every verb's usage with an example;
- docker's own rules: ``.dockerignore`` and images by digest.

Kubeconfig contexts named like EKS's and GKE's are in test_kube_contexts.py.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from jupyter_virtwork.errors import (
    Cancelled,
    EngineUnavailable,
    InvalidArguments,
    NotFound,
    OperationTimeout,
)
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, State

from .conftest import ensure_up, ipython_shell

BUSYBOX = "localbase/busybox:1.35"
REGISTRY = "127.0.0.1:5000"


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "registry", "images", "libvirt")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


@pytest.fixture
def client() -> Iterator[Any]:
    api = docker.APIClient()
    yield api
    api.close()


def _name(prefix: str = "vw-citizen") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _shown(capsys: pytest.CaptureFixture[str]) -> str:
    """What IPython showed for the cell's error (stdout; stderr has notes such as "using
    docker:// ... for docker")."""
    return capsys.readouterr().out.strip()


# --- errors fail the cell, in one line ------------------------------------------------------


def test_a_failed_magic_fails_the_cell_with_one_line(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    result = ip.run_cell("%docker rm no-such-container-citizen\nprint('not reached')")
    assert not result.success
    assert isinstance(result.error_in_exec, NotFound)
    shown = _shown(capsys)
    assert shown.startswith("NotFound: ") and "\n" not in shown, shown
    assert "no-such-container-citizen" in shown and "not reached" not in shown


def test_a_failed_magic_raises_and_never_answers_none(ip: Any) -> None:
    with pytest.raises(NotFound):
        ip.run_line_magic("docker", "inspect no-such-thing-citizen")


@pytest.mark.parametrize(("line", "words"), [
    ("frobnicate", "invalid choice"),  # argparse
    ("run", "required: image"),  # argparse
    ("run 'unterminated", "quotation"),  # shlex
    (f"run -e =nameless {BUSYBOX}", "KEY=VALUE"),  # the magic's own check
    ("exec some-container", "give a command"),  # the magic body's own check
    ("build -t x /nonexistent/dir", "no Dockerfile"),
])
def test_argument_mistakes_take_the_same_channel_and_look_the_same(
        ip: Any, capsys: pytest.CaptureFixture[str], line: str, words: str) -> None:
    capsys.readouterr()
    result = ip.run_cell(f"%docker {line}")
    assert isinstance(result.error_in_exec, InvalidArguments)
    shown = _shown(capsys)
    assert shown.startswith("InvalidArguments: ") and "\n" not in shown, shown
    assert words in shown


def test_help_is_not_a_failure(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    result = ip.run_cell("%docker run -h")
    assert result.success
    assert "usage: %docker run" in capsys.readouterr().out


def test_short_errors_off_shows_the_whole_traceback(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("config", "VirtworkMagics.short_errors = False")
    try:
        capsys.readouterr()
        result = ip.run_cell("%docker rm no-such-container-citizen")
        assert isinstance(result.error_in_exec, NotFound)
        shown = _shown(capsys)
        assert "Traceback" in shown and "drivers/docker/driver.py" in shown
        assert "No such container: no-such-container-citizen" in shown  # the engine's own, chained
    finally:
        ip.run_line_magic("config", "VirtworkMagics.short_errors = True")
    capsys.readouterr()
    ip.run_cell("%docker rm no-such-container-citizen")
    assert "\n" not in _shown(capsys)


# --- a real kernel: nbclient, as nbval and papermill run notebooks ---------------------------


def _notebook(*cells: str | tuple[str, list[str]]) -> Any:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        notebook.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    return notebook


def _execute(notebook: Any, tmp_path: Path) -> Any:
    from nbclient import NotebookClient

    return NotebookClient(notebook, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()


def _errors(cell: Any) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == "error"]


def test_nbclient_records_an_error_output_and_run_all_stops(tmp_path: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    notebook = _notebook("%load_ext jupyter_virtwork",
                         "%docker rm no-such-container-citizen",
                         "print('the next cell ran')")
    with pytest.raises(CellExecutionError) as caught:
        _execute(notebook, tmp_path)
    assert "NotFound" in str(caught.value)
    (error,) = _errors(notebook.cells[1])
    assert error.ename == "NotFound"
    assert len(error.traceback) == 1 and error.traceback[0].startswith("NotFound: ")
    assert "no-such-container-citizen" in error.traceback[0]
    assert notebook.cells[2].outputs == []  # Run All stopped at the failed cell


def test_a_raises_exception_cell_is_expected_to_fail(tmp_path: Path) -> None:
    notebook = _notebook("%load_ext jupyter_virtwork",
                         ("%docker run --bogus-flag x", ["raises-exception"]),
                         "print('the next cell ran')")
    _execute(notebook, tmp_path)
    (error,) = _errors(notebook.cells[1])
    assert error.ename == "InvalidArguments" and len(error.traceback) == 1
    assert notebook.cells[2].outputs[0].text == "the next cell ran\n"


def test_interrupting_the_kernel_cancels_the_build_and_fails_the_cell(client: Any) -> None:
    """The kernel's interrupt (SIGINT, what the stop button sends) during a build: the
    engine stops the build, the cell fails with one line."""
    from jupyter_client.manager import start_new_kernel

    marker, tag = uuid.uuid4().hex, _name("vw-interrupted")
    manager, kernel = start_new_kernel(kernel_name="python3")
    try:
        kernel.execute_interactive("%load_ext jupyter_virtwork", timeout=60)
        errors: list[dict[str, Any]] = []
        msg_id = kernel.execute(f"%%dockerfile -t {tag}\nFROM {BUSYBOX}\n"
                                f"RUN echo {marker} && sleep 120\n")
        deadline = time.monotonic() + 60
        while not _build_containers(client, marker):  # the RUN step runs in the engine
            assert time.monotonic() < deadline, "the build never reached its RUN step"
            time.sleep(0.2)
        manager.interrupt_kernel()
        reply = kernel.get_shell_msg(timeout=60)
        assert reply["parent_header"]["msg_id"] == msg_id
        while True:
            message = kernel.get_iopub_msg(timeout=10)
            if message["msg_type"] == "error":
                errors.append(message["content"])
            if message["msg_type"] == "status" and \
                    message["content"]["execution_state"] == "idle" and \
                    message["parent_header"].get("msg_id") == msg_id:
                break
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Cancelled"
    (error,) = errors
    assert len(error["traceback"]) == 1 and "cancelled" in error["traceback"][0]
    deadline = time.monotonic() + 30
    while _build_containers(client, marker):  # dockerd removes the build's container
        assert time.monotonic() < deadline, "the interrupted build's container stayed"
        time.sleep(0.2)
    assert not client.images(name=tag)


def _build_containers(client: Any, marker: str) -> list[Any]:
    return [c for c in client.containers(all=True) if marker in (c.get("Command") or "")]


def test_ctrl_c_in_a_magic_is_one_cancelled_line(ip: Any, capsys: pytest.CaptureFixture[str],
                                                 ) -> None:
    """The same in this process's IPython: SIGINT while `%docker logs -f` follows."""
    import signal
    import sys
    import threading

    name = _name()
    ip.run_line_magic("docker", f"run -d --name {name} --network none {BUSYBOX} "
                                "sh -c 'echo following; sleep 300'")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as a kernel does
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_following() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the main thread is in the magic's follow loop
            frame = sys._current_frames().get(main)
            while frame is not None and frame.f_code.co_name != "_logs":
                frame = frame.f_back
            if frame is not None:
                break
            time.sleep(0.05)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt_once_following, daemon=True).start()
    try:
        capsys.readouterr()
        result = ip.run_cell(f"%docker logs -f {name}")
    finally:
        signal.signal(signal.SIGINT, previous)
        ip.run_line_magic("docker", f"rm -f {name}")
    assert isinstance(result.error_in_exec, Cancelled)
    shown = capsys.readouterr().out.splitlines()
    assert shown[-1].startswith("Cancelled: ") and set(shown[:-1]) <= {"following"}, shown


# --- settings are traits, set with %config ---------------------------------------------------


def test_config_lists_every_setting_with_its_help(ip: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    expected = {
        "DockerMagics": ["connection", "registry", "run_timeout", "short_errors"],
        "K8sMagics": ["connection", "kubeconfig", "timeout", "short_errors"],
        "VMMagics": ["connection", "console_timeout", "short_errors"],
        "VWMagics": ["confirm_cleanup", "short_errors", "read_only", "confirm"],
    }
    for family, settings in expected.items():
        capsys.readouterr()
        ip.run_line_magic("config", family)
        listed = capsys.readouterr().out
        for setting in settings:
            assert re.search(rf"^{family}\.{setting}=<\w+>\n    \S", listed, re.M), \
                (family, setting, listed)


@pytest.fixture
def configured(ip: Any) -> Iterator[Any]:
    """Sets traits through %config; puts back each one's default afterwards."""
    changed: list[tuple[str, str]] = []

    def set_(name: str, value: Any) -> None:
        family, trait = name.split(".")
        magics = ip.magics_manager.registry[family]
        changed.append((name, repr(magics.traits()[trait].default_value)))
        ip.run_line_magic("config", f"{name} = {value!r}")

    yield set_
    for name, default in reversed(changed):
        ip.run_line_magic("config", f"{name} = {default}")


def test_registry_setting(ip: Any, configured: Any, client: Any) -> None:
    image = _name("vw-registry-setting")
    ip.run_cell_magic("dockerfile", f"-t {image}", f"FROM {BUSYBOX}\nLABEL x=1\n")
    configured("DockerMagics.registry", "localhost:5000")  # the same registry, named apart
    assert ip.run_line_magic("docker", f"push {image}") == f"localhost:5000/{image}"
    assert client.images(name=f"localhost:5000/{image}")
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/{image}/tags/list") as answer:
        assert json.load(answer)["tags"] == ["latest"]
    ip.run_line_magic("docker", f"rmi localhost:5000/{image} {image}")


def test_docker_connection_setting(ip: Any, configured: Any) -> None:
    ip.run_line_magic("docker", "ps")  # the automatic default is open
    configured("DockerMagics.connection", "docker+tcp://127.0.0.1:9")  # nothing listens
    with pytest.raises(EngineUnavailable) as caught:
        ip.run_line_magic("docker", "ps")
    assert "docker+tcp://127.0.0.1:9" in str(caught.value)
    configured("DockerMagics.connection", "docker+unix:///var/run/docker.sock")
    assert session().driver("docker").uri == "docker+unix:///var/run/docker.sock"
    ip.run_line_magic("docker", "ps")


def test_a_connection_made_by_hand_outlives_the_default_setting(ip: Any,
                                                                configured: Any) -> None:
    ip.run_line_magic("vw", "connect docker+unix:///var/run/docker.sock --as by-hand")
    try:
        configured("DockerMagics.connection", "docker+tcp://127.0.0.1:9")
        ip.run_line_magic("docker", "ps")  # still through the connection made by hand
        assert session().driver("docker").uri == "docker+unix:///var/run/docker.sock"
    finally:
        session().disconnect("by-hand")


def test_run_timeout_setting(ip: Any, configured: Any) -> None:
    name = _name()
    configured("DockerMagics.run_timeout", 1.0)
    started = time.monotonic()
    with pytest.raises(OperationTimeout) as caught:
        ip.run_line_magic("docker", f"run --name {name} --network none {BUSYBOX} sleep 30")
    assert time.monotonic() - started < 15
    assert "still runs after 1 s" in str(caught.value)
    ip.run_line_magic("docker", f"rm -f {name}")


def test_vm_connection_setting(ip: Any, configured: Any) -> None:
    magics = ip.magics_manager.registry["VMMagics"]  # the last VM connection is this shell's
    remembered, magics._last_connection = magics._last_connection, None  # a fresh kernel's
    try:
        configured("VMMagics.connection", "test:///default")
        name = _name("vw-vm-setting")
        vm = ip.run_line_magic("vm", f"create {name} --memory 64M")
        assert vm.uri == "test:///default" and vm.state is State.RUNNING
        ip.run_line_magic("vm", f"delete {name} --force")
    finally:
        magics._last_connection = remembered
    with pytest.raises(NotFound):
        session().driver("test:///default").get(Kind.VM, name)


def test_console_timeout_setting(ip: Any, configured: Any) -> None:
    name = _name("vw-console-setting")
    ip.run_line_magic("vm", f"create {name} --on qemu:///system --tiny-guest --memory 128M")
    try:
        configured("VMMagics.console_timeout", 2.0)
        started = time.monotonic()
        with pytest.raises(OperationTimeout, match="did not print 'NEVER-PRINTED' within 2 s"):
            ip.run_line_magic("vm", f"console {name} --on qemu:///system "
                                    "--wait-for NEVER-PRINTED")
        assert time.monotonic() - started < 20
    finally:
        ip.run_line_magic("vm", f"delete {name} --on qemu:///system --force")


def test_confirm_cleanup_setting(ip: Any, configured: Any, client: Any,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    name = _name()
    ip.run_line_magic("docker", f"run -d --name {name} --network none {BUSYBOX} sleep 300")
    capsys.readouterr()
    ip.run_line_magic("vw", "cleanup")  # asks first: nothing removed
    assert "would be removed" in capsys.readouterr().out
    assert client.containers(all=True, filters={"name": f"^/{name}$"})
    configured("VWMagics.confirm_cleanup", False)
    ip.run_line_magic("vw", "cleanup")
    assert not client.containers(all=True, filters={"name": f"^/{name}$"})


def test_config_file_settings_reach_the_magics(tmp_path: Path) -> None:
    """ipython_config.py, as a user writes it: a kernel started with that profile."""
    profile = tmp_path / "profile_virtwork"
    profile.mkdir()
    (profile / "ipython_config.py").write_text(
        "c.DockerMagics.registry = 'localhost:5000'\n"
        "c.VirtworkMagics.short_errors = False\n"
        "c.VMMagics.connection = 'test:///default'\n")
    notebook = _notebook(
        "%load_ext jupyter_virtwork",
        "m = get_ipython().magics_manager.registry\n"
        "print(m['DockerMagics'].registry, m['VMMagics'].short_errors, "
        "m['VMMagics'].connection)")
    from nbclient import NotebookClient

    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   extra_arguments=[f"--ipython-dir={tmp_path}", "--profile=virtwork"],
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert notebook.cells[1].outputs[0].text == "localhost:5000 False test:///default\n"


# --- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("magic", "verbs"), [
    ("%docker", ["build", "push", "run", "exec", "logs", "start", "stop", "restart", "pause",
                 "unpause", "rm", "ps", "images", "rmi", "inspect"]),
    ("%k8s", ["apply", "scale", "get", "logs", "exec", "delete", "use-context"]),
    ("%vm", ["create", "config", "start", "stop", "suspend", "resume", "delete", "ls",
             "console"]),
    ("%vw", ["connect", "connections", "status", "unwatch", "created", "cleanup", "class",
             "check", "export"]),
    ("%%dockerfile", []),
])
def test_question_mark_shows_every_verbs_usage_with_an_example(
        ip: Any, capsys: pytest.CaptureFixture[str], magic: str, verbs: list[str]) -> None:
    capsys.readouterr()
    ip.run_cell(f"{magic}?")
    shown = capsys.readouterr().out
    sections = {section.split()[1]: section  # "%docker build [-h] ...": "build"
                for section in shown.split("usage: ")[1:] if section.startswith(magic + " ")}
    if magic != "%%dockerfile":
        del sections["[-h]"]  # the magic's own usage, its verbs listed
    assert set(sections) == (set(verbs) or {"[-h]"})
    for verb, section in sections.items():
        assert f"\nexample: {magic}" in section or f"\nexample: %{magic}" in section, \
            f"{magic} {verb} has no example"


# --- docker's own rules ----------------------------------------------------------------------


def _ignored_context(root: Path) -> Path:
    (root / "logs").mkdir(parents=True)
    (root / "keep.txt").write_text("kept\n")
    (root / "secret.env").write_text("TOKEN=never-sent\n")
    (root / "logs" / "debug.log").write_text("noise\n")
    (root / "logs" / "keep.log").write_text("kept\n")
    (root / ".dockerignore").write_text("# docker's syntax\n*.env\nlogs/*\n!logs/keep.log\n")
    return root


def _files_in(ip: Any, image: str) -> set[str]:
    name = _name()
    ip.run_line_magic("docker", f"run --name {name} --network none {image} "
                                "find /ctx -type f")
    try:
        logs = docker.APIClient().logs(name).decode()
    finally:
        ip.run_line_magic("docker", f"rm -f {name}")
    return {line.removeprefix("/ctx/") for line in logs.split()}


def test_docker_build_honours_dockerignore(ip: Any, tmp_path: Path) -> None:
    context = _ignored_context(tmp_path / "site")
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY . /ctx/\n")
    image = _name("vw-ignored")
    ip.run_line_magic("docker", f"build -t {image} {context}")
    assert _files_in(ip, image) == {"keep.txt", "logs/keep.log", ".dockerignore",
                                    "Dockerfile"}


def test_dockerfile_cell_context_honours_dockerignore(ip: Any, tmp_path: Path) -> None:
    context = _ignored_context(tmp_path / "site")
    image = _name("vw-ignored-cell")
    ip.run_cell_magic("dockerfile", f"-t {image} {context}", f"FROM {BUSYBOX}\nCOPY . /ctx/\n")
    assert _files_in(ip, image) == {"keep.txt", "logs/keep.log", ".dockerignore"}


def test_images_by_digest(ip: Any, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    image = _name("vw-digest")
    ip.run_cell_magic("dockerfile", f"-t {image}", f"FROM {BUSYBOX}\nLABEL digest=test\n")
    capsys.readouterr()
    ip.run_line_magic("docker", f"push {image}")
    digest = re.search(r"sha256:[0-9a-f]{64}", capsys.readouterr().out)
    assert digest is not None
    pinned = f"{REGISTRY}/{image}@{digest.group(0)}"
    inspected = ip.run_line_magic("docker", f"inspect {pinned}")
    assert inspected.kind is Kind.IMAGE and pinned in inspected.raw["RepoDigests"]
    name = _name()
    run = ip.run_line_magic("docker", f"run -d --name {name} --network none {pinned} sleep 30")
    assert client.inspect_container(name)["Config"]["Image"] == pinned
    assert run.state is State.RUNNING
    ip.run_line_magic("docker", f"rm -f {name}")
    capsys.readouterr()
    ip.run_line_magic("docker", f"push {pinned}")  # pushes the tag that names that content
    assert digest.group(0) in capsys.readouterr().out
    ip.run_line_magic("docker", f"rmi {pinned} {REGISTRY}/{image} {image}")
    with pytest.raises(NotFound):
        ip.run_line_magic("docker", f"inspect {pinned}")
