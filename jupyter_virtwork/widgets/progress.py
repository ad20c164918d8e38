"""ProgressView: the live view of long work (an image build, a push, a VM task, a rollout).

Call it with each ``Progress`` (it is the ``on_progress`` callback of the drivers), then
``done(message)`` or ``fail(message)``. In a kernel it shows a bar, the current line and a
bounded log; when the work ends the live widgets give way to a static summary, so a saved
notebook keeps the outcome. Without a front end (a terminal IPython, a script) it prints
lines instead (but not the failure, which its caller reports). Callbacks may come from any
thread.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import deque
from typing import Any, Literal

import ipywidgets  # type: ignore[import-untyped]

from ..models import Progress
from ._display import LiveDisplay, close_tree, has_frontend

Mode = Literal["auto", "widget", "text"]
LAYER = re.compile(r"^([0-9a-f]{12}): (.*)$")  # a push's per-layer lines
LAYER_DONE = ("Pushed", "Layer already exists", "Mounted from")
MIN_INTERVAL = 0.1  # s between two widget updates that only move a byte count
STYLES = {"running": "info", "done": "success", "failed": "danger"}


class ProgressLog:
    """What the work said so far: lines (bounded), the latest status of each layer, and
    the fraction done for the bar (None while unknown)."""

    def __init__(self, limit: int = 200) -> None:
        self.lines: deque[str] = deque(maxlen=limit)
        self.layers: dict[str, str] = {}
        self._bytes: dict[str, tuple[float, float]] = {}
        self.fraction: float | None = None
        self.current = ""

    def add(self, progress: Progress) -> str | None:
        """Record ``progress``; the new line to show, or None when only a count moved."""
        layer = LAYER.match(progress.message)
        if layer is not None:
            return self._layer(layer.group(1), layer.group(2), progress)
        counted = progress.current is not None and progress.total
        if counted:
            self.fraction = min(1.0, float(progress.current or 0) / float(progress.total or 1))
        if progress.done:
            self.fraction = 1.0
        line = progress.message
        if counted and progress.what == "build":
            line = f"[{progress.current:g}/{progress.total:g}] {line}"
        self.current = line
        if self.lines and self.lines[-1] == line:
            return None
        self.lines.append(line)
        return line

    def _layer(self, layer: str, status: str, progress: Progress) -> str | None:
        """Pushes report per layer: one line each, updated in place; the bar sums bytes."""
        if progress.total:
            self._bytes[layer] = (float(progress.current or 0), float(progress.total))
        elif status.startswith(LAYER_DONE) and layer in self._bytes:
            self._bytes[layer] = (self._bytes[layer][1], self._bytes[layer][1])
        if self._bytes:
            done = sum(current for current, _ in self._bytes.values())
            total = sum(total for _, total in self._bytes.values())
            self.fraction = done / total if total else None
        self.current = progress.message
        if self.layers.get(layer) == status:
            return None
        self.layers[layer] = status
        return progress.message

    def text(self) -> str:
        return "\n".join([*self.lines, *(f"{k}: {v}" for k, v in self.layers.items())])


class ProgressView:
    """A callable ``on_progress(Progress)`` with ``done(message)`` and ``fail(message)``."""

    def __init__(self, title: str = "", *, mode: Mode = "auto", log_lines: int = 200,
                 display: bool = True) -> None:
        self.title = title
        self.log = ProgressLog(log_lines)
        self.state: Literal["running", "done", "failed"] = "running"
        self.message = ""
        self.widget_mode = has_frontend() if mode == "auto" else mode == "widget"
        self._lock = threading.RLock()
        self._last_sync = 0.0
        self._ended = False
        self._display = LiveDisplay()
        self.widget: Any = self._build() if self.widget_mode else None
        if self.widget is not None and display:
            bundle = dict(self.widget._repr_mimebundle_())
            bundle["text/html"] = self.snapshot_html()
            self._display.show(bundle)

    def _build(self) -> Any:
        self._header = ipywidgets.HTML(self._header_html())
        self._bar = ipywidgets.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                             layout=ipywidgets.Layout(width="60%"))
        self._line = ipywidgets.Label("")
        self._log = ipywidgets.Textarea("", disabled=True, rows=8,
                                        layout=ipywidgets.Layout(width="95%"))
        return ipywidgets.VBox([self._header, self._bar, self._line, self._log])

    # --- feeding it ---------------------------------------------------------------------

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            if self.state != "running":
                return
            new_line = self.log.add(progress)
            if progress.done:
                self.state, self.message = "done", progress.message
            if self.widget is None:
                if new_line is not None and not progress.done:
                    print(new_line, flush=True)
                return
            self._sync(force=new_line is not None or progress.done)

    def done(self, message: str = "") -> None:
        self._end("done", message or f"{self.title}: done")

    def fail(self, message: str) -> None:
        """End as failed. Printed lines say nothing more: whoever failed reports the error
        (a magic prints it as its one line)."""
        self._end("failed", message)

    def _end(self, state: Literal["done", "failed"], message: str) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            if state == "done":
                self.log.fraction = 1.0
            self.state, self.message = state, message
            if self.widget is None:
                if state == "done":
                    print(message, flush=True)
                return
            self._sync(force=True)
            if self._display.end(self.snapshot_html(), f"{self.title}: {message}"):
                close_tree(self.widget)  # the snapshot has replaced it everywhere

    # --- drawing ------------------------------------------------------------------------

    def _sync(self, *, force: bool) -> None:
        """Push the state to the widgets; count-only changes at most every 0.1 s, since a
        push reports every chunk of every layer."""
        now = time.monotonic()
        if not force and now - self._last_sync < MIN_INTERVAL:
            return
        self._last_sync = now
        with self.widget.hold_sync():
            self._header.value = self._header_html()
            self._bar.value = self.log.fraction or 0.0
            self._bar.bar_style = STYLES[self.state]
            self._line.value = self.log.current
            self._log.value = self.log.text()

    def _header_html(self) -> str:
        colour = {"running": "#57606a", "done": "#1a7f37", "failed": "#cf222e"}[self.state]
        message = self.message or "…"
        return (f"<b>{html.escape(self.title)}</b> "
                f"<span style='color:{colour}'>{html.escape(message)}</span>")

    def snapshot_html(self) -> str:
        """The outcome as static HTML, with the log folded away."""
        with self._lock:
            text = self.log.text()
            header = self._header_html()
        lines = text.count("\n") + 1 if text else 0
        log = (f"<details><summary>log ({lines} lines)</summary>"
               f"<pre>{html.escape(text)}</pre></details>") if text else ""
        return f"<div class='virtwork-progress'>{header}{log}</div>"

    def __repr__(self) -> str:
        return f"<ProgressView {self.title!r} {self.state}>"
