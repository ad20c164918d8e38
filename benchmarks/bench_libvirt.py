"""How fast the libvirt driver lists, against the raw SDK and virsh, on this machine's libvirt.

    python benchmarks/bench_libvirt.py [--domains 1000] [--defined 20] [--rounds 9]
                                       [--json PATH]

1. Listing N domains on ``test:///default`` (in-process, half of them running):
   ``driver.list(Kind.VM)`` (records with state, CPUs, memory, labels) in the issue's budget
   of 0.5 s for 1000 domains, against raw ``conn.listAllDomains()`` plus each one's state.
2. ``qemu:///system`` with ``--defined`` domains defined (not started): the raw
   ``getAllDomainStats`` (name, state, CPUs, memory in one call; the anchor), the driver's
   list, ``%vm ls`` in a real IPython shell, and ``virsh list --all`` as a process; then
   ``%vm ls`` while a watch is synced (from its cache, issue 18: below the raw call), and
   the driver's list over qemu+ssh (the sandbox's sshd) against the local socket.

Times are the best of ``--rounds`` runs, taken in turns. Everything created carries the
ownership labels and is removed again, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import Figure, Goal, remove_labelled, run_script, turns
from listing import cached, compare, remote

from jupyter_virtwork import labels as ownership  # after the path fix
from jupyter_virtwork.drivers.libvirt import definition
from jupyter_virtwork.drivers.libvirt.driver import LibvirtDriver
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import sshd
from jupyter_virtwork.sizes import MiB
from tests.integration.conftest import ipython_shell  # the tests' shell, the same way

LIST_BUDGET_MS = 500.0  # for 1000 domains (issue 4)
VIRSH = "/usr/bin/virsh"
SYSTEM = "qemu:///system"


def define(conn: Any, prefix: str, count: int, domain_type: str,
           labels: dict[str, str]) -> list[Any]:
    """``count`` small labelled domains, defined (not started); ``remove_labelled`` removes
    them again."""
    return [conn.defineXML(definition.domain_xml(definition.DomainPlan(
        f"{prefix}-{i}", domain_type, 1, 64 * MiB, labels=labels))) for i in range(count)]


def test_driver_list(count: int, rounds: int, labels: dict[str, str]) -> list[Figure]:
    import libvirt

    driver = connect("test:///default")
    assert isinstance(driver, LibvirtDriver)
    driver.list(Kind.VM)  # open the connection and set libvirt up outside the timing
    conn = libvirt.open("test:///default")  # the same in-process hypervisor as the driver's
    try:
        domains = define(conn, "bench", count, "test", labels)
        for dom in domains[::2]:
            dom.create()
        times = turns({
            "raw": lambda: [(d.name(), d.state()) for d in conn.listAllDomains(0)],
            "driver": lambda: driver.list(Kind.VM)}, rounds)
        assert len(driver.list(Kind.VM, labels=labels)) == count
    finally:
        remove_labelled(driver, Kind.VM, labels)
        conn.close()
        driver.close()
    budget = LIST_BUDGET_MS * count / 1000
    return [Figure("scale.libvirt.list", "scale",
                   f"libvirt: driver list of {count} domains (test driver)",
                   times["driver"].best * 1000, "ms", "raw listAllDomains + state",
                   times["raw"].best * 1000, Goal("<=", budget))]


def system_list(count: int, rounds: int, labels: dict[str, str]) -> list[Figure]:
    import libvirt

    driver = connect(SYSTEM)
    conn = libvirt.open(SYSTEM)
    stats = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
             | libvirt.VIR_DOMAIN_STATS_BALLOON)
    try:
        define(conn, f"vw-bench-{uuid.uuid4().hex[:6]}", count, "qemu", labels)
        listed = len(conn.listAllDomains(0))
        print(f"libvirt: {listed} domains on {SYSTEM}", flush=True)
        shell = ipython_shell()
        # The same data as the driver's rows: the labels need a metadata call each.
        raw = ("raw getAllDomainStats + each domain's labels", lambda: [
            (d.name(), s, _metadata(libvirt, d)) for d, s in conn.getAllDomainStats(stats)])
        magic = ("%vm ls", lambda: shell.run_line_magic("vm", f"ls --on {SYSTEM}"))
        found = compare(
            "libvirt", f"{listed} domains", rounds=rounds, raw=raw,
            driver=lambda: driver.list(Kind.VM), magic=magic,
            cli=("virsh list --all", [VIRSH, "-c", SYSTEM, "list", "--all"]),
            cli_goal=None,  # the issues name docker ps and kubectl only
            others={"stats_only": ("raw getAllDomainStats, without labels", lambda: [
                (d.name(), s) for d, s in conn.getAllDomainStats(stats)])})
        found += cached("libvirt", f"{listed} domains", raw=raw, magic=magic, rounds=rounds,
                        watch=lambda: session().driver(SYSTEM).watch(Kind.VM))
        return found + libvirt_over_ssh(rounds, driver, f"{listed} domains")
    finally:
        remove_labelled(driver, Kind.VM, labels)
        conn.close()
        driver.close()


def libvirt_over_ssh(rounds: int, local: Any, what: str) -> list[Figure]:
    """The same list through the sandbox's sshd (qemu+ssh://), when it runs."""
    if not sshd.answers():
        print("qemu+ssh: the sandbox's sshd is not running; no remote figure", flush=True)
        return []
    over_ssh = connect(sshd.LIBVIRT_URI)
    try:
        return remote("libvirt", what, rounds=rounds,
                      local=("driver list on the local socket", lambda: local.list(Kind.VM)),
                      over_ssh=(f"driver list over {sshd.LIBVIRT_URI}",
                                lambda: over_ssh.list(Kind.VM)))
    finally:
        over_ssh.close()


def _metadata(libvirt: Any, dom: Any) -> str | None:
    """Our ``<metadata>`` element, as the driver reads it for the labels: a call each."""
    try:
        return str(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                ownership.XML_NAMESPACE, 0))
    except libvirt.libvirtError:
        return None


def measure(args: argparse.Namespace) -> list[Figure]:
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    return system_list(args.defined, args.rounds, labels) + \
        test_driver_list(args.domains, args.rounds, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--defined", type=int, default=20,
                        help="domains to define on qemu:///system for the list comparison")
    parser.add_argument("--rounds", type=int, default=9)
    run_script(parser, measure)


if __name__ == "__main__":
    main()
