"""A VM's snapshot tree as flat records, and finding one snapshot by name.

vSphere keeps snapshots as a tree (``snapshot.rootSnapshotList``); a notebook wants a table:
each record names its parent, and ``current`` marks the one the VM runs from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Snapshot:
    name: str
    id: str  # the snapshot's managed object id
    vm: str  # the VM's name
    created: datetime | None
    description: str = ""
    parent: str | None = None
    current: bool = False
    power_state: str = ""  # the VM's power state when the snapshot was taken

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "vm": self.vm,
                "created": self.created.isoformat() if self.created else None,
                "description": self.description, "parent": self.parent,
                "current": self.current, "power_state": self.power_state}


def flatten(vm_name: str, info: Any) -> list[Snapshot]:
    """Every snapshot in ``info`` (a VM's ``snapshot`` property, None when it has none)."""
    if info is None:
        return []
    current = getattr(info.currentSnapshot, "_moId", None)
    return [_record(vm_name, node, parent, current)
            for node, parent in _walk(info.rootSnapshotList or [], None)]


def _walk(nodes: list[Any], parent: str | None) -> Iterator[tuple[Any, str | None]]:
    for node in nodes:
        yield node, parent
        yield from _walk(node.childSnapshotList or [], str(node.name))


def _record(vm_name: str, node: Any, parent: str | None, current: str | None) -> Snapshot:
    moid = str(node.snapshot._moId)
    return Snapshot(name=str(node.name), id=moid, vm=vm_name, created=node.createTime,
                    description=str(node.description or ""), parent=parent,
                    current=moid == current, power_state=str(node.state or ""))


def find(vm_name: str, info: Any, wanted: str) -> Any:
    """The snapshot managed object named (or with the id) ``wanted``."""
    nodes = [node for node, _ in _walk(getattr(info, "rootSnapshotList", None) or [], None)
             if wanted in (str(node.name), str(node.snapshot._moId))]
    if not nodes:
        raise NotFound(f"VM {vm_name!r} has no snapshot {wanted!r}",
                       hint="list them with snapshots()")
    if len(nodes) > 1:
        ids = ", ".join(str(n.snapshot._moId) for n in nodes)
        raise InvalidInput(f"VM {vm_name!r} has {len(nodes)} snapshots named {wanted!r}",
                           hint=f"give its id instead: one of {ids}")
    return nodes[0].snapshot
