"""What a notebook pushed to a registry, found and deleted over the registry's HTTP API (v2).

A pushed tag is ours exactly when the registry's manifest for it names our local image as
its config: an image's id is the digest of that config, and ours carry the session's
labels in it. A tag someone pushed over ours since names another config and is left.
Registries on this machine's loopback are spoken to over HTTP, as dockerd does; others
over verified HTTPS.
"""

from __future__ import annotations

from typing import Any

from ...errors import OperationFailed

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
TIMEOUT = 10.0


def split(reference: str) -> tuple[str, str, str] | None:
    """(registry, repository, tag) of a reference naming a registry, else None (a
    reference to Docker Hub's library is not something a notebook here pushes)."""
    first, sep, rest = reference.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return None
    repository, tag = rest.rsplit(":", 1) if ":" in rest else (rest, "latest")
    return first, repository, tag


def _base(registry: str) -> str:
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    loopback = host in ("localhost", "[::1]") or host.startswith("127.")
    return f"{'http' if loopback else 'https'}://{registry}/v2"


def pushed_digest(reference: str, image_id: str) -> str | None:
    """The manifest digest under which the registry holds ``reference`` as this very image;
    None when it holds another image there, or nothing."""
    import requests

    parts = split(reference)
    if parts is None:
        return None
    registry, repository, tag = parts
    try:
        answer = requests.get(f"{_base(registry)}/{repository}/manifests/{tag}",
                              headers={"Accept": MANIFEST}, timeout=TIMEOUT)
    except requests.RequestException:
        return None  # no registry answers there now: nothing of ours to delete in it
    if answer.status_code != 200:
        return None
    manifest: dict[str, Any] = answer.json()
    if (manifest.get("config") or {}).get("digest") != image_id:
        return None
    return str(answer.headers.get("Docker-Content-Digest") or "") or None


def delete(reference: str, digest: str) -> None:
    """Delete the manifest ``digest`` of ``reference``'s repository (its tags go with it)."""
    import requests

    parts = split(reference)
    assert parts is not None
    registry, repository, _ = parts
    try:
        answer = requests.delete(f"{_base(registry)}/{repository}/manifests/{digest}",
                                 timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise OperationFailed(f"the registry {registry} did not answer: {exc}") from exc
    if answer.status_code not in (200, 202, 404):
        raise OperationFailed(f"the registry {registry} refused to delete {reference} "
                              f"(HTTP {answer.status_code})",
                              hint="a registry deletes only with storage.delete enabled")
