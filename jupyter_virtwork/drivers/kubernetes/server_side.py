"""Server-side apply of one manifest through the dynamic client: the resource the server
serves for its kind, the object as it lives now, and the apply itself (or its dry run),
tried again while the server asks to.

The driver's ``apply`` decides the order and the labels of a whole cell; here is one
document at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import InvalidInput
from .connection import Connection
from .manifest_text import FIELD_MANAGER

POLL = 0.25  # s between two looks at whether the server serves a kind applied a moment ago
RETRY_FOR = 30.0  # s a request is tried again while the server says "retry after"


def resource_api(connection: Connection, manifest: Mapping[str, Any]) -> Any:
    """The dynamic client's resource for the manifest's apiVersion and kind."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        return connection.dynamic().resources.get(api_version=manifest["apiVersion"],
                                                  kind=manifest["kind"])
    except ResourceNotFoundError:
        raise InvalidInput(f"unknown kind {manifest['kind']!r} in apiVersion "
                           f"{manifest['apiVersion']!r}", connection=connection.uri,
                           hint="check the spelling; kubectl api-resources lists kinds"
                           ) from None


def await_kind(connection: Connection, manifest: Mapping[str, Any],
               timeout: float = 30.0) -> None:
    """Return once the server serves the manifest's kind: a CRD applied a moment ago
    is served once it is Established (a second or so)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            resource_api(connection, manifest)
            return
        except InvalidInput:
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL)


def apply_one(connection: Connection, manifest: Mapping[str, Any], namespace: str | None, *,
              dry_run: bool = False) -> dict[str, Any]:
    """The object as the server applied it (or, with ``dry_run``, would)."""
    name = f"{manifest['kind']} {manifest['metadata']['name']!r}"
    with connection.boundary(f"applying {name}", name):
        api = resource_api(connection, manifest)
        ns = _namespace(connection, api, manifest, namespace)
        applied = retrying_when_asked(lambda: api.server_side_apply(
            body=dict(manifest), namespace=ns, field_manager=FIELD_MANAGER,
            force_conflicts=True, dry_run="All" if dry_run else None,
            _request_timeout=connection.timeout))
        result: dict[str, Any] = applied.to_dict()
    return result


def retrying_when_asked(call: Callable[[], Any]) -> Any:
    """``call()``, again while the server answers "retry after" (within RETRY_FOR s).

    A pod in a namespace made a moment before is refused until the namespace's default
    ServiceAccount has its token (500 ServerTimeout, Retry-After: 1); so is a request
    that API priority and fairness sheds (429)."""
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            return call()
        except ApiException as exc:
            after = (exc.headers or {}).get("Retry-After")
            if exc.status not in (429, 500, 503) or not after \
                    or time.monotonic() > deadline:
                raise
            time.sleep(min(float(after) if after.isdigit() else 1.0, 2.0))


def live(connection: Connection, manifest: Mapping[str, Any],
         namespace: str | None) -> dict[str, Any] | None:
    """The object the manifest names as it lives now; None when there is none."""
    from kubernetes.dynamic.exceptions import NotFoundError

    api = resource_api(connection, manifest)
    ns = _namespace(connection, api, manifest, namespace)
    with connection.boundary(f"reading {manifest['kind']}"):
        try:
            found: dict[str, Any] = api.get(name=manifest["metadata"]["name"],
                                            namespace=ns).to_dict()
        except NotFoundError:
            return None
    return found


def _namespace(connection: Connection, api: Any, manifest: Mapping[str, Any],
               namespace: str | None) -> str | None:
    """Where the object goes: ``namespace``, else its own, else the connection's; None
    for a cluster-scoped kind."""
    return (namespace or manifest["metadata"].get("namespace") or connection.namespace) \
        if api.namespaced else None
