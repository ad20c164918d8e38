"""Where a new VM goes: datacenter, VM folder, resource pool, datastore and network.

Defaults follow govc: the first datacenter's VM folder; the first cluster (else the first
standalone host) and its root resource pool; that compute resource's first datastore and
first network. Each can be named instead (driver options ``datacenter=``, ``cluster=``,
``datastore=``; ``VMSpec.network``); a name that does not exist is refused with the names
that do, before anything is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import InvalidInput
from .props import retrieve
from .session import sdk
from .specs import Placement


def find(content: Any, *, datacenter: str | None, cluster: str | None,
         datastore: str | None, network: str | None) -> Placement:
    vim, _ = sdk()

    dc = _pick(_named(content, content.rootFolder, vim.Datacenter), datacenter, "datacenter")
    computes = _named(content, dc.hostFolder, vim.ComputeResource)
    clusters = [(n, o) for n, o in computes if isinstance(o, vim.ClusterComputeResource)]
    compute = _pick(computes if cluster else clusters or computes, cluster, "cluster or host")
    stores = _names_of(content, compute.datastore) or _names_of(content, dc.datastore)
    store_name = _name_of(stores, datastore, "datastore")
    return Placement(folder=dc.vmFolder, pool=compute.resourcePool, datastore=store_name,
                     network=_network(content, compute, network))


def _network(content: Any, compute: Any, wanted: str | None) -> Any | None:
    """The named network, else the first standard network, else the first distributed
    port group that is not a switch's uplink group; None if there is none."""
    vim, _ = sdk()

    networks = _names_of(content, compute.network)
    if wanted is not None:
        return _pick(networks, wanted, "network")
    standard = [o for _, o in networks if not isinstance(o, vim.dvs.DistributedVirtualPortgroup)]
    if standard:
        return standard[0]
    for _, group in networks:
        if not group.config.uplink:
            return group
    return None


def _named(content: Any, root: Any, kind: Any) -> list[tuple[str, Any]]:
    """(name, object) of every ``kind`` below ``root``, in inventory order."""
    view = content.viewManager.CreateContainerView(root, [kind], True)
    try:
        return _names_of(content, view.view)
    finally:
        view.Destroy()


def _names_of(content: Any, objects: Sequence[Any]) -> list[tuple[str, Any]]:
    """Names of many objects in one PropertyCollector call (not one call each)."""
    _, vmodl = sdk()

    if not objects:
        return []
    collector = vmodl.query.PropertyCollector
    spec = collector.FilterSpec(
        objectSet=[collector.ObjectSpec(obj=o) for o in objects],
        propSet=[collector.PropertySpec(type=type(o), pathSet=["name"])
                 for o in {type(o): o for o in objects}.values()])
    names = {c.obj._moId: str(c.propSet[0].val) for c in retrieve(content.propertyCollector,
                                                                     spec) if c.propSet}
    return [(names.get(o._moId, o._moId), o) for o in objects]


def _pick(found: list[tuple[str, Any]], wanted: str | None, what: str) -> Any:
    if not found:
        raise InvalidInput(f"this vSphere has no {what} to place a VM in")
    if wanted is None:
        return found[0][1]
    for name, obj in found:
        if name == wanted:
            return obj
    raise InvalidInput(f"no {what} named {wanted!r}",
                       hint=f"choose one of {', '.join(n for n, _ in found)}")


def _name_of(found: list[tuple[str, Any]], wanted: str | None, what: str) -> str:
    chosen = _pick(found, wanted, what)
    return next(name for name, obj in found if obj is chosen)
