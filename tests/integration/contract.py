"""The contract every driver passes on its real engine (libcloud's shared test mixin).

A driver's test module subclasses ``DriverContract`` and provides:
- a ``driver`` fixture (a connected driver),
- a ``fresh_driver`` fixture: a driver of its own on the same engine, for a test that
  closes it,
- ``kind`` (what the contract creates) and ``make_spec(name, labels)``,
- ``unsupported``: a (verb, kind) pair the driver does not support.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.errors import NotFound, UnsupportedOperation
from jupyter_virtwork.models import Event, EventType, Kind, Resource
from jupyter_virtwork.watch import EventStream


class DriverContract:
    kind: ClassVar[Kind]
    unsupported: ClassVar[tuple[str, Kind]]

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        raise NotImplementedError

    @pytest.fixture
    def session_labels(self) -> dict[str, str]:
        return ownership.ownership(f"contract-{uuid.uuid4().hex[:8]}")

    @pytest.fixture
    def created(self, driver: Any) -> Iterator[list[Resource]]:
        """Resources a test made; destroyed afterwards even when the test fails."""
        made: list[Resource] = []
        yield made
        for resource in made:
            try:
                driver.destroy(resource.kind, resource.id, force=True)
            except NotFound:
                pass

    def _create(self, driver: Any, created: list[Resource],
                labels: dict[str, str]) -> Resource:
        name = f"vw-contract-{uuid.uuid4().hex[:8]}"
        resource: Resource = driver.create(self.make_spec(name, labels))
        created.append(resource)
        return resource

    def test_list_returns_records(self, driver: Any) -> None:
        found = driver.list(self.kind)
        assert all(isinstance(r, Resource) and r.kind is self.kind for r in found)

    def test_unknown_id_raises_not_found(self, driver: Any) -> None:
        with pytest.raises(NotFound) as caught:
            driver.get(self.kind, f"no-such-{uuid.uuid4().hex[:8]}")
        assert "\n" not in str(caught.value)

    def test_unsupported_verb_names_driver_and_verb(self, driver: Any) -> None:
        verb, kind = self.unsupported
        with pytest.raises(UnsupportedOperation) as caught:
            getattr(driver, verb)(kind, "anything")
        assert driver.name in str(caught.value) and verb in str(caught.value)

    def test_created_resources_carry_labels_and_destroy_leaves_nothing(
            self, driver: Any, created: list[Resource], session_labels: dict[str, str]) -> None:
        resource = self._create(driver, created, session_labels)
        mine = driver.list(self.kind, labels=session_labels)
        assert [r.id for r in mine] == [resource.id]
        assert ownership.is_ours(mine[0].labels, session_labels[ownership.SESSION])
        driver.destroy(self.kind, resource.id, force=True)
        assert driver.list(self.kind, labels=session_labels) == []
        with pytest.raises(NotFound):
            driver.get(self.kind, resource.id)

    def test_watch_delivers_added_then_deleted(
            self, driver: Any, created: list[Resource], session_labels: dict[str, str]) -> None:
        stream: EventStream = driver.watch(self.kind, labels=session_labels)
        try:
            _wait(stream, EventType.SYNCED)
            resource = self._create(driver, created, session_labels)
            added = _wait(stream, EventType.ADDED)
            assert added.resource is not None and added.resource.id == resource.id
            driver.destroy(self.kind, resource.id, force=True)
            deleted = _wait(stream, EventType.DELETED)
            assert deleted.resource is not None and deleted.resource.id == resource.id
        finally:
            stream.close()

    def test_the_driver_forgets_closed_watches_and_close_ends_open_ones(
            self, fresh_driver: Any, session_labels: dict[str, str]) -> None:
        """A notebook opens and closes watches all day (every live table does): the driver
        must not hold on to the closed ones."""
        for _ in range(WATCHES):
            stream: EventStream = fresh_driver.watch(self.kind, labels=session_labels)
            _wait(stream, EventType.SYNCED)  # it reached the engine
            stream.close()
        assert fresh_driver.open_watches == []

        still_open = [fresh_driver.watch(self.kind, labels=session_labels) for _ in range(2)]
        for stream in still_open:
            _wait(stream, EventType.SYNCED)
        assert set(fresh_driver.open_watches) == set(still_open)
        fresh_driver.close()
        assert all(stream.closed for stream in still_open)
        assert fresh_driver.open_watches == []


WATCHES = 10  # watches opened and closed one after another


def _wait(stream: EventStream, wanted: EventType, timeout: float = 30) -> Event:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = stream.get(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and event.type is wanted:
            return event
        assert event is None or event.type is not EventType.ERROR, event.message
    raise AssertionError(f"no {wanted.value} event within {timeout} s")
