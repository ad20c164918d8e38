"""Start an instance and wait until it is really up, read its host memory, remove it:
the same three steps for a container, a pod and a QEMU VM, through the toolkit's drivers.

"Up" means the instance's own first process ran and printed a marker: the container's and
the pod's shell echoes ``READY``; the VM's kernel booted and its init printed the guest's
marker on the serial console. A running state reported by the engine would come earlier.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.libvirt.driver import LibvirtDriver
from jupyter_virtwork.errors import NotFound, VirtworkError
from jupyter_virtwork.models import ContainerSpec, Kind, VMSpec
from jupyter_virtwork.sandbox.guest import GuestFiles
from jupyter_virtwork.sizes import MiB
from jupyter_virtwork.watch import Stopper

from . import hostmem

IMAGE = "localbase/busybox:1.35"  # the busybox the tiny guest runs too, byte for byte
READY = "READY"
SHELL = ("sh", "-c", f"echo {READY}; exec sleep 3600")
VM_MEMORY = 256 * MiB
UP_TIMEOUT = 480.0  # eight VMs booting at once on two emulated-CPU cores take minutes


class Instances(Protocol):
    """One kind of instance, as the measurement sees it."""

    kind: str  # "container", "pod", "vm": the keys of the JSON

    def start(self, name: str) -> None:
        """Create ``name`` and return once it is up."""

    def memory(self, name: str) -> int:
        """Bytes the host pays for ``name`` now."""

    def remove(self, name: str) -> None:
        """Remove ``name`` and return once it is gone."""


class Containers:
    kind = "container"

    def __init__(self, docker: DockerDriver, labels: Mapping[str, str]) -> None:
        self.docker, self.labels = docker, dict(labels)

    def start(self, name: str) -> None:
        made = self.docker.create(ContainerSpec(IMAGE, name=name, command=SHELL,
                                                labels=self.labels, network="none"))
        stopper = Stopper()
        try:
            for line in self.docker.logs(made.id, follow=True, stopper=stopper):
                if READY in line:
                    return
        finally:
            stopper.stop()
        raise RuntimeError(f"container {name} ended before it printed {READY}")

    def memory(self, name: str) -> int:
        container_id = self.docker.get(Kind.CONTAINER, name).id
        return hostmem.cgroup_charge(hostmem.cgroup_dir(container_id))

    def remove(self, name: str) -> None:
        self.docker.destroy(Kind.CONTAINER, name, force=True)


class Pods:
    kind = "pod"

    def __init__(self, k8s: KubernetesDriver, labels: Mapping[str, str]) -> None:
        self.k8s, self.labels = k8s, dict(labels)

    def manifest(self, name: str, command: tuple[str, ...] = SHELL,
                 limits: Mapping[str, str] | None = None) -> dict[str, Any]:
        container: dict[str, Any] = {"name": "main", "image": IMAGE, "command": list(command),
                                     "imagePullPolicy": "Never"}  # on the node already
        if limits:
            container["resources"] = {"limits": dict(limits)}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [container], "restartPolicy": "Never",
                         "terminationGracePeriodSeconds": 0}}

    def start(self, name: str) -> None:
        self.k8s.apply([self.manifest(name)], labels=self.labels)
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if any(READY in line for line in self.k8s.logs(name)):
                    return
            except VirtworkError:
                pass  # still being created: no log to read yet
            time.sleep(0.05)
        raise TimeoutError(f"pod {name} printed no {READY} in {UP_TIMEOUT:.0f} s")

    def memory(self, name: str) -> int:
        # The pod's cgroup holds its containers and the pause container that keeps its
        # namespaces: all of it is what the pod costs.
        uid = str(self.k8s.read(Kind.POD, name)["metadata"]["uid"])
        for fragment in (f"pod{uid}", f"pod{uid.replace('-', '_')}"):  # cgroupfs, systemd
            try:
                return hostmem.cgroup_charge(hostmem.cgroup_dir(fragment))
            except LookupError:
                continue
        raise LookupError(f"no cgroup of pod {name} (uid {uid}) on this host")

    def remove(self, name: str) -> None:
        try:
            self.k8s.delete(Kind.POD, name, grace_seconds=0, wait=True)
        except NotFound:
            pass


class VMs:
    kind = "vm"

    def __init__(self, qemu: LibvirtDriver, labels: Mapping[str, str], guest: GuestFiles,
                 memory: int = VM_MEMORY) -> None:
        self.qemu, self.labels, self.guest, self.size = qemu, dict(labels), guest, memory

    def start(self, name: str) -> None:
        self.boot(name, self.guest, self.guest.marker, self.size)

    def boot(self, name: str, guest: GuestFiles, until: str, memory: int) -> str:
        """Boot ``guest`` as ``name``; its console once it shows ``until``."""
        self.qemu.create(VMSpec(name, cpus=1, memory=memory, kernel=guest.kernel,
                                initrd=guest.initrd, labels=self.labels))
        return self.qemu.console(name, wait_for=until, timeout=UP_TIMEOUT)

    def memory(self, name: str) -> int:
        return hostmem.pss(hostmem.qemu_pid(name))

    def remove(self, name: str) -> None:
        self.qemu.destroy(Kind.VM, name, force=True)

