"""The virsh lines that do what the driver does, for teaching: one verb, and the whole of a
create, a reconfigure (as the VM is now) and a delete.
"""

from __future__ import annotations

import shlex
from typing import Any

from ...models import VMSpec
from ..base import heredoc
from . import volumes
from .records import read_owner
from .resize import memory_kib
from .sdk import import_libvirt

# Our verbs in virsh's words, where they differ.
VIRSH_WORDS: dict[str, list[str]] = {
    "list": ["list", "--all"], "get": ["dominfo"], "stop": ["shutdown"],
    "pause": ["suspend"], "destroy": ["undefine", "--remove-all-storage"],
    "force-stop": ["destroy"], "xml": ["dumpxml"], "reconfigure": ["edit"]}


def virsh(uri: str, verb: str, *args: str) -> str:
    """The virsh line of ``verb`` on the connection ``uri``, e.g. ``virsh(uri, "pause",
    "web")``."""
    return shlex.join(["virsh", "-c", uri, *VIRSH_WORDS.get(verb, [verb]), *args])


def create_lines(uri: str, pool: str, spec: VMSpec, *, start: bool, xml: str) -> str:
    """The disk volume in ``pool``, the domain ``xml`` defined (on standard input), and
    ``start`` only when it starts."""
    lines = []
    if spec.disk is not None or spec.image is not None:
        backing = [] if spec.image is None else [
            "--backing-vol", str(spec.image), "--backing-vol-format",
            "qcow2" if spec.image.suffix in (".qcow2", ".qcow") else "raw"]
        lines.append(virsh(uri, "vol-create-as", pool, f"{spec.name}.qcow2",
                           f"{spec.disk or 0}B", "--format", "qcow2", *backing))
    lines.append(virsh(uri, "define", "/dev/stdin", "--validate"))
    then = f" && {virsh(uri, 'start', spec.name)}" if start else ""
    return heredoc(" && ".join(lines), xml, then=then)


def reconfigure_lines(uri: str, conn: Any, dom: Any, change: VMSpec, *, cpus: bool,
                      memory: bool, disk: bool) -> str:
    """The lines of ``change`` (the parts given: ``cpus``, ``memory``, ``disk``) to ``dom``
    as it is now: the persistent definition always, the running VM where the driver
    changes it live too."""
    libvirt = import_libvirt()
    lines = []
    name, active = dom.name(), bool(dom.isActive())
    if cpus:
        maximum = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG
                                 | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        count = str(change.cpus)
        if change.cpus > maximum:
            lines.append(virsh(uri, "setvcpus", name, count, "--config", "--maximum"))
        lines.append(virsh(uri, "setvcpus", name, count, "--config"))
        if active:
            lines.append(virsh(uri, "setvcpus", name, count, "--live"))
    if memory:
        kib = f"{memory_kib(change.memory)}KiB"
        lines.append(virsh(uri, "setmaxmem", name, kib, "--config"))
        lines.append(virsh(uri, "setmem", name, kib, "--config"))
        if active and memory_kib(change.memory) <= dom.info()[1]:
            lines.append(virsh(uri, "setmem", name, kib, "--live"))
    if disk:
        volume = volumes.owned(conn, read_owner(dom), name, uri=uri)
        size = f"{change.disk}B"
        lines.append(virsh(uri, "blockresize", name, volume.path(), size) if active
                     else virsh(uri, "vol-resize", volume.name(), size, "--pool",
                                volume.storagePoolLookupByVolume().name()))
    return " && ".join(lines)


def destroy_lines(uri: str, name: str, *, active: bool, force: bool) -> str:
    """A running VM is powered off first (only with ``force``; without, the driver refuses,
    and so does this line)."""
    undefine = virsh(uri, "destroy", name)
    return f"{virsh(uri, 'force-stop', name)} && {undefine}" if force and active \
        else undefine
