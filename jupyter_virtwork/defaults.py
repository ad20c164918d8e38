"""Which connection a family uses when the notebook names none.

The sandbox's engines when they are there (docker://, the ``virtwork-sandbox`` kube context,
the sandbox's vcsim, qemu:///system), otherwise the user's own configuration (DOCKER_HOST and
docker contexts, the current kube context, GOVC_*, LIBVIRT_DEFAULT_URI). Only files are read
here, never an engine: this runs on the first magic of a notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .sandbox import process


@dataclass(frozen=True)
class DefaultConnection:
    uri: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a password
    why: str = ""  # shown on first use: "the sandbox's cluster", "$LIBVIRT_DEFAULT_URI"


def docker() -> DefaultConnection:
    if os.environ.get("DOCKER_HOST"):
        return DefaultConnection("docker://", why="$DOCKER_HOST")
    return DefaultConnection("docker://", why="the local Docker engine")


def kubernetes() -> DefaultConnection:
    from .sandbox import kube_pki

    kubeconfig = kube_pki.kubeconfig_path()
    if not os.environ.get("KUBECONFIG") and kubeconfig.exists() \
            and os.access(kubeconfig, os.R_OK):
        return DefaultConnection(f"k8s://{kube_pki.CONTEXT}/default",
                                 {"kubeconfig": str(kubeconfig)}, "the sandbox's cluster")
    return DefaultConnection("k8s://", why="the current kube context")


def vsphere() -> DefaultConnection | None:
    from .sandbox import vcsim

    if os.environ.get("GOVC_URL"):
        return DefaultConnection("vsphere://", why="$GOVC_URL")
    if process.running_pid(vcsim.NAME) is None:
        return None
    try:
        username, password = vcsim.credentials()
    except (OSError, ValueError, KeyError):
        return None  # not readable by this user: the sandbox is someone else's
    return DefaultConnection(f"vsphere://{username}@{vcsim.HOST}:{vcsim.PORT}",
                             {"password": password, "cafile": str(vcsim.VCENTER.cafile)},
                             "the sandbox's vCenter simulator")


def libvirt() -> DefaultConnection:
    from .sandbox import libvirt as sandbox_libvirt

    if os.environ.get("LIBVIRT_DEFAULT_URI"):
        return DefaultConnection(os.environ["LIBVIRT_DEFAULT_URI"],
                                 why="$LIBVIRT_DEFAULT_URI")
    if process.running_pid("libvirtd") is not None or os.path.exists(
            "/var/run/libvirt/libvirt-sock"):
        return DefaultConnection(sandbox_libvirt.URI, why="the local libvirtd with QEMU")
    return DefaultConnection(sandbox_libvirt.TEST_URI,
                             why="libvirt's test driver (no libvirtd here)")


def for_family(family: str) -> DefaultConnection | None:
    chooser = {"docker": docker, "kubernetes": kubernetes, "vsphere": vsphere,
               "libvirt": libvirt}.get(family)
    return chooser() if chooser else None
