"""The same busybox commands inside a container, a pod and a VM: a CPU benchmark, and a
program asking for more memory than its instance may have.

The container image's busybox and the tiny guest's are the same binary (Debian's
busybox-static), so the CPU figures compare the place the work runs, not the program. The
timing is taken inside, by busybox's ``time``, so no start-up is counted.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.models import ContainerSpec, Kind
from jupyter_virtwork.sandbox.guest import WORKLOAD_DONE, workload_guest
from jupyter_virtwork.sizes import MiB

from .instances import IMAGE, UP_TIMEOUT, Pods, VMs

CPU_MARK = "CPU-SECONDS"
CPU_WORK_MIB = 64  # sha256 of this many MiB of zeros: a fraction of a second on the host
OOM_LIMIT = 128 * MiB  # the container's and the pod's limit, and the VM's whole memory
OOM_ASK = 2 * OOM_LIMIT  # what the program asks for, in one buffer it fills
OOM_EXIT = "HOG-EXIT"
# Inside the image and the guest every command is busybox's; `dd` keeps its own name in
# the OOM killer's report.
_HOG = f"dd if=/dev/zero of=/dev/null bs={OOM_ASK // MiB}M count=1"


def cpu_script(rounds: int, mib: int = CPU_WORK_MIB) -> str:
    """busybox sh: ``rounds`` times, hash ``mib`` MiB of zeros, print the seconds it took.
    busybox is named every time: on the host, PATH would find GNU ``time`` and ``dd``."""
    work = f"busybox dd if=/dev/zero bs=1048576 count={mib} 2>/dev/null | busybox sha256sum"
    return (f'i=0; while [ $i -lt {rounds} ]; do i=$((i+1)); '
            f'busybox time -f "{CPU_MARK} %e" busybox sh -c "{work} >/dev/null"; done')


def cpu_seconds(output: str) -> list[float]:
    return [float(value) for value in re.findall(rf"{CPU_MARK} (\d+\.\d+)", output)]


def cpu_on_host(rounds: int) -> list[float]:
    done = subprocess.run(["busybox", "sh", "-c", cpu_script(rounds)], capture_output=True,
                          text=True, check=True, timeout=UP_TIMEOUT)
    return cpu_seconds(done.stderr)


def cpu_in_container(docker: DockerDriver, labels: Mapping[str, str], rounds: int) -> list[float]:
    name = f"lab-cpu-{uuid.uuid4().hex[:6]}"
    made = docker.create(ContainerSpec(IMAGE, name=name, command=("sh", "-c", cpu_script(rounds)),
                                       labels=labels, network="none"))
    try:
        docker.wait(made.id, timeout=UP_TIMEOUT)
        return cpu_seconds("\n".join(docker.logs(made.id)))
    finally:
        docker.destroy(Kind.CONTAINER, made.id, force=True)


def cpu_in_vm(vms: VMs, rounds: int) -> list[float]:
    name = f"lab-cpu-vm-{uuid.uuid4().hex[:6]}"
    try:
        return cpu_seconds(vms.boot(name, workload_guest(cpu_script(rounds)), WORKLOAD_DONE,
                                    vms.size))
    finally:
        vms.remove(name)


@dataclass(frozen=True)
class OutOfMemory:
    """How an instance ended up when its program asked for more memory than it had."""

    memory: int  # the limit (container, pod) or all the guest's memory (VM), bytes
    asked: int  # bytes the program asked for
    exit_code: int  # the program's: 137 is 128 + SIGKILL, the OOM killer's signal
    oom_killed: bool  # as the engine recorded it (the VM: as the guest's kernel printed)
    evidence: str  # the engine's record, or the guest kernel's console line


def oom_in_container(docker: DockerDriver, labels: Mapping[str, str]) -> OutOfMemory:
    made = docker.create(ContainerSpec(IMAGE, name=f"lab-oom-{uuid.uuid4().hex[:6]}",
                                       command=("sh", "-c", _HOG), labels=labels,
                                       network="none", memory=OOM_LIMIT))
    try:
        ended = docker.wait(made.id, timeout=UP_TIMEOUT)
    finally:
        docker.destroy(Kind.CONTAINER, made.id, force=True)
    return OutOfMemory(OOM_LIMIT, OOM_ASK, ended.exit_code, ended.oom_killed,
                       f"State.OOMKilled={str(ended.oom_killed).lower()}, "
                       f"State.ExitCode={ended.exit_code}")


def oom_in_pod(pods: Pods) -> OutOfMemory:
    name = f"lab-oom-pod-{uuid.uuid4().hex[:6]}"
    pods.k8s.apply([pods.manifest(name, ("sh", "-c", _HOG),
                                  limits={"memory": f"{OOM_LIMIT // MiB}Mi"})],
                   labels=pods.labels)
    try:
        ended = _terminated(pods, name)
    finally:
        pods.remove(name)
    reason = str(ended.get("reason", ""))
    return OutOfMemory(OOM_LIMIT, OOM_ASK, int(ended.get("exitCode", -1)),
                       reason == "OOMKilled",
                       f"status.containerStatuses[0].state.terminated.reason={reason}")


def _terminated(pods: Pods, name: str) -> dict[str, Any]:
    """The pod's container's terminated state, once it has one."""
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        status = pods.k8s.read(Kind.POD, name).get("status") or {}
        for container in status.get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated:
                return dict(terminated)
        time.sleep(0.2)
    raise TimeoutError(f"pod {name} did not end in {UP_TIMEOUT:.0f} s")


def oom_in_vm(vms: VMs) -> OutOfMemory:
    # Linux refuses one allocation larger than all its memory outright (its default
    # overcommit heuristic); mode 1 grants it, so the guest's kernel meets the shortage
    # page by page as the buffer is filled, as it does for a program that grows.
    script = f"echo 1 > /proc/sys/vm/overcommit_memory; {_HOG}; echo \"{OOM_EXIT} $?\""
    name = f"lab-oom-vm-{uuid.uuid4().hex[:6]}"
    try:
        console = vms.boot(name, workload_guest(script), WORKLOAD_DONE, OOM_LIMIT)
    finally:
        vms.remove(name)
    killed = re.search(r"Out of memory: Killed process .*?\)", console)
    code = re.search(rf"{OOM_EXIT} (\d+)", console)
    return OutOfMemory(OOM_LIMIT, OOM_ASK, int(code.group(1)) if code else -1,
                       killed is not None, killed.group(0) if killed else "")
