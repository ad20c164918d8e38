"""What every benchmark hands back: figures, each a value, the anchor it is measured against
(the raw SDK call, the CLI, the engine's own stream) and the issue's goal, if it has one.

A script prints its figures as text and, given ``--json PATH``, writes them for run_all.py,
which puts the figures of one run into one table. Also the timing rules the scripts share.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    """``on`` the value, the ratio or the value added over the anchor: ``op`` ``limit``."""

    op: str  # "<=" or ">="
    limit: float
    on: str = "value"  # "value" | "ratio" | "added"

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value >= self.limit


@dataclass(frozen=True)
class Figure:
    key: str  # stable, for plots and readers of the JSON: "list.docker.magic_vs_raw"
    group: str  # "kernel", "list", "events", "live table", "scale", "start"
    name: str
    value: float
    unit: str  # "ms", "s", "B", "/min"
    anchor: str = ""
    anchor_value: float | None = None
    goal: Goal | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.anchor_value is None or self.anchor_value <= 0:
            return None
        return self.value / self.anchor_value

    @property
    def judged(self) -> float | None:
        """What the goal is about: the value, the ratio, or the value minus the anchor."""
        if self.goal is None:
            return None
        if self.goal.on == "ratio":
            return self.ratio
        if self.goal.on == "added":
            return None if self.anchor_value is None else self.value - self.anchor_value
        return self.value

    @property
    def met(self) -> bool | None:
        judged = self.judged
        return None if self.goal is None or judged is None else self.goal.met(judged)

    def goal_text(self) -> str:
        if self.goal is None:
            return "reported"
        limit = f"{self.goal.limit:g}"
        if self.goal.on == "ratio":
            return f"{self.goal.op} {limit}x"
        prefix = "added " if self.goal.on == "added" else ""
        return f"{prefix}{self.goal.op} {limit} {self.unit}".replace(" /min", "/min")

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(ratio=self.ratio, goal_text=self.goal_text(), met=self.met)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Figure:
        goal = record.get("goal")
        return cls(key=record["key"], group=record["group"], name=record["name"],
                   value=float(record["value"]), unit=record["unit"],
                   anchor=record.get("anchor", ""), anchor_value=record.get("anchor_value"),
                   goal=Goal(**goal) if goal else None, note=record.get("note", ""))


# --- formatting ---------------------------------------------------------------------------

def number(value: float, unit: str) -> str:
    """A value with its unit, to about three significant digits."""
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "/min":
        return f"{value:.1f}/min"
    size = abs(value)
    text = f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else \
        f"{value:.2f}" if size >= 1 or size == 0 else f"{value:.3g}"
    return f"{text} {unit}"


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio >= 100:
        return f"{ratio:.0f}x"
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x" if ratio >= 0.1 else \
        f"{ratio:.2g}x"


def verdict(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]


HEADER = ("figure", "value", "anchor", "ratio", "goal", "met")


def cells(figure: Figure) -> tuple[str, ...]:
    anchor = figure.anchor
    if figure.anchor_value is not None:
        anchor = f"{anchor} ({number(figure.anchor_value, figure.unit)})"
    name = f"{figure.name} ({figure.note})" if figure.note else figure.name
    return (name, number(figure.value, figure.unit), anchor, ratio_text(figure.ratio),
            figure.goal_text(), verdict(figure))


def text_table(found: Sequence[Figure]) -> str:
    """Fixed-width columns, a blank line between groups: for a terminal."""
    rows = [cells(f) for f in found]
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip()]
    group = None
    for figure, row in zip(found, rows, strict=True):
        if figure.group != group:
            group = figure.group
            lines.append(f"-- {group}")
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def markdown_table(found: Sequence[Figure]) -> str:
    lines = ["| " + " | ".join(("group", *HEADER)) + " |", "|" + "---|" * (len(HEADER) + 1)]
    for figure in found:
        row = [cell.replace("|", "\\|") for cell in cells(figure)]
        lines.append(f"| {figure.group} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_json(path: Path, found: Sequence[Figure], **extra: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**extra, "figures": [f.to_dict() for f in found]}, indent=1)
                    + "\n")


def read_json(path: Path) -> list[Figure]:
    return [Figure.from_dict(r) for r in json.loads(path.read_text())["figures"]]


# --- running a script ---------------------------------------------------------------------

def run_script(parser: argparse.ArgumentParser,
               measure: Callable[[argparse.Namespace], list[Figure]]) -> None:
    """Parse the arguments (plus ``--json PATH``), measure, print the figures as a table
    and write them as JSON if asked. SIGTERM ends the run as Ctrl-C does, so the scripts'
    ``finally`` blocks remove what they created either way."""
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as JSON (run_all.py reads them)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    found = measure(args)
    print()
    print(text_table(found), flush=True)
    if args.json is not None:
        write_json(args.json, found)


# --- cleaning up -------------------------------------------------------------------------

def remove_labelled(driver: Any, kind: Any, labels: Mapping[str, str], *,
                    patience: float = 60.0) -> None:
    """Remove every ``kind`` carrying this run's ``labels``, through ``driver`` (which
    reconnects): retried for ``patience`` seconds, so that an engine restarted meanwhile
    (another session's fault tests do that) still gets cleaned."""
    from jupyter_virtwork.errors import NotFound, VirtworkError

    deadline = time.monotonic() + patience
    while True:
        try:
            for resource in driver.list(kind, labels=labels):
                with contextlib.suppress(NotFound):
                    driver.destroy(kind, resource.id, force=True)
            return
        except VirtworkError as exc:
            if time.monotonic() > deadline:
                print(f"could not remove the {kind}s labelled {dict(labels)}: {exc}",
                      file=sys.stderr)
                raise
            time.sleep(3)


# --- timing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Times:
    best: float
    median: float


def turns(runs: dict[str, Callable[[], object]], rounds: int, *,
          warm: bool = True) -> dict[str, Times]:
    """Each run ``rounds`` times, taking turns, so that drift on this busy machine (the
    engines' garbage collectors, other tests) hits every run alike; seconds."""
    if warm:
        for run in runs.values():
            run()  # connections, imports, caches
    spent: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            spent[name].append(time.perf_counter() - started)
    return {name: Times(min(times), statistics.median(times))
            for name, times in spent.items()}


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
