"""What the sandbox's engines hold, as comparable sets: taken before and after a bad input
(a magic's or a server request's), the two must be equal.

Read through the SDKs and the toolkit's own drivers, opened afresh for each snapshot so that
no cached listing hides a change. The comparison assumes nothing else changes the engines
meanwhile, as in CI: a benchmark run by hand on the same sandbox shows up as a difference.
"""

from __future__ import annotations

from typing import Any

import docker

from jupyter_virtwork import defaults
from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki

ENGINES = ("docker", "registry", "images", "kubernetes", "vcsim", "libvirt")  # for ensure_up


def _names(uri: str, kind: Kind, **options: Any) -> set[str]:
    driver = connect(uri, **options)
    try:
        return {r.name for r in driver.list(kind)}
    finally:
        driver.close()


def snapshot() -> dict[str, Any]:
    """Containers (but the kubelet's), images, Kubernetes objects and every VM, by id or
    name."""
    client = docker.from_env()
    kube: Any = connect(f"k8s://{kube_pki.CONTEXT}/default",
                        kubeconfig=str(kube_pki.kubeconfig_path()))
    vcenter = defaults.vsphere()
    assert vcenter is not None, "the sandbox's vcsim is not running"
    try:
        return {
            # The kubelet's containers come and go on their own (a pod's restart, or the
            # kubelet catching up after a dockerd restart): its pods stand for them below.
            "containers": {c["Id"] for c in client.api.containers(all=True)
                           if "io.kubernetes.pod.name" not in (c.get("Labels") or {})},
            "images": {i["Id"] for i in client.api.images(all=True)},
            "k8s": {(k.value, r.name) for k in (Kind.POD, Kind.DEPLOYMENT, Kind.SERVICE)
                    for r in kube.list(k)},
            "test-vms": _names("test:///default", Kind.VM),
            "qemu-vms": _names("qemu:///system", Kind.VM),
            "vsphere-vms": _names(vcenter.uri, Kind.VM, **vcenter.options),
        }
    finally:
        client.close()
        kube.close()
