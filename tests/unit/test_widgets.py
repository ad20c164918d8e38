"""The widgets without an engine: a StatusTable over an in-memory driver (a real
EventStream the test feeds), its traffic in a 1000-row table, the resync protocol with the
front end, close(); ControlPanel's rules; ProgressView's plain-text fallback.

Nothing here replaces an SDK: the driver below stands for "an engine's watch stream", as
in test_watch.py; tests/integration/test_widgets.py runs the same widgets on real engines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import uri
from jupyter_virtwork.drivers.base import BaseDriver, Verb
from jupyter_virtwork.errors import OperationFailed
from jupyter_virtwork.models import Event, EventType, Kind, Progress, Resource, State
from jupyter_virtwork.watch import EventStream
from jupyter_virtwork.widgets import ControlPanel, ProgressView, StatusTable
from jupyter_virtwork.widgets._rows import row_key
from tests.widget_traffic import CommTap

URI = "test:///default"
MAX_ROW_BYTES = 2048


class MemoryDriver(BaseDriver):
    """Watch streams the test feeds; verbs that record what they were asked."""

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(
        {Verb.WATCH, Verb.START, Verb.STOP, Verb.DESTROY})
    kinds: ClassVar[tuple[Kind, ...]] = (Kind.VM,)

    def __init__(self) -> None:
        super().__init__(uri.parse(URI))
        self.streams: list[EventStream] = []
        self.calls: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        stream = EventStream()
        self.streams.append(stream)
        return stream

    def _verb(self, verb: str, id: str, state: State) -> Resource:
        self.calls.append((verb, id))
        if self.fail_with is not None:
            raise self.fail_with
        return _vm(id, state)

    def start(self, kind: Kind, id: str) -> Resource:
        return self._verb("start", id, State.RUNNING)

    def stop(self, kind: Kind, id: str) -> Resource:
        return self._verb("stop", id, State.STOPPED)

    def get(self, kind: Kind, id: str) -> Resource:
        return _vm(id)

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        self._verb("destroy", id, State.DELETED)


def _vm(name: str, state: State = State.RUNNING) -> Resource:
    return Resource(URI, Kind.VM, name, name, state, labels={"owner": "test"},
                    details={"cpus": 2, "memory": "4.0 GiB"})


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver()


@pytest.fixture
def table(driver: MemoryDriver) -> Iterator[StatusTable]:
    live = StatusTable([(driver, Kind.VM, None)], title="VMs")
    yield live
    live.close()


def _fill(driver: MemoryDriver, table: StatusTable, count: int) -> None:
    for n in range(count):
        driver.streams[0].put(Event(EventType.ADDED, _vm(f"vm-{n:04d}")))
    driver.streams[0].put(Event(EventType.SYNCED, None))
    # Until SYNCED (the last event) is applied: the reader may apply it in a batch of its
    # own after the rows (BATCH events a batch), and its status message must not land in
    # the window a test measures next.
    assert table.wait_for(lambda t: len(t.rows) == count and t.status[0]["ok"], 10)


def test_a_changed_row_in_a_1000_row_table_sends_one_small_message(
        driver: MemoryDriver, table: StatusTable) -> None:
    _fill(driver, table, 1000)
    tap = CommTap(table)
    driver.streams[0].put(Event(EventType.MODIFIED, _vm("vm-0500", State.PAUSED)))
    assert table.wait_for(lambda t: t.rows[500].state is State.PAUSED, 5)
    assert len(tap.messages) == 1
    [message] = tap.custom("rows")
    assert [row["cells"]["name"] for row in message["upsert"]] == ["vm-0500"]
    assert tap.total_bytes() <= MAX_ROW_BYTES, tap.total_bytes()


def test_a_burst_is_sent_in_batches_not_per_event(driver: MemoryDriver,
                                                   table: StatusTable) -> None:
    tap = CommTap(table)
    _fill(driver, table, 1000)
    assert 2 <= len(tap.custom("rows")) <= 100  # 1000 events, a few messages


def test_a_view_that_missed_messages_gets_the_whole_table_once(
        driver: MemoryDriver, table: StatusTable) -> None:
    _fill(driver, table, 5)
    tap = CommTap(table)
    seq = max(m["seq"] for m in [*tap.custom("rows")] or [{"seq": 0}])

    def ask(seen: int) -> None:  # the path a front-end message takes into the widget
        table._handle_msg({"content": {"data": {"method": "custom", "content": {
            "type": "sync", "seen": seen}}}, "buffers": []})

    ask(0)
    [reset] = tap.custom("reset")
    assert len(reset["rows"]) == 5 and reset["seq"] >= seq
    tap.clear()
    ask(reset["seq"])
    assert tap.custom("reset") == [] and len(tap.custom("synced")) == 1


def test_disconnection_shows_in_the_status_line_and_recovers(
        driver: MemoryDriver, table: StatusTable) -> None:
    stream = driver.streams[0]
    stream.put(Event(EventType.SYNCED, None))
    assert table.wait_for(lambda t: t.status_lines == [f"{URI} vms: connected"], 5)
    assert table.live
    stream.put(Event(EventType.ERROR, None, "disconnected, retrying: refused"))
    assert table.wait_for(lambda t: t.status[0]["text"].startswith("disconnected"), 5)
    assert not table.live
    stream.put(Event(EventType.SYNCED, None))
    assert table.wait_for(lambda t: t.status[0]["ok"], 5)
    assert table.live


def test_close_stops_streams_and_threads_and_keeps_a_snapshot(driver: MemoryDriver) -> None:
    before = set(threading.enumerate())
    table = StatusTable([(driver, Kind.VM, None), (driver, Kind.VM, {"owner": "test"})])
    _fill(driver, table, 3)
    assert len(set(threading.enumerate()) - before) == 2
    table.close()
    table.close()  # idempotent
    assert set(threading.enumerate()) - before == set()
    assert all(stream.closed for stream in driver.streams)
    assert table.closed and table.comm is None
    html = table.snapshot_html()
    assert html.count("<tr>") == 4 and "vm-0002" in html and "[owner=test]" in html
    frame = table.to_dataframe()
    assert list(frame["name"]) == ["vm-0000", "vm-0001", "vm-0002"]


def test_a_source_that_cannot_watch_leaves_nothing_open(driver: MemoryDriver) -> None:
    before = set(threading.enumerate())
    with pytest.raises(Exception, match="does not support 'watch'"):
        StatusTable([(driver, Kind.VM, None), (BaseDriver(uri.parse(URI)), Kind.VM, None)])
    assert driver.streams[0].closed and set(threading.enumerate()) - before == set()


# --- ControlPanel ---------------------------------------------------------------------


def _panel_on(driver: MemoryDriver, table: StatusTable, name: str) -> ControlPanel:
    _fill(driver, table, 2)
    table.selected = row_key(_vm(name))
    assert table.panel is not None
    return table.panel


def test_verbs_the_driver_lacks_are_disabled(driver: MemoryDriver,
                                            table: StatusTable) -> None:
    panel = _panel_on(driver, table, "vm-0001")
    buttons = {a.value: b for a, b in panel.buttons.items()}
    assert buttons["pause"].disabled and "does not support pause" in buttons["pause"].tooltip
    assert buttons["resume"].disabled
    assert buttons["start"].disabled and buttons["start"].tooltip == "not while running"
    assert not buttons["stop"].disabled and not buttons["delete"].disabled
    table.selected = ""
    assert all(b.disabled for b in buttons.values())


def test_delete_asks_first(driver: MemoryDriver, table: StatusTable) -> None:
    panel = _panel_on(driver, table, "vm-0000")
    delete = next(b for a, b in panel.buttons.items() if a.value == "delete")
    delete.click()
    assert driver.calls == [] and panel.confirm.layout.display == ""
    assert "vm-0000" in panel._question.value
    panel._no.click()
    assert driver.calls == [] and panel.confirm.layout.display == "none"
    delete.click()
    panel._yes.click()
    assert panel.wait(5) and driver.calls == [("destroy", "vm-0000")]
    assert panel.message.value == "deleted vm-0000"


def test_a_failed_verb_shows_one_line(driver: MemoryDriver, table: StatusTable) -> None:
    panel = _panel_on(driver, table, "vm-0000")
    driver.fail_with = OperationFailed("stopping vm-0000 failed: busy", connection=URI)
    next(b for a, b in panel.buttons.items() if a.value == "stop").click()
    assert panel.wait(5)
    assert "stopping vm-0000 failed: busy on test:///default" in panel.message.value
    assert "Traceback" not in panel.message.value
    driver.fail_with = RuntimeError("boom\nsecond line")
    next(b for a, b in panel.buttons.items() if a.value == "stop").click()
    assert panel.wait(5) and "RuntimeError: boom<" in panel.message.value


def test_a_standalone_panel_follows_its_resource(driver: MemoryDriver) -> None:
    panel = ControlPanel(driver=driver, resource=_vm("solo", State.STOPPED))
    start = next(b for a, b in panel.buttons.items() if a.value == "start")
    assert not start.disabled
    start.click()
    assert panel.wait(5) and driver.calls == [("start", "solo")]
    assert start.disabled and "(running)" in panel.target.value
    panel.close()


# --- ProgressView without a front end -------------------------------------------------


def test_progress_prints_lines_when_no_widget_can_render(capsys: Any) -> None:
    view = ProgressView("building x")
    assert not view.widget_mode and view.widget is None
    view(Progress("build", "FROM busybox", 1, 2))
    view(Progress("build", "FROM busybox", 1, 2))  # the same line: printed once
    view(Progress("push", "0123456789ab: Pushing", 1, 10))
    view(Progress("push", "0123456789ab: Pushing", 5, 10))  # a count only
    view.done("built x")
    view.fail("ignored: already ended")
    assert capsys.readouterr().out.splitlines() == [
        "[1/2] FROM busybox", "0123456789ab: Pushing", "built x"]
    assert view.state == "done"
    failing = ProgressView("pushing x")
    failing.fail("pushing x failed: denied")  # the magic prints its error line itself
    assert capsys.readouterr().out == "" and failing.state == "failed"


def test_progress_widgets_end_with_the_outcome() -> None:
    view = ProgressView("scaling web", mode="widget", display=False)
    view(Progress("rollout", "1 of 2 replicas ready", 1, 2))
    assert view._bar.value == 0.5 and view._bar.bar_style == "info"
    view.fail("web: rollout not done after 1 s")
    assert view.state == "failed" and view._bar.bar_style == "danger"
    assert "rollout not done" in view.snapshot_html() and "1 of 2" in view.snapshot_html()


def test_the_panel_trusts_the_verbs_answer_until_an_event_replaces_the_row(
        driver: MemoryDriver, table: StatusTable) -> None:
    panel = _panel_on(driver, table, "vm-0000")
    buttons = {a.value: b for a, b in panel.buttons.items()}
    buttons["stop"].click()
    assert panel.wait(5) and "(stopped)" in panel.target.value  # the row still says running
    assert not buttons["start"].disabled and buttons["stop"].disabled
    driver.streams[0].put(Event(EventType.MODIFIED, _vm("vm-0000", State.FAILED)))
    assert table.wait_for(lambda t: t.rows[0].state is State.FAILED, 5)
    assert "(failed)" in panel.target.value  # the engine's later word wins


def test_the_front_end_closing_the_comm_stops_the_table(driver: MemoryDriver) -> None:
    table = StatusTable([(driver, Kind.VM, None)])
    table.comm.handle_close({"content": {"data": {}}})
    assert table.closed and driver.streams[0].closed


def test_close_all_closes_every_live_table(driver: MemoryDriver) -> None:
    tables = [StatusTable([(driver, Kind.VM, None)]) for _ in range(2)]
    assert StatusTable.close_all() >= 2
    assert all(t.closed for t in tables) and StatusTable.close_all() == 0
