"""``python -m jupyter_virtwork.course check | stamp | export``: keep bilingual lessons whole.

    check  [FOLDER]                      every pair complete and current, editions current
    stamp  NOTEBOOK PAIR... [--same-meaning]   record that a pair's two cells say the same
    export [FOLDER] [--check]            write zh/ and en/ (--check: only say what is stale)

FOLDER defaults to ``notebooks``. The exit status is 1 when something is to be done.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import VirtworkError
from . import export, lesson


def _check(folder: Path) -> int:
    found = [f"{path}: {problem}" for path in export.lessons(folder)
             for problem in lesson.problems(lesson.read(path))]
    found += [f"{path}: not current: run `python -m jupyter_virtwork.course export`"
              for path in export.stale(folder)]
    print("\n".join(found) or f"{len(export.lessons(folder))} lessons: every pair current, "
          "editions current")
    return 1 if found else 0


def _stamp(path: Path, pairs: Sequence[str], same_meaning: bool) -> int:
    notebook = lesson.read(path)
    lesson.stamp(notebook, pairs, same_meaning=same_meaning)
    lesson.write(path, notebook)
    print(f"{path}: stamped {', '.join(pairs)}")
    return 0


def _export(folder: Path, check_only: bool) -> int:
    changed = export.stale(folder) if check_only else export.export(folder)
    verb = "stale" if check_only else "written"
    print("\n".join(f"{verb}: {path}" for path in changed) or "editions current")
    return 1 if changed and check_only else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_virtwork.course",
                                     description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="pairs complete and current, editions current")
    check.add_argument("folder", nargs="?", type=Path, default=Path("notebooks"))
    stamp = verbs.add_parser("stamp", help="record that a pair's two cells say the same")
    stamp.add_argument("notebook", type=Path)
    stamp.add_argument("pairs", nargs="+", metavar="PAIR")
    stamp.add_argument("--same-meaning", action="store_true",
                       help="one language changed and the edit needs no translation")
    write = verbs.add_parser("export", help="write the zh/ and en/ editions")
    write.add_argument("folder", nargs="?", type=Path, default=Path("notebooks"))
    write.add_argument("--check", action="store_true", help="write nothing, list what is stale")
    args = parser.parse_args(argv)
    try:
        if args.verb == "check":
            return _check(args.folder)
        if args.verb == "stamp":
            return _stamp(args.notebook, args.pairs, args.same_meaning)
        return _export(args.folder, args.check)
    except (VirtworkError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
