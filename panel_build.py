"""The side panel's build step, run by hatch-jupyter-builder when a wheel or sdist is built.

npm builds the panel whenever any of its inputs (source, style, package.json with the one
version number, tsconfig) is newer than the built panel, so a stale panel never ships. A
wheel built from an sdist, whose built panel is newer than its inputs, needs no npm.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUILT = "jupyter_virtwork/labextension"
INPUTS = ("labextension/src", "labextension/style", "labextension/package.json",
          "labextension/tsconfig.json")


def build(target_name: str, version: str, **kwargs: Any) -> None:
    if stale(Path.cwd()):  # the build hook runs in the project's root
        from hatch_jupyter_builder import npm_builder

        npm_builder(target_name, version, **kwargs)


def stale(root: Path) -> bool:
    """Whether the built panel is missing or older than one of its inputs."""
    built = [path.stat().st_mtime for path in _files(root / BUILT)]
    if not built:
        return True
    return any(path.stat().st_mtime > max(built)
               for name in INPUTS for path in _files(root / name))


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from (found for found in path.rglob("*") if found.is_file())
