"""The order of a Kubernetes cleanup and the order of a cell's apply, as pure data: what is
deleted at once, what waits for others, what goes with its owner or namespace."""

from __future__ import annotations

from typing import Any

from jupyter_virtwork.drivers.kubernetes import manifest_text, owned


def _obj(kind: str, name: str, *, api: str = "v1", ns: str = "", uid: str = "",
         owners: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": uid or f"uid-{name}"}
    if ns:
        metadata["namespace"] = ns
    if owners:
        metadata["ownerReferences"] = [{"uid": f"uid-{o}"} for o in owners]
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **extra}


def _names(objects: list[Any]) -> list[str]:
    return [owned.name(o) for o in objects]


def test_owners_go_rather_than_what_they_own_and_definitions_last() -> None:
    objects = [
        _obj("Deployment", "web", api="apps/v1", ns="default"),
        _obj("ReplicaSet", "web-1", api="apps/v1", ns="default", owners=("web",)),
        _obj("Pod", "web-1-a", ns="default", owners=("web-1",)),
        _obj("Pod", "stray", ns="default", owners=("someone-elses-rs",)),
        _obj("Namespace", "lab"),
        _obj("Pod", "inside", ns="lab"),
        _obj("CustomResourceDefinition", "gadgets.x.test", api="apiextensions.k8s.io/v1"),
        _obj("Gadget", "g", api="x.test/v1", ns="default"),
        _obj("Service", "svc", ns="default", spec={"selector": {"app": "web"}}),
        _obj("Endpoints", "svc", ns="default"),
        _obj("Service", "manual", ns="default", spec={}),
        _obj("Endpoints", "manual", ns="default"),
    ]
    plan = owned.plan(objects)
    assert _names(plan.first) == ["web", "stray", "lab", "g", "svc", "manual", "manual"]
    assert _names(plan.last) == ["gadgets.x.test"]
    assert _names(plan.carried) == ["web-1", "web-1-a", "inside", "svc"]


def test_a_carried_pod_is_deleted_early_only_once_its_carrier_is_going() -> None:
    rs = _obj("ReplicaSet", "web-1", api="apps/v1", ns="default")
    pod = _obj("Pod", "web-1-a", ns="default", owners=("web-1",))
    latest: dict[str, Any] = {"uid-web-1": rs, "uid-web-1-a": pod}
    assert not owned.carrier_is_going(pod, latest, {})
    rs["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert owned.carrier_is_going(pod, latest, {})
    latest["uid-web-1"] = None  # gone
    assert owned.carrier_is_going(pod, latest, {})
    inside = _obj("Pod", "inside", ns="lab")
    namespace = _obj("Namespace", "lab")
    latest = {"uid-lab": namespace, "uid-inside": inside}
    assert not owned.carrier_is_going(inside, latest, {"lab": "uid-lab"})
    namespace["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert owned.carrier_is_going(inside, latest, {"lab": "uid-lab"})


def test_discovery_keeps_every_version_and_one_entry_per_type() -> None:
    apis = {"groups": [{"name": "batch", "preferredVersion": {"groupVersion": "batch/v1"},
                        "versions": [{"groupVersion": "batch/v1beta1"},
                                     {"groupVersion": "batch/v1"}]}]}
    assert owned.group_versions(apis) == ["v1", "batch/v1", "batch/v1beta1"]
    v1 = {"resources": [{"name": "jobs", "kind": "Job", "namespaced": True,
                         "verbs": ["list", "delete", "get"]},
                        {"name": "jobs/status", "kind": "Job", "verbs": ["get", "list"]}]}
    beta = {"resources": [{"name": "jobs", "kind": "Job", "namespaced": True,
                           "verbs": ["list", "delete"]},
                          {"name": "cronjobs", "kind": "CronJob", "namespaced": True,
                           "verbs": ["list", "delete"]},
                          {"name": "tokenreviews", "kind": "TokenReview",
                           "verbs": ["create"]}]}
    types = owned.one_per_type([*owned.removable("batch/v1", v1),
                                    *owned.removable("batch/v1beta1", beta)])
    assert [(t.group_version, t.plural) for t in types] == [("batch/v1", "jobs"),
                                                            ("batch/v1beta1", "cronjobs")]
    assert types[1].path() == "/apis/batch/v1beta1/cronjobs"
    assert types[1].path("lab", "nightly") == "/apis/batch/v1beta1/namespaces/lab/cronjobs/nightly"


def test_why_an_object_stayed() -> None:
    pvc = _obj("PersistentVolumeClaim", "data", ns="default")
    assert owned.why_still_there(pvc) == "its deletion was not accepted"
    pvc["metadata"].update(deletionTimestamp="x", finalizers=["kubernetes.io/pvc-protection"])
    assert owned.why_still_there(pvc) == \
        "deleting, held by finalizers kubernetes.io/pvc-protection"


def test_a_cell_applies_a_namespaces_content_and_custom_resources_after_the_rest() -> None:
    manifests = [
        _obj("Pod", "inside", ns="lab"),
        _obj("Namespace", "lab"),
        _obj("Gadget", "g", api="x.test/v1"),
        _obj("CustomResourceDefinition", "gadgets.x.test", api="apiextensions.k8s.io/v1",
             spec={"group": "x.test", "names": {"kind": "Gadget", "plural": "gadgets"}}),
        _obj("ConfigMap", "cm"),
    ]
    assert manifest_text.after_definitions(manifests, "default") == {0, 2}
    assert manifest_text.after_definitions(manifests[4:], "lab") == set()


def test_a_cronjobs_jobs_and_pods_carry_the_labels_too() -> None:
    cron = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "n"},
            "spec": {"schedule": "0 0 1 1 *",
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}
    stamped = manifest_text.with_labels(cron, {"owner": "me"})
    job = stamped["spec"]["jobTemplate"]
    assert job["metadata"]["labels"] == {"owner": "me"}
    assert job["spec"]["template"]["metadata"]["labels"] == {"owner": "me"}
    assert "template" not in stamped["spec"]


def test_a_definition_waits_only_for_its_own_custom_resources() -> None:
    crd = _obj("CustomResourceDefinition", "gadgets.x.test", api="apiextensions.k8s.io/v1",
               spec={"group": "x.test", "names": {"kind": "Gadget"}})
    plan = owned.plan([crd, _obj("Gadget", "g", api="x.test/v1", ns="default"),
                           _obj("Gizmo", "other", api="y.test/v1", ns="default"),
                           _obj("Pod", "p", ns="default")])
    assert _names(plan.defined) == ["g"]


def test_owners_wait_for_what_they_own_the_rest_goes_at_once() -> None:
    rs = _obj("ReplicaSet", "web-1", api="apps/v1", ns="default")
    pod = _obj("Pod", "web-1-a", ns="default", owners=("web-1",))
    gadget = _obj("Gadget", "g", api="x.test/v1", ns="default")
    owners = owned.owners([rs, pod, gadget])
    assert owners == {"uid-web-1"}
    assert [owned.propagation(o, owners) for o in (rs, pod, gadget)] == [
        "Foreground", "Background", "Background"]
    assert owned.propagation(_obj("Job", "j", api="batch/v1"), set()) == "Foreground"
    assert owned.propagation(_obj("Namespace", "lab"), {"uid-lab"}) == "Background"
