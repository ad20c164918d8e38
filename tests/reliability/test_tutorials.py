"""Each tutorial notebook runs top to bottom in a real kernel (nbclient, as nbval and
papermill run it) and leaves the engines as it found them: containers, images, the
registry, Kubernetes objects and VMs compared before and after (``engine_state``).

A cell that fails on purpose carries the ``raises-exception`` tag (nbclient and nbval then
expect its error); it must really fail, and every other cell must succeed. Slow: each
notebook takes minutes (notebook 5 measures VMs booting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..integration.conftest import ensure_up
from . import engine_state

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
EXPECTED = "raises-exception"


def _tagged(cell: Any) -> bool:
    return EXPECTED in cell.get("metadata", {}).get("tags", [])


def assert_expected_failures(path: Path, notebook: Any) -> None:
    """Every cell tagged to fail really failed, in one line."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and _tagged(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert len(errors) == 1, f"{path.name} cell {index} is tagged {EXPECTED} but " \
                                     "did not fail"
            assert len(errors[0].traceback) == 1, errors[0].traceback  # one line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_tutorial_runs_and_leaves_nothing_behind(path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    ensure_up(*engine_state.ENGINES)
    notebook = nbformat.read(path, as_version=4)
    before = engine_state.snapshot()
    # A failure outside a tagged cell raises CellExecutionError naming the cell.
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    after = engine_state.snapshot()
    assert_expected_failures(path, notebook)
    changed = engine_state.differences(before, after)
    assert not changed, f"{path.name} changed the engines:\n" + "\n".join(changed)
