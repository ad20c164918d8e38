"""The Watcher's own logic (list, follow, re-list and diff), driven by an in-memory source.

No SDK is replaced here: the source below stands for "an engine's list and stream" so that
the diffing and recovery rules can be checked exactly; the drivers' tests run the same
Watcher against the real engines.
"""

from __future__ import annotations

import threading

from jupyter_virtwork.models import Event, EventType, Kind, Resource, State
from jupyter_virtwork.watch import EventStream, Informers, Stopper, Watcher


def _vm(name: str, state: State = State.RUNNING) -> Resource:
    return Resource("test:///default", Kind.VM, name, name, state)


class Source:
    """A list that can fail on demand, and a stream the test pushes into."""

    def __init__(self) -> None:
        self.items: dict[str, Resource] = {}
        self.down = False
        self.pending: list[Event] = []
        self.wake = threading.Event()
        self.break_stream = threading.Event()

    def list_all(self) -> tuple[list[Resource], str | None]:
        if self.down:
            raise ConnectionError("engine down")
        return list(self.items.values()), "v1"

    def follow(self, since: str | None, emit, stopper: Stopper) -> None:  # type: ignore[no-untyped-def]
        stopper.on_stop(self.wake.set)
        while not stopper.stopped:
            self.wake.wait(1)
            self.wake.clear()
            if self.break_stream.is_set():
                self.break_stream.clear()
                raise ConnectionError("stream broke")
            while self.pending:
                emit(self.pending.pop(0))

    def push(self, event: Event) -> None:
        self.pending.append(event)
        self.wake.set()


def _next(stream: EventStream, wanted: EventType) -> Event:
    while True:
        event = stream.get(timeout=5)
        assert event is not None, f"no {wanted} event arrived"
        if event.type is wanted:
            return event


def test_initial_list_then_stream_events() -> None:
    source = Source()
    source.items["a"] = _vm("a")
    with Watcher(source.list_all, source.follow, name="t").start() as stream:
        assert _next(stream, EventType.ADDED).resource == _vm("a")
        _next(stream, EventType.SYNCED)
        source.push(Event(EventType.ADDED, _vm("b")))
        assert _next(stream, EventType.ADDED).resource == _vm("b")
        source.push(Event(EventType.DELETED, _vm("b")))
        assert _next(stream, EventType.DELETED).resource == _vm("b")


def test_a_broken_stream_reports_once_and_relists_the_gap() -> None:
    source = Source()
    source.items["a"] = _vm("a")
    watcher = Watcher(source.list_all, source.follow, name="t", backoff=(0.05, 0.1))
    with watcher.start() as stream:
        _next(stream, EventType.SYNCED)
        source.down = True
        source.break_stream.set()
        source.wake.set()
        error = _next(stream, EventType.ERROR)
        assert "disconnected" in error.message
        # While it was away: "a" changed, "b" appeared. Nothing was streamed about either.
        source.items["a"] = _vm("a", State.PAUSED)
        source.items["b"] = _vm("b")
        source.down = False
        seen = {}
        while True:
            event = stream.get(timeout=5)
            assert event is not None
            if event.type is EventType.SYNCED:
                break
            assert event.type is not EventType.ERROR, "reported the same outage twice"
            assert event.resource is not None
            seen[event.resource.name] = event.type
        assert seen == {"a": EventType.MODIFIED, "b": EventType.ADDED}
        assert {r.name: r.state for r in watcher.snapshot()} == \
            {"a": State.PAUSED, "b": State.RUNNING}


def test_poll_and_diff_without_a_native_stream() -> None:
    source = Source()
    with Watcher(source.list_all, None, name="t", poll_interval=0.05).start() as stream:
        _next(stream, EventType.SYNCED)
        source.items["a"] = _vm("a")
        assert _next(stream, EventType.ADDED).resource == _vm("a")
        del source.items["a"]
        assert _next(stream, EventType.DELETED).resource == _vm("a")


def test_close_is_idempotent_and_ends_every_consumer() -> None:
    source = Source()
    stream = Watcher(source.list_all, source.follow, name="t").start()
    ended = threading.Event()

    def consume() -> None:
        for _ in stream:
            pass
        ended.set()

    thread = threading.Thread(target=consume)
    thread.start()
    stream.close()
    stream.close()
    assert ended.wait(5)
    assert stream.get(timeout=0.1) is None


def test_informers_answer_from_a_synced_watcher_of_the_same_selector_only() -> None:
    source = Source()
    source.items = {"a": _vm("a")}
    informers = Informers()
    labelled = {"team": "x"}
    assert informers.cached(Kind.VM) is None  # nothing registered
    watcher = Watcher(source.list_all, source.follow, name="test")
    informers.add(Kind.VM, None, watcher)
    assert informers.cached(Kind.VM) is None  # registered, not listed yet
    stream = watcher.start()
    try:
        _next(stream, EventType.SYNCED)
        assert [r.name for r in informers.cached(Kind.VM) or []] == ["a"]
        assert informers.cached(Kind.VM, labelled) is None  # another selector: the engine
        assert informers.cached(Kind.CONTAINER) is None

        source.push(Event(EventType.ADDED, _vm("b")))
        _next(stream, EventType.ADDED)  # delivered: the cache holds it
        assert sorted(r.name for r in informers.cached(Kind.VM) or []) == ["a", "b"]

        source.down = True  # the stream breaks and the re-list fails: not synced
        source.break_stream.set()
        source.wake.set()
        _next(stream, EventType.ERROR)
        assert informers.cached(Kind.VM) is None
        source.down = False
        _next(stream, EventType.SYNCED)
        assert sorted(r.name for r in informers.cached(Kind.VM) or []) == ["a"]
    finally:
        stream.close()
    assert informers.cached(Kind.VM) is None  # a closed watch answers nothing
    assert informers._watchers == {}  # and is forgotten
