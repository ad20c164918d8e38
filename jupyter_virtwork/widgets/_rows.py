"""The StatusTable's bookkeeping, apart from any widget: the rows keyed by (uri, kind, id),
one status line per source, and what a batch of events changed, so that only that travels
to the front end.

Pure data handling: no widget and no engine here, so the rules are cheap to test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import messages
from ..models import Event, EventType, Resource, ResourceList, StreamStatus
from ..watch import RETRYING

Row = dict[str, Any]  # what the front end gets for one resource: {"key", "cells"}


def row_key(resource: Resource) -> str:
    """(uri, kind, id) as one string: widget state is JSON, whose keys are strings."""
    return f"{resource.uri}|{resource.kind.value}|{resource.id}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class SourceStatus:
    label: str  # "docker:// containers"
    status: StreamStatus = StreamStatus.CONNECTING
    message: str = ""  # why it is disconnected (the Watcher's "disconnected, retrying: ...")
    language: str = messages.DEFAULT_LANGUAGE  # of the text a learner reads

    @property
    def text(self) -> str:
        if self.message.startswith(RETRYING):
            return messages.RETRYING.format(self.language,
                                            why=self.message.removeprefix(RETRYING))
        if self.message:
            return self.message
        return messages.STREAM_STATUS[self.status.value].format(self.language)

    @property
    def ok(self) -> bool:
        return self.status is StreamStatus.CONNECTED

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "text": self.text, "ok": self.ok}


@dataclass
class Changes:
    """What one batch of events changed: rows to (re)draw, keys to drop, whether the
    status lines or the columns changed."""

    upsert: dict[str, Resource] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    status: bool = False
    columns: bool = False

    @property
    def rows_changed(self) -> bool:
        return bool(self.upsert or self.remove)


class TableRows:
    """The current rows of a live table and the status of each of its sources."""

    def __init__(self, labels: Sequence[str], aliases: Sequence[str] | None = None,
                 language: str = messages.DEFAULT_LANGUAGE,
                 alias_column: str = "alias") -> None:
        """``labels``: one per source, for its status line; ``aliases``: one per source
        too, shown in an ``alias_column`` column (``%vw status --watch`` spans connections,
        ``%vw class`` learners); ``language``: the status lines' (``%config
        VirtworkMagics.language``)."""
        self.aliases = list(aliases) if aliases is not None else None
        self.alias_column = alias_column
        self.resources: dict[str, Resource] = {}
        self.origin: dict[str, int] = {}  # row key -> the source (driver) it came from
        self.sources = [SourceStatus(label, language=language) for label in labels]
        self.columns: list[str] = list(ResourceList.COLUMNS)

    def apply(self, source: int, events: Iterable[Event]) -> Changes:
        changes = Changes()
        for event in events:
            if event.resource is None:
                changes.status |= self._status(source, event)
            else:
                self._row(source, event.type, event.resource, changes)
        return changes

    def _status(self, source: int, event: Event) -> bool:
        now = StreamStatus.after(event)
        if now is None:
            return False
        status = self.sources[source]
        before = (status.status, status.message)
        status.status, status.message = now, event.message
        return (status.status, status.message) != before

    def _row(self, source: int, kind: EventType, resource: Resource,
             changes: Changes) -> None:
        key = row_key(resource)
        if kind is EventType.DELETED:
            self.origin.pop(key, None)
            if self.resources.pop(key, None) is not None:
                changes.upsert.pop(key, None)
                changes.remove.append(key)
            return
        if key in changes.remove:  # deleted and re-added within one batch
            changes.remove.remove(key)
        if self.aliases is not None:
            resource = dataclasses.replace(
                resource, details={self.alias_column: self.aliases[source],
                                   **resource.details})
        self.resources[key] = resource
        self.origin[key] = source
        changes.upsert[key] = resource
        changes.columns |= self._add_columns(resource)

    def _add_columns(self, resource: Resource) -> bool:
        """Kind-specific columns (ports, image, ready...) go before id, uri and created,
        as in ResourceList; True if a new one appeared."""
        new = [k for k in resource.details if k not in self.columns]
        if not new:
            return False
        at = self.columns.index(ResourceList.COLUMNS[3])
        self.columns[at:at] = new
        return True

    def row(self, key: str) -> Row:
        values = self.resources[key].to_dict()
        # Only the cells this row has: an empty one costs bytes on every change.
        cells = {c: _text(values.get(c)) for c in self.columns}
        return {"key": key, "cells": {c: v for c, v in cells.items() if v}}

    def rows(self, keys: Iterable[str] | None = None) -> list[Row]:
        return [self.row(k) for k in (self.resources if keys is None else keys)]

    def ordered(self) -> ResourceList:
        """The rows as the table shows them: by connection, kind and name."""
        return ResourceList(sorted(self.resources.values(),
                                   key=lambda r: (r.uri, r.kind.value, r.name, r.id)))
