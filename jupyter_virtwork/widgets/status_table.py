"""StatusTable: a live table of resources fed by the drivers' watch streams.

One daemon thread per source reads its EventStream and applies events in batches; only the
rows a batch changed travel to the front end, as one custom message (``status_table.js``
keeps the rows), so a change in a 1000-row table costs one row, not the table. Status lines
and new columns are ordinary synced traits, sent together inside ``hold_sync()``.

``close()`` (or the kernel's exit, or the front end closing the comm) stops every stream
and thread and replaces the live output with a static HTML snapshot of the last table,
which is what a saved notebook keeps (see ``_display``).
"""

from __future__ import annotations

import atexit
import html
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anywidget
import ipywidgets  # type: ignore[import-untyped]
import traitlets

from ..drivers.base import Driver
from ..models import STATE_COLOURS, Event, Kind, Resource, ResourceList, render_table
from ..watch import EventStream
from ._display import LiveDisplay
from ._rows import TableRows
from .controls import ControlPanel

if TYPE_CHECKING:
    import pandas

log = logging.getLogger(__name__)

Source = tuple[Driver, Kind, Mapping[str, str] | None]
BATCH = 500  # events of a burst (the first list, a resync) applied and sent together
JOIN_TIMEOUT = 5.0


def _label(driver: Driver, kind: Kind, labels: Mapping[str, str] | None) -> str:
    selector = ",".join(f"{k}={v}" for k, v in (labels or {}).items())
    return f"{driver.uri} {kind.value}s" + (f" [{selector}]" if selector else "")


def _bundle(widget: Any) -> dict[str, Any]:
    """A widget's display bundle (anywidget answers (data, metadata), ipywidgets data)."""
    bundle = widget._repr_mimebundle_()
    return dict(bundle[0] if isinstance(bundle, tuple) else bundle)


class StatusTable(anywidget.AnyWidget):
    _esm = Path(__file__).with_name("status_table.js").read_text()

    table_id = traitlets.Unicode().tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    status = traitlets.List(traitlets.Dict()).tag(sync=True)
    colours = traitlets.Dict().tag(sync=True)
    selectable = traitlets.Bool(True).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)  # a row key, set by a click

    _open_tables: ClassVar[weakref.WeakSet[StatusTable]] = weakref.WeakSet()

    def __init__(self, sources: Sequence[Source], *, title: str = "",
                 actions: bool = True, aliases: Sequence[str] | None = None,
                 language: str = "en", alias_column: str = "alias") -> None:
        """``language``: of the status lines (connecting, disconnected...)."""
        self._rows = TableRows([_label(*source) for source in sources], aliases, language,
                               alias_column)
        self._drivers = [driver for driver, _, _ in sources]
        self._lock = threading.RLock()  # rows, sequence number and sending, in one order
        self._changed = threading.Condition(self._lock)
        self._seq = 0
        self._closed = False
        self._listeners: list[Callable[[], None]] = []
        self._display = LiveDisplay()
        self._box: Any = None
        self._streams: list[EventStream] = []
        self._threads: list[threading.Thread] = []
        self.panel: ControlPanel | None = None
        super().__init__(
            table_id=uuid.uuid4().hex, title=title, columns=self._rows.columns,
            status=self._status(), selectable=actions,
            colours={state.value: colour for state, colour in STATE_COLOURS.items()})
        self.on_msg(self._on_front_end)
        self.comm.on_close(lambda _msg: self.close())
        self._streams = self._open(sources)
        self._start_threads()
        self.panel = ControlPanel(self) if actions else None
        atexit.register(self.close)  # a kernel shutdown stops the watchers too
        StatusTable._open_tables.add(self)

    @classmethod
    def close_all(cls) -> int:
        """Close every live table of this kernel (a magic re-run, ``%vw unwatch``); how
        many were open."""
        tables = list(cls._open_tables)
        for table in tables:
            table.close()
        return len(tables)

    def _start_threads(self) -> None:
        self._threads = [threading.Thread(target=self._follow, args=(index, stream),
                                          name=f"virtwork-table-{index}", daemon=True)
                         for index, stream in enumerate(self._streams)]
        for thread in self._threads:
            thread.start()

    def _open(self, sources: Sequence[Source]) -> list[EventStream]:
        """Every source's stream, or none: a source that cannot watch closes the others."""
        streams: list[EventStream] = []
        try:
            for driver, kind, labels in sources:
                streams.append(driver.watch(kind, labels=labels))
        except BaseException:
            for stream in streams:
                stream.close()
            super().close()
            raise
        return streams

    # --- the reader threads -------------------------------------------------------------

    def _follow(self, source: int, stream: EventStream) -> None:
        while (event := stream.get()) is not None:
            batch = [event]
            while len(batch) < BATCH and (more := stream.get(timeout=0)) is not None:
                batch.append(more)
            try:
                self._apply(source, batch)
            except Exception:  # a failed send must not end the live view
                log.exception("status table: applying %d events failed", len(batch))

    def _apply(self, source: int, events: list[Event]) -> None:
        with self._lock:
            if self._closed:
                return
            changes = self._rows.apply(source, events)
            with self.hold_sync():
                if changes.columns:
                    self.columns = list(self._rows.columns)
                if changes.status:
                    self.status = self._status()
            if changes.rows_changed:
                self._seq += 1
                self.send({"type": "rows", "seq": self._seq, "remove": changes.remove,
                           "upsert": self._rows.rows(changes.upsert)})
            self._changed.notify_all()
            touched = self.selected in changes.upsert or self.selected in changes.remove
        if touched:
            self._notify()

    def _status(self) -> list[dict[str, Any]]:
        return [status.to_dict() for status in self._rows.sources]

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A view that missed messages asks for everything (see status_table.js)."""
        if not isinstance(content, dict) or content.get("type") != "sync":
            return
        with self._lock:
            if self._closed:
                return
            if content.get("seen") == self._seq:
                self.send({"type": "synced", "seq": self._seq})
            else:
                self.send({"type": "reset", "seq": self._seq, "rows": self._rows.rows()})

    # --- reading the table --------------------------------------------------------------

    @property
    def rows(self) -> ResourceList:
        """The current rows, ordered by connection, kind and name."""
        with self._lock:
            return self._rows.ordered()

    @property
    def live(self) -> bool:
        """Every source listed and following its engine (none connecting or disconnected)."""
        with self._lock:
            return all(source.ok for source in self._rows.sources)

    @property
    def status_lines(self) -> list[str]:
        with self._lock:
            return [f"{s.label}: {s.text}" for s in self._rows.sources]

    @property
    def closed(self) -> bool:
        return self._closed

    def to_dataframe(self) -> pandas.DataFrame:
        return self.rows.to_dataframe()

    def wait_for(self, predicate: Callable[[StatusTable], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after some change, or ``timeout`` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def selection(self) -> tuple[Driver, Resource] | None:
        """The selected row's driver and record, if a row is selected and still there."""
        with self._lock:
            resource = self._rows.resources.get(self.selected)
            if resource is None:
                return None
            return self._drivers[self._rows.origin[self.selected]], resource

    def on_selection_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the selection, or the selected row, changes."""
        self._listeners.append(callback)

    @traitlets.observe("selected")
    def _selected_changed(self, _change: Any) -> None:
        self._notify()

    def _notify(self) -> None:
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:  # a listener's failure must not break the table
                log.exception("status table: selection listener failed")

    # --- display and the end of the live view -------------------------------------------

    def _ipython_display_(self) -> None:
        if self._closed:
            from IPython.display import display

            display({"text/html": self.snapshot_html(),  # type: ignore[no-untyped-call]
                     "text/plain": self._summary()}, raw=True)
            return
        if self.panel is not None and self._box is None:
            self._box = ipywidgets.VBox([self, self.panel])
        bundle = _bundle(self._box or self)
        # For front ends that show no widgets (a terminal, nbconvert without widget state).
        bundle["text/html"] = self.snapshot_html()
        bundle["text/plain"] = repr(self)
        self._display.show(bundle)

    def snapshot_html(self) -> str:
        """The table as static HTML: title, status of each source, rows."""
        with self._lock:
            rows, columns = self._rows.ordered(), list(self._rows.columns)
            lines = self.status_lines
        title = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        status = "".join(f"<div style='color:#57606a'>{html.escape(line)}</div>"
                         for line in lines)
        return f"<div class='virtwork-snapshot'>{title}{status}{render_table(rows, columns)}</div>"

    def _summary(self) -> str:
        count = len(self._rows.resources)
        return f"{self.title or 'status table'}: {count} row{'s' * (count != 1)}"

    def close(self) -> None:
        """Stop every stream and thread, leave the snapshot in the output; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        StatusTable._open_tables.discard(self)
        for stream in self._streams:
            stream.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(JOIN_TIMEOUT)
        self._display.end(self.snapshot_html(), self._summary())
        for widget in (self.panel, self._box):
            if widget is not None:
                widget.close()
        self.layout.close()
        super().close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "live"
        return f"<StatusTable {self.title!r} {state}, {len(self._rows.resources)} rows>"

