"""Removing what a notebook owns from a cluster: the deletions in ``owned``'s order, then
waiting (until a deadline) until each object is gone, and what stayed, with why.

The driver runs a cleanup inside its error boundary; here is the bookkeeping: each object's
latest state, which deletions were asked for, which were refused and why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ...errors import EngineUnavailable, VirtworkError
from ...models import Progress
from ..base import ProgressCallback, Removal
from . import owned, records
from .by_path import delete_object, list_objects, read_object, replace_object
from .connection import Connection
from .owned import ApiResource

POLL = 0.25  # s between two looks at what a deletion is waiting for
NUDGE_EVERY = 10.0  # s between two reminders to the namespace controller of one namespace
NUDGED = "virtwork.io/cleanup-waiting"  # the annotation a reminder sets on a namespace

Found = list[tuple[ApiResource, dict[str, Any]]]  # objects with their resource types


def remove(connection: Connection, find: Callable[[], Found], deadline: float,
           on_progress: ProgressCallback | None) -> Removal:
    """Delete what ``find`` finds, owners and namespaces of ours rather than what they
    carry, definitions once their custom resources are gone; wait until each is gone or
    ``deadline`` (a ``time.monotonic()`` value)."""
    cleanup = Cleanup(connection, on_progress)
    found = find()
    if not found:
        return Removal()
    cleanup.track(found)
    plan = owned.plan([obj for _, obj in found])
    registered = registrations(connection, plan.last)
    cleanup.track(registered)
    for obj in plan.first:
        cleanup.delete(obj)
    cleanup.wait(plan.defined, deadline)
    for obj in plan.last:
        cleanup.delete(obj)
    cleanup.wait([*plan.first, *plan.carried, *plan.last,
                  *(obj for _, obj in registered)], deadline)
    return cleanup.outcome(found)


def registrations(connection: Connection, definitions: Sequence[Mapping[str, Any]]) -> Found:
    """The APIServices the API server made for the group versions of ``definitions``
    (CRDs): it removes them itself, a moment after the last CRD of the group is gone,
    so a cleanup that returns has waited for them too. Not ours: never deleted by us,
    and not waited for while a CRD of someone else serves the group."""
    if not definitions:
        return []
    crds = ApiResource("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                       "customresourcedefinitions", False)
    services = ApiResource("apiregistration.k8s.io/v1", "APIService", "apiservices", False)
    ours = {owned.uid(d) for d in definitions}
    shared = {str((c.get("spec") or {}).get("group")) for c in list_objects(connection, crds)
              if owned.uid(c) not in ours}
    found = []
    for definition in definitions:
        spec = definition.get("spec") or {}
        if str(spec.get("group")) in shared:
            continue
        for version in spec.get("versions") or []:
            name = f"{version.get('name')}.{spec.get('group')}"
            now = read_object(connection, services, {"metadata": {"name": name}})
            if now is not None:
                found.append((services, now))
    return found


class Cleanup:
    """One cleanup's bookkeeping: each object's latest state (None: gone), which deletions
    were asked for, which were refused and why."""

    def __init__(self, connection: Connection, on_progress: ProgressCallback | None) -> None:
        self.connection = connection
        self.on_progress = on_progress
        self.api: dict[str, ApiResource] = {}
        self.latest: dict[str, dict[str, Any] | None] = {}
        self.asked: set[str] = set()
        self.refused: dict[str, str] = {}
        self.namespaces: dict[str, str] = {}  # name -> uid of each Namespace of ours
        self.owners: set[str] = set()  # uids that objects of ours name as their owner
        self.nudged: dict[str, float] = {}  # uid of a namespace -> when it was last nudged
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress("cleanup", message))

    def track(self, found: Sequence[tuple[ApiResource, dict[str, Any]]]) -> None:
        for api, obj in found:
            key = owned.uid(obj)
            self.api[key], self.latest[key] = api, obj
            if owned.is_namespace(obj):
                self.namespaces[owned.name(obj)] = key
        self.owners |= owned.owners([obj for _, obj in found])

    def delete(self, obj: Mapping[str, Any]) -> None:
        key = owned.uid(obj)
        self.asked.add(key)
        try:
            if not delete_object(self.connection, self.api[key], obj,
                                 owned.propagation(obj, self.owners)):
                self.latest[key] = None
                return
        except EngineUnavailable:
            raise
        except VirtworkError as exc:
            self.refused[key] = exc.message
            return
        self.say(f"deleting {owned.describe(obj)}")

    def pending(self, obj: Mapping[str, Any]) -> bool:
        key = owned.uid(obj)
        return self.latest.get(key) is not None and key not in self.refused

    def wait(self, objects: Sequence[Mapping[str, Any]], deadline: float) -> None:
        """Poll until ``objects`` are gone or ``deadline``. A pod whose owner or namespace
        is going is deleted at once with a short grace, instead of its own (30 s by
        default, which a shell as PID 1 that ignores SIGTERM always takes)."""
        pending = [o for o in objects if self.pending(o)]
        shown = -1
        while pending:
            for obj in pending:
                key = owned.uid(obj)
                self.latest[key] = read_object(self.connection, self.api[key], obj)
            for obj in pending:
                now = self.latest[owned.uid(obj)]
                if now is not None and owned.uid(obj) not in self.asked \
                        and now.get("kind") == "Pod" \
                        and owned.carrier_is_going(now, self.latest, self.namespaces):
                    self.delete(now)
            pending = [o for o in pending if self.pending(o)]
            self.nudge_emptied_namespaces(pending)
            if pending and len(pending) != shown:
                shown = len(pending)
                names = ", ".join(owned.describe(o) for o in pending[:3])
                self.say(f"waiting for {shown} to go: {names}" + (", ..." if shown > 3 else ""))
            if not pending or time.monotonic() >= deadline:
                return
            time.sleep(POLL)

    def nudge_emptied_namespaces(self, pending: Sequence[Mapping[str, Any]]) -> None:
        """Remind the namespace controller of a namespace of ours that still terminates
        though nothing we wait for is left in it.

        The controller retries a namespace whose pods are still going with an exponential
        backoff (5 ms doubling, up to 1000 s): when a kubelet is slow to confirm a pod's
        end, its next look can come minutes after the pod is gone. An update of the
        namespace queues it again within seconds, so the cleanup waits for the namespace,
        not for the backoff."""
        busy = {owned.namespace(o) for o in pending}
        for obj in pending:
            key, now = owned.uid(obj), self.latest.get(owned.uid(obj))
            if not owned.is_namespace(obj) or now is None or owned.name(obj) in busy \
                    or time.monotonic() - self.nudged.get(key, 0.0) < NUDGE_EVERY:
                continue
            self.nudged[key] = time.monotonic()
            metadata = now.get("metadata") or {}
            reminded = {**now, "metadata": {**metadata, "annotations": {
                **(metadata.get("annotations") or {}), NUDGED: f"{time.time():.0f}"}}}
            with contextlib.suppress(VirtworkError):  # a conflict: it changed, so it is queued
                replace_object(self.connection, self.api[key], reminded)

    def outcome(self, found: Iterable[tuple[ApiResource, dict[str, Any]]]) -> Removal:
        removal = Removal()
        waited = time.monotonic() - self.started
        for _, obj in found:
            key = owned.uid(obj)
            record = records.owned_record(self.connection.uri, obj)
            now = self.latest[key]
            if key in self.refused:
                removal.left.append((record, self.refused[key]))
            elif now is None:
                removal.removed.append(record)
            else:
                removal.left.append((record, f"still there after {waited:.0f} s: "
                                             f"{owned.why_still_there(now)}"))
        return removal
