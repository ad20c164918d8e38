"""Live events for the panel: one watcher per connection and kind, shared by every tab.

A ``Feed`` opens ``driver.watch(kind)`` in a thread of its own, turns each Event into the
panel's JSON (off the event loop: a row may call into the driver) and hands it to the loop,
where it updates the feed's rows and goes to every subscriber. The driver's Watcher reports
a lost engine as ERROR and its return as SYNCED; the feed turns those into the connection's
``disconnected`` / ``connected`` status. If even opening the watch fails (a bad kubeconfig),
the feed says why and tries again.

The hub starts the feeds with the first subscriber and stops them a while after the last
one leaves, so reloading a tab does not restart every watcher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tornado.ioloop import IOLoop

from ..drivers.base import Driver
from ..errors import VirtworkError
from ..models import Event, EventType, Kind, StreamStatus
from ..watch import EventStream
from . import records
from .config import Endpoint
from .redact import Redactor

log = logging.getLogger(__name__)

Message = dict[str, Any]
Subscriber = Callable[[Message], None]
Opener = Callable[[str], tuple[Endpoint, Driver]]  # an alias's endpoint and driver, now

REOPEN_SECONDS = 3.0  # after a failed open, or a stream that ended while still wanted
IDLE_SECONDS = 30.0  # feeds outlive their last subscriber this long


class Feed:
    """One connection and kind: its rows, its status, and the thread that follows it."""

    def __init__(self, hub: FeedHub, endpoint: Endpoint, kind: Kind) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.kind = kind
        self.rows: dict[str, Message] = {}
        self.status = StreamStatus.CONNECTING
        self.message = ""
        self._stream: EventStream | None = None
        self._stopped = threading.Event()

    @property
    def alias(self) -> str:
        return self.endpoint.alias

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"virtwork-feed-{self.alias}-{self.kind}",
                         daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def snapshot(self) -> Message:
        return {"type": "snapshot", "connection": self.alias, "kind": self.kind.value,
                "status": self.status, "message": self.message,
                "rows": list(self.rows.values())}

    # --- the feed's thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                _, driver = self.hub.open_driver(self.alias)
                self._stream = driver.watch(self.kind)
            except VirtworkError as exc:
                self._post({"type": "status", "status": StreamStatus.DISCONNECTED,
                            "message": exc.one_line()})
                self._stopped.wait(REOPEN_SECONDS)
                continue
            if self._stopped.is_set():
                self._stream.close()
                return
            # A fresh watcher lists everything again: start the rows afresh too.
            self._post({"type": "snapshot", "status": StreamStatus.CONNECTING, "message": "",
                        "rows": []})
            self._pump(self._stream, driver)
            self._stopped.wait(REOPEN_SECONDS)  # the stream ended under us: open again

    def _pump(self, stream: EventStream, driver: Driver) -> None:
        for event in stream:
            try:
                self._post(self._message(event, driver))
            except Exception:  # a bad row must not end the feed (informer rule)
                log.exception("virtwork: could not turn an event into a row")

    def _message(self, event: Event, driver: Driver) -> Message:
        status = StreamStatus.after(event)
        if status is not None:
            return {"type": "status", "status": status, "message": event.message}
        assert event.resource is not None
        return {"type": "event", "event": event.type.value,
                "row": records.row(self.alias, driver, event.resource)}

    def _post(self, message: Message) -> None:
        message.update(connection=self.alias, kind=self.kind.value)
        self.hub.loop.add_callback(self._apply, self.hub.redactor.data(message))

    # --- on the event loop ----------------------------------------------------------------

    def _apply(self, message: Message) -> None:
        if self._stopped.is_set():
            return
        if message["type"] == "snapshot":
            self.rows = {}
            self.status, self.message = StreamStatus(message["status"]), message["message"]
        elif message["type"] == "status":
            if (message["status"], message["message"]) == (self.status, self.message):
                return
            self.status, self.message = StreamStatus(message["status"]), message["message"]
        else:
            row = message["row"]
            if message["event"] == EventType.DELETED.value:
                self.rows.pop(row["id"], None)
            else:
                self.rows[row["id"]] = row
        self.hub.broadcast(message)


class FeedHub:
    """The feeds of every endpoint the policy allows, and who listens to them."""

    def __init__(self, open_driver: Opener, redactor: Redactor, loop: IOLoop) -> None:
        self.open_driver = open_driver
        self.redactor = redactor
        self.loop = loop
        self._feeds: dict[tuple[str, str], Feed] = {}
        self._subscribers: list[Subscriber] = []
        self._idle_timer: object | None = None

    def subscribe(self, subscriber: Subscriber,
                  endpoints: dict[str, Endpoint]) -> list[Message]:
        """Add a listener (on the loop) given the policy's endpoints (resolved off the
        loop: it reads files); returns the snapshot to send it first."""
        self._cancel_idle()
        self._subscribers.append(subscriber)
        self.refresh(endpoints)
        return [feed.snapshot() for feed in self._feeds.values()]

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
        if not self._subscribers:
            self._cancel_idle()
            self._idle_timer = self.loop.call_later(IDLE_SECONDS, self.stop)

    def refresh(self, endpoints: dict[str, Endpoint]) -> None:
        """Start feeds for endpoints that appeared; stop those of endpoints that went."""
        wanted: dict[tuple[str, str], Endpoint] = {}
        for endpoint in endpoints.values():
            for kind in records.PANEL_KINDS.get(endpoint.family, ()):
                wanted[(endpoint.alias, kind.value)] = endpoint
        for key, feed in list(self._feeds.items()):
            if wanted.get(key) != feed.endpoint:
                feed.stop()
                del self._feeds[key]
        for key, endpoint in wanted.items():
            if key not in self._feeds:
                feed = self._feeds[key] = Feed(self, endpoint, Kind(key[1]))
                feed.start()

    def broadcast(self, message: Message) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(message)
            except Exception:  # one broken tab must not starve the others
                log.debug("virtwork: a subscriber failed", exc_info=True)
                self.unsubscribe(subscriber)

    def status(self) -> dict[str, tuple[StreamStatus, str]]:
        """Per alias, the worst status of its feeds and why (for GET /connections)."""
        found: dict[str, tuple[StreamStatus, str]] = {}
        for feed in self._feeds.values():
            if found.get(feed.alias, (StreamStatus.CONNECTED, ""))[0] is StreamStatus.CONNECTED:
                found[feed.alias] = (feed.status, feed.message)
        return found

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self.loop.remove_timeout(self._idle_timer)
            self._idle_timer = None

    def stop(self) -> None:
        self._idle_timer = None
        for feed in self._feeds.values():
            feed.stop()
        self._feeds.clear()
