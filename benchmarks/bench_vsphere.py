"""vSphere listing and VM start-up speed on a 1000-VM vcsim, against raw pyVmomi.

    python benchmarks/bench_vsphere.py [--port 8998] [--repeat 15]

Starts a private simulator with the sandbox's benchmark inventory (4 clusters x 250 VMs),
then prints, in one run:
- the driver's ``list`` against one raw RetrievePropertiesEx of the same 1000 VMs (name,
  power state, CPUs, memory; the issue's target: at most 1.3x), and against a raw call of
  exactly the properties the driver reads (it also reads the annotation and guest id);
- the naive per-VM property loop (4 SOAP calls per VM) against the driver (target: the
  driver at least 30x faster);
- VM create-to-running time through the driver (create, then power on).
Times are the best of ``--repeat`` runs, taken in turns; create-to-running is a median;
the naive loop runs once (it takes seconds).
The simulator is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from jupyter_virtwork.drivers.vsphere import VSphereDriver
from jupyter_virtwork.drivers.vsphere_props import VM_PATHS, filter_spec, retrieve, vm_view
from jupyter_virtwork.drivers.vsphere_session import pyvim_connect
from jupyter_virtwork.models import Kind, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import vcsim
from jupyter_virtwork.sandbox.vcsim import BENCHMARK_INVENTORY, Instance
from jupyter_virtwork.sizes import MiB

NAME = "vcsim-bench"
ISSUE_PATHS = ("name", "runtime.powerState", "config.hardware.numCPU",
               "config.hardware.memoryMB")


def best_times(runs: list[Callable[[], object]], repeat: int) -> list[float]:
    """The best time of each run (timeit's rule: slower runs measure interference, not the
    code), taking turns so that drift in the simulator (its Go garbage collector, the other
    engines on this machine) hits every run alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times, strict=True):
            started = time.perf_counter()
            run()
            spent.append(time.perf_counter() - started)
    return [min(spent) for spent in times]


def raw_content(instance: Instance) -> tuple[Any, Any]:
    user, password = vcsim.credentials()
    si = pyvim_connect().SmartConnect(host=vcsim.HOST, port=instance.port, user=user, pwd=password,
                      sslContext=vcsim.ssl_context(instance))
    return si, si.RetrieveContent()


def naive_loop(content: Any) -> int:
    """What a first pyVmomi script does: one SOAP call per property per VM."""
    view = vm_view(content)
    try:
        rows = [(vm.name, vm.runtime.powerState, vm.config.hardware.numCPU,
                 vm.config.hardware.memoryMB) for vm in view.view]
    finally:
        view.Destroy()
    return len(rows)


def create_to_running(driver: VSphereDriver, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        name = f"vw-bench-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        vm = driver.create(VMSpec(name, cpus=2, memory=512 * MiB, disk=10 * 1024 * MiB,
                                  guest_os="ubuntu 18.04"))
        driver.start(Kind.VM, vm.id)
        times.append(time.perf_counter() - started)
        driver.destroy(Kind.VM, vm.id, force=True)
    return statistics.median(times)


def run(port: int, repeat: int) -> None:
    started = time.perf_counter()
    instance = vcsim.start_instance(NAME, port, inventory=BENCHMARK_INVENTORY)
    print(f"simulator up in {time.perf_counter() - started:.1f} s on {instance.url}")
    si, content = raw_content(instance)
    user, password = vcsim.credentials()
    driver = connect(f"vsphere://{user}@{vcsim.HOST}:{port}", password=password,
                     cafile=str(instance.cafile))
    assert isinstance(driver, VSphereDriver)
    try:
        view = vm_view(content)
        count = len(driver.list(Kind.VM))  # warm: the driver's view is made once per login
        raw_issue, raw_same, listed = best_times([
            lambda: retrieve(content.propertyCollector, filter_spec(view, ISSUE_PATHS)),
            lambda: retrieve(content.propertyCollector, filter_spec(view, VM_PATHS)),
            lambda: driver.list(Kind.VM)], repeat)
        started = time.perf_counter()
        naive_count = naive_loop(content)
        naive = time.perf_counter() - started
        startup = create_to_running(driver, max(1, repeat // 2))
        view.Destroy()
    finally:
        driver.close()
        pyvim_connect().Disconnect(si)
        vcsim.stop_instance(NAME)
    assert count == naive_count == 1000, (count, naive_count)
    print(f"VMs listed: {count}")
    print(f"raw RetrievePropertiesEx, 4 properties:        {raw_issue * 1000:7.1f} ms")
    print(f"raw RetrievePropertiesEx, the driver's {len(VM_PATHS)}:     {raw_same * 1000:7.1f} ms")
    print(f"driver list (records, labels):                 {listed * 1000:7.1f} ms")
    print(f"  driver / raw (4 properties): {listed / raw_issue:.2f}x   (target <= 1.3x)")
    print(f"  driver / raw (same properties): {listed / raw_same:.2f}x")
    print(f"naive per-VM property loop:                    {naive * 1000:7.1f} ms")
    print(f"  naive / driver: {naive / listed:.0f}x faster   (target >= 30x)")
    print(f"VM create-to-running (create + power on): {startup * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8998)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    run(args.port, args.repeat)


if __name__ == "__main__":
    main()
