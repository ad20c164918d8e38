"""Live output for magics: a progress view and a live status table, from ``widgets`` when
they can render, else plain text lines (a terminal IPython, nbconvert)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ..models import Event, EventType, ResourceList

if TYPE_CHECKING:  # not at run time: ipywidgets is slow to import for %load_ext
    from ..widgets import ProgressView, StatusTable
    from ..widgets.status_table import Source

# What a listing magic shows: a live table, or the rows where nothing can render one.
StatusView: TypeAlias = "StatusTable | ResourceList"


def progress_view(title: str) -> ProgressView:
    """A callable taking Progress, with ``done(msg)`` and ``fail(msg)``: a widget in a
    kernel, printed lines elsewhere."""
    from ..widgets import ProgressView  # here: ipywidgets is slow to import for %load_ext

    return ProgressView(title)


# cell id -> (the execute request that ran it, the live tables it made). A notebook that
# runs a cell again drops the old output, but not the old tables' watchers in the kernel:
# the new run closes them.
_tables_of_cell: dict[str, tuple[str, list[StatusTable]]] = {}


def _running_cell() -> tuple[str, str] | None:
    """(cell id, request id) of the cell running now, when the front end says (JupyterLab
    and Notebook 7 put ``cellId`` in the request's metadata)."""
    from IPython.core.getipython import get_ipython

    kernel: Any = getattr(get_ipython(), "kernel", None)  # type: ignore[no-untyped-call]
    parent = kernel.get_parent("shell") if hasattr(kernel, "get_parent") else None
    if not isinstance(parent, Mapping):
        return None
    cell = (parent.get("metadata") or {}).get("cellId")
    request = (parent.get("header") or {}).get("msg_id")
    return (cell, request) if isinstance(cell, str) and isinstance(request, str) else None


def _replacing_older_runs(table: StatusTable) -> StatusTable:
    running = _running_cell()
    if running is None:
        return table
    cell, request = running
    previous, tables = _tables_of_cell.get(cell, (request, []))
    if previous != request:
        for old in tables:
            old.close()
        tables = []
    # Tables closed since (%vw unwatch, the front end) are not kept alive here.
    _tables_of_cell[cell] = (request, [*(t for t in tables if not t.closed), table])
    return table


def status_table(sources: Sequence[Source], title: str = "",
                 aliases: Sequence[str] | None = None, language: str = "en", *,
                 actions: bool = True, alias_column: str = "alias") -> StatusView:
    """A live table over ``sources`` (driver, kind, labels), with an ``alias_column``
    when ``aliases`` names each source's connection (or learner), and action buttons
    unless ``actions`` is off (read-only mode); static when nothing can render a widget
    (then the current rows, as a ResourceList). Running the same cell again closes the
    tables its previous run made."""
    from ..widgets import StatusTable  # here: ipywidgets is slow to import for %load_ext
    from ..widgets._display import has_frontend

    if has_frontend():
        return _replacing_older_runs(StatusTable(list(sources), title=title,
                                                 aliases=aliases, language=language,
                                                 actions=actions, alias_column=alias_column))
    from ..widgets._rows import TableRows

    rows = TableRows([title] * len(sources), aliases, language, alias_column=alias_column)
    for number, (driver, kind, labels) in enumerate(sources):
        rows.apply(number, (Event(EventType.ADDED, r) for r in driver.list(kind, labels=labels)))
    return ResourceList(rows.resources.values())
