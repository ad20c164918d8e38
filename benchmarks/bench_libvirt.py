"""How fast the libvirt driver is against the raw SDK, on this machine's real engines.

    python benchmarks/bench_libvirt.py [--domains 1000] [--rounds 5] [--no-qemu]

1. Listing N domains on ``test:///default``: ``driver.list(Kind.VM)`` (records with state,
   CPUs, memory, labels) against raw ``conn.listAllDomains()`` plus each domain's state, as a
   ratio. The issue's budget is 0.5 s for 1000 domains.
2. Create-to-console-marker on ``qemu:///system``: ``driver.create()`` of the sandbox's tiny
   guest until ``console(wait_for=marker)`` returns (TCG; feeds the containers-vs-VMs
   tutorial).

Everything created is removed again, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_virtwork import labels as ownership  # after the path fix
from jupyter_virtwork.drivers import libvirt_xml
from jupyter_virtwork.drivers.libvirt import LibvirtDriver
from jupyter_virtwork.models import Kind, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sizes import MiB

LIST_BUDGET = 0.5  # seconds for 1000 domains (issue 4)


def best_of(rounds: int, work: Callable[[], Any]) -> tuple[float, float]:
    """(fastest, median) wall time of ``rounds`` runs of ``work``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def bench_list(count: int, rounds: int) -> None:
    import libvirt

    driver = connect("test:///default")
    assert isinstance(driver, LibvirtDriver)
    driver.list(Kind.VM)  # open the connection and set libvirt up outside the timing
    conn = libvirt.open("test:///default")  # the same in-process hypervisor as the driver's
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    domains = [conn.defineXML(libvirt_xml.domain_xml(libvirt_xml.DomainPlan(
        f"bench-{i}", "test", 1, 64 * MiB, labels=labels))) for i in range(count)]
    try:
        for dom in domains[::2]:
            dom.create()
        raw_best, raw_median = best_of(
            rounds, lambda: [(d.name(), d.state()) for d in conn.listAllDomains(0)])
        ours_best, ours_median = best_of(rounds, lambda: driver.list(Kind.VM))
        mine_best, _ = best_of(rounds, lambda: driver.list(Kind.VM, labels=labels))
        assert len(driver.list(Kind.VM, labels=labels)) == count
    finally:
        for dom in domains:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()
        driver.close()
    verdict = "within" if ours_best <= LIST_BUDGET * count / 1000 else "OVER"
    print(f"list {count} domains on test:///default (best / median of {rounds}):")
    print(f"  raw listAllDomains + state   {raw_best * 1000:7.1f} ms / {raw_median * 1000:.1f} ms")
    print(f"  driver.list(VM)              {ours_best * 1000:7.1f} ms / "
          f"{ours_median * 1000:.1f} ms  ({ours_best / raw_best:.1f}x raw; {verdict} the "
          f"{LIST_BUDGET:.1f} s budget)")
    print(f"  driver.list(VM, labels=...)  {mine_best * 1000:7.1f} ms")


def bench_boot(rounds: int) -> None:
    from jupyter_virtwork.sandbox import guest

    files = guest.guest_files()
    driver = connect("qemu:///system")
    assert isinstance(driver, LibvirtDriver)
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    times: list[float] = []
    try:
        for _ in range(rounds):
            name = f"bench-boot-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            driver.create(VMSpec(name, memory=128 * MiB, kernel=files.kernel,
                                 initrd=files.initrd, labels=labels))
            created = time.perf_counter() - started
            driver.console(name, wait_for=files.marker, timeout=120)
            times.append(time.perf_counter() - started)
            print(f"  create() returned in {created:.2f} s, marker after {times[-1]:.2f} s")
            driver.destroy(Kind.VM, name, force=True)
    finally:
        for leftover in driver.list(Kind.VM, labels=labels):
            driver.destroy(Kind.VM, leftover.id, force=True)
        driver.close()
    print(f"create-to-console-marker on qemu:///system (TCG): best {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s over {rounds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--boots", type=int, default=2)
    parser.add_argument("--no-qemu", action="store_true", help="skip the QEMU boot")
    args = parser.parse_args()
    bench_list(args.domains, args.rounds)
    if not args.no_qemu:
        bench_boot(args.boots)


if __name__ == "__main__":
    main()
