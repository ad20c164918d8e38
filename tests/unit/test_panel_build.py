"""A stale panel cannot ship: the wheel's build step rebuilds the side panel when any of its
inputs is newer than the built panel, and only then (a wheel from an sdist needs no npm)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _panel_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("panel_build", ROOT / "panel_build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project tree whose built panel (mtime 2000) is newer than its inputs (1000)."""
    for name in ("labextension/src/index.ts", "labextension/style/index.css",
                 "labextension/package.json", "labextension/tsconfig.json"):
        _write(tmp_path / name, 1000)
    _write(tmp_path / "jupyter_virtwork/labextension/package.json", 2000)
    _write(tmp_path / "jupyter_virtwork/labextension/static/remoteEntry.js", 2000)
    return tmp_path


def _write(path: Path, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


def test_a_panel_newer_than_its_inputs_is_not_rebuilt(tree: Path) -> None:
    assert not _panel_build().stale(tree)


@pytest.mark.parametrize("changed", ["labextension/src/index.ts", "labextension/src/new.ts",
                                     "labextension/style/index.css",
                                     "labextension/package.json",  # the version number
                                     "labextension/tsconfig.json"])
def test_a_changed_input_rebuilds_the_panel(tree: Path, changed: str) -> None:
    _write(tree / changed, 3000)
    assert _panel_build().stale(tree)


def test_a_missing_panel_is_built(tree: Path) -> None:
    shutil.rmtree(tree / "jupyter_virtwork/labextension")
    assert _panel_build().stale(tree)


def test_the_build_hook_calls_this_step() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    hook = config["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert hook["build-function"] == "panel_build.build"
    assert "skip-if-exists" not in hook  # it would ship whatever panel exists
