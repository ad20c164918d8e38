"""An output area a live widget owns: shown with a display id, and replaced by static HTML
when the live view ends.

Why a display id and not only ``text/html`` beside the widget's own mime type: JupyterLab
always prefers the widget view, and a saved notebook reopened without its kernel then shows
"Error displaying widget: model not found" instead of the table. ``update_display_data``
replaces the output itself, so the notebook file holds the snapshot alone (nbformat keeps
it; nbval and nbconvert show it as plain HTML).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def has_frontend() -> bool:
    """True inside a kernel, where a widget can render (not a terminal IPython or a plain
    Python process)."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveDisplay:
    def __init__(self) -> None:
        self._handles: list[Any] = []  # one per time the widget was displayed
        self._lock = threading.Lock()

    @property
    def shown(self) -> bool:
        return bool(self._handles)

    def show(self, bundle: Mapping[str, Any]) -> None:
        from IPython.display import display

        handle = display(dict(bundle), raw=True,  # type: ignore[no-untyped-call]
                         display_id=True)
        if handle is not None:  # None outside IPython: nothing to replace later
            with self._lock:
                self._handles.append(handle)

    def end(self, html: str, text: str) -> int:
        """Replace every live output with ``html``; how many were replaced (0 if none was
        shown by us, or the kernel is going away and can no longer send)."""
        with self._lock:
            handles, self._handles = self._handles, []
        replaced = 0
        for handle in handles:
            try:
                handle.update({"text/html": html, "text/plain": text}, raw=True)
            except Exception:  # at kernel exit the channel may be gone
                log.debug("could not replace a live output", exc_info=True)
            else:
                replaced += 1
        return replaced


def close_tree(widget: Any) -> None:
    """Close a widget, its children and its layout/style models: each holds a comm, and a
    comm left open outlives the view (and complains at interpreter exit)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in ("layout", "style"):
        model = getattr(widget, part, None)
        if model is not None and hasattr(model, "close"):
            model.close()
    widget.close()
