"""The pod guard's verdicts, on manifests as the API server sends them."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_virtwork.classroom import guard
from jupyter_virtwork.labels import LEARNER


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "main", "image": "busybox"}]}
    return {"kind": "Pod", "spec": {**base, **spec}}


def container(**fields: Any) -> list[dict[str, Any]]:
    return [{"name": "main", "image": "busybox", **fields}]


@pytest.mark.parametrize(("obj", "reason"), [
    (pod(hostNetwork=True), "host network"),
    (pod(hostPID=True), "host PIDs"),
    (pod(hostIPC=True), "host IPC"),
    (pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "a hostPath volume (root)"),
    (pod(volumes=[{"name": "n", "nfs": {"server": "x", "path": "/"}}]), "a nfs volume (n)"),
    (pod(containers=container(securityContext={"privileged": True})),
     "a privileged container (main)"),
    (pod(containers=container(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}})),
     "added capabilities (main)"),
    (pod(containers=container(securityContext={"allowPrivilegeEscalation": True})),
     "privilege escalation (main)"),
    (pod(containers=container(securityContext={"procMount": "Unmasked"})),
     "an unmasked /proc (main)"),
    (pod(containers=container(ports=[{"containerPort": 80, "hostPort": 80}])),
     "a host port (main)"),
    (pod(initContainers=container(securityContext={"privileged": True})),
     "a privileged container (main)"),
    ({"kind": "Deployment", "spec": {"template": pod(hostNetwork=True)}}, "host network"),
    ({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": pod(hostPID=True)}}}},
     "host PIDs"),
])
def test_what_hands_a_learner_the_node_is_refused(obj: dict[str, Any], reason: str) -> None:
    assert guard.refusals(obj) == [reason]


def test_an_ordinary_pod_with_its_own_volumes_passes() -> None:
    volumes = [{"name": "c", "configMap": {"name": "x"}}, {"name": "e", "emptyDir": {}},
               {"name": "s", "secret": {"secretName": "x"}},
               {"name": "p", "persistentVolumeClaim": {"claimName": "x"}}]
    ordinary = pod(volumes=volumes, containers=container(
        ports=[{"containerPort": 8080}], securityContext={"runAsUser": 1000}))
    assert guard.refusals(ordinary) == []
    assert guard.refusals({"kind": "Service", "spec": {"hostNetwork": True}}) == []


def test_the_answer_says_why_in_the_namespace() -> None:
    review = {"request": {"uid": "u1", "namespace": "virtwork-ada",
                          "object": pod(hostNetwork=True)}}
    response = guard.answer(review)["response"]
    assert (response["uid"], response["allowed"], response["status"]["code"]) == \
        ("u1", False, 403)
    assert response["status"]["message"] == \
        "a learner's pod may not use host network in namespace virtwork-ada"
    assert guard.answer({"request": {"uid": "u2", "object": pod()}})["response"] == \
        {"uid": "u2", "allowed": True}


def test_the_webhook_covers_learner_namespaces_only_and_fails_closed() -> None:
    config = guard.webhook_configuration("https://127.0.0.1:8444/validate", "Q0E=")
    hook = config["webhooks"][0]
    assert hook["namespaceSelector"] == {
        "matchExpressions": [{"key": LEARNER, "operator": "Exists"}]}
    assert hook["failurePolicy"] == "Fail"
    covered = {r for rule in hook["rules"] for r in rule["resources"]}
    assert covered == {"pods", "deployments", "replicasets", "statefulsets", "daemonsets",
                       "jobs", "cronjobs"}
