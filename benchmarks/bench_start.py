"""Container start against VM start, through the drivers, on this machine's engines.

    python benchmarks/bench_start.py [--rounds 5] [--boots 2] [--port 8997] [--json PATH]

- a busybox container (docker): create-to-running (``driver.create`` returns a running
  container, as ``docker run -d``) and create-to-output-marker (the first line it prints,
  read from its log stream);
- a QEMU guest on qemu:///system (TCG: no KVM here): ``driver.create`` of the sandbox's tiny
  guest until its console shows the guest's marker (the console is read every 0.2 s);
- a VM on vcsim (a private simulator with the sandbox's default inventory): create, then
  power on, until the task says it runs.
Each VM figure is a ratio against the container figure of the same kind (marker against
marker, running against running); medians. Reported, no goal (issue 4: they feed the
containers-vs-VMs tutorial). Everything carries the ownership labels and is removed at the
end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import Figure, median, remove_labelled, run_script

from jupyter_virtwork import labels as ownership  # after the path fix
from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.models import ContainerSpec, Kind, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import vcsim
from jupyter_virtwork.sizes import MiB
from jupyter_virtwork.watch import Stopper

BUSYBOX = "localbase/busybox:1.35"
MARKER = "virtwork-container-up"
VCSIM_NAME = "vcsim-bench-start"


def container(rounds: int, labels: dict[str, str]) -> tuple[list[float], list[float]]:
    """(create-to-running, create-to-marker) of each round, seconds."""
    driver = connect("docker://")
    assert isinstance(driver, DockerDriver)
    running: list[float] = []
    marker: list[float] = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            made = driver.create(ContainerSpec(
                BUSYBOX, name=f"vw-bench-{uuid.uuid4().hex[:8]}", network="none",
                command=("sh", "-c", f"echo {MARKER}; exec sleep 600"), labels=labels))
            running.append(time.perf_counter() - started)
            stopper = Stopper()
            for line in driver.logs(made.id, follow=True, stopper=stopper):
                if MARKER in line:
                    break
            marker.append(time.perf_counter() - started)
            stopper.stop()
            driver.destroy(Kind.CONTAINER, made.id, force=True)
    finally:
        remove_labelled(driver, Kind.CONTAINER, labels)
        driver.close()
    return running, marker


def qemu(boots: int, labels: dict[str, str]) -> list[float]:
    """Create-to-console-marker of the sandbox's tiny guest on qemu:///system, seconds."""
    from jupyter_virtwork.sandbox import guest

    files = guest.guest_files()
    driver = connect("qemu:///system")
    times: list[float] = []
    try:
        for _ in range(boots):
            name = f"vw-bench-boot-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            driver.create(VMSpec(name, memory=128 * MiB, kernel=files.kernel,
                                 initrd=files.initrd, labels=labels))
            driver.console(name, wait_for=files.marker, timeout=120)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - started)
            driver.destroy(Kind.VM, name, force=True)
    finally:
        remove_labelled(driver, Kind.VM, labels)
        driver.close()
    return times


def vsphere(rounds: int, port: int, labels: dict[str, str]) -> list[float]:
    """Create + power on, until running, on a private simulator, seconds."""
    instance = vcsim.start_instance(VCSIM_NAME, port)
    try:
        user, password = vcsim.credentials()
        driver = connect(f"vsphere://{user}@{vcsim.HOST}:{port}", password=password,
                         cafile=str(instance.cafile))
        times: list[float] = []
        try:
            for _ in range(rounds):
                started = time.perf_counter()
                vm = driver.create(VMSpec(f"vw-bench-{uuid.uuid4().hex[:8]}", cpus=2,
                                          memory=512 * MiB, disk=10 * 1024 * MiB,
                                          guest_os="ubuntu 18.04", labels=labels))
                driver.start(Kind.VM, vm.id)
                times.append(time.perf_counter() - started)
                driver.destroy(Kind.VM, vm.id, force=True)
        finally:
            remove_labelled(driver, Kind.VM, labels)
            driver.close()
    finally:
        vcsim.stop_instance(VCSIM_NAME)
    return times


def measure(args: argparse.Namespace) -> list[Figure]:
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    running, marker = container(args.rounds, labels)
    print(f"container: running after {median(running):.2f} s, marker after "
          f"{median(marker):.2f} s (medians of {args.rounds})", flush=True)
    boots = qemu(args.boots, labels)
    print(f"QEMU guest: marker after {', '.join(f'{t:.2f}' for t in boots)} s", flush=True)
    vms = vsphere(args.rounds, args.port, labels)
    print(f"vcsim VM: running after {median(vms):.3f} s (median of {args.rounds})",
          flush=True)
    to_running = "container create-to-running (docker)"
    to_marker = "container create-to-output-marker (docker)"
    return [
        Figure("start.container.running", "start", to_running, median(running), "s"),
        Figure("start.container.marker", "start", to_marker, median(marker), "s"),
        Figure("start.qemu.marker", "start", "VM create-to-console-marker (QEMU, TCG)",
               median(boots), "s", to_marker, median(marker)),
        Figure("start.vcsim.running", "start", "VM create-to-running (vcsim)", median(vms),
               "s", to_running, median(running)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--boots", type=int, default=2)
    parser.add_argument("--port", type=int, default=8997, help="the private vcsim's port")
    run_script(parser, measure)


if __name__ == "__main__":
    main()
