"""The single-language editions of a folder of lessons: ``zh/NAME.ipynb`` and
``en/NAME.ipynb`` beside each ``NAME.ipynb``, holding the lesson's code cells (with their
saved outputs) exactly and the text cells of one language."""

from __future__ import annotations

import copy
from pathlib import Path

from . import lesson
from .lesson import KEY, LANGS, Notebook


def lessons(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def edition_path(lesson_path: Path, lang: str) -> Path:
    return lesson_path.parent / lang / lesson_path.name


def edition(notebook: Notebook, lang: str, lesson_name: str) -> Notebook:
    """The lesson with only ``lang``'s text cells. They keep their language and pair (a
    reader can find the cell of the lesson), not the translation hashes."""
    cells = []
    for cell in notebook["cells"]:
        if lesson.is_text(cell):
            meta = cell.get("metadata", {}).get(KEY, {})
            if meta.get("lang") != lang:
                continue
            cell = copy.deepcopy(cell)
            cell["metadata"][KEY] = {"lang": lang, "pair": meta.get("pair")}
        cells.append(cell)
    metadata = copy.deepcopy(notebook.get("metadata", {}))
    metadata[KEY] = {"edition": lang, "lesson": f"../{lesson_name}",
                     "made_by": "python -m jupyter_virtwork.course export"}
    return {**notebook, "cells": cells, "metadata": metadata}


def rendered(lesson_path: Path) -> dict[Path, str]:
    """Each edition's path and the text it should hold."""
    notebook = lesson.read(lesson_path)
    return {edition_path(lesson_path, lang): lesson.dumps(edition(notebook, lang, lesson_path.name))
            for lang in LANGS}


def stale(folder: Path) -> list[Path]:
    """Editions missing or different from what the lessons make now, and editions of no
    lesson."""
    expected: dict[Path, str] = {}
    for path in lessons(folder):
        expected.update(rendered(path))
    differ = [path for path, text in expected.items()
              if not path.exists() or path.read_text(encoding="utf-8") != text]
    orphans = [path for lang in LANGS for path in sorted((folder / lang).glob("*.ipynb"))
               if path not in expected]
    return differ + orphans


def export(folder: Path) -> list[Path]:
    """Write every edition that is not current and remove editions of no lesson; the paths
    changed."""
    changed = stale(folder)
    for path in lessons(folder):
        for target, text in rendered(path).items():
            if target in changed:
                target.parent.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for path in changed:
        if not (folder / path.name).exists():
            path.unlink()
    return changed
