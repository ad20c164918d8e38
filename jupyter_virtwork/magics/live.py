"""Live output for magics: a progress view and a live status table, from ``widgets`` when
they can render, else plain text lines (a terminal IPython, nbconvert)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import Kind, Progress


class TextProgress:
    """Progress as printed lines: the fallback when no widget front end is attached."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._last = ""

    def __call__(self, progress: Progress) -> None:
        counted = f" [{progress.current:g}/{progress.total:g}]" \
            if progress.current is not None and progress.total else ""
        line = f"{progress.message}{counted}"
        if line != self._last and not progress.done:
            print(line, flush=True)
            self._last = line

    def done(self, message: str = "") -> None:
        print(message or f"{self.title}: done", flush=True)

    def fail(self, message: str) -> None:
        """Nothing to add: the magic prints the error itself, as its one line."""


def _has_frontend() -> bool:
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_view(title: str) -> Any:
    """A callable taking Progress, with ``done(msg)`` and ``fail(msg)``."""
    if _has_frontend():
        try:
            from ..widgets import ProgressView
        except ImportError:
            return TextProgress(title)
        return ProgressView(title)
    return TextProgress(title)


def status_table(sources: Sequence[tuple[Any, Kind, Mapping[str, str] | None]],
                 title: str = "") -> Any:
    """A live table over ``sources`` (driver, kind, labels); static when nothing can render
    a widget (then the current rows, as a ResourceList)."""
    if _has_frontend():
        from ..widgets import StatusTable

        return StatusTable(list(sources), title=title)
    from ..models import ResourceList

    rows = ResourceList()
    for driver, kind, labels in sources:
        rows.extend(driver.list(kind, labels=labels))
    return rows
