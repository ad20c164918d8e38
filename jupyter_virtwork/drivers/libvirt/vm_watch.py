"""A watch of libvirt VMs: lifecycle events from libvirt's event loop, as our Events.

libvirt cannot filter events by label: each event names a domain, looked up in the
watcher's thread (never the event loop's), its metadata first, so another VM's event costs
one small call. When the connection closes, the follow raises, and the Watcher reconnects
and lists again. A change between that listing and the listener's start comes as no event,
so each follow lists once more and emits what differs.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import EngineUnavailable, NotFound
from ...models import Event, EventType, Kind, Resource, ResourceList, State
from ...watch import Emit, Stopper
from ..base import Boundary, labels_match
from . import records
from .connection import Connection
from .events import DEFINED, UNDEFINED, DomainEvents

# (event, domain UUID, domain name) from the event loop; None: wake up (closed, stopped).
Inbox = queue.Queue[tuple[int, str, str] | None]


class VmWatch:
    """The ``list_all`` and ``follow`` of one Watcher of the VMs carrying ``wanted`` labels
    on ``connection``; ``list_vms`` is the driver's list of them."""

    def __init__(self, wanted: Mapping[str, str], connection: Connection,
                 events: DomainEvents, boundary: Boundary,
                 list_vms: Callable[[], ResourceList]) -> None:
        self.wanted = wanted
        self.connection = connection
        self.events = events
        self.boundary = boundary
        self.list_vms = list_vms
        self.listed: dict[str, Resource] = {}  # the last listing, for the catch-up after it

    def list_all(self) -> tuple[ResourceList, str | None]:
        found = self.list_vms()
        self.listed = {r.id: r for r in found}
        return found, None

    def follow(self, since: str | None, emit: Emit, stopper: Stopper) -> None:
        """Block until stopped, turning lifecycle callbacks into Events; raise when the
        connection closes so the Watcher reconnects and re-lists."""
        inbox: Inbox = queue.Queue()

        def on_event(event: int, dom: Any) -> None:
            # Event loop thread: only note it; lookups happen in the watcher thread.
            inbox.put((event, dom.UUIDString(), dom.name()))

        def wake() -> None:
            inbox.put(None)

        with self.boundary("watching VMs", ""):
            self.events.follow(self.connection.get())
        unlisten = self.events.listen(on_event)
        self.connection.close_listeners.append(wake)
        stopper.on_stop(wake)
        try:
            emit_changes(self.listed, {r.id: r for r in self.list_vms()}, emit)
            self._pump(inbox, emit, stopper)
        finally:
            stopper.forget(wake)
            self.connection.close_listeners.remove(wake)
            unlisten()

    def _pump(self, inbox: Inbox, emit: Emit, stopper: Stopper) -> None:
        while not stopper.stopped:
            item = inbox.get()
            if item is None:
                if stopper.stopped:
                    return
                raise EngineUnavailable("the libvirt connection closed",
                                        connection=self.connection.uri)
            event = self._event(*item)
            if event is not None:
                emit(event)

    def _event(self, code: int, uuid: str, name: str) -> Event | None:
        uri = self.connection.uri
        gone = Event(EventType.DELETED, Resource(uri, Kind.VM, uuid, name, State.DELETED))
        if code == UNDEFINED:
            return gone
        try:
            with self.boundary(f"finding VM {uuid!r}", uuid):
                dom = records.lookup(self.connection.get(), uuid)
                owner = records.read_owner(dom)
                if not labels_match(owner.labels, self.wanted):
                    # Another VM's event (one metadata call, not a whole record), or this
                    # one's labels changed out of the selection: gone, for this watch.
                    return gone
                record = records.record(uri, dom, {}, owner=owner)
        except NotFound:
            return gone  # a transient domain that stopped, or deleted meanwhile
        return Event(EventType.ADDED if code == DEFINED else EventType.MODIFIED, record)


def emit_changes(listed: Mapping[str, Resource], now: Mapping[str, Resource],
                 emit: Emit) -> None:
    """Emit what differs between two listings (records by id): a change between a watch's
    listing and its listener's start came as no event (a slow list on a busy host left a
    table showing a VM paused that had been resumed)."""
    for key, old in listed.items():
        if key not in now:
            emit(Event(EventType.DELETED, old))
    for key, new in now.items():
        if listed.get(key) != new:
            emit(Event(EventType.MODIFIED if key in listed else EventType.ADDED, new))
