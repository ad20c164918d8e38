"""Waiting for vSphere tasks: progress to the caller, cancellation when the caller quits.

A task is polled (its info's state, progress, result and error in one RetrievePropertiesEx;
never ``task.info`` whole, whose ``entity`` some servers fill with a snapshot that pyVmomi
refuses to parse) at an interval that grows from 50 ms to 1 s:
the wait stays responsive to a Stopper and to Ctrl-C, and several threads can wait at once
without sharing PropertyCollector state. When the caller is interrupted (KeyboardInterrupt,
or its Stopper stops), the task is cancelled if vSphere says it can be, and ``Cancelled`` is
raised; the caller decides how to undo what a finished task did.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from ... import error_messages as say
from ...errors import OperationTimeout
from ...models import Progress
from ...watch import Stopper
from .props import retrieve
from .session import sdk

ProgressCallback = Callable[[Progress], None]
FIRST_POLL = 0.05
LAST_POLL = 1.0


class TaskInterrupted(Exception):
    """The caller stopped waiting; ``succeeded`` says whether the task had finished anyway
    (its ``result`` is then set, e.g. the new VM)."""

    def __init__(self, what: str, succeeded: bool, result: Any = None) -> None:
        super().__init__(what)
        self.what = what
        self.succeeded = succeeded
        self.result = result


INFO_PATHS = ("info.state", "info.progress", "info.result", "info.error", "info.cancelable")


def wait(task: Any, what: str, collector: Any, *,
         on_progress: ProgressCallback | None = None, stopper: Stopper | None = None,
         timeout: float | None = None) -> Any:
    """The task's result; its fault is raised as the vmodl fault (for the boundary)."""
    report = _Reporter(what, on_progress)
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = FIRST_POLL
    try:
        report.submitted()
        while True:
            # Stop first: a caller who gave up must not get a result, even a finished one.
            if stopper is not None and stopper.stopped:
                raise KeyboardInterrupt
            info = _info(collector, task)
            if report.state(info):
                return info.get("info.result")
            if deadline is not None and time.monotonic() > deadline:
                raise OperationTimeout(say.TASK_TOO_SLOW(what=what, seconds=timeout),
                                       hint=say.MAY_STILL_FINISH())
            if stopper is not None:
                stopper.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, LAST_POLL)
    except KeyboardInterrupt:
        raise _interrupted(collector, task, what) from None


def _info(collector: Any, task: Any) -> dict[str, Any]:
    vim, vmodl = sdk()
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=task)],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Task,
                                                            pathSet=list(INFO_PATHS))])
    found = retrieve(collector, spec)
    return {str(p.name): p.val for p in found[0].propSet} if found else {}


class _Reporter:
    """Turns task info into Progress, only when something changed."""

    def __init__(self, what: str, on_progress: ProgressCallback | None) -> None:
        self.what = what
        self.on_progress = on_progress
        self.last: tuple[str, int | None] | None = None

    def submitted(self) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress("task", f"{self.what}: submitted", 0.0, 100.0))

    def state(self, info: dict[str, Any]) -> bool:
        """Report ``info``; True when the task is over (the fault is raised here)."""
        state, percent = str(info.get("info.state")), info.get("info.progress")
        done = state in ("success", "error")
        if self.on_progress is not None and (state, percent) != self.last:
            self.last = (state, percent)
            current = 100.0 if state == "success" else percent
            self.on_progress(Progress("task", f"{self.what}: {_words(state)}",
                                      current=None if current is None else float(current),
                                      total=100.0, done=done))
        if state == "error":
            raise info["info.error"]
        return done


def _words(state: str) -> str:
    return {"queued": "queued", "running": "running", "success": "done",
            "error": "failed"}.get(state, state)


def _interrupted(collector: Any, task: Any, what: str) -> TaskInterrupted:
    """Cancel ``task`` if vSphere allows it and say how it ended."""
    with contextlib.suppress(Exception):  # already over, or not cancelable after all
        if _info(collector, task).get("info.cancelable"):
            task.CancelTask()
    for _ in range(50):  # cancellation is asynchronous: wait (bounded) for the outcome
        with contextlib.suppress(Exception):
            info = _info(collector, task)
            if str(info.get("info.state")) == "success":
                return TaskInterrupted(what, True, info.get("info.result"))
            if str(info.get("info.state")) == "error":
                return TaskInterrupted(what, False)
        time.sleep(0.1)
    return TaskInterrupted(what, False)

