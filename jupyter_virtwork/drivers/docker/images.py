"""Images by reference on the engine: a reference split as docker splits it, one image found
by tag, id or digest, the tag a push by digest pushes, and what a failed build made
removed again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ...errors import InvalidInput
from ...models import Resource
from . import records
from .build import Made
from .sdk import import_docker


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag or "sha256:..." digest), as docker-py's ``parse_repository_tag``
    splits it (a registry's host:port is not a tag); no tag means ``latest``."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(reference)
    return repository, tag or "latest"


def find(api: Any, uri: str, reference: str) -> Resource:
    """The image ``reference`` names, through the client ``api``: its row of the image list,
    or (for a reference the list's filter cannot match, e.g. an id) one made from inspect."""
    info = api.inspect_image(reference)
    rows = api.images(filters={"reference": reference}) or [
        {"Id": info["Id"], "RepoTags": info.get("RepoTags"),
         "Labels": (info.get("Config") or {}).get("Labels"), "Size": info.get("Size", 0),
         "Created": 0}]
    return records.image(uri, rows[0])


def tag_of(image: Mapping[str, Any], repository: str, reference: str, uri: str) -> str:
    """The tag in ``repository`` that pushes the inspected ``image`` (``reference`` names it
    by digest, and the engine pushes tags only): ``latest`` if it has it."""
    tags = [t.rpartition(":")[2] for t in image.get("RepoTags") or []
            if split_reference(t)[0] == repository]
    if not tags:
        raise InvalidInput(f"{reference} has no tag in {repository} to push",
                           connection=uri, hint=f"push it by a tag: {repository}:TAG")
    return "latest" if "latest" in tags else tags[0]


def remove_made(api: Any, made: Made) -> None:
    """Remove what a failed build made (newest first: a layer is its successor's
    parent); one that a later build already uses is that build's now, and stays."""
    import requests

    # The build's own error is the one to report, whatever happens here.
    unreported = (import_docker().errors.DockerException, requests.RequestException)
    for container in made.containers:
        with contextlib.suppress(*unreported):
            api.remove_container(container, force=True)
    for image in reversed(made.images):
        with contextlib.suppress(*unreported):
            api.remove_image(image)
