"""The widgets' pure logic: the table's rows and changes, and the progress log."""

from __future__ import annotations

from jupyter_virtwork.models import (
    Event,
    EventType,
    Kind,
    Progress,
    Resource,
    State,
    StreamStatus,
)
from jupyter_virtwork.watch import RETRYING
from jupyter_virtwork.widgets._rows import TableRows, row_key
from jupyter_virtwork.widgets.progress import ProgressLog

URI = "test:///default"


def _pod(name: str, state: State = State.RUNNING, **details: str) -> Resource:
    return Resource(URI, Kind.POD, f"uid-{name}", name, state, details=details)


def test_a_batch_reports_only_the_rows_it_changed() -> None:
    rows = TableRows(["pods"])
    rows.apply(0, [Event(EventType.ADDED, _pod(n)) for n in ("a", "b", "c")])
    changes = rows.apply(0, [Event(EventType.MODIFIED, _pod("b", State.FAILED))])
    assert list(changes.upsert) == [row_key(_pod("b"))] and changes.remove == []
    assert not changes.columns and not changes.status


def test_deleted_rows_are_removed_and_unknown_deletions_ignored() -> None:
    rows = TableRows(["pods"])
    rows.apply(0, [Event(EventType.ADDED, _pod("a"))])
    changes = rows.apply(0, [Event(EventType.DELETED, _pod("a")),
                             Event(EventType.DELETED, _pod("never-seen"))])
    assert changes.remove == [row_key(_pod("a"))] and not changes.upsert
    assert rows.resources == {} and rows.origin == {}


def test_added_then_deleted_in_one_batch_sends_the_removal_only() -> None:
    rows = TableRows(["pods"])
    changes = rows.apply(0, [Event(EventType.ADDED, _pod("a")),
                             Event(EventType.DELETED, _pod("a"))])
    assert changes.upsert == {} and changes.remove == [row_key(_pod("a"))]


def test_status_lines_follow_error_and_synced() -> None:
    rows = TableRows(["docker:// containers"])
    assert rows.apply(0, [Event(EventType.SYNCED, None)]).status
    assert rows.sources[0].text == "connected" and rows.sources[0].ok
    assert not rows.apply(0, [Event(EventType.SYNCED, None)]).status  # no change, no send
    error = Event(EventType.ERROR, None, "disconnected, retrying: connection refused")
    assert rows.apply(0, [error]).status
    assert rows.sources[0].text == "disconnected, retrying: connection refused"
    assert rows.sources[0].status is StreamStatus.DISCONNECTED and not rows.sources[0].ok
    assert rows.apply(0, [Event(EventType.SYNCED, None)]).status and rows.sources[0].ok


def test_status_lines_speak_the_learners_language() -> None:
    rows = TableRows(["docker:// containers"], language="zh")
    assert rows.sources[0].text == "正在连接"
    rows.apply(0, [Event(EventType.SYNCED, None)])
    assert rows.sources[0].text == "已连接"
    rows.apply(0, [Event(EventType.ERROR, None, f"{RETRYING}connection refused")])
    assert rows.sources[0].text == "连接已断开，正在重试：connection refused"
    assert rows.sources[0].to_dict()["text"] == "连接已断开，正在重试：connection refused"


def test_detail_columns_go_before_id_and_rows_carry_only_their_cells() -> None:
    rows = TableRows(["pods"])
    changes = rows.apply(0, [Event(EventType.ADDED, _pod("a", ready="1/1"))])
    assert changes.columns
    assert rows.columns == ["kind", "name", "state", "ready", "id", "uri", "created"]
    rows.apply(0, [Event(EventType.ADDED, _pod("b"))])
    assert rows.row(row_key(_pod("b")))["cells"] == {
        "kind": "pod", "name": "b", "state": "running", "id": "uid-b", "uri": URI}


def test_rows_are_keyed_by_connection_kind_and_id() -> None:
    rows = TableRows(["one", "two"])
    same_id = Resource("test:///other", Kind.POD, "uid-a", "a", State.RUNNING)
    rows.apply(0, [Event(EventType.ADDED, _pod("a"))])
    rows.apply(1, [Event(EventType.ADDED, same_id)])
    assert len(rows.resources) == 2 and rows.origin[row_key(same_id)] == 1
    assert [r.uri for r in rows.ordered()] == [URI, "test:///other"]


def test_each_row_names_the_alias_of_its_connection() -> None:
    """%vw status --watch spans connections: an alias column says which one."""
    rows = TableRows(["kubernetes pods", "b pods"], aliases=["kubernetes", "b"])
    rows.apply(1, [Event(EventType.ADDED, _pod("a"))])
    assert rows.row(row_key(_pod("a")))["cells"]["alias"] == "b"
    assert rows.columns.index("alias") < rows.columns.index("id")
    assert rows.ordered()[0].details["alias"] == "b"  # the saved snapshot shows it too


def test_the_class_table_names_each_rows_learner() -> None:
    """%vw class: the same column, named for what it says."""
    rows = TableRows(["ada pods", "bob pods"], aliases=["ada", "bob"], alias_column="learner")
    rows.apply(0, [Event(EventType.ADDED, _pod("a"))])
    assert rows.row(row_key(_pod("a")))["cells"]["learner"] == "ada"
    assert "alias" not in rows.columns


def test_build_steps_move_the_bar_and_log_each_line_once() -> None:
    log = ProgressLog()
    assert log.add(Progress("build", "FROM busybox", 1, 2)) == "[1/2] FROM busybox"
    assert log.fraction == 0.5
    assert log.add(Progress("build", " ---> abc")) == " ---> abc"
    assert log.add(Progress("build", "built x", done=True)) == "built x"
    assert log.fraction == 1.0 and log.text().splitlines()[0] == "[1/2] FROM busybox"


def test_push_layers_update_in_place_and_sum_their_bytes() -> None:
    log = ProgressLog()
    assert log.add(Progress("push", "0123456789ab: Pushing", 10, 100)) is not None
    assert log.add(Progress("push", "0123456789ab: Pushing", 50, 100)) is None  # a count
    assert log.add(Progress("push", "ba9876543210: Pushing", 0, 100)) is not None
    assert log.fraction == 0.25
    assert log.add(Progress("push", "0123456789ab: Pushed")) is not None
    assert log.fraction == 0.5
    assert log.text() == "0123456789ab: Pushed\nba9876543210: Pushing"


def test_log_is_bounded() -> None:
    log = ProgressLog(limit=3)
    for n in range(10):
        log.add(Progress("task", f"line {n}"))
    assert log.text() == "line 7\nline 8\nline 9"


def test_rollout_ready_k_of_n() -> None:
    log = ProgressLog()
    log.add(Progress("rollout", "1 of 3 replicas ready", 1, 3))
    assert log.fraction is not None and abs(log.fraction - 1 / 3) < 1e-9
    assert log.current == "1 of 3 replicas ready"
