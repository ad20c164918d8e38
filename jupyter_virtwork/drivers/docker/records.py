"""Docker's containers, images and networks as our records: their states in our words, the
rows of the engine's lists read as ``Resource``s, and the labels that tell this notebook's
containers from the kubelet's and from those that merely inherited an image's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ...models import Kind, Resource, State

STATE_MAP: dict[str, State] = {
    "created": State.CREATED,
    "running": State.RUNNING,
    "paused": State.PAUSED,
    "restarting": State.RESTARTING,
    "removing": State.STOPPED,
    "exited": State.STOPPED,
    "dead": State.FAILED,
}

# The kubelet (dockershim) copies a pod's labels onto the pod's sandbox container, ours
# included. Those containers are the kubelet's: a label-filtered list or watch (what this
# notebook created, its cleanup) leaves them out, so a pod is not counted twice, nor
# removed behind the kubelet's back. An unfiltered list shows them, as `docker ps` does.
KUBELET_LABEL = "io.kubernetes.pod.name"

# A container inherits its image's labels: every container of an image this notebook built
# carries its ownership labels, whoever ran it. Ours carry this one too, which no image
# does (images are built, not committed from our containers), so only they are ours.
CREATED_HERE = "virtwork.io/created-as"


def kubelet_owned(labels: Mapping[str, str] | None) -> bool:
    return KUBELET_LABEL in (labels or {})


def marked(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a container created with ``labels`` carries: ours marked as made here."""
    return {**labels, CREATED_HERE: "container"} if labels else {}


def mine(labels: Mapping[str, str]) -> dict[str, str]:
    """What the containers this notebook created with ``labels`` carry, to find them by."""
    return {**labels, CREATED_HERE: "container"}


def state_of(status: str) -> State:
    """Our state for docker's word (``exited``, ``Running``...)."""
    return STATE_MAP.get(status.lower(), State.UNKNOWN)


def container(uri: str, row: Mapping[str, Any]) -> Resource:
    """A container from a row of the engine's container list."""
    names = row.get("Names") or [""]
    return Resource(
        uri=uri, kind=Kind.CONTAINER, id=str(row["Id"]),
        name=str(names[0]).lstrip("/"),
        state=state_of(str(row.get("State", ""))),
        labels=dict(row.get("Labels") or {}),
        created=datetime.fromtimestamp(int(row.get("Created", 0)), tz=timezone.utc),
        details={"image": row.get("Image", ""), "ports": ports(row.get("Ports") or [])},
        raw=dict(row),
    )


def image(uri: str, row: Mapping[str, Any]) -> Resource:
    """An image from a row of the engine's image list, named by its first tag."""
    tags = [t for t in row.get("RepoTags") or [] if t != "<none>:<none>"]
    return Resource(
        uri=uri, kind=Kind.IMAGE, id=str(row["Id"]),
        name=tags[0] if tags else str(row["Id"])[7:19], state=State.AVAILABLE,
        labels=dict(row.get("Labels") or {}),
        created=datetime.fromtimestamp(int(row.get("Created", 0)), tz=timezone.utc),
        details={"tags": ", ".join(tags), "size": int(row.get("Size", 0))},
        raw=dict(row),
    )


def network(uri: str, row: Mapping[str, Any]) -> Resource:
    """A network from a row of the engine's network list."""
    created = str(row.get("Created") or "")
    return Resource(
        uri=uri, kind=Kind.NETWORK, id=str(row["Id"]), name=str(row.get("Name", "")),
        state=State.AVAILABLE, labels=dict(row.get("Labels") or {}),
        created=datetime.fromisoformat(created[:26].rstrip("Z")).replace(
            tzinfo=timezone.utc) if created else None,
        details={"driver": row.get("Driver", "")}, raw=dict(row))


def ports(published: list[Mapping[str, Any]]) -> str:
    """A container's ports as ``docker ps`` shows them: ``127.0.0.1:8080->80/tcp, 443/tcp``."""
    shown = []
    for port in published:
        inside = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        public = port.get("PublicPort")
        shown.append(f"{port.get('IP', '')}:{public}->{inside}".lstrip(":") if public
                     else inside)
    return ", ".join(sorted(set(shown)))
