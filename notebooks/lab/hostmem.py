"""What a running instance costs the host in memory, read from the host kernel.

- A container or a pod: the charge of its memory cgroup, the kernel's own count of the
  pages its processes use (anonymous, page cache, kernel objects). A page is charged to one
  cgroup only, so adding up many instances counts a shared page once.
- A QEMU VM: the proportional set size (PSS) of its QEMU process. A page that N processes
  share counts 1/N in each, so adding up many VMs counts a shared library once too (RSS
  would count it in every VM).
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC = Path("/proc")
LIBVIRT_RUN = Path("/run/libvirt/qemu")  # libvirtd writes each running domain's PID here


def cgroup_version() -> int:
    """2 where the memory controller is on the unified hierarchy, else 1."""
    return 2 if (CGROUP_ROOT / "cgroup.controllers").is_file() else 1


def charge_file() -> str:
    """The file holding a cgroup's memory charge: cgroup v2's ``memory.current``, or its
    v1 equivalent ``memory.usage_in_bytes``."""
    return "memory.current" if cgroup_version() == 2 else "memory.usage_in_bytes"


def cgroup_dir(fragment: str) -> Path:
    """The memory cgroup whose path has a component containing ``fragment`` (a container's
    id, ``pod<uid>``), found through the cgroup of a process inside it."""
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            lines = (PROC / entry.name / "cgroup").read_text().splitlines()
        except OSError:
            continue  # the process ended while we looked
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if controllers not in ("memory", "") or fragment not in path:
                continue
            parts = path.strip("/").split("/")
            upto = next(i for i, part in enumerate(parts) if fragment in part)
            base = CGROUP_ROOT if cgroup_version() == 2 else CGROUP_ROOT / "memory"
            return base.joinpath(*parts[:upto + 1])
    raise LookupError(f"no process runs in a cgroup named after {fragment!r}")


def cgroup_charge(directory: Path) -> int:
    """Bytes charged to the cgroup ``directory`` (``cgroup_dir``)."""
    return int((directory / charge_file()).read_text())


def qemu_pid(vm_name: str) -> int:
    return int((LIBVIRT_RUN / f"{vm_name}.pid").read_text())


def pss(pid: int) -> int:
    """Proportional set size of process ``pid``, bytes (smaps_rollup: one read for all of
    its mappings)."""
    for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"/proc/{pid}/smaps_rollup has no Pss line")
