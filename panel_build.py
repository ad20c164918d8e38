"""The side panel's build step, run by hatch-jupyter-builder when a wheel or sdist is built.

npm builds the panel whenever any of its inputs (source, style, package.json with the one
version number, tsconfig) is newer than the built panel, so a stale panel never ships. A
wheel built from an sdist, whose built panel is newer than its inputs, needs no npm.
"""

from __future__ import annotations

from typing import Any

from hatch_jupyter_builder import npm_builder
from hatch_jupyter_builder.utils import is_stale

BUILT = "jupyter_virtwork/labextension"
INPUTS = ("labextension/src", "labextension/style", "labextension/package.json",
          "labextension/tsconfig.json")


def build(target_name: str, version: str, **kwargs: Any) -> None:
    if any(is_stale(BUILT, source) for source in INPUTS):
        npm_builder(target_name, version, **kwargs)
