"""One status vocabulary for live views: the widgets, the server's feeds and the side panel
say "connecting", "connected", "disconnected" and "unknown" alike (``StreamStatus``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jupyter_virtwork.models import Event, EventType, Kind, Resource, State, StreamStatus

PANEL_SOURCE = Path(__file__).parents[2] / "labextension" / "src"
# Every literal the panel compares a status with or gives one: `status === 'x'`,
# `status !== 'x'`, `status: 'x'`, and each literal of an assignment `status = ...;` (the
# ternary that picks a group's status in panel.ts).
COMPARED = re.compile(r"\bstatus\s*(?:[!=]==|:)\s*'([^']*)'")
ASSIGNED = re.compile(r"\bstatus\s*=(?!=)([^;]*);")


def _panel_type() -> set[str]:
    source = (PANEL_SOURCE / "api.ts").read_text()
    found = re.search(r"export type StreamStatus = ([^;]+);", source)
    assert found, "api.ts declares the StreamStatus type"
    return set(re.findall(r"'([^']*)'", found.group(1)))


def _panel_literals() -> set[str]:
    words: set[str] = set()
    for path in PANEL_SOURCE.glob("*.ts"):
        words.update(_literals(path.read_text()))
    return words


def _literals(source: str) -> set[str]:
    words = set(COMPARED.findall(source))
    for assigned in ASSIGNED.findall(source):
        words.update(re.findall(r"'([^']*)'", assigned))
    return words


def test_the_panel_declares_the_same_words() -> None:
    assert _panel_type() == {status.value for status in StreamStatus}


def test_the_panel_uses_no_other_word() -> None:
    used = _panel_literals()
    assert {"connecting", "connected", "disconnected"} <= used  # the check sees them
    assert used <= {status.value for status in StreamStatus}


def test_the_literal_check_can_fail() -> None:
    assert _literals("if (feed.status === 'live') {") == {"live"}
    assert _literals("const status = down ? 'gone' : 'up';") == {"gone", "up"}
    assert _literals("type: 'status'; badge(busy ? 'working' : state)") == set()


@pytest.mark.parametrize(("event", "after"), [
    (Event(EventType.ERROR, None, "disconnected, retrying: refused"), StreamStatus.DISCONNECTED),
    (Event(EventType.SYNCED, None), StreamStatus.CONNECTED),
    (Event(EventType.ADDED, Resource("test:///default", Kind.VM, "1", "a", State.RUNNING)),
     None),
])
def test_what_an_event_does_to_a_stream(event: Event, after: StreamStatus | None) -> None:
    assert StreamStatus.after(event) is after
