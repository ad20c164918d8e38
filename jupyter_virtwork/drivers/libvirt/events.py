"""One connection's domain events, registered once and handed to every listener, and the
domains' ``<metadata>`` that those events keep right.

libvirt refuses a second registration of an event on one connection ("event callback
already tracked": two live tables on one connection broke the second), so a driver holds
one ``DomainEvents`` and its watches listen to it.

It also keeps each domain's ``<metadata>`` (labels, guest OS) by UUID for lists: libvirt
has no bulk call that returns it, and one ``metadata`` RPC per domain made a list of 20
domains 1.4x the raw stats call. The metadata-change and lifecycle (defined, undefined)
events keep it right; it is forgotten with the connection, and not kept at all where the
connection has no metadata-change event.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from .definition import Owner
from .sdk import import_libvirt

DEFINED = 0  # VIR_DOMAIN_EVENT_DEFINED
UNDEFINED = 1  # VIR_DOMAIN_EVENT_UNDEFINED
METADATA_CHANGED = -1  # our own code, beside libvirt's lifecycle events, for listeners

Listener = Callable[[int, Any], None]  # (event, domain), in the event loop thread


class DomainEvents:
    """The domain events of the connection last ``follow``ed, and the owners they keep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registering = threading.Lock()  # two registrations at once would collide
        self._conn: Any = None  # the connection whose events these are
        self._callbacks: list[int] = []
        self._listeners: list[Listener] = []
        self._owners: dict[str, Owner] | None = None  # None: no metadata events, no cache
        self._changes = 0  # events seen: a read that raced one is not kept

    def follow(self, conn: Any) -> None:
        """Receive ``conn``'s events (one RPC each, once); raises libvirtError where
        ``conn`` has no lifecycle events."""
        with self._registering:
            if self._conn is conn:
                return
            self.forget()
            libvirt = import_libvirt()
            callbacks = [conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None)]
            with contextlib.suppress(libvirt.libvirtError):  # drivers without it: no cache
                callbacks.append(conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, self._metadata, None))
            with self._lock:
                self._conn, self._callbacks = conn, callbacks
                self._owners = {} if len(callbacks) == 2 else None

    def forget(self) -> None:
        with self._lock:
            conn, callbacks, self._conn, self._callbacks = self._conn, self._callbacks, None, []
            self._owners = None
            self._changes += 1
        for callback in callbacks:
            with contextlib.suppress(Exception):
                conn.domainEventDeregisterAny(callback)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, dom)`` in the event loop thread for every lifecycle event
        (``METADATA_CHANGED`` for a metadata change) until the returned call."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return stop

    def owner(self, dom: Any, read: Callable[[Any], Owner]) -> Owner:
        """``dom``'s owner from the cache, else ``read`` (kept unless an event came)."""
        uuid = dom.UUIDString()  # no RPC: the domain object holds it
        with self._lock:
            owners, changes = self._owners, self._changes
            known = owners.get(uuid) if owners is not None else None
        if known is not None:
            return known
        owner = read(dom)
        with self._lock:
            if owners is not None and owners is self._owners and changes == self._changes:
                owners[uuid] = owner
        return owner

    def _lifecycle(self, _conn: Any, dom: Any, event: int, _detail: int, _opaque: Any) -> None:
        self._dispatch(event, dom)

    def _metadata(self, _conn: Any, dom: Any, _type: int, _ns: Any, _opaque: Any) -> None:
        self._dispatch(METADATA_CHANGED, dom)

    def _dispatch(self, event: int, dom: Any) -> None:
        """The event loop thread: no calls into libvirt here, only note it."""
        with self._lock:
            # DEFINED: a new definition may carry new metadata; UNDEFINED: gone.
            if self._owners is not None and event in (DEFINED, UNDEFINED, METADATA_CHANGED):
                self._owners.pop(dom.UUIDString(), None)
                self._changes += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event, dom)
