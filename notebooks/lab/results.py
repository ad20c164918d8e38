"""The saved measurements, as the notebook reads them: figures by dotted key, written with
their units, and the sweep's plots with their spread.

Every number the notebook's text gives comes through ``Measurements.__call__`` (a
``saved("start_seconds.vm.8.median")`` in a cell), so a test can check that the JSON has
each one (tests/unit/test_lab_measurements.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "05-measurements.json"
KINDS = {"container": "container (Docker)", "pod": "pod (Kubernetes)", "vm": "QEMU VM"}
COLOURS = {"container": "#1f77b4", "pod": "#2ca02c", "vm": "#d62728"}
SWEPT = ("start_seconds", "memory_bytes", "memory_per_instance_bytes")
STATISTICS = ("n", "median", "q1", "q3", "min", "max")


class Measurements:
    """The JSON file of one sweep (``python -m lab.sweep``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @classmethod
    def load(cls, path: Path = DATA) -> Measurements:
        return cls(json.loads(path.read_text()))

    def __call__(self, key: str) -> Any:
        """The figure at ``key``: ``"cpu_seconds.vm.median"``, ``"load.before"``."""
        found: Any = self.data
        for part in key.split("."):
            if not isinstance(found, dict) or part not in found:
                raise KeyError(f"{key}: the measurements have no {part!r} there; "
                               "measure again with `make measure`")
            found = found[part]
        return found

    @property
    def counts(self) -> list[int]:
        return [int(c) for c in self("settings.counts")]

    def missing(self) -> list[str]:
        """Keys the plots and tables need that the file lacks (empty: all there)."""
        wanted = [f"{section}.{kind}.{count}.{statistic}" for section in SWEPT
                  for kind in KINDS for count in self.data["settings"]["counts"]
                  for statistic in STATISTICS]
        wanted += [f"cpu_seconds.{where}.{statistic}" for where in ("host", "container", "vm")
                   for statistic in STATISTICS]
        wanted += [f"out_of_memory.{kind}.{field}" for kind in KINDS
                   for field in ("memory", "asked", "exit_code", "oom_killed", "evidence")]
        absent = []
        for key in wanted:
            try:
                self(key)
            except KeyError:
                absent.append(key)
        return absent


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def size(value: float) -> str:
    """Bytes in the binary unit that suits them: ``492 KiB``, ``1.89 MiB``, ``100 GiB``."""
    for unit, power in (("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        scaled = value / 1024**power
        if scaled >= 1:  # three significant digits, never an exponent: 1000 KiB, not 1e+03
            return f"{scaled:.{max(0, 2 - int(math.log10(scaled)))}f} {unit}"
    return f"{value:.0f} B"


def spread(summary: dict[str, Any], unit: str) -> str:
    """``median (quartiles q1–q3, n samples)`` in ``unit`` ("s" or "B")."""
    show = seconds if unit == "s" else size
    return (f"{show(summary['median'])} (middle half {show(summary['q1'])}–"
            f"{show(summary['q3'])}, {summary['n']} samples)")


def plot_sweep(ax: Any, saved: Measurements, section: str, *, scale: float = 1.0,
               kinds: Sequence[str] = tuple(KINDS)) -> None:
    """Median against how many were started at once; a thick bar spans the middle half
    of the samples (quartiles), a thin one all of them (min to max)."""
    counts = saved.counts
    for offset, kind in enumerate(kinds):
        rows = [saved(f"{section}.{kind}.{count}") for count in counts]
        xs = [count * (1 + 0.04 * (offset - 1)) for count in counts]  # side by side
        medians = [row["median"] / scale for row in rows]
        for low, high, width in (("min", "max", 1), ("q1", "q3", 4)):
            below = [m - row[low] / scale for m, row in zip(medians, rows, strict=True)]
            above = [row[high] / scale - m for m, row in zip(medians, rows, strict=True)]
            ax.errorbar(xs, medians, yerr=[below, above], fmt="none", ecolor=COLOURS[kind],
                        elinewidth=width, capsize=3 if width == 1 else 0)
        ax.plot(xs, medians, "o-", color=COLOURS[kind], label=KINDS[kind])
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlabel("instances started at once")
    ax.legend()
