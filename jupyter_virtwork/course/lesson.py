"""A bilingual lesson notebook: its text cells, the problems of their pairing, and stamping
a pair as translated (the format is described in the package's docstring)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound

LANGS = ("zh", "en")  # the order of a pair's cells in a lesson
LANGUAGE = {"zh": "Chinese", "en": "English"}
KEY = "virtwork"  # the cell metadata key the lesson format owns

Notebook = dict[str, Any]
Cell = dict[str, Any]


def read(path: Path) -> Notebook:
    notebook: Notebook = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def dumps(notebook: Notebook) -> str:
    """The notebook as nbformat writes it (so saving from JupyterLab changes no byte)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write(path: Path, notebook: Notebook) -> None:
    path.write_text(dumps(notebook), encoding="utf-8")


def source(cell: Cell) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def fingerprint(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def is_text(cell: Cell) -> bool:
    return cell.get("cell_type") != "code"


@dataclass(frozen=True)
class TextCell:
    index: int  # its place among all the notebook's cells
    lang: str
    pair: str
    counterpart: str | None  # the partner's fingerprint when this cell was last matched to it
    text: str


def text_cells(notebook: Notebook) -> tuple[list[TextCell], list[str]]:
    """The text cells that name a language and a pair, and a problem for each that does not
    (or for a code cell that names a language: code is shared by both)."""
    found: list[TextCell] = []
    problems: list[str] = []
    for index, cell in enumerate(notebook["cells"]):
        meta = cell.get("metadata", {}).get(KEY, {})
        if not is_text(cell):
            if "lang" in meta:
                problems.append(f"cell {index} is code, shared by both languages: remove its "
                                f"{KEY}.lang")
            continue
        lang, pair = meta.get("lang"), meta.get("pair")
        if lang not in LANGS or not isinstance(pair, str) or not pair:
            problems.append(f"text cell {index} names no language ({' or '.join(LANGS)}) and "
                            f"pair in its metadata {KEY!r}: {meta or 'none'}")
            continue
        found.append(TextCell(index, lang, pair, meta.get("counterpart"), source(cell)))
    return found, problems


def pairs(cells: Iterable[TextCell]) -> tuple[dict[str, dict[str, TextCell]], list[str]]:
    """Pair id -> language -> cell, and a problem for a language a pair has twice."""
    grouped: dict[str, dict[str, TextCell]] = {}
    problems: list[str] = []
    for cell in cells:
        pair = grouped.setdefault(cell.pair, {})
        if cell.lang in pair:
            problems.append(f"pair {cell.pair!r} has two {LANGUAGE[cell.lang]} cells "
                            f"({pair[cell.lang].index} and {cell.index}): give each its own pair")
        else:
            pair[cell.lang] = cell
    return grouped, problems


def problems(notebook: Notebook) -> list[str]:
    """Everything that keeps ``notebook`` from being a complete, current bilingual lesson."""
    cells, found = text_cells(notebook)
    grouped, more = pairs(cells)
    found += more
    for pair_id, pair in grouped.items():
        missing = [lang for lang in LANGS if lang not in pair]
        if missing:
            (present,) = pair.values()
            found += [f"pair {pair_id!r} has no {LANGUAGE[lang]} cell: translate cell "
                      f"{present.index}" for lang in missing]
            continue
        found += _pair_problems(pair_id, pair["zh"], pair["en"])
    return found


def moved(zh: TextCell, en: TextCell) -> set[str]:
    """The languages whose text changed since the pair was last stamped (both when it never
    was)."""
    if zh.counterpart is None or en.counterpart is None:
        return set(LANGS)
    return ({"en"} if zh.counterpart != fingerprint(en.text) else set()) | \
        ({"zh"} if en.counterpart != fingerprint(zh.text) else set())


def _pair_problems(pair_id: str, zh: TextCell, en: TextCell) -> list[str]:
    if en.index != zh.index + 1:
        return [f"pair {pair_id!r}: its cells {zh.index} and {en.index} are not side by side, "
                "Chinese first"]
    changed = moved(zh, en)
    todo = f"then `python -m jupyter_virtwork.course stamp NOTEBOOK {pair_id}`"
    if changed == set(LANGS):
        return [f"pair {pair_id!r}: both languages changed since they were last stamped (or "
                f"never were): check the two say the same, {todo}"]
    if changed:
        (alone,) = changed
        return [f"pair {pair_id!r}: {_one_changed(alone, zh, en)}, {todo}"]
    return []


def _one_changed(alone: str, zh: TextCell, en: TextCell) -> str:
    (other,) = set(LANGS) - {alone}
    index = {"zh": zh.index, "en": en.index}
    return (f"the {LANGUAGE[alone]} (cell {index[alone]}) changed and the {LANGUAGE[other]} "
            f"(cell {index[other]}) did not: update the {LANGUAGE[other]}")


def stamp(notebook: Notebook, pair_ids: Iterable[str], *, same_meaning: bool = False) -> None:
    """Record that each pair's two cells say the same now. Refused, and nothing recorded,
    for a pair where one language changed alone since its last stamp, unless
    ``same_meaning`` (the edit needs no translation: a typo, a link)."""
    cells, found = text_cells(notebook)
    grouped, more = pairs(cells)
    if found or more:
        raise InvalidInput((found + more)[0])
    chosen = list(pair_ids)
    for pair_id in chosen:
        pair = grouped.get(pair_id)
        if pair is None:
            raise NotFound(f"no pair {pair_id!r} in this notebook",
                           hint=f"its pairs: {', '.join(grouped)}")
        if set(pair) != set(LANGS):
            (present,) = pair.values()
            raise InvalidInput(f"pair {pair_id!r} has one language only (cell {present.index})",
                               hint="write its translation first")
        changed = moved(pair["zh"], pair["en"])
        if len(changed) == 1 and not same_meaning:
            (alone,) = changed
            raise InvalidInput(f"pair {pair_id!r}: {_one_changed(alone, pair['zh'], pair['en'])}",
                               hint="or pass --same-meaning if the edit needs no translation")
    for pair_id in chosen:
        zh, en = grouped[pair_id]["zh"], grouped[pair_id]["en"]
        _mark(notebook["cells"][zh.index], fingerprint(en.text))
        _mark(notebook["cells"][en.index], fingerprint(zh.text))


def _mark(cell: Cell, counterpart: str) -> None:
    cell.setdefault("metadata", {}).setdefault(KEY, {})["counterpart"] = counterpart
