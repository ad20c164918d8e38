"""What a notebook owns on a cluster, and the order in which to remove it.

Pure data handling over the API's JSON (no SDK), so it is cheap to test and to read: the
resource types discovery offers, each object found once, which owned objects go with an
owner or their namespace instead of being deleted one by one, which must wait for others
(custom resources before their definition), and what to say about an object that stayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .manifest_text import FIELD_MANAGER

CRD_GROUP = "apiextensions.k8s.io"
# Kinds whose controllers make objects of their own (pods, replica sets, jobs): deleted with
# Foreground propagation, they stay until those are gone, and make no new ones meanwhile.
MAKERS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
          "ReplicationController"}


@dataclass(frozen=True)
class ApiResource:
    """One resource type the API server serves (an entry of its discovery documents)."""

    group_version: str  # "v1", "apps/v1", "batch/v1beta1"
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The collection (all namespaces, without ``namespace``) or one object's path."""
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        where = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{root}{where}/{self.plural}" + (f"/{name}" if name else "")


def group_versions(apis: Mapping[str, Any]) -> list[str]:
    """Every group version of an ``/apis`` document, each group's preferred one first,
    after the core ``v1``. All of them, not only the preferred: on 1.20 CronJobs are only in
    ``batch/v1beta1`` while ``batch``'s preferred version is ``v1``."""
    found = ["v1"]
    for group in apis.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        versions = [str(v["groupVersion"]) for v in group.get("versions") or []]
        found.extend(sorted(versions, key=lambda v: v != preferred))
    return found


def removable(group_version: str, document: Mapping[str, Any]) -> list[ApiResource]:
    """The types of one group version's discovery document that can be listed (by label)
    and deleted; subresources (``pods/log``) are not types."""
    return [ApiResource(group_version, str(r["kind"]), str(r["name"]), bool(r.get("namespaced")))
            for r in document.get("resources") or []
            if "/" not in str(r["name"]) and {"list", "delete"} <= set(r.get("verbs") or [])]


def one_per_type(types: Iterable[ApiResource]) -> list[ApiResource]:
    """One entry per (group, plural): the first version seen, the preferred one. The same
    objects served in two groups (Ingress in ``extensions`` and ``networking.k8s.io``) are
    listed twice all the same: the callers drop repeats by uid."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for api in types:
        if (api.group, api.plural) not in seen:
            seen.add((api.group, api.plural))
            unique.append(api)
    return unique


def one_per_object(found: Iterable[tuple[ApiResource, dict[str, Any]]],
                   ) -> list[tuple[ApiResource, dict[str, Any]]]:
    """Each object once. One served by two groups (an Ingress in ``extensions`` and in
    ``networking.k8s.io``) is kept under the apiVersion it was applied with."""
    chosen: dict[str, tuple[ApiResource, dict[str, Any]]] = {}
    for api, obj in found:
        key = uid(obj)
        if key not in chosen or applied_as(obj) == api.group_version:
            chosen[key] = (api, obj)
    return list(chosen.values())


def applied_as(obj: Mapping[str, Any]) -> str | None:
    """The apiVersion our field manager applied ``obj`` with; None if we never applied it."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER:
            return str(entry.get("apiVersion"))
    return None


def uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))


def name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


def is_namespace(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1"


def is_definition(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and group(obj) == CRD_GROUP


def describe(obj: Mapping[str, Any]) -> str:
    """``kind/name`` (``kind/namespace/name`` when namespaced), as one line names it."""
    where = f"{namespace(obj)}/" if namespace(obj) else ""
    return f"{str(obj.get('kind', '')).lower()}/{where}{name(obj)}"


@dataclass(frozen=True)
class Plan:
    """The order of a cleanup: ``first`` is deleted at once (everything but definitions),
    ``last`` once the custom resources they define are gone (``defined``), and ``carried``
    is never deleted by us: an owner of ours or a Namespace of ours takes it along (the
    garbage collector, the namespace controller), we only wait for it."""

    first: list[Mapping[str, Any]]
    last: list[Mapping[str, Any]]
    carried: list[Mapping[str, Any]]

    @property
    def defined(self) -> list[Mapping[str, Any]]:
        """The objects (first or carried) whose kind one of ``last`` defines."""
        kinds = {(str((d.get("spec") or {}).get("group")),
                  str(((d.get("spec") or {}).get("names") or {}).get("kind")))
                 for d in self.last}
        return [o for o in [*self.first, *self.carried]
                if (group(o), str(o.get("kind"))) in kinds]


def plan(objects: Sequence[Mapping[str, Any]]) -> Plan:
    """Delete owners rather than what they own: a Job's pod deleted alone is made again by
    the Job; the Job deleted (with propagation) takes its pods along and makes no new one."""
    uids = {uid(o) for o in objects}
    namespaces = {name(o) for o in objects if is_namespace(o)}
    # The endpoints controller keeps a selecting Service's Endpoints (with the Service's
    # labels) and removes them with it; deleted alone, they would be made again.
    selecting = {(namespace(o), name(o)) for o in objects if o.get("kind") == "Service"
                 and o.get("apiVersion") == "v1" and (o.get("spec") or {}).get("selector")}
    first, last, carried = [], [], []
    for obj in objects:
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        endpoints = obj.get("kind") == "Endpoints" and obj.get("apiVersion") == "v1"
        if any(str(o.get("uid")) in uids for o in owners) or namespace(obj) in namespaces \
                or (endpoints and (namespace(obj), name(obj)) in selecting):
            carried.append(obj)
        elif is_definition(obj):
            last.append(obj)
        else:
            first.append(obj)
    return Plan(first, last, carried)


def propagation(obj: Mapping[str, Any], owners: set[str]) -> str:
    """Foreground for an owner (of one of ``owners``' uids, or of a kind that makes
    objects): it is gone only once what it owns is. Background for the rest: gone at once,
    without waiting for the garbage collector, which learns of a new CRD's kind only at its
    next discovery (up to 30 s)."""
    if is_namespace(obj):
        return "Background"  # its content goes by the namespace controller
    return "Foreground" if uid(obj) in owners or obj.get("kind") in MAKERS else "Background"


def owners(objects: Sequence[Mapping[str, Any]]) -> set[str]:
    """The uids that some object of ``objects`` names as its owner."""
    return {str(ref.get("uid")) for o in objects
            for ref in (o.get("metadata") or {}).get("ownerReferences") or []}


def carrier_is_going(obj: Mapping[str, Any], latest: Mapping[str, Mapping[str, Any] | None],
                     namespaces: Mapping[str, str]) -> bool:
    """Whether what carries ``obj`` (its owner of ours, its namespace of ours) is being
    deleted or gone, so that deleting ``obj`` itself cannot make anything recreate it.

    ``latest`` maps a uid to the object as last read (None: gone); ``namespaces`` maps the
    name of a Namespace of ours to its uid."""
    def going(carrier_uid: str) -> bool:
        carrier = latest.get(carrier_uid)
        return carrier is None or bool((carrier.get("metadata") or {}).get("deletionTimestamp"))

    owners = [str(o.get("uid")) for o in (obj.get("metadata") or {}).get("ownerReferences") or []
              if str(o.get("uid")) in latest]
    if namespace(obj) in namespaces and going(namespaces[namespace(obj)]):
        return True
    return bool(owners) and all(going(o) for o in owners)


def why_still_there(obj: Mapping[str, Any]) -> str:
    """Why an object is still there after its deletion was asked for: what it waits for."""
    metadata = obj.get("metadata") or {}
    if not metadata.get("deletionTimestamp"):
        return "its deletion was not accepted"
    finalizers = [str(f) for f in metadata.get("finalizers") or []]
    if obj.get("kind") == "Namespace":
        conditions = [str(c.get("message", "")) for c in (obj.get("status") or {}).get(
            "conditions") or [] if c.get("status") == "True" and c.get("message")]
        if conditions:
            return f"the namespace is still terminating: {conditions[0]}"
    if finalizers:
        return f"deleting, held by finalizers {', '.join(finalizers)}"
    if obj.get("kind") == "Pod":
        return "deleting, its containers have not stopped yet (the kubelet confirms that)"
    return "deleting, not finished yet"
