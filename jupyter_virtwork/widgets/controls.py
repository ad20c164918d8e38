"""ControlPanel: start, stop, pause, resume and delete for the selected row of a StatusTable,
or for one resource.

A verb runs in a background thread, so the notebook stays responsive while an engine takes
its time (a graceful stop waits up to ten seconds). A failure shows the VirtworkError's one
line, never a traceback. Buttons are disabled for verbs the driver lacks (``capabilities``)
and for verbs that make no sense in the resource's state, with the same rules as the side
panel (``jupyter_virtwork.actions``). Delete asks first, showing the equivalent command.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import ipywidgets  # type: ignore[import-untyped]

from ..actions import VERBS, WHEN, Action, command_for, run
from ..drivers.base import Driver
from ..errors import InvalidInput, VirtworkError
from ..models import Resource, State
from ._display import close_tree

log = logging.getLogger(__name__)

DONE = {Action.START: "started", Action.STOP: "stopped", Action.PAUSE: "paused",
        Action.RESUME: "resumed", Action.DELETE: "deleted"}
ERROR_STYLE = "color:#cf222e"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, VirtworkError):
        return str(exc)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


class Selection(Protocol):
    """What the panel acts on: a table's selected row (``StatusTable`` is one; the panel
    does not import it, so that the table may hold a panel)."""

    def selection(self) -> tuple[Driver, Resource] | None: ...

    def on_selection_change(self, callback: Callable[[], None]) -> None: ...


class ControlPanel(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    def __init__(self, table: Selection | None = None, *, driver: Driver | None = None,
                 resource: Resource | None = None) -> None:
        if (table is None) == (driver is None or resource is None):
            raise InvalidInput("a ControlPanel needs a StatusTable, or a driver and a resource")
        self._table = table
        self._fixed = None if driver is None or resource is None else (driver, resource)
        # Guards the worker and every redraw: the worker's last redraw and one from a table
        # event must not interleave, or a stale "busy" can be written after the final one.
        self._lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._after: tuple[Resource, Resource] | None = None  # (row before, verb's result)
        self.buttons = {action: ipywidgets.Button(description=action.value,
                                                  layout=ipywidgets.Layout(width="auto"))
                        for action in Action}
        for action, button in self.buttons.items():
            button.on_click(lambda _b, action=action: self._clicked(action))
        self.target = ipywidgets.HTML()
        self.message = ipywidgets.HTML()
        self._question = ipywidgets.HTML()
        self._yes = ipywidgets.Button(description="delete", button_style="danger")
        self._no = ipywidgets.Button(description="cancel")
        self._yes.on_click(lambda _b: self._confirmed())
        self._no.on_click(lambda _b: self._ask(False))
        self.confirm = ipywidgets.HBox([self._question, self._yes, self._no])
        super().__init__([self.target, ipywidgets.HBox(list(self.buttons.values())),
                          self.confirm, self.message])
        self._ask(False)
        if table is not None:
            table.on_selection_change(self.refresh)
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def selection(self) -> tuple[Driver, Resource] | None:
        """The driver and resource to act on. After a verb, its result stands in for the
        table's row until an event replaces that row: the engine's event may come later
        than the verb's answer (or, for a racy engine, say less)."""
        if self._table is None:
            return self._fixed
        selected = self._table.selection()
        if selected is not None and self._after is not None and selected[1] is self._after[0]:
            return selected[0], self._after[1]
        return selected

    def refresh(self) -> None:
        """Redraw the target line and enable what the driver and the state allow."""
        with self._lock:
            selected = self.selection()
            if selected is None:
                self.target.value = "<i>select a row to act on it</i>"
            else:
                resource = selected[1]
                self.target.value = (f"{html.escape(resource.kind.value)} <b>"
                                     f"{html.escape(resource.name)}</b> ({resource.state.value})")
            for action, button in self.buttons.items():
                button.disabled, button.tooltip = self._availability(action, selected)

    def _availability(self, action: Action, selected: tuple[Driver, Resource] | None,
                      ) -> tuple[bool, str]:
        """(disabled, tooltip) of one button."""
        if selected is None:
            return True, ""
        driver, resource = selected
        if resource.state is State.DELETED:
            return True, "deleted"
        if VERBS[action] not in driver.capabilities:
            return True, f"the {driver.name} driver does not support {action.value}"
        states = WHEN[action]
        if states is not None and resource.state not in states:
            return True, f"not while {resource.state.value}"
        return self.busy, command_for(driver, resource, action)

    # --- running a verb -----------------------------------------------------------------

    def _clicked(self, action: Action) -> None:
        selected = self.selection()
        if selected is None:
            return
        if action is Action.DELETE:
            driver, resource = selected
            command = command_for(driver, resource, action)
            self._question.value = (f"delete {html.escape(resource.kind.value)} "
                                    f"<b>{html.escape(resource.name)}</b>?"
                                    + (f" <code>{html.escape(command)}</code>" if command else ""))
            self._ask(True)
            return
        self._start(action, selected)

    def _ask(self, shown: bool) -> None:
        self.confirm.layout.display = "" if shown else "none"

    def _confirmed(self) -> None:
        self._ask(False)
        selected = self.selection()
        if selected is not None:
            self._start(Action.DELETE, selected)

    def _start(self, action: Action, selected: tuple[Driver, Resource]) -> None:
        with self._lock:
            if self.busy:
                return
            self.message.value = f"{action.value} {html.escape(selected[1].name)}…"
            row = self._table.selection() if self._table is not None else None
            self._worker = threading.Thread(
                target=self._run, args=(action, *selected, row[1] if row else None),
                name=f"virtwork-{action.value}", daemon=True)
            self._worker.start()
        self.refresh()

    def _run(self, action: Action, driver: Driver, resource: Resource,
             row: Resource | None) -> None:
        try:
            result = run(driver, resource.kind, resource.id, action)
        except Exception as exc:  # shown as one line; the traceback goes to the log only
            log.debug("%s %s failed", action.value, resource.name, exc_info=True)
            self.message.value = f"<span style='{ERROR_STYLE}'>{html.escape(_one_line(exc))}</span>"
        else:
            self.message.value = f"{DONE[action]} {html.escape(resource.name)}"
            if self._fixed is not None:
                self._fixed = (driver, result)
            elif row is not None:
                self._after = (row, result)
        finally:
            with self._lock:
                self._worker = None
                self.refresh()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running verb, if any; True when none is running any more."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self.busy

    def close(self) -> None:
        for child in self.children:
            close_tree(child)
        for part in (self.layout, getattr(self, "style", None)):
            if part is not None:
                part.close()
        super().close()

