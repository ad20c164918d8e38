"""A live table saved in a lesson must not contradict the lesson: when it stops (its
``.close()``, or the end of the run if it is never closed) it must show each resource in
the state the cells run before that moment last reported for it.

A live output is saved as the HTML snapshot the table leaves when it ends (``virtwork-snapshot``);
the cells' own results are tables of records (``virtwork-table``) and ``NAME deleted`` lines.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
SNAPSHOT = "virtwork-snapshot"
DELETED = re.compile(r"^(?:(\w+)/)?(\S+) deleted$", re.M)
ASSIGNED = re.compile(r"^(\w+)\s*=\s*%")

Row = tuple[str, str]  # (kind, name)


class _Tables(HTMLParser):
    """Every <table> of some HTML: its header names and rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self.tables:
            headers, rows = self.tables[-1]
            if headers:
                rows.append(self._row)
            else:
                headers.extend(self._row)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def states(html: str) -> dict[Row, str]:
    """(kind, name) -> state of every row of every table in ``html``."""
    parser = _Tables()
    parser.feed(html)
    found: dict[Row, str] = {}
    for headers, rows in parser.tables:
        if {"kind", "name", "state"} <= set(headers):
            at = {h: headers.index(h) for h in ("kind", "name", "state")}
            for row in rows:
                found[(row[at["kind"]], row[at["name"]])] = row[at["state"]]
    return found


def _html(output: dict[str, Any]) -> str:
    value = (output.get("data") or {}).get("text/html", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _text(output: dict[str, Any]) -> str:
    value = output.get("text", "")
    return "".join(value) if isinstance(value, list) else str(value)


def reported(cell: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(kind or None, name, state) as a cell's outputs report them, in order; a deletion
    reports the state ``deleted``."""
    found: list[tuple[str | None, str, str]] = []
    for output in cell.get("outputs", []):
        html = _html(output)
        if html and SNAPSHOT not in html:
            found += [(kind, name, state) for (kind, name), state in states(html).items()]
        found += [(kind, name, "deleted") for kind, name in DELETED.findall(_text(output))]
    return found


def contradictions(notebook: dict[str, Any]) -> list[str]:
    cells = notebook["cells"]
    found: list[str] = []
    for index, cell in enumerate(cells):
        snapshots = [_html(o) for o in cell.get("outputs", []) if SNAPSHOT in _html(o)]
        if not snapshots:
            continue
        source = "".join(cell["source"])
        named = ASSIGNED.match(source)
        end = next((i for i in range(index + 1, len(cells)) if named and
                    f"{named[1]}.close()" in "".join(cells[i]["source"])), len(cells))
        last: dict[Row, tuple[int, str]] = {}
        for later in range(index + 1, end):
            for kind, name, state in reported(cells[later]):
                for row in [(kind, name)] if kind else [r for r in last if r[1] == name]:
                    last[row] = (later, state)
        for snapshot in snapshots:
            shown = states(snapshot)
            for row, (later, state) in last.items():
                saved = shown.get(row)
                gone = state == "deleted" and saved in (None, "stopped", "deleted")
                if saved is not None and saved != state and not gone:
                    found.append(f"cell {index}'s live table was saved with {row[0]} {row[1]} "
                                 f"{saved}, but cell {later} shows it {state} before the "
                                 "table stops")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_saved_live_table_agrees_with_the_cells_before_it_stops(path: Path) -> None:
    assert contradictions(json.loads(path.read_text(encoding="utf-8"))) == []


# --- the check can fail ------------------------------------------------------------------------

def _table(state: str, *, live: bool) -> dict[str, Any]:
    table = ("<table class='virtwork-table'><thead><tr><th>kind</th><th>name</th>"
             f"<th>state</th></tr></thead><tbody><tr><td>vm</td><td>my-vm</td><td><span>{state}"
             "</span></td></tr></tbody></table>")
    return {"output_type": "display_data",
            "data": {"text/html": f"<div class='{SNAPSHOT}'>{table}</div>" if live else table}}


def _cell(source: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": list(outputs)}


def test_a_table_saved_running_for_a_vm_stopped_before_it_closed_is_found() -> None:
    notebook = {"cells": [
        _cell("vms = %vm ls --watch\nvms", _table("running", live=True)),
        _cell("%vm stop my-vm", _table("stopped", live=False)),
        _cell("vms.close()"),
    ]}
    assert contradictions(notebook) == [
        "cell 0's live table was saved with vm my-vm running, but cell 1 shows it stopped "
        "before the table stops"]


def test_a_table_never_closed_answers_for_every_later_cell() -> None:
    notebook = {"cells": [
        _cell("vms = %vm ls --watch", _table("running", live=True)),
        _cell("%vm delete my-vm", {"output_type": "stream", "text": "my-vm deleted\n"}),
        _cell("%vm create my-vm", _table("running", live=False)),
        _cell("%vm stop my-vm", _table("stopped", live=False)),
    ]}
    assert len(contradictions(notebook)) == 1


def test_what_happens_after_the_table_closed_is_not_held_against_it() -> None:
    notebook = {"cells": [
        _cell("vms = %vm ls --watch", _table("running", live=True)),
        _cell("vms.close()"),
        _cell("%vm stop my-vm", _table("stopped", live=False)),
        _cell("%vm delete my-vm", {"output_type": "stream", "text": "my-vm deleted\n"}),
    ]}
    assert contradictions(notebook) == []
