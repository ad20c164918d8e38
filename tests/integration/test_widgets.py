"""The widgets on the sandbox's real engines: a StatusTable follows containers that docker-py
starts, pauses and removes, and pods of a Deployment the driver scales; its traffic per
changed row is measured; a cut engine shows "disconnected, retrying" and recovers; the
ControlPanel's buttons really act on the engine; a ProgressView follows a real build; and a
real kernel shows that close() leaves a static table in the saved notebook.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import errors as docker_errors

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.base import Driver
from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.models import ImageSpec, Kind, State
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.widgets import ControlPanel, ProgressView, StatusTable
from jupyter_virtwork.widgets._rows import row_key
from tests.server import engines
from tests.server.proxy import DockerProxy
from tests.widget_traffic import CommTap

from .conftest import ensure_up
from .manifests import BUSYBOX, Container, deployment

MAX_ROW_BYTES = 2048


@pytest.fixture(scope="module")
def docker_driver() -> Iterator[Driver]:
    ensure_up("docker", "images")
    driver = connect("docker://")
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def engine() -> Any:
    import docker

    return docker.from_env()


@pytest.fixture
def labels(engine: Any) -> Iterator[dict[str, str]]:
    """This test's own labels; its containers are removed afterwards."""
    mine = ownership.ownership(f"widgets-{uuid.uuid4().hex[:8]}")
    yield mine
    engines.remove_labelled(engine, mine)


@pytest.fixture
def tables() -> Iterator[list[StatusTable]]:
    """Tables a test opens are closed even when it fails."""
    opened: list[StatusTable] = []
    yield opened
    for table in opened:
        table.close()


def _run(engine: Any, labels: dict[str, str]) -> Any:
    return engines.run_busybox(engine, labels, engines.name("vw-widgets"))


def _state(table: StatusTable, id: str) -> State | None:
    return next((r.state for r in table.rows if r.id == id), None)


def _eventually(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_table_follows_a_container_run_paused_and_removed(
        docker_driver: Driver, engine: Any, labels: dict[str, str],
        tables: list[StatusTable]) -> None:
    table = StatusTable([(docker_driver, Kind.CONTAINER, labels)], title="containers")
    tables.append(table)
    assert table.wait_for(lambda t: t.live, 10), table.status_lines
    tap = CommTap(table)
    container = _run(engine, labels)
    assert table.wait_for(lambda t: _state(t, container.id) is State.RUNNING, 5)
    rows = tap.custom("rows")
    assert rows and all(len(m["upsert"]) + len(m["remove"]) == 1 for m in rows)
    per_row = max(tap.wire_bytes(m) for m in tap.messages)
    assert per_row <= MAX_ROW_BYTES, f"{per_row} bytes for one changed row"

    container.pause()
    paused = table.wait_for(lambda t: _state(t, container.id) is State.PAUSED, 5)
    container.remove(force=True)
    assert table.wait_for(lambda t: not t.rows, 5), table.rows
    assert paused, "the row did not show the pause"


def test_close_stops_every_thread_and_leaves_the_snapshot(
        docker_driver: Driver, engine: Any, labels: dict[str, str]) -> None:
    before = set(threading.enumerate())
    container = _run(engine, labels)
    table = StatusTable([(docker_driver, Kind.CONTAINER, labels)], title="mine")
    assert table.wait_for(lambda t: _state(t, container.id) is State.RUNNING, 10)
    assert {t.name for t in set(threading.enumerate()) - before} >= {"virtwork-table-0"}
    table.close()
    table.close()
    assert _eventually(lambda: set(threading.enumerate()) <= before, 5), \
        set(threading.enumerate()) - before
    html = table.snapshot_html()
    assert container.name in html and ">running<" in html and "<b>mine</b>" in html
    assert list(table.to_dataframe()["name"]) == [container.name]


def test_a_cut_engine_shows_disconnected_and_recovers(tmp_path: Path,
                                                      tables: list[StatusTable]) -> None:
    ensure_up("docker")
    proxy = DockerProxy(str(tmp_path / "docker.sock"))
    proxy.start()
    driver = connect(proxy.uri)
    try:
        table = StatusTable([(driver, Kind.CONTAINER, {"vw-none": "x"})], actions=False)
        tables.append(table)
        assert table.wait_for(lambda t: t.live, 10)
        proxy.cut()
        assert table.wait_for(lambda t: "disconnected, retrying" in t.status_lines[0], 10)
        proxy.start()
        assert table.wait_for(lambda t: t.live, 10), table.status_lines
    finally:
        proxy.cut()
        driver.close()


def test_control_panel_verbs_change_the_container(
        docker_driver: Driver, engine: Any, labels: dict[str, str],
        tables: list[StatusTable]) -> None:
    container = _run(engine, labels)
    table = StatusTable([(docker_driver, Kind.CONTAINER, labels)])
    tables.append(table)
    assert table.wait_for(lambda t: _state(t, container.id) is State.RUNNING, 10)
    table.selected = next(row_key(r) for r in table.rows)
    panel = table.panel
    assert panel is not None

    def press(verb: str, status: str) -> None:
        button = next(b for a, b in panel.buttons.items() if a.value == verb)
        assert not button.disabled, f"{verb}: {button.tooltip}"
        button.click()
        assert panel.wait(30), f"{verb} still running"
        assert "color:#cf222e" not in panel.message.value, panel.message.value
        container.reload()
        assert container.status == status

    press("pause", "paused")
    press("resume", "running")
    press("stop", "exited")
    next(b for a, b in panel.buttons.items() if a.value == "delete").click()
    assert container.name in panel._question.value
    panel._yes.click()
    assert panel.wait(30)
    with pytest.raises(docker_errors.NotFound):
        container.reload()
    assert table.wait_for(lambda t: not t.rows, 5)


def test_progress_view_follows_a_real_build(docker_driver: Driver, engine: Any) -> None:
    tag = f"vw-widget-build:{uuid.uuid4().hex[:8]}"
    view = ProgressView(f"building {tag}", mode="widget", display=False)
    spec = ImageSpec(tag, f"FROM {BUSYBOX}\nRUN echo built > /built\nCMD cat /built\n",
                     labels=ownership.ownership("widgets"))
    try:
        docker_driver.build(spec, on_progress=view)  # type: ignore[attr-defined]
        assert view.state == "done" and view._bar.value == 1.0
        assert view._bar.bar_style == "success"
        assert "[2/3] RUN echo built > /built" in view.log.text()
        view.done(f"built {tag}")
        assert f"built {tag}" in view.snapshot_html()
    finally:
        engine.images.remove(tag, force=True)


# --- Kubernetes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> Iterator[Driver]:
    ensure_up("kubernetes", "images")
    driver = connect(f"k8s://{kube_pki.CONTEXT}/default",
                     kubeconfig=str(kube_pki.kubeconfig_path()))
    yield driver
    driver.close()


def test_pods_of_a_scaled_deployment_appear_and_unsupported_verbs_are_off(
        k8s: Any, tables: list[StatusTable]) -> None:
    mine = ownership.ownership(f"widgets-{uuid.uuid4().hex[:8]}")
    name = f"vw-{uuid.uuid4().hex[:8]}"
    table = StatusTable([(k8s, Kind.POD, mine)], title="pods")
    tables.append(table)
    try:
        k8s.apply([deployment(name, Container("main", command=("sleep", "300")))],
                  labels=mine)
        view = ProgressView(f"scaling {name}", mode="widget", display=False)
        k8s.scale(Kind.DEPLOYMENT, name, 2, wait=True, timeout=60, on_progress=view)
        assert view.state == "done" and view.log.current == "2 of 2 replicas ready"

        def two_running(t: StatusTable) -> bool:
            return [r.state for r in t.rows] == [State.RUNNING, State.RUNNING]

        assert table.wait_for(two_running, 30), table.rows
        assert all(r.name.startswith(name) for r in table.rows)
        table.selected = row_key(table.rows[0])
        panel = table.panel
        assert isinstance(panel, ControlPanel)
        buttons = {a.value: b for a, b in panel.buttons.items()}
        for verb in ("start", "stop", "pause", "resume"):
            assert buttons[verb].disabled
            assert buttons[verb].tooltip == f"the kubernetes driver does not support {verb}"
        assert not buttons["delete"].disabled
    finally:
        try:
            k8s.delete(Kind.DEPLOYMENT, name, wait=True)
        except NotFound:
            pass
    assert table.wait_for(lambda t: not t.rows, 30), table.rows


# --- a real kernel: what the notebook keeps -------------------------------------------


SETUP = """
from jupyter_virtwork.registry import connect
from jupyter_virtwork.models import Kind, Progress
from jupyter_virtwork.widgets import ProgressView, StatusTable
table = StatusTable([(connect('docker://'), Kind.CONTAINER, {labels!r})], title='saved')
table
"""


def test_a_saved_notebook_keeps_the_closed_table_as_html(labels: dict[str, str],
                                                         engine: Any) -> None:
    import nbformat
    from nbclient import NotebookClient

    container = _run(engine, labels)
    cells = [SETUP.format(labels=labels),
             "assert table.wait_for(lambda t: len(t.rows) == 1, 10)\ntable.close()",
             "view = ProgressView('pushing x')\nview(Progress('push', 'abcdef012345: Pushing',"
             " 1, 2))\nview.done('pushed x')"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    saved = nbformat.reads(nbformat.writes(notebook), as_version=4)
    [table_output] = saved.cells[0].outputs
    assert table_output.output_type == "display_data"
    assert set(table_output.data) == {"text/html", "text/plain"}  # no widget view left
    assert container.name in table_output.data["text/html"]
    assert table_output.data["text/plain"] == "saved: 1 row"
    [progress_output] = saved.cells[2].outputs
    assert set(progress_output.data) == {"text/html", "text/plain"}
    assert "pushed x" in progress_output.data["text/html"]
    assert "abcdef012345: Pushing" in progress_output.data["text/html"]


def test_a_kernel_shutdown_closes_the_table_and_sends_the_snapshot(
        labels: dict[str, str], engine: Any) -> None:
    from jupyter_client.manager import start_new_kernel

    container = _run(engine, labels)
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive(SETUP.format(labels=labels), timeout=30)
        client.execute_interactive(
            "assert table.wait_for(lambda t: len(t.rows) == 1, 10)", timeout=30)
        started = time.monotonic()
        manager.shutdown_kernel(now=False)
        assert time.monotonic() - started < 5, "the table held up the kernel's exit"
        updates = []
        while (message := _next_iopub(client)) is not None:
            if message["msg_type"] == "update_display_data":
                updates.append(message["content"]["data"])
        assert [container.name in u["text/html"] for u in updates] == [True]
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def _next_iopub(client: Any) -> Any:
    import queue

    try:
        return client.get_iopub_msg(timeout=1)
    except queue.Empty:
        return None


def _run_cell(client: Any, code: str, cell_id: str) -> dict[str, Any]:
    """Execute ``code`` as JupyterLab runs a cell: with its ``cellId`` in the metadata.
    Returns the reply's user expression ``live``: how many table threads are running."""
    live = "len([t for t in threading.enumerate() if t.name.startswith('virtwork-table')])"
    request = client.session.msg("execute_request", {
        "code": code, "silent": False, "store_history": True, "allow_stdin": False,
        "user_expressions": {"live": live}, "stop_on_error": True}, metadata={"cellId": cell_id})
    client.shell_channel.send(request)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            break
    assert reply["content"]["status"] == "ok", reply["content"]
    return dict(reply["content"]["user_expressions"]["live"]["data"])


def test_a_watch_cell_run_again_replaces_its_table_and_unwatch_stops_all() -> None:
    from jupyter_client.manager import start_new_kernel

    ensure_up("docker")
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("import threading\n%load_ext jupyter_virtwork", timeout=60)
        watch = "%docker ps --watch"
        assert _run_cell(client, watch, "cell-a") == {"text/plain": "1"}
        assert _run_cell(client, watch, "cell-a") == {"text/plain": "1"}  # replaced
        assert _run_cell(client, f"{watch}\n{watch}", "cell-a") == {"text/plain": "2"}
        assert _run_cell(client, watch, "cell-b") == {"text/plain": "3"}  # another cell's own
        assert _run_cell(client, "%vw unwatch", "cell-c") == {"text/plain": "0"}
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
