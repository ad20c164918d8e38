"""Removing what a notebook owns from a Docker engine: its containers (with their anonymous
volumes), then its networks, then its images newest first, each image's pushed tags deleted
from their registry first.

An image or network that someone else's container still uses is left, and the containers
named: removing it by force would pull it from under them. Stopped containers of our own
pods (the kubelet removes them a little later) do not count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone

from ...errors import OperationFailed
from ...models import Kind, Resource, State
from ..base import ProgressCallback, Removal, labels_match
from . import records, registry
from .connection import Connection

EPOCH = datetime.fromtimestamp(0, tz=timezone.utc)

# The driver's removal of one object, noting in a Removal how it went.
Remove = Callable[[Resource, Removal, ProgressCallback | None], None]


def newest_first(images: Iterable[Resource]) -> list[Resource]:
    """Images in the order they can go: a child before the image it was built on."""
    return sorted(images, key=lambda r: r.created or EPOCH, reverse=True)


def remove(found: Iterable[Resource], labels: Mapping[str, str], connection: Connection,
           remove_one: Remove, on_progress: ProgressCallback | None) -> Removal:
    """Remove ``found`` (this notebook's containers, networks and images, in that order) by
    ``remove_one``, each finished before the next starts, but what others still use."""
    removal = Removal()
    for resource in found:
        if resource.kind is Kind.IMAGE:
            unpush(resource, removal)
        others = [] if resource.kind is Kind.CONTAINER else others_using(connection, resource,
                                                                         labels)
        if others:
            removal.left.append((resource, "used by " + ", ".join(others)))
        else:  # one already gone (an image removed with its child) is skipped there
            remove_one(resource, removal, on_progress)
    return removal


def unpush(image: Resource, removal: Removal) -> None:
    """Delete from its registry each tag of ``image`` that was pushed (the registry
    holds this very image under it)."""
    for tag in (image.raw or {}).get("RepoTags") or []:
        digest = registry.pushed_digest(tag, image.id)
        if digest is None:
            continue
        pushed = dataclasses.replace(image, name=f"{tag} in its registry",
                                     details={**image.details, "digest": digest})
        try:
            registry.delete(tag, digest)
        except OperationFailed as exc:
            removal.left.append((pushed, exc.message))
            continue
        removal.removed.append(pushed)


def others_using(connection: Connection, resource: Resource,
                 labels: Mapping[str, str]) -> list[str]:
    """The containers not of this notebook that use an image or network, described.
    A container of our image inherits its labels, so only our mark tells ours; a
    stopped container of a pod is the kubelet's to remove, its pod gone."""
    filters = {"ancestor": resource.id} if resource.kind is Kind.IMAGE \
        else {"network": resource.id}
    with connection.boundary(f"listing the containers using {resource.kind} "
                             f"{resource.name!r}"):
        rows = connection.api().containers(all=True, filters=filters)
    users = [records.container(connection.uri, row) for row in rows]
    mine = records.mine(labels)
    return [f"{u.state} container {u.name!r}"
            + (" of a pod" if records.kubelet_owned(u.labels) else "") + " (not this notebook's)"
            for u in users
            if not labels_match(u.labels, mine)
            and not (records.kubelet_owned(u.labels) and u.state is not State.RUNNING)]
