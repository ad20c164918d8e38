"""The cluster's objects as our records: the kinds the driver knows by name, and the state
and details a record shows of a Pod, a workload, a Service or an Event.

Pure data handling over the API's JSON (no SDK): what a row of ``%k8s get`` says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...models import Kind, Resource, State
from . import owned


@dataclass(frozen=True)
class KindApi:
    api_version: str
    kind: str
    api_class: str  # CoreV1Api / AppsV1Api
    snake: str  # list_namespaced_<snake>, read_namespaced_<snake>, ...
    scalable: bool = False

    def path(self, namespace: str) -> str:
        """The collection's URL path (every kind here is namespaced, plural ``kind + s``)."""
        group = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{group}/namespaces/{namespace}/{self.kind.lower()}s"


KINDS: dict[Kind, KindApi] = {
    Kind.DEPLOYMENT: KindApi("apps/v1", "Deployment", "AppsV1Api", "deployment", True),
    Kind.STATEFULSET: KindApi("apps/v1", "StatefulSet", "AppsV1Api", "stateful_set", True),
    Kind.REPLICASET: KindApi("apps/v1", "ReplicaSet", "AppsV1Api", "replica_set", True),
    Kind.SERVICE: KindApi("v1", "Service", "CoreV1Api", "service"),
    Kind.POD: KindApi("v1", "Pod", "CoreV1Api", "pod"),
    Kind.EVENT: KindApi("v1", "Event", "CoreV1Api", "event"),
}
KIND_BY_NAME = {api.kind: kind for kind, api in KINDS.items()}

POD_PHASES: dict[str, State] = {
    "Pending": State.PENDING, "Running": State.RUNNING, "Succeeded": State.SUCCEEDED,
    "Failed": State.FAILED, "Unknown": State.UNKNOWN,
}


def record(uri: str, obj: Mapping[str, Any]) -> Resource:
    """A Resource from an object as the API returns it (JSON)."""
    metadata = obj.get("metadata") or {}
    kind = KIND_BY_NAME.get(str(obj.get("kind")), Kind.OBJECT)
    state, details = state_and_details(kind, obj)
    if kind is Kind.OBJECT:
        details = {"kind": obj.get("kind"), **details}
    created = metadata.get("creationTimestamp")
    return Resource(
        uri=uri, kind=kind, id=str(metadata.get("name", "")),
        name=str(metadata.get("name", "")), state=state,
        labels=dict(metadata.get("labels") or {}),
        created=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
        details=details, raw=dict(obj))


def owned_record(uri: str, obj: Mapping[str, Any]) -> Resource:
    """A record that names the object fully: its own kind, namespace and uid."""
    found = record(uri, obj)
    return dataclasses.replace(found, details={
        "kind": obj.get("kind"), **found.details,
        "namespace": owned.namespace(obj), "uid": owned.uid(obj)})


def rollout(obj: Mapping[str, Any]) -> tuple[int, int, bool]:
    """(ready, desired, done) of a Deployment, StatefulSet or ReplicaSet."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    current = int(status.get("replicas", 0))
    observed = int(status.get("observedGeneration", 0))
    generation = int((obj.get("metadata") or {}).get("generation", 0))
    done = observed >= generation and ready == desired and current == desired and \
        (updated == desired or obj.get("kind") == "ReplicaSet")
    return ready, desired, done


def state_and_details(kind: Kind, obj: Mapping[str, Any]) -> tuple[State, dict[str, Any]]:
    spec = obj.get("spec") or {}
    if kind is Kind.POD:
        return pod_state(obj)
    if kind in (Kind.DEPLOYMENT, Kind.STATEFULSET, Kind.REPLICASET):
        ready, desired, done = rollout(obj)
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        state = State.STOPPED if desired == 0 and done else (
            State.AVAILABLE if done else State.PROGRESSING)
        return state, {"ready": f"{ready}/{desired}",
                       "image": ", ".join(c.get("image", "") for c in containers)}
    if kind is Kind.EVENT:
        involved = obj.get("involvedObject") or {}
        return State.AVAILABLE, {
            "type": obj.get("type", ""), "reason": obj.get("reason", ""),
            "object": f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            "message": obj.get("message", ""), "count": obj.get("count", 1)}
    if kind is Kind.SERVICE:
        ports = ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                          for p in spec.get("ports") or [])
        return State.AVAILABLE, {"type": spec.get("type", ""),
                                 "cluster_ip": spec.get("clusterIP", ""), "ports": ports}
    return State.AVAILABLE, {}


def pod_state(obj: Mapping[str, Any]) -> tuple[State, dict[str, Any]]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    reasons = [((s.get("state") or {}).get("waiting") or {}).get("reason") for s in statuses]
    # The phase alone: a pod whose image cannot be pulled (ErrImagePull, ImagePullBackOff)
    # or whose container keeps crashing is Pending or Running, not Failed: the kubelet
    # retries it. The waiting reason says what it waits for.
    state = POD_PHASES.get(str(status.get("phase")), State.UNKNOWN)
    reason = next((r for r in reasons if r), "") or status.get("reason", "")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        state, reason = State.STOPPED, "Terminating"
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len(spec.get("containers") or statuses)
    return state, {"ready": f"{ready}/{total}", "node": spec.get("nodeName", ""),
                   "ip": status.get("podIP", ""),
                   "restarts": sum(int(s.get("restartCount", 0)) for s in statuses),
                   "reason": reason}
