"""The course: every lesson is bilingual and current, its zh/ and en/ editions are exactly
what the exporter makes of it, and it is built as a course (objectives and time first,
exercises with hidden solutions closing each numbered section, diagrams).

The checks themselves are shown to fail on lessons broken on purpose (an English cell edited
alone, a translation missing, an edition gone stale)."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.course import export, lesson
from jupyter_virtwork.course.__main__ import main
from jupyter_virtwork.errors import InvalidInput

FOLDER = Path(__file__).parents[2] / "notebooks"
LESSONS = export.lessons(FOLDER)
EXERCISES = {"zh": "### 练习", "en": "### Exercises"}
OBJECTIVES = {"zh": ("**学习目标**", "**用时**"), "en": ("**Objectives**", "**Time**")}
SECTION = re.compile(r"^## (\d+ · )?")
MERMAID = re.compile(r"^```mermaid$", re.M)
LINK = re.compile(r"\]\(([^)#\s]+)\)")


def _text_cells(notebook: dict[str, Any], lang: str) -> list[str]:
    return [lesson.source(c) for c in notebook["cells"]
            if lesson.is_text(c) and c["metadata"]["virtwork"]["lang"] == lang]


def test_there_are_five_lessons() -> None:
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_text_cell_has_its_current_translation(path: Path) -> None:
    assert lesson.problems(lesson.read(path)) == []


def test_the_editions_are_current() -> None:
    assert export.stale(FOLDER) == []


def test_exporting_again_changes_nothing(tmp_path: Path) -> None:
    copied = tmp_path / "notebooks"
    shutil.copytree(FOLDER, copied)
    before = {p: p.read_bytes() for p in copied.rglob("*.ipynb")}
    assert export.export(copied) == []
    assert {p: p.read_bytes() for p in copied.rglob("*.ipynb")} == before


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", lesson.LANGS)
def test_an_edition_has_the_lessons_code_and_one_language(path: Path, lang: str) -> None:
    source = lesson.read(path)
    edition = lesson.read(export.edition_path(path, lang))
    code = [c for c in source["cells"] if not lesson.is_text(c)]
    assert [c for c in edition["cells"] if not lesson.is_text(c)] == code
    assert [lesson.source(c) for c in edition["cells"] if lesson.is_text(c)] == \
        _text_cells(source, lang)


# --- the check can fail ------------------------------------------------------------------------

def _stamped_lesson() -> dict[str, Any]:
    cells = [
        {"cell_type": "markdown", "metadata": {"virtwork": {"lang": "zh", "pair": "a"}},
         "source": "# 标题"},
        {"cell_type": "markdown", "metadata": {"virtwork": {"lang": "en", "pair": "a"}},
         "source": "# Title"},
        {"cell_type": "code", "metadata": {}, "source": "print(1)", "outputs": [],
         "execution_count": 1},
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    lesson.stamp(notebook, ["a"])
    assert lesson.problems(notebook) == []
    return notebook


@pytest.mark.parametrize(("change", "words"), [
    (lambda nb: nb["cells"][1].update(source="# Another title"),
     "the English (cell 1) changed and the Chinese (cell 0) did not: update the Chinese"),
    (lambda nb: nb["cells"][0].update(source="# 另一个标题"),
     "the Chinese (cell 0) changed and the English (cell 1) did not: update the English"),
    (lambda nb: nb["cells"].pop(1), "pair 'a' has no English cell: translate cell 0"),
    (lambda nb: nb["cells"][0]["metadata"].clear(), "text cell 0 names no language"),
    (lambda nb: nb["cells"][2]["metadata"].update(virtwork={"lang": "en"}),
     "cell 2 is code, shared by both languages"),
    (lambda nb: nb["cells"].insert(1, nb["cells"].pop(2)), "are not side by side"),
    (lambda nb: nb["cells"].append(copy.deepcopy(nb["cells"][1])),
     "pair 'a' has two English cells (1 and 3)"),
])
def test_a_broken_pair_is_named(change: Any, words: str) -> None:
    notebook = _stamped_lesson()
    change(notebook)
    assert any(words in problem for problem in lesson.problems(notebook)), \
        lesson.problems(notebook)


def test_stamping_refuses_a_change_in_one_language_only() -> None:
    notebook = _stamped_lesson()
    notebook["cells"][1]["source"] = "# Title, fixed"
    with pytest.raises(InvalidInput, match=r"update the Chinese.*--same-meaning"):
        lesson.stamp(notebook, ["a"])
    assert lesson.problems(notebook)  # nothing was recorded
    lesson.stamp(notebook, ["a"], same_meaning=True)
    assert lesson.problems(notebook) == []


def test_stamping_records_a_pair_changed_in_both_languages() -> None:
    notebook = _stamped_lesson()
    notebook["cells"][0]["source"] = "# 新标题"
    notebook["cells"][1]["source"] = "# New title"
    assert "both languages changed" in lesson.problems(notebook)[0]
    lesson.stamp(notebook, ["a"])
    assert lesson.problems(notebook) == []


def test_a_stale_or_orphaned_edition_is_found_and_rewritten(tmp_path: Path) -> None:
    copied = tmp_path / "notebooks"
    shutil.copytree(FOLDER, copied)
    edited = copied / "en" / LESSONS[0].name
    edited.write_text(edited.read_text(encoding="utf-8").replace("Docker", "Dokcer"),
                      encoding="utf-8")
    orphan = copied / "zh" / "99-gone.ipynb"
    orphan.write_text("{}", encoding="utf-8")
    assert export.stale(copied) == [edited, orphan]
    assert main(["export", str(copied), "--check"]) == 1
    assert main(["check", str(copied)]) == 1
    assert export.export(copied) == [edited, orphan]
    assert not orphan.exists() and export.stale(copied) == []
    assert main(["check", str(copied)]) == 0


# --- a course, not only a translation ----------------------------------------------------------

@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", lesson.LANGS)
def test_opens_with_objectives_and_time(path: Path, lang: str) -> None:
    first = _text_cells(lesson.read(path), lang)[0]
    assert all(word in first for word in OBJECTIVES[lang]), first[:300]


def _sections(texts: list[str]) -> list[tuple[str, list[str]]]:
    """(heading, text cells) of each `## ` section, the cells before the first left out."""
    sections: list[tuple[str, list[str]]] = []
    for text in texts:
        if text.startswith("## "):
            sections.append((text.splitlines()[0], []))
        if sections:
            sections[-1][1].append(text)
    return sections


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
@pytest.mark.parametrize("lang", lesson.LANGS)
def test_each_numbered_section_ends_with_exercises_and_hidden_solutions(
        path: Path, lang: str) -> None:
    sections = [(heading, texts) for heading, texts in _sections(_text_cells(
        lesson.read(path), lang)) if SECTION.match(heading)[1]]  # type: ignore[index]
    assert len(sections) >= 2, path.name
    for heading, texts in sections:
        last = texts[-1]
        assert EXERCISES[lang] in last, f"{path.name}: {heading} does not end with exercises"
        assert "<details>" in last.split(EXERCISES[lang])[1], f"{path.name}: {heading}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_has_diagrams_drawn_alike_in_both_languages(path: Path) -> None:
    notebook = lesson.read(path)
    counts = {lang: [len(MERMAID.findall(t)) for t in _text_cells(notebook, lang)]
              for lang in lesson.LANGS}
    assert sum(counts["en"]) >= 1, path.name
    assert counts["zh"] == counts["en"]


@pytest.mark.parametrize("lang", lesson.LANGS)
def test_every_relative_link_of_an_edition_resolves(lang: str) -> None:
    for path in LESSONS:
        edition = export.edition_path(path, lang)
        for text in _text_cells(lesson.read(edition), lang):
            for target in LINK.findall(text):
                if "://" not in target:
                    assert (edition.parent / target).exists(), f"{edition}: {target}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_self_check_cell_fails_on_purpose_in_the_saved_run_with_its_hint(path: Path) -> None:
    """The saved run does not do the exercises: each `%vw check` cell is tagged to fail, and
    its saved output is the one ✘ line a learner would see before doing the exercise."""
    checks = [c for c in lesson.read(path)["cells"]
              if not lesson.is_text(c) and "%vw check" in lesson.source(c)]
    for cell in checks:
        assert "raises-exception" in cell["metadata"].get("tags", []), lesson.source(cell)
        (error,) = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert error["ename"] == "CheckFailed" and error["evalue"].startswith("✘"), error
