"""A Resource as the panel's JSON row.

Each row says which actions make sense now (``actions``, from the driver's capabilities and
the resource's state; see ``jupyter_virtwork.actions``) and the equivalent CLI line of each
(``commands``), so the panel can teach the command without asking the server again.
"""

from __future__ import annotations

from typing import Any

from ..actions import Action, actions_for, command_for, parse_choice
from ..drivers.base import Driver
from ..models import Kind, Resource

# What the panel shows of each family: the workloads, not images or services.
PANEL_KINDS: dict[str, tuple[Kind, ...]] = {
    "docker": (Kind.CONTAINER,),
    "kubernetes": (Kind.POD,),
    "vsphere": (Kind.VM,),
    "libvirt": (Kind.VM,),
}


def parse_kind(text: str) -> Kind:
    return parse_choice(Kind, text, "kind")


def row(alias: str, driver: Driver, resource: Resource) -> dict[str, Any]:
    """The JSON the panel gets for one resource."""
    actions = actions_for(driver, resource)
    data = resource.to_dict()
    data["connection"] = alias
    data["actions"] = [a.value for a in actions]
    data["commands"] = {a.value: command_for(driver, resource, a) for a in Action}
    data["commands"]["get"] = command_for(driver, resource, "get")
    return data
