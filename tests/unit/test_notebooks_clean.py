"""The tutorial notebooks are saved with their outputs (GitHub shows them): those outputs
must hold no secret, no machine path and no traceback (a cell tagged ``raises-exception``,
which fails on purpose, shows its one-line error), and every notebook keeps the house
conventions (a command table first, cleanup last)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))

FORBIDDEN = {
    "a vSphere password": re.compile(r"""(password|passwd|pwd)["']?\s*[:=]\s*["']?\w""", re.I),
    "a bearer token": re.compile(r"Bearer\s+[A-Za-z0-9._-]{8,}"),
    "a Kubernetes token (JWT)": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}"),
    "a home directory": re.compile(r"/(root|home/[a-z_][\w-]*)/"),
    "the sandbox's state or run directory": re.compile(r"/(var/lib|run)/jupyter-virtwork"),
}


def _outputs_text(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append("".join(output.get("text", "")))
        for mime, value in (output.get("data") or {}).items():
            if mime.startswith("text/") or mime.endswith("json"):
                parts.append(value if isinstance(value, str) else json.dumps(value))
        parts.extend(output.get("traceback", []))
    return "\n".join(parts)


def _code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_with_outputs_from_one_top_to_bottom_run(path: Path) -> None:
    cells = _code_cells(_load(path))
    counts = [c.get("execution_count") for c in cells]
    assert all(counts), f"{path.name}: cells never run: {counts}"
    assert counts == sorted(counts), f"{path.name}: not run top to bottom: {counts}"
    assert sum(bool(c.get("outputs")) for c in cells) >= len(cells) // 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_secret_path_or_traceback(path: Path) -> None:
    notebook = _load(path)
    for index, cell in enumerate(_code_cells(notebook)):
        text = _outputs_text(cell)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            assert len(errors) == 1 and len(errors[0]["traceback"]) == 1, \
                f"{path.name}, code cell {index}: fails on purpose, but not in one line"
        else:
            assert not errors, f"{path.name}, code cell {index}: an error output was saved"
        assert "Traceback (most recent call last)" not in text, \
            f"{path.name}, code cell {index}: a traceback was saved"
        for what, pattern in FORBIDDEN.items():
            found = pattern.search(text)
            assert found is None, f"{path.name}, code cell {index}: {what}: {found.group(0)!r}"
    widget_state = json.dumps(notebook.get("metadata", {}))
    for what, pattern in FORBIDDEN.items():
        assert pattern.search(widget_state) is None, f"{path.name} metadata: {what}"


VIEW = "application/vnd.jupyter.widget-view+json"
MODEL_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_widget_state_is_only_what_an_output_shows(path: Path) -> None:
    """Live tables and progress views save themselves as HTML; the state of their closed
    widgets would only be dead weight (tens of kilobytes a notebook)."""
    notebook = _load(path)
    state = (notebook["metadata"].get("widgets") or {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    shown = [output["data"][VIEW]["model_id"] for cell in _code_cells(notebook)
             for output in cell.get("outputs", []) if VIEW in (output.get("data") or {})]
    reachable: set[str] = set()
    while shown:
        model = shown.pop()
        if model in state and model not in reachable:
            reachable.add(model)
            shown.extend(MODEL_REFERENCE.findall(json.dumps(state[model])))
    stale = sorted({state[m]["model_name"] for m in set(state) - reachable})
    assert not stale, f"{path.name}: saved state of widgets no output shows: {stale}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_sandbox_password_appears_nowhere(path: Path) -> None:
    from jupyter_virtwork.sandbox import vcsim

    try:
        _, password = vcsim.credentials()
    except (OSError, ValueError, KeyError):
        pytest.skip("no sandbox vcsim login on this machine")
    assert password not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_a_command_table_and_ends_with_cleanup(path: Path) -> None:
    notebook = _load(path)
    first = "".join(notebook["cells"][0]["source"])
    assert first.startswith("# ") and "|---|" in first, f"{path.name}: no command table first"
    last_code = ["".join(c["source"]) for c in _code_cells(notebook)[-2:]]
    assert any("%vw cleanup --yes" in source for source in last_code), \
        f"{path.name}: does not end with %vw cleanup --yes"
