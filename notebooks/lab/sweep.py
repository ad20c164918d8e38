"""Measure containers, pods and QEMU VMs: start time and host memory of 1, 2, 4 and 8
started at once, a CPU benchmark inside each, and running out of memory; save it as JSON.

    cd notebooks && python -m lab.sweep [--samples 10] [--out data/05-measurements.json]

(``make measure`` from the top folder.) Each sample starts N instances at once, waits until
the last is up, reads what each costs the host, and removes them before the next sample.
Everything carries ownership labels and is removed also when a sample fails. The notebook
reads the JSON; ``live_sample`` measures one of each there, to show the code works.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_virtwork import __version__, defaults, labels
from jupyter_virtwork.drivers.base import Driver
from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.libvirt.driver import LibvirtDriver
from jupyter_virtwork.errors import NotFound, VirtworkError
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox.guest import guest_files

from . import hostmem, workloads
from .instances import IMAGE, VM_MEMORY, Containers, Instances, Pods, VMs
from .results import DATA, KINDS

COUNTS = (1, 2, 4, 8)
SAMPLES = 10
SCHEMA = 1


@dataclass(frozen=True)
class Sample:
    """N instances started at once."""

    wall: float  # seconds from the first create until the last instance was up
    each: list[float]  # seconds each instance took, from its own create
    memory: list[int]  # bytes each costs the host, read once all were up


def sample(instances: Instances, count: int, *, keep: bool = False) -> Sample:
    """Start ``count`` instances named ``lab-KIND-1``... at once and measure them; remove
    them afterwards unless ``keep``, and always when something fails."""
    names = [f"lab-{instances.kind}-{i}" for i in range(1, count + 1)]

    def timed_start(name: str) -> float:
        began = time.perf_counter()
        instances.start(name)
        return time.perf_counter() - began

    done = False
    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            each = list(pool.map(timed_start, names))
            wall = time.perf_counter() - began
            memory = list(pool.map(instances.memory, names))
        done = True
    finally:
        if not (keep and done):
            remove(instances, names)
    return Sample(wall, each, memory)


def remove(instances: Instances, names: Sequence[str]) -> None:
    def quietly(name: str) -> None:
        with contextlib.suppress(NotFound):
            instances.remove(name)

    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(quietly, names))


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median and spread: quartiles (the box of a box plot) and the extremes."""
    ordered = sorted(values)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") \
        if len(ordered) > 1 else (ordered[0],) * 3
    return {"n": len(ordered), "median": statistics.median(ordered), "q1": q1, "q3": q3,
            "min": ordered[0], "max": ordered[-1], "samples": list(values)}


def loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


Progress = Callable[[str], None]


Samples = dict[str, dict[int, int]]  # kind -> count -> how many samples


def sweep(kinds: Sequence[Instances], counts: Sequence[int], samples: Samples,
          say: Progress) -> dict[str, Any]:
    """``samples[kind][count]`` samples of each count of each kind: start and memory."""
    start: dict[str, dict[str, Any]] = {}
    memory: dict[str, dict[str, Any]] = {}
    per_instance: dict[str, dict[str, Any]] = {}
    load: dict[str, dict[str, list[float]]] = {}
    failed: dict[str, dict[str, list[str]]] = {}
    for instances in kinds:
        kind = instances.kind
        start[kind], memory[kind], per_instance[kind] = {}, {}, {}
        load[kind] = {"before": loadavg()}
        for count in counts:
            taken = []
            for _ in range(samples[kind][count]):
                try:
                    taken.append(sample(instances, count))
                except (VirtworkError, TimeoutError, RuntimeError) as exc:
                    # One stuck instance (a guest starved of CPU) must not cost the
                    # samples before it: the JSON says what failed, the figures use the rest.
                    failed.setdefault(kind, {}).setdefault(str(count), []).append(str(exc))
                    say(f"{count} {kind}(s): a sample failed: {exc}")
            if not taken:
                raise RuntimeError(f"every sample of {count} {kind}(s) failed")
            start[kind][str(count)] = summary([s.wall for s in taken])
            memory[kind][str(count)] = summary([sum(s.memory) for s in taken])
            per_instance[kind][str(count)] = summary([m for s in taken for m in s.memory])
            say(f"{count} {kind}(s): up after {start[kind][str(count)]['median']:.2f} s, "
                f"{memory[kind][str(count)]['median'] / 2**20:.1f} MiB in all "
                f"(medians of {samples[kind][count]}; load {loadavg()[0]})")
        load[kind]["after"] = loadavg()
    return {"start_seconds": start, "memory_bytes": memory,
            "memory_per_instance_bytes": per_instance, "load_by_kind": load,
            "failed_samples": failed}


def cpu(docker: DockerDriver, vms: VMs, rounds: int, owner: dict[str, str]) -> dict[str, Any]:
    return {"host": summary(workloads.cpu_on_host(rounds)),
            "container": summary(workloads.cpu_in_container(docker, owner, rounds)),
            "vm": summary(workloads.cpu_in_vm(vms, rounds))}


def out_of_memory(docker: DockerDriver, pods: Pods, vms: VMs,
                  owner: dict[str, str]) -> dict[str, Any]:
    return {"container": asdict(workloads.oom_in_container(docker, owner)),
            "pod": asdict(workloads.oom_in_pod(pods)),
            "vm": asdict(workloads.oom_in_vm(vms))}


def machine(qemu: LibvirtDriver, vms: VMs) -> dict[str, Any]:
    """This machine, as far as it bears on the figures; the accelerator and the guest's
    kernel are read from a VM booted for the purpose."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    name = f"lab-probe-{uuid.uuid4().hex[:6]}"
    try:
        console = vms.boot(name, vms.guest, vms.guest.marker, VM_MEMORY)
        cmdline = Path(f"/proc/{hostmem.qemu_pid(name)}/cmdline").read_bytes().split(b"\0")
    finally:
        vms.remove(name)
    accel = next((w.decode() for w in cmdline if b"accel=" in w or w in (b"tcg", b"kvm")),
                 "unknown")
    guest_kernel = re.search(rf"{vms.guest.marker} (\S+)", console)
    return {"cpu": model.group(1) if model else platform.processor(),
            "cores": os.cpu_count(), "memory_bytes": int(total.group(1)) * 1024 if total else 0,
            "kernel": platform.release(), "cgroup": hostmem.cgroup_version(),
            "cgroup_memory_file": hostmem.charge_file(), "qemu_accelerator": accel,
            "guest_kernel": guest_kernel.group(1) if guest_kernel else "unknown"}


def versions(docker: DockerDriver, k8s: KubernetesDriver, qemu: LibvirtDriver) -> dict[str, str]:
    busybox = subprocess.run(["busybox"], capture_output=True, text=True, check=False).stdout
    return {"docker": docker.ping(), "kubernetes": k8s.version(), "libvirt": qemu.version(),
            "busybox": busybox.splitlines()[0] if busybox else "unknown", "image": IMAGE,
            "python": platform.python_version(), "jupyter_virtwork": __version__}


def settings(counts: Sequence[int], samples: Samples, rounds: int) -> dict[str, Any]:
    return {"counts": list(counts),
            "samples": {kind: {str(c): n for c, n in by_count.items()}
                        for kind, by_count in samples.items()},
            "vm_memory_bytes": VM_MEMORY, "vm_cpus": 1, "cpu_rounds": rounds,
            "cpu_work_bytes": workloads.CPU_WORK_MIB * 2**20,
            "cpu_work": f"sha256sum of {workloads.CPU_WORK_MIB} MiB of zeros (busybox)",
            "oom_memory_bytes": workloads.OOM_LIMIT, "oom_asked_bytes": workloads.OOM_ASK}


@dataclass
class Engines:
    docker: DockerDriver
    k8s: KubernetesDriver
    qemu: LibvirtDriver

    @classmethod
    def of(cls, docker: Driver, k8s: Driver, qemu: Driver) -> Engines:
        """The engines of a notebook's session (``session().driver(...)``)."""
        assert isinstance(docker, DockerDriver) and isinstance(k8s, KubernetesDriver)
        assert isinstance(qemu, LibvirtDriver)
        return cls(docker, k8s, qemu)

    @classmethod
    def connect(cls) -> Engines:
        """The engines a notebook would use by default: the same connections."""
        docker, k8s = defaults.docker(), defaults.kubernetes()
        return cls.of(connect(docker.uri, **docker.options), connect(k8s.uri, **k8s.options),
                      connect("qemu:///system"))

    def kinds(self, owner: dict[str, str]) -> tuple[Containers, Pods, VMs]:
        return (Containers(self.docker, owner), Pods(self.k8s, owner),
                VMs(self.qemu, owner, guest_files()))


def measure(engines: Engines, counts: Sequence[int], samples: Samples, rounds: int,
            say: Progress) -> dict[str, Any]:
    """The whole sweep, as the JSON file holds it."""
    owner = labels.ownership(f"lab-sweep-{uuid.uuid4().hex[:8]}")
    began, load_before = time.monotonic(), loadavg()
    containers, pods, vms = engines.kinds(owner)
    try:
        result: dict[str, Any] = {
            "schema": SCHEMA,
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(engines.qemu, vms),
            "versions": versions(engines.docker, engines.k8s, engines.qemu),
            "settings": settings(counts, samples, rounds)}
        result.update(sweep((containers, pods, vms), counts, samples, say))
        say("CPU benchmark")
        result["cpu_seconds"] = cpu(engines.docker, vms, rounds, owner)
        say("out of memory")
        result["out_of_memory"] = out_of_memory(engines.docker, pods, vms, owner)
    finally:
        for driver in (engines.docker, engines.k8s, engines.qemu):
            driver.remove_owned(owner, deadline=time.monotonic() + 300)
    result["load"] = {"cores": os.cpu_count(), "before": load_before, "after": loadavg()}
    result["duration_seconds"] = round(time.monotonic() - began, 1)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=SAMPLES, help="samples of each count")
    parser.add_argument("--vm-samples", nargs="+", default=[], metavar="COUNT=N",
                        help="fewer samples of many VMs at once, the slowest part: 8=5 "
                             "(the JSON's settings say how many each count had)")
    parser.add_argument("--counts", type=int, nargs="+", default=list(COUNTS))
    parser.add_argument("--cpu-rounds", type=int, default=SAMPLES)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    samples = {kind: {c: args.samples for c in args.counts} for kind in KINDS}
    for fewer in args.vm_samples:
        count, _, n = fewer.partition("=")
        samples["vm"][int(count)] = int(n)

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    result = measure(Engines.connect(), args.counts, samples, args.cpu_rounds, say)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    say(f"wrote {args.out} after {result['duration_seconds']:.0f} s")


if __name__ == "__main__":
    main()
