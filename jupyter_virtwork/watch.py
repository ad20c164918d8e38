"""Live views of an engine: ``EventStream`` (what a driver's ``watch`` returns) and
``Watcher`` (the Kubernetes informer pattern, for every backend).

A Watcher lists, then follows the engine's native event stream from that point. When the
stream breaks (the engine restarted, a watch expired with 410 Gone, the network dropped) it
reports ``ERROR`` once ("disconnected, retrying"), re-lists with backoff, and emits the
difference between its cache and the fresh list, so no change is missed across the gap; then
``SYNCED`` and it follows again. Backends without a native stream poll and diff instead.

``Informers``: a connection's running Watchers by kind and label selector. While one is
synced, a list of the same kind and selector answers from its cache (client-go's lister):
no request to the engine, and never older than the events the Watcher has delivered.

Handler errors never kill the thread (the informer's rule): the consumer reads from a queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from .models import Event, EventType, Kind, Resource

log = logging.getLogger(__name__)

# How an ERROR event's message begins (then the failure); a live table words it in the
# learner's language (messages.RETRYING).
RETRYING = "disconnected, retrying: "

Key = tuple[str, str]  # (kind, id)
Emit = Callable[[Event], None]


class Stopper:
    """A stop flag that can also interrupt a blocked read: followers register closers."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if stopped meanwhile."""
        return self._stopped.wait(seconds)

    def on_stop(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` at stop (at once if already stopped), e.g. to close a response."""
        with self._lock:
            if not self._stopped.is_set():
                self._closers.append(closer)
                return
        _quietly(closer)

    def forget(self, closer: Callable[[], None]) -> None:
        with self._lock:
            if closer in self._closers:
                self._closers.remove(closer)

    def stop(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            closers, self._closers = self._closers, []
        for closer in closers:
            _quietly(closer)


def _quietly(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:
        log.debug("closer failed", exc_info=True)


class EventStream:
    """An iterable of Events fed by a background producer; ``close()`` is thread-safe and
    idempotent, and ends the iteration of any consumer."""

    _END = object()

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self.stopper = Stopper()
        self.stopper.on_stop(lambda: self._queue.put(self._END))

    def put(self, event: Event) -> None:
        if not self.stopper.stopped:
            self._queue.put(event)

    def close(self) -> None:
        self.stopper.stop()

    @property
    def closed(self) -> bool:
        return self.stopper.stopped

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None at the end of the stream or after ``timeout``."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is self._END:
            self._queue.put(self._END)  # let every other consumer see the end too
            return None
        assert isinstance(item, Event)
        return item

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get()
            if event is None:
                return
            yield event

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Lister(Protocol):
    def __call__(self) -> tuple[Sequence[Resource], str | None]:
        """Everything in scope now, and a version to follow from (None if not versioned)."""


class Follower(Protocol):
    def __call__(self, since: str | None, emit: Emit, stopper: Stopper) -> None:
        """Follow the engine's stream from ``since``, calling ``emit``; return or raise when
        the stream ends. Register a closer on ``stopper`` to interrupt a blocked read."""


class Watcher:
    """List, follow, and re-list on failure; feeds an EventStream from one daemon thread."""

    def __init__(self, list_all: Lister, follow: Follower | None, *, name: str,
                 poll_interval: float = 2.0, backoff: tuple[float, float] = (0.2, 2.0)) -> None:
        self._list_all = list_all
        self._follow = follow
        self._poll_interval = poll_interval
        self._backoff = backoff
        self.stream = EventStream()
        self._cache: dict[Key, Resource] = {}
        self._cache_lock = threading.Lock()  # snapshot() reads from other threads
        self._synced = threading.Event()  # the cache is the engine's state plus its events
        self._thread = threading.Thread(target=self._run, name=f"virtwork-watch-{name}",
                                        daemon=True)

    def start(self) -> EventStream:
        self._thread.start()
        return self.stream

    def _run(self) -> None:
        stopper = self.stream.stopper
        delay = self._backoff[0]
        connected = True
        while not stopper.stopped:
            try:
                version = self._resync()
                if not connected:
                    log.info("watch reconnected")
                connected, delay = True, self._backoff[0]
                self._synced.set()
                self._emit(Event(EventType.SYNCED, None))
                if self._follow is None:
                    stopper.wait(self._poll_interval)
                    continue
                self._follow(version, self._apply, stopper)
                self._synced.clear()  # the stream ended (410 Gone, a timeout): re-list first
            except Exception as exc:  # noqa: BLE001 - any failure: report, back off, re-list
                self._synced.clear()
                if stopper.stopped:
                    break
                if connected:
                    self._emit(Event(EventType.ERROR, None, f"{RETRYING}{exc}"))
                connected = False
                stopper.wait(delay)
                delay = min(delay * 2, self._backoff[1])
        self._synced.clear()

    def _resync(self) -> str | None:
        """Re-list and emit what changed since the cache was last right."""
        resources, version = self._list_all()
        fresh = {(r.kind.value, r.id): r for r in resources}
        with self._cache_lock:
            cached = dict(self._cache)
        for key, old in cached.items():
            if key not in fresh:
                self._apply(Event(EventType.DELETED, old))
        for key, new in fresh.items():
            self._apply(Event(EventType.ADDED if key not in cached else EventType.MODIFIED, new))
        return version

    def _apply(self, event: Event) -> None:
        """Keep the cache in step and pass the event on; drop no-op modifications."""
        resource = event.resource
        with self._cache_lock:
            event_or_none = self._update_cache(event) if resource is not None else event
        if event_or_none is not None:
            self._emit(event_or_none)

    def _update_cache(self, event: Event) -> Event | None:
        """Apply ``event`` to the cache; the event to emit, or None for a no-op."""
        resource = event.resource
        assert resource is not None
        key = (resource.kind.value, resource.id)
        if event.type is EventType.DELETED:
            # Engines often say little about what they deleted (docker's destroy event has
            # no state): hand on the last record we knew.
            last = self._cache.pop(key, None)
            return Event(EventType.DELETED, last, event.message) if last is not None else None
        old = self._cache.get(key)
        if old == resource:
            return None
        self._cache[key] = resource
        if old is None and event.type is EventType.MODIFIED:
            return Event(EventType.ADDED, resource, event.message)
        if old is not None and event.type is EventType.ADDED:
            return Event(EventType.MODIFIED, resource, event.message)
        return event

    def _emit(self, event: Event) -> None:
        self.stream.put(event)

    @property
    def synced(self) -> bool:
        """Listed, and following the engine since without a break: the cache is exact up
        to the events delivered."""
        return self._synced.is_set() and not self.stream.stopper.stopped

    def snapshot(self) -> list[Resource]:
        with self._cache_lock:
            return list(self._cache.values())


Selector = frozenset[tuple[str, str]]


class Informers:
    """The Watchers running on one connection, keyed by kind and label selector; lists of
    that kind and selector answer from a synced one (``cached``) instead of the engine.

    The selector must be the same, not only narrower: some drivers list differently with a
    selector (docker drops the kubelet's containers from a labelled list)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[tuple[Kind, Selector], list[Watcher]] = {}

    def add(self, kind: Kind, labels: Mapping[str, str] | None, watcher: Watcher) -> None:
        """Register ``watcher`` until its stream closes."""
        key = (kind, _selector(labels))
        with self._lock:
            self._watchers.setdefault(key, []).append(watcher)
        watcher.stream.stopper.on_stop(lambda: self._remove(key, watcher))

    def _remove(self, key: tuple[Kind, Selector], watcher: Watcher) -> None:
        with self._lock:
            watchers = self._watchers.get(key, [])
            if watcher in watchers:
                watchers.remove(watcher)
            if not watchers:
                self._watchers.pop(key, None)

    def cached(self, kind: Kind, labels: Mapping[str, str] | None = None,
               ) -> list[Resource] | None:
        """What a synced Watcher of ``kind`` and ``labels`` holds now; None when none is."""
        with self._lock:
            watchers = list(self._watchers.get((kind, _selector(labels)), []))
        for watcher in watchers:
            if watcher.synced:
                return [r for r in watcher.snapshot() if r.kind is kind]
        return None


def _selector(labels: Mapping[str, str] | None) -> Selector:
    return frozenset((labels or {}).items())
