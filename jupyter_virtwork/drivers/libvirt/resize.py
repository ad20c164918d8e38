"""Changing a VM's CPUs, memory and disk size: always in its persistent definition, and on
the running VM where the hypervisor (or the guest) allows. Each change says whether it
applied live (True) or waits for the next start (False).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...errors import InvalidInput
from ...models import VMSpec
from ...sizes import format_size
from . import volumes
from .records import read_owner
from .sdk import import_libvirt, message

log = logging.getLogger(__name__)


def parse_change(cpus: int | str | None, memory: int | str | None,
                 disk: int | str | None) -> VMSpec:
    """The change as a VMSpec: its rules (and human sizes) apply to a change as they do to
    a new VM. CPUs and memory not given are placeholders, never applied."""
    return VMSpec.parse("reconfigure", cpus=cpus if cpus is not None else 1,
                        memory=memory if memory is not None else "512M", disk=disk)


def memory_kib(size: int) -> int:
    """``size`` bytes in KiB, as libvirt takes memory, rounded up."""
    return -(-size // 1024)


def set_cpus(dom: Any, count: int) -> bool:
    """Persistent vCPU count (raising the maximum if needed); live if it can be."""
    libvirt = import_libvirt()
    config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if count > dom.vcpusFlags(config | libvirt.VIR_DOMAIN_VCPU_MAXIMUM):
        dom.setVcpusFlags(count, config | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
    dom.setVcpusFlags(count, config)
    return bool(dom.isActive()) and _try_live(
        lambda: dom.setVcpusFlags(count, libvirt.VIR_DOMAIN_AFFECT_LIVE))


def set_memory(dom: Any, size: int) -> bool:
    """Persistent memory (maximum and current); live through the balloon when the new
    size fits under the running maximum."""
    libvirt = import_libvirt()
    kib = memory_kib(size)
    config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    dom.setMemoryFlags(kib, config | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
    dom.setMemoryFlags(kib, config)
    if not dom.isActive() or kib > dom.info()[1]:
        return False
    return _try_live(lambda: dom.setMemoryFlags(kib, libvirt.VIR_DOMAIN_AFFECT_LIVE))


def grow_disk(conn: Any, dom: Any, name: str, size: int | None, *, uri: str) -> bool:
    """Grow the toolkit's volume of VM ``name``; through QEMU (``blockResize``) while it
    runs. A smaller size is refused: disks only grow."""
    libvirt = import_libvirt()
    assert size is not None  # reconfigure passes a parsed, given size
    volume = volumes.owned(conn, read_owner(dom), name, uri=uri)
    capacity = int(volume.info()[1])
    if size < capacity:
        raise InvalidInput(f"disk {format_size(size)} is smaller than the current "
                           f"{format_size(capacity)}", connection=uri,
                           hint="disks only grow: shrinking would cut off data")
    if size == capacity:
        return bool(dom.isActive())
    if dom.isActive():  # through QEMU: the guest sees the new size at once
        dom.blockResize(volume.path(), size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        return True
    volume.resize(size, 0)
    return False


def _try_live(call: Callable[[], Any]) -> bool:
    """Apply a change to the running VM; False when the hypervisor or guest refuses it
    (it still applies at the next start, from the persistent definition)."""
    libvirt = import_libvirt()
    try:
        call()
    except libvirt.libvirtError as exc:
        log.info("live change refused, it applies at the next start: %s", message(exc))
        return False
    return True
