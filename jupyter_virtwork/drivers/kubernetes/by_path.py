"""Objects of any resource type, by the paths the API server's discovery names: the types
it serves, and listing, reading, deleting and updating objects of any of them.

The driver's own kinds (``records.KINDS``) are a few; what a notebook applies can be of any
type (a ConfigMap, a Namespace, a CRD and its custom resources), and finding and removing
everything it owns goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import owned
from .connection import Connection, selector
from .owned import ApiResource

LISTERS = 8  # resource types listed at once when looking for everything a notebook owns
CLEANUP_GRACE = 1  # s a pod's containers get to stop in a cleanup (everything goes anyway)


def resource_types(connection: Connection) -> list[ApiResource]:
    """Every resource type the server lists and deletes, custom resources included, read
    afresh from its discovery documents (a CRD applied a moment ago counts). A group
    version that does not answer (an aggregated API whose server is down) is left out."""
    from kubernetes.client.exceptions import ApiException

    def document(group_version: str) -> list[ApiResource]:
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        try:
            return owned.removable(group_version, connection.request("GET", path))
        except ApiException:
            return []

    with connection.boundary("discovering the cluster's resource types"):
        versions = owned.group_versions(connection.request("GET", "/apis"))
        with ThreadPoolExecutor(LISTERS) as pool:
            found = [api for apis in pool.map(document, versions) for api in apis]
    return owned.one_per_type(found)


def list_objects(connection: Connection, api: ApiResource,
                 labels: Mapping[str, str] | None = None,
                 namespace: str | None = None) -> list[dict[str, Any]]:
    """Every object of one type (in every namespace, without ``namespace``), as JSON."""
    query = [("labelSelector", selector(labels) or "")] if labels else []
    with connection.boundary(f"listing {api.plural}"):
        items: list[dict[str, Any]] = connection.request(
            "GET", api.path(namespace), query).get("items") or []
    for item in items:  # list items omit these
        item.setdefault("kind", api.kind)
        item.setdefault("apiVersion", api.group_version)
    return items


def read_object(connection: Connection, api: ApiResource,
                obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object as it is now; None when it is gone (or another took its name). Other
    errors are the client's: callers run in the boundary."""
    from kubernetes.client.exceptions import ApiException

    try:
        now = connection.request("GET", api.path(owned.namespace(obj) or None,
                                                 owned.name(obj)))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    now.setdefault("kind", api.kind)
    replaced = owned.uid(obj) and owned.uid(now) != owned.uid(obj)
    return None if replaced else now


def delete_object(connection: Connection, api: ApiResource, obj: Mapping[str, Any],
                  propagation: str = "Background") -> bool:
    """Ask for ``obj``'s deletion (this very object: its uid is a precondition);
    False when it is gone already or another object now has its name."""
    from kubernetes.client.exceptions import ApiException

    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation,
        "preconditions": {"uid": owned.uid(obj)}}
    if obj.get("kind") == "Pod" and api.group == "":
        body["gracePeriodSeconds"] = CLEANUP_GRACE
    what = owned.describe(obj)
    with connection.boundary(f"deleting {what}", what):
        try:
            connection.request("DELETE", api.path(owned.namespace(obj) or None,
                                                  owned.name(obj)), body=body)
        except ApiException as exc:
            if exc.status in (404, 409):  # 409: the uid precondition failed
                return False
            raise
    return True


def replace_object(connection: Connection, api: ApiResource, obj: Mapping[str, Any]) -> None:
    """Write ``obj`` back as given; a conflict (it changed meanwhile) is AlreadyExists."""
    with connection.boundary(f"updating {owned.describe(obj)}"):
        connection.request("PUT", api.path(owned.namespace(obj) or None, owned.name(obj)),
                           body=obj)
