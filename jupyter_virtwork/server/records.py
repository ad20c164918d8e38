"""A Resource as the panel's JSON row, and the actions the panel may run on it.

Each row says which actions make sense now (``actions``, from the driver's capabilities and
the resource's state) and the equivalent CLI line of each (``commands``), so the panel can
teach the command without asking the server again.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from ..drivers.base import Driver, Verb
from ..errors import InvalidInput, UnsupportedOperation
from ..models import Kind, Resource, State

# What the panel shows of each family: the workloads, not images or services.
PANEL_KINDS: dict[str, tuple[Kind, ...]] = {
    "docker": (Kind.CONTAINER,),
    "kubernetes": (Kind.POD,),
    "vsphere": (Kind.VM,),
    "libvirt": (Kind.VM,),
}


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


def _parse(enum: type[E], text: str, what: str) -> E:
    try:
        return enum(text)
    except ValueError:
        raise InvalidInput(f"unknown {what} {text!r}",
                           hint=f"use one of {', '.join(e.value for e in enum)}") from None


def parse_action(text: str) -> Action:
    return _parse(Action, text, "action")


def parse_kind(text: str) -> Kind:
    return _parse(Kind, text, "kind")


def actions_for(driver: Driver, resource: Resource) -> list[Action]:
    return [action for action, states in WHEN.items()
            if VERBS[action] in driver.capabilities
            and (states is None or resource.state in states)]


def command_for(driver: Driver, resource: Resource, action: Action | str) -> str:
    """The CLI line for ``action`` on ``resource``; "" when the driver cannot say."""
    verb = VERBS[action].value if isinstance(action, Action) else action
    target = f"{resource.kind.value}/{resource.name}" if driver.name == "kubernetes" \
        else resource.name or resource.id
    try:
        return driver.command(verb, target)
    except (UnsupportedOperation, InvalidInput):
        return ""


def row(alias: str, driver: Driver, resource: Resource) -> dict[str, Any]:
    """The JSON the panel gets for one resource."""
    actions = actions_for(driver, resource)
    data = resource.to_dict()
    data["connection"] = alias
    data["actions"] = [a.value for a in actions]
    data["commands"] = {a.value: command_for(driver, resource, a) for a in Action}
    data["commands"]["get"] = command_for(driver, resource, "get")
    return data


def run(driver: Driver, kind: Kind, id: str, action: Action) -> Resource:
    """Do ``action`` (blocking); the resource afterwards (for delete: as it was, deleted)."""
    if action is Action.DELETE:
        before = driver.get(kind, id)
        driver.destroy(kind, id, force=True)
        return Resource(before.uri, before.kind, before.id, before.name, State.DELETED,
                        before.labels, before.created, before.details)
    verb: Any = getattr(driver, VERBS[action].value)
    result = verb(kind, id)
    if not isinstance(result, Resource):  # a driver that returns nothing: ask again
        result = driver.get(kind, id)
    return result

