"""Actions through the REST API change the real engines; the answers carry the command."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_virtwork.models import Kind, WorkloadSpec
from tests.integration.conftest import ensure_up

from . import engines


async def test_container_lifecycle_through_the_api(api: Any, busybox: Any,
                                                   docker_client: Any) -> None:
    name = busybox.name
    code, body = await api("resources", params={"connection": "docker", "kind": "container"})
    assert code == 200
    row = next(r for r in body["resources"] if r["name"] == name)
    assert (row["state"], row["connection"], row["kind"]) == ("running", "docker", "container")
    assert row["actions"] == ["stop", "pause", "delete"]
    assert row["commands"]["stop"] == f"docker stop {name}"
    assert "raw" not in row

    steps = [("pause", "paused", "paused", f"docker pause {name}"),
             ("resume", "running", "running", f"docker unpause {name}"),
             ("stop", "stopped", "exited", f"docker stop {name}"),
             ("start", "running", "running", f"docker start {name}")]
    for action, state, docker_status, command in steps:
        code, body = await api("resources", "docker", "container", row["id"], action,
                               method="POST")
        assert code == 200, body
        assert (body["action"], body["resource"]["state"], body["command"]) == (
            action, state, command)
        busybox.reload()
        assert busybox.status == docker_status  # the engine's own word, not ours

    code, body = await api("resources", "docker", "container", name)
    assert (code, body["resource"]["id"]) == (200, row["id"])
    # The docker driver's word for "get" (inspect) is its own to choose.
    assert body["command"].startswith("docker ") and body["command"].endswith(name)

    code, body = await api("resources", "docker", "container", row["id"], "delete",
                           method="POST")
    assert (code, body["resource"]["state"], body["command"]) == (
        200, "deleted", f"docker rm -f {name}")
    assert docker_client.containers.list(all=True, filters={"name": name}) == []


async def test_pods_and_vms_are_listed(api: Any, labels: dict[str, str]) -> None:
    ensure_up("kubernetes", "vcsim")
    k8s = engines.kubernetes()
    pod_name = engines.name()
    k8s.create(WorkloadSpec((engines.pod_manifest(pod_name, labels),)))
    try:
        code, body = await api("resources", params={"connection": "kubernetes"})
        assert code == 200, body
        pod = next(r for r in body["resources"] if r["name"] == pod_name)
        assert pod["kind"] == "pod" and pod["actions"] == ["delete"]
        assert pod["commands"]["delete"] == (  # the kubeconfig the connection reads
            f"kubectl --kubeconfig {engines.KUBECONFIG} --context virtwork-sandbox "
            f"-n default delete pod/{pod_name}")
        code, body = await api("resources", "kubernetes", "pod", pod_name, "pause",
                               method="POST")
        assert (code, body["code"]) == (501, "UnsupportedOperation")
    finally:
        k8s.destroy(Kind.POD, pod_name, force=True)
        k8s.close()

    code, body = await api("resources", params={"connection": "vsphere"})
    assert code == 200, body
    vms = {r["name"]: r for r in body["resources"]}
    assert "DC0_H0_VM0" in vms  # vcsim's own inventory
    assert vms["DC0_H0_VM0"]["kind"] == "vm"
    assert vms["DC0_H0_VM0"]["commands"]["start"].startswith("govc vm.power")


@pytest.fixture
def virtwork_config() -> dict[str, Any]:
    return {}  # the defaults: the sandbox's engines
