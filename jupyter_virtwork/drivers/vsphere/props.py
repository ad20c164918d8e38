"""Reading VMs through vSphere's PropertyCollector: one round trip for a whole inventory.

pyVmomi caches nothing, so ``vm.name`` on each of 1000 VMs is 1000 SOAP calls. A
ContainerView over the root folder plus one RetrievePropertiesEx with a TraversalSpec into
the view returns every VM's properties at once; the server may page a large answer, which
``retrieve`` follows with ContinueRetrievePropertiesEx.

``UpdateFeed`` follows changes with WaitForUpdatesEx on a PropertyCollector of its own
(CreatePropertyCollector), so a watch neither sees nor disturbs anyone else's filters.
Its first answer is the full set (every VM "enter"s), which is what a watch lists from: no
change can fall between the list and the follow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .session import sdk

# Everything a VM record shows; one request carries all of them.
VM_PATHS: tuple[str, ...] = (
    "name", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB",
    "config.annotation", "config.guestId",
)
MAX_WAIT_SECONDS = 5  # a blocked WaitForUpdatesEx returns this often, to notice a stop


def vm_view(content: Any) -> Any:
    """A ContainerView of every VM below the root folder (the caller destroys it)."""
    vim, _ = sdk()

    return content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine],
                                                   True)


def filter_spec(view: Any, paths: Sequence[str] = VM_PATHS) -> Any:
    """Every VM in ``view`` (the view itself skipped), with ``paths``."""
    vim, vmodl = sdk()

    collector = vmodl.query.PropertyCollector
    into_view = collector.TraversalSpec(name="view", path="view", skip=False,
                                        type=vim.view.ContainerView)
    return collector.FilterSpec(
        objectSet=[collector.ObjectSpec(obj=view, skip=True, selectSet=[into_view])],
        propSet=[collector.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))])


def object_spec(objects: Sequence[Any], paths: Sequence[str] = VM_PATHS) -> Any:
    """The given VMs (managed object references), with ``paths``."""
    vim, vmodl = sdk()

    collector = vmodl.query.PropertyCollector
    return collector.FilterSpec(
        objectSet=[collector.ObjectSpec(obj=obj, skip=False) for obj in objects],
        propSet=[collector.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))])


def retrieve(collector: Any, spec: Any) -> list[Any]:
    """Every ObjectContent for ``spec``, following the server's continuation tokens."""
    _, vmodl = sdk()

    result = collector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
    contents: list[Any] = []
    while result is not None:
        contents.extend(result.objects)
        if not result.token:
            break
        result = collector.ContinueRetrievePropertiesEx(result.token)
    return contents


def as_dict(content: Any) -> dict[str, Any]:
    """``{"_moid": "vm-57", "name": ..., "runtime.powerState": ...}``, JSON-friendly."""
    props: dict[str, Any] = {"_moid": str(content.obj._moId)}
    for prop in content.propSet:
        props[str(prop.name)] = _plain(prop.val)
    return props


# A list runs _plain on every property of every VM: the common exact types skip the checks.
_KEPT_AS_IS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """pyVmomi enums and strings are str subclasses; keep records to builtin types."""
    if type(value) in _KEPT_AS_IS or isinstance(value, bool | int | float):
        return value
    return str(value)


# --- following changes ---------------------------------------------------------------------

ENTER, MODIFY, LEAVE = "enter", "modify", "leave"


@dataclass(frozen=True)
class Change:
    kind: str  # enter | modify | leave
    moid: str
    props: dict[str, Any]  # what changed (everything on enter; nothing on leave)


class UpdateFeed:
    """A PropertyCollector of our own, filtered on every VM in a ContainerView."""

    def __init__(self, content: Any, paths: Sequence[str] = VM_PATHS) -> None:
        self._content = content
        self._paths = paths
        self._view: Any = None
        self._collector: Any = None

    def open(self) -> tuple[list[Change], str]:
        """Create the collector and filter; the full set of VMs and the version after it."""
        _, vmodl = sdk()

        self._view = vm_view(self._content)
        self._collector = self._content.propertyCollector.CreatePropertyCollector()
        self._collector.CreateFilter(filter_spec(self._view, self._paths), partialUpdates=False)
        changes: list[Change] = []
        version = ""
        while True:  # a large initial set arrives in truncated pieces
            update = self._collector.WaitForUpdatesEx(
                version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=0))
            if update is None:
                return changes, version
            changes.extend(_changes(update))
            version = str(update.version)
            if not update.truncated:
                return changes, version

    def wait(self, version: str, on_changes: Callable[[list[Change]], None]) -> str:
        """Block up to MAX_WAIT_SECONDS; pass on what changed; the version to wait from."""
        _, vmodl = sdk()

        update = self._collector.WaitForUpdatesEx(
            version, vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=MAX_WAIT_SECONDS))
        if update is None:
            return version
        on_changes(list(_changes(update)))
        return str(update.version)

    def interrupt(self) -> None:
        """End a blocked ``wait`` from another thread (it raises RequestCanceled)."""
        if self._collector is not None:
            self._collector.CancelWaitForUpdates()

    def close(self) -> None:
        """Destroy the collector (and its filter) and the view; best effort, idempotent."""
        collector, self._collector = self._collector, None
        view, self._view = self._view, None
        for release in (getattr(collector, "DestroyPropertyCollector", None),
                        getattr(view, "Destroy", None)):
            if release is not None:
                with contextlib.suppress(Exception):
                    release()


def _changes(update: Any) -> Iterator[Change]:
    vim, _ = sdk()

    for filter_update in update.filterSet or []:
        for obj in filter_update.objectSet or []:
            if not isinstance(obj.obj, vim.VirtualMachine):
                continue
            # A property that became unset (an annotation cleared) arrives as a removal.
            props = {str(c.name): None if c.op in ("remove", "indirectRemove") else _plain(c.val)
                     for c in obj.changeSet or []}
            yield Change(str(obj.kind), str(obj.obj._moId), props)
