"""The five actions a live view offers on a workload (start, stop, pause, resume, delete):
when each makes sense, how to run it through a driver, and its equivalent CLI line.

Shared by the notebook's ControlPanel (widgets/controls.py) and the JupyterLab panel's
server (server/handlers.py), so both enable the same buttons in the same states.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TypeVar

from .drivers.base import Driver, Verb
from .errors import InvalidInput, UnsupportedOperation
from .models import Kind, Resource, State


class Action(str, Enum):
    START = "start"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"


VERBS: dict[Action, Verb] = {
    Action.START: Verb.START, Action.STOP: Verb.STOP, Action.PAUSE: Verb.PAUSE,
    Action.RESUME: Verb.RESUME, Action.DELETE: Verb.DESTROY,
}
# The states in which an action makes sense; None: any state.
WHEN: dict[Action, frozenset[State] | None] = {
    Action.START: frozenset({State.CREATED, State.STOPPED}),
    Action.STOP: frozenset({State.RUNNING, State.PAUSED, State.RESTARTING}),
    Action.PAUSE: frozenset({State.RUNNING}),
    Action.RESUME: frozenset({State.PAUSED, State.SUSPENDED}),
    Action.DELETE: None,
}


E = TypeVar("E", bound=Enum)


def parse_choice(enum: type[E], text: str, what: str) -> E:
    """``text`` as a member of ``enum``; a one-line InvalidInput naming the choices."""
    try:
        return enum(text)
    except ValueError:
        raise InvalidInput(f"unknown {what} {text!r}",
                           hint=f"use one of {', '.join(e.value for e in enum)}") from None


def parse_action(text: str) -> Action:
    return parse_choice(Action, text, "action")


def actions_for(driver: Driver, resource: Resource) -> list[Action]:
    return [action for action, states in WHEN.items()
            if VERBS[action] in driver.capabilities
            and (states is None or resource.state in states)]


def command_for(driver: Driver, resource: Resource, action: Action | str) -> str:
    """The CLI line for ``action`` on ``resource``; "" when the driver cannot say."""
    verb = VERBS[action].value if isinstance(action, Action) else action
    try:
        return driver.resource_command(verb, resource)
    except (UnsupportedOperation, InvalidInput):
        return ""


def run(driver: Driver, kind: Kind, id: str, action: Action) -> Resource:
    """Do ``action`` (blocking); the resource afterwards (for delete: as it was, deleted)."""
    if action is Action.DELETE:
        before = driver.get(kind, id)
        driver.destroy(kind, id, force=True)
        return Resource(before.uri, before.kind, before.id, before.name, State.DELETED,
                        before.labels, before.created, before.details)
    change: dict[Action, Callable[[Kind, str], Resource]] = {
        Action.START: driver.start, Action.STOP: driver.stop, Action.PAUSE: driver.pause,
        Action.RESUME: driver.resume}
    return change[action](kind, id)
