"""Notebook 05 and its saved measurements: the JSON holds every figure the notebook reads,
and the notebook's text types none of them (a code cell writes each from the JSON)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "05-containers-vs-vms.ipynb"
sys.path.insert(0, str(NOTEBOOKS))  # the notebook imports its lab/ package from there

from lab import hostmem, workloads  # noqa: E402
from lab.results import Measurements, seconds, size  # noqa: E402
from lab.sweep import summary  # noqa: E402

# A measured quantity typed in text: a time, a ratio, or a size, in English or Chinese.
TIME_OR_RATIO = re.compile(r"\d+(?:\.\d+)?\s*(?:(?:ms|s|seconds?|minutes?|x)(?!\w)"
                           r"|×|毫秒|秒|分钟|倍)")
SIZE = re.compile(r"\d+(?:\.\d+)?\s*(?:[KMGT]i?B|B)\b")
# Sizes a text may name because they are settings, not measurements: the source document's
# VM disk (section 5 makes one so) and the sizes the sweep was configured with.
DOCUMENT_DISK = "100 GiB"


def _cells(kind: str) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(NOTEBOOK.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == kind]


def _code() -> str:
    return "\n".join("".join(cell["source"]) for cell in _cells("code"))


@pytest.fixture(scope="module")
def saved() -> Measurements:
    return Measurements.load()


def test_the_json_has_what_the_plots_and_tables_read(saved: Measurements) -> None:
    assert saved.missing() == []
    assert saved.counts == [1, 2, 4, 8]
    for section in ("start_seconds", "memory_bytes", "memory_per_instance_bytes"):
        for kind, rows in saved(section).items():
            for count, row in rows.items():
                assert row["n"] == len(row["samples"]) >= 1, (section, kind, count)
                assert row["min"] <= row["q1"] <= row["median"] <= row["q3"] <= row["max"]
    assert saved("out_of_memory.container.oom_killed") is True
    assert saved("out_of_memory.vm.oom_killed") is True
    assert saved("load.before") and saved("load.after") and saved("machine.cores")


def test_every_figure_the_notebook_names_is_in_the_json(saved: Measurements) -> None:
    literal = re.findall(r"""saved\((["'])([\w.]+)\1\)""", _code())
    assert len(literal) > 20  # the text's numbers are read this way
    for _, key in literal:
        saved(key)  # KeyError names the missing figure
    # Keys built in a loop may only walk the sections that missing() checks in full.
    built = re.findall(r"""saved\(f["']([\w.]*)\{""", _code())
    assert built
    for prefix in built:
        assert prefix.split(".")[0] in ("start_seconds", "memory_per_instance_bytes",
                                        "memory_bytes", "cpu_seconds"), prefix


def test_no_text_cell_types_a_measured_number(saved: Measurements) -> None:
    settings = saved("settings")
    allowed = {DOCUMENT_DISK} | {size(value) for key, value in settings.items()
                                 if key.endswith("_bytes")}
    for cell in _cells("markdown"):
        text = re.sub(r"`[^`]*`", "", "".join(cell["source"]))  # code quotes name commands
        assert not TIME_OR_RATIO.findall(text), (cell.get("id"), TIME_OR_RATIO.findall(text))
        typed = [s for s in SIZE.findall(text) if s not in allowed]
        assert not typed, (cell.get("id"), typed)


def test_the_typed_number_check_can_fail() -> None:
    assert TIME_OR_RATIO.findall("a VM took 4.97 s, 19x a container, 5 秒")
    assert SIZE.findall("216 MiB per VM") == ["216 MiB"]


def test_summary_is_median_and_quartiles() -> None:
    row = summary([float(v) for v in range(10, 0, -1)])
    assert (row["n"], row["median"], row["q1"], row["q3"], row["min"], row["max"]) == \
        (10, 5.5, 3.25, 7.75, 1.0, 10.0)
    assert row["samples"][0] == 10.0  # kept in the order taken


def test_units_suit_the_size() -> None:
    assert size(100 * 2**30) == "100 GiB"
    assert size(1_980_000) == "1.89 MiB"
    assert size(503_808) == "492 KiB"
    assert (seconds(0.256), seconds(4.966), seconds(35.2)) == ("256 ms", "4.97 s", "35.2 s")


def test_pss_reads_this_process() -> None:
    assert 0 < hostmem.pss(os.getpid())


def test_cpu_rounds_are_read_from_busybox_time_output() -> None:
    output = "3b6a07...  -\nCPU-SECONDS 0.36\nCPU-SECONDS 1.80\n"
    assert workloads.cpu_seconds(output) == [0.36, 1.8]
    assert "busybox time" in workloads.cpu_script(3) and "count=64" in workloads.cpu_script(3)
