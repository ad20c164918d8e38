"""A watch of containers or images: one list, then the engine's event stream from the
engine's own clock at that list, as our Events.

The engine filters its events by type and label; each event names an object, read again
so that the Event carries the object as the event left it. A stream that ends by itself
means its link broke: the follow raises, and the Watcher lists and follows again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ...errors import EngineUnavailable, NotFound
from ...models import Event, EventType, Kind, Resource, ResourceList, State
from ...watch import Emit, Stopper
from .connection import Connection
from .records import kubelet_owned, state_of

# Actions that change nothing a row shows.
QUIET_ACTIONS = ("exec_", "health_status", "top", "attach")


class EngineEvents:
    """The ``list_all`` and ``follow`` of one Watcher of the ``kind`` objects carrying
    ``wanted`` labels on ``connection``; ``list_them`` and ``get`` are the driver's."""

    def __init__(self, kind: Kind, wanted: Mapping[str, str], connection: Connection,
                 list_them: Callable[[Kind, Mapping[str, str]], ResourceList],
                 get: Callable[[Kind, str], Resource]) -> None:
        self.kind = kind
        self.wanted = wanted
        self.connection = connection
        self.list_them = list_them
        self.get = get

    def list_all(self) -> tuple[ResourceList, str | None]:
        since = self.server_time()
        return self.list_them(self.kind, self.wanted), since

    def follow(self, since: str | None, emit: Emit, stopper: Stopper) -> None:
        filters = {"type": "container" if self.kind is Kind.CONTAINER else "image",
                   "label": [f"{k}={v}" for k, v in self.wanted.items()]}
        with self.connection.boundary("following engine events"):
            events = self.connection.api(streaming=True).events(since=since, filters=filters,
                                                                 decode=True)
            stopper.on_stop(events.close)
            for native in events:
                if stopper.stopped:
                    return
                if self.wanted and kubelet_owned((native.get("Actor") or {}).get("Attributes")):
                    continue
                event = self.event(native)
                if event is not None:
                    emit(event)
        if not stopper.stopped:  # the stream never ends by itself: its link broke
            raise EngineUnavailable("the engine's event stream ended",
                                    connection=self.connection.uri)

    def server_time(self) -> str:
        """The engine's clock, in whole seconds since the epoch: where the stream starts."""
        with self.connection.boundary("reading the engine clock"):
            info = self.connection.api().info()
        system_time = str(info.get("SystemTime", ""))
        moment = datetime.fromisoformat(system_time[:26].rstrip("Z")) if system_time else None
        return str(int(moment.replace(tzinfo=timezone.utc).timestamp())) if moment else "0"

    def event(self, native: Mapping[str, Any]) -> Event | None:
        """Our Event for one of the engine's; None for one that changes no row."""
        kind, uri = self.kind, self.connection.uri
        action = str(native.get("Action") or native.get("status") or "")
        actor = native.get("Actor") or {}
        object_id = str(actor.get("ID") or native.get("id") or "")
        if not object_id or action.startswith(QUIET_ACTIONS):
            return None
        if action in ("destroy", "delete", "untag"):
            stub = Resource(uri, kind, object_id, object_id, State.DELETED)
            if kind is Kind.IMAGE and action == "untag":
                return self.image_event(object_id)
            return Event(EventType.DELETED, stub)
        try:
            resource = self.get(kind, object_id)
            if kind is Kind.CONTAINER:
                resource = self.with_inspected_state(resource)
        except NotFound:
            return None  # gone again before we asked; its destroy event follows
        return Event(EventType.MODIFIED, resource)

    def with_inspected_state(self, resource: Resource) -> Resource:
        """dockerd 20.10 sends pause/unpause before its container list shows the change;
        inspect already has it, so an event's row carries the state the event announced."""
        with self.connection.boundary(f"inspecting {resource.name!r}", resource.name):
            status = str(self.connection.api().inspect_container(resource.id)["State"]["Status"])
        state = state_of(status)
        return resource if state is resource.state else dataclasses.replace(resource,
                                                                            state=state)

    def image_event(self, image_id: str) -> Event:
        """An untagged image is still there (another tag, or none) or gone with its tag."""
        try:
            return Event(EventType.MODIFIED, self.get(Kind.IMAGE, image_id))
        except NotFound:
            return Event(EventType.DELETED, Resource(self.connection.uri, Kind.IMAGE, image_id,
                                                     image_id, State.DELETED))
