"""What the sandbox's engines hold, as comparable values: taken before and after a bad input
(a magic's or a server request's) or a cleanup, the two must be equal.

Each object is held with its meaningful configuration, not only its id, so that a change
made in place shows too: a container's image, command, env, ports, labels and state; each
image's id and tags; the registry's repositories and tags; every Kubernetes object of every
type the API server lists (found by discovery) with its labels and spec (replicas and
images spelled out); every VM's CPUs, memory, disks and power state.

Read through the SDKs and the toolkit's own drivers, opened afresh for each snapshot so that
no cached listing hides a change. The comparison assumes nothing else changes the engines
meanwhile, as in CI: a benchmark run by hand on the same sandbox shows up as a difference.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import docker
import requests

from jupyter_virtwork import defaults
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.sandbox import registry as sandbox_registry

ENGINES = ("docker", "registry", "images", "kubernetes", "vcsim", "libvirt")  # for ensure_up

# Kubernetes types left out: the cluster changes them on its own all the time, whatever a
# test does. Events are written by every controller and the kubelet; Leases are renewed by
# the kubelet every 10 s (spec.renewTime). Endpoints and EndpointSlices stay in (their
# labels, not their addresses: they have no spec), so a Service's are seen to go with it.
NOISY = {("", "events"), ("events.k8s.io", "events"), ("coordination.k8s.io", "leases")}


def snapshot() -> dict[str, Any]:
    """Every engine's objects, keyed by id or name, each with its configuration."""
    client = docker.from_env()
    try:
        return {
            "containers": _containers(client),
            "images": {i["Id"]: sorted(i.get("RepoTags") or [])
                       for i in client.api.images(all=True)},
            "volumes": {v["Name"]: v.get("Labels") or {}
                        for v in client.api.volumes().get("Volumes") or []},
            "networks": {n["Name"]: {"driver": n.get("Driver"), "labels": n.get("Labels") or {}}
                         for n in client.api.networks()},
            "registry": _registry(),
            "k8s": _kubernetes(),
            "test-vms": _libvirt("test:///default"),
            "qemu-vms": _libvirt("qemu:///system"),
            "qemu-volumes": _volumes("qemu:///system"),
            "vsphere-vms": _vsphere(),
        }
    finally:
        client.close()


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per object that appeared, went or changed: a readable assertion message."""
    lines = []
    for part in sorted(set(before) | set(after)):
        old, new = before.get(part) or {}, after.get(part) or {}
        for key in sorted(set(old) | set(new), key=str):
            if key not in old:
                lines.append(f"{part}: new {key}: {new[key]}")
            elif key not in new:
                lines.append(f"{part}: gone {key}")
            elif old[key] != new[key]:
                lines.append(f"{part}: changed {key}: {old[key]} -> {new[key]}")
    return lines


def _containers(client: Any) -> dict[str, Any]:
    """The kubelet's containers come and go on their own (a pod's restart, or the kubelet
    catching up after a dockerd restart): its pods stand for them in ``k8s``."""
    found = {}
    for row in client.api.containers(all=True):
        if "io.kubernetes.pod.name" in (row.get("Labels") or {}):
            continue
        try:
            info = client.api.inspect_container(row["Id"])
        except docker.errors.NotFound:
            continue  # removed between the list and the read: not there
        config, host = info.get("Config") or {}, info.get("HostConfig") or {}
        found[row["Id"]] = {
            "name": info.get("Name", "").lstrip("/"), "image": config.get("Image"),
            "command": [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])],
            "env": sorted(config.get("Env") or []), "labels": config.get("Labels") or {},
            "ports": host.get("PortBindings") or {}, "state": info["State"]["Status"]}
    return found


def _registry() -> dict[str, list[str]]:
    """Each repository of the local registry with its tags; a repository whose tags were
    all deleted is listed by the catalog still, so it counts only with tags."""
    base = f"http://{sandbox_registry.ADDRESS}"
    repositories: list[str] = []
    page: str | None = "/v2/_catalog?n=100"
    while page:  # the registry answers in pages, the next one named by a Link header
        answer = requests.get(f"{base}{page}", timeout=10)
        answer.raise_for_status()
        repositories += answer.json().get("repositories") or []
        page = (answer.links.get("next") or {}).get("url")
    found = {}
    for repository in repositories:
        answer = requests.get(f"{base}/v2/{repository}/tags/list", timeout=10)
        tags = (answer.json().get("tags") or []) if answer.ok else []
        if tags:
            found[repository] = sorted(tags)
    return found


def _kubernetes() -> dict[str, Any]:
    kube: Any = connect(f"k8s://{kube_pki.CONTEXT}/default",
                        kubeconfig=str(kube_pki.kubeconfig_path()))
    try:
        found = {}
        for api in kube.api_resources():
            if (api.group, api.plural) in NOISY:
                continue
            for obj in kube.objects(api):
                found[_k8s_key(api, obj)] = _k8s_config(obj)
        return found
    finally:
        kube.close()


def _k8s_key(api: ApiResource, obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    group = f".{api.group}" if api.group else ""
    return f"{api.kind.lower()}{group} {where}{metadata.get('name')}"


def _k8s_config(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Labels, replicas and images in the clear; the rest of the spec (and a ConfigMap's or
    Secret's data) as a digest: a change shows, a secret does not."""
    spec = obj.get("spec")
    pod_spec = spec if obj.get("kind") == "Pod" else \
        ((spec or {}).get("template") or {}).get("spec") if isinstance(spec, dict) else None
    config: dict[str, Any] = {"labels": (obj.get("metadata") or {}).get("labels") or {}}
    if isinstance(spec, dict) and "replicas" in spec:
        config["replicas"] = spec["replicas"]
    if pod_spec:
        config["images"] = [c.get("image") for c in pod_spec.get("containers") or []]
    for field in ("spec", "data", "binaryData", "rules", "subjects", "roleRef"):
        if obj.get(field) is not None:
            config[field] = hashlib.sha256(
                json.dumps(obj[field], sort_keys=True).encode()).hexdigest()[:16]
    return config


def _libvirt(uri: str) -> dict[str, Any]:
    import libvirt

    conn = libvirt.open(uri)
    try:
        found = {}
        for dom in conn.listAllDomains():
            try:
                xml = ET.fromstring(dom.XMLDesc(0))
                state, _ = dom.state()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    continue  # deleted between the list and the read: not there
                raise
            found[dom.name()] = {"cpus": int(xml.findtext("vcpu") or 0),
                                 "memory_kib": int(xml.findtext("memory") or 0),
                                 "disks": [_disk(d) for d in xml.findall("devices/disk")],
                                 "state": int(state)}
        return found
    finally:
        conn.close()


def _volumes(uri: str) -> dict[str, int]:
    """Every storage volume (a VM's disk left behind shows here) with its capacity."""
    import libvirt

    conn = libvirt.open(uri)
    try:
        return {f"{pool.name()}/{volume.name()}": int(volume.info()[1])
                for pool in conn.listAllStoragePools() if pool.isActive()
                for volume in pool.listAllVolumes()}
    finally:
        conn.close()


def _disk(disk: ET.Element) -> tuple[str, str]:
    """(target device, source file or volume) of a domain's disk."""
    target, source = disk.find("target"), disk.find("source")
    where = "" if source is None else source.get("file") or source.get("volume") or ""
    return ("" if target is None else target.get("dev", ""), where)


def _vsphere() -> dict[str, Any]:
    vcenter = defaults.vsphere()
    assert vcenter is not None, "the sandbox's vcsim is not running"
    driver: Any = connect(vcenter.uri, **vcenter.options)
    try:
        found = {}
        for vm in driver.list(Kind.VM):
            try:
                disks = driver.disks(vm.id)
            except NotFound:
                continue  # deleted between the list and the read: not there
            found[vm.name] = {"cpus": vm.details.get("cpus"), "memory": vm.details.get("memory"),
                              "disks": disks, "state": vm.state.value}
        return found
    finally:
        driver.close()
