"""Every ``%vm`` verb's ``--show-command`` line does what the magic does.

libvirt: the magic acts on one fresh name on ``qemu:///system``, the printed virsh lines
(that name replaced) run with the real virsh on another, and the two domains are compared:
their whole persistent definition (CPUs, memory, disks, our metadata), disk capacity and
power state. ``test:///default`` cannot be used: each virsh process gets its own fresh copy.

vSphere: there is no govc on this machine (govmomi's Debian package has no govc sources, and
nothing we can reach ships it). So each printed govc line is checked against govc's
documented usage instead: every flag must exist for its command (``govc_usage``), and
the spec the line encodes, parsed back from it, must equal what the driver applied, read
back from vcsim with pyvmomi (CPUs, memory, disk size, guest, labels, power state).
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.sizes import GiB, KiB, MiB

from . import govc_usage
from .conftest import ensure_up, ipython_shell
from .equivalence import fresh, run_cli, shown

QEMU = "qemu:///system"


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("libvirt", "vcsim")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")


# --- libvirt ------------------------------------------------------------------------------


def _domain(name: str, other: str) -> dict[str, Any]:
    """What the domain ``name`` is, with ``name`` written as ``other`` (its uuid aside)."""
    import libvirt

    conn = session().driver(QEMU)._conn()  # type: ignore[attr-defined]
    dom = conn.lookupByName(name)
    tree = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    for node in tree.findall("uuid"):
        tree.remove(node)
    volume = None
    try:
        volume = conn.storagePoolLookupByName("virtwork").storageVolLookupByName(
            f"{name}.qcow2").info()[1]
    except libvirt.libvirtError:
        pass
    state = dom.state()[0]
    live = (dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE), dom.info()[2]) \
        if dom.isActive() else None
    return {"xml": ET.tostring(tree, encoding="unicode").replace(name, other),
            "state": state, "live": live, "disk": volume}


def _gone(name: str) -> bool:
    try:
        session().driver(QEMU).get(Kind.VM, name)
    except NotFound:
        return True
    return False


LIBVIRT_STEPS = [
    "create {n} --cpus 1 --memory 128M --disk 64M --no-start",
    "config {n} --cpus 2 --memory 192M --disk 96M",
    "start {n}",
    "config {n} --disk 128M",  # while it runs: QEMU grows the disk live
    "suspend {n}",
    "resume {n}",
    "stop {n} --force",
    "delete {n}",
    "create {n} --memory 128M",
    "delete {n} --force",
]


def test_libvirt_lines(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq-vm"), fresh("vw-eq-vm")
    for step in LIBVIRT_STEPS:
        line, _ = shown(ip, capsys, "vm", f"{step.format(n=ours)} --on {QEMU}")
        run_cli(line.replace(ours, theirs))
        if step.startswith("delete"):
            assert _gone(ours) and _gone(theirs), step
        else:
            assert _domain(ours, theirs) == _domain(theirs, theirs), step
    line, rows = shown(ip, capsys, "vm", f"ls --on {QEMU}")
    assert {r.name for r in rows} <= set(run_cli(line).stdout.split())


def test_libvirt_console_line(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The console line is virsh's own (interactive, so it is not run: the magic shows what
    the guest printed so far, which virsh console shows from then on)."""
    name = fresh("vw-eq-vm")
    ip.run_line_magic("vm", f"create {name} --memory 128M --no-start --on {QEMU}")
    line, _ = shown(ip, capsys, "vm", f"console {name} --on {QEMU}")
    assert line == f"virsh -c {QEMU} console {name}"
    run_cli("virsh help console >/dev/null")
    ip.run_line_magic("vm", f"delete {name} --on {QEMU}")


def test_libvirt_create_without_start_says_so(ip: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    name = fresh("vw-eq-vm")
    line, vm = shown(ip, capsys, "vm", f"create {name} --memory 128M --no-start --on {QEMU}")
    assert " start " not in line and vm.state.value == "stopped"
    ip.run_line_magic("vm", f"delete {name} --on {QEMU}")


# --- vSphere ------------------------------------------------------------------------------

def _govc(line: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """Each govc command of a printed line: (command, its flags, its arguments); a flag
    govc does not document for that command fails the test."""
    return [govc_usage.parse(shlex.split(part)) for part in line.split(" && ")]


def _govc_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]B)", text).groups()  # type: ignore[union-attr]
    return int(number) * {"KB": KiB, "MB": MiB, "GB": GiB}[unit]


def _vsphere(name: str) -> dict[str, Any]:
    driver: Any = session().driver("vsphere")
    vm = driver.get(Kind.VM, name)
    return {"cpus": vm.raw["config.hardware.numCPU"],
            "memory_mb": vm.raw["config.hardware.memoryMB"],
            "guest": vm.raw["config.guestId"], "labels": dict(vm.labels),
            "power": vm.raw["runtime.powerState"], "disks": driver.disks(name)}


POWER = {"on": "poweredOn", "off": "poweredOff", "suspend": "suspended", "s": "poweredOff"}


def test_vsphere_lines(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = fresh("vw-eq-vm")
    for start in ("--no-start", ""):
        line, _ = shown(ip, capsys, "vm", f"create {name} --cpus 2 --memory 256M --disk 1G "
                                          f"--os 'ubuntu 18.04' {start} --on vsphere")
        [(command, flags, arguments)] = _govc(line)
        applied = _vsphere(name)
        assert (command, arguments) == ("vm.create", [name])
        assert applied["cpus"] == int(flags["c"]) and applied["memory_mb"] == int(flags["m"])
        assert applied["disks"] == [_govc_bytes(flags["disk"])]
        assert applied["guest"] == flags["g"]
        assert applied["labels"] == session().labels and flags["annotation"].endswith(
            '"virtwork.io/session":"' + session().id + '"}')
        assert applied["power"] == ("poweredOn" if flags.get("on", "true") == "true"
                                    else "poweredOff")
        ip.run_line_magic("vm", f"delete {name} --force --on vsphere")

    ip.run_line_magic("vm", f"create {name} --memory 128M --disk 1G --no-start --on vsphere")
    for step in ("config {n} --cpus 3 --memory 512M --disk 2G", "config {n} --cpus 1",
                 "start {n}", "suspend {n}", "resume {n}", "stop {n} --force",
                 "start {n}", "stop {n}"):
        line, _ = shown(ip, capsys, "vm", f"{step.format(n=name)} --on vsphere")
        applied = _vsphere(name)
        for command, flags, arguments in _govc(line):
            if command == "vm.change":
                assert flags["vm"] == name and not arguments
                assert applied["cpus"] == int(flags.get("c", applied["cpus"]))
                assert applied["memory_mb"] == int(flags.get("m", applied["memory_mb"]))
            elif command == "vm.disk.change":
                assert flags["vm"] == name and flags["disk.label"]
                assert applied["disks"][0] == _govc_bytes(flags["size"])
            else:
                assert command == "vm.power" and arguments == [name], line
                [power] = [f for f in flags if f in POWER]
                assert applied["power"] == POWER[power], line
    line, _ = shown(ip, capsys, "vm", f"delete {name} --force --on vsphere")
    assert _govc(line) == [("vm.destroy", _govc(line)[0][1], [name])]
    with pytest.raises(NotFound):
        session().driver("vsphere").get(Kind.VM, name)
    line, _ = shown(ip, capsys, "vm", "ls --on vsphere")
    assert _govc(line)[0][0] == "find"


def test_vsphere_disk_for_a_vm_without_one(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = fresh("vw-eq-vm")
    ip.run_line_magic("vm", f"create {name} --memory 128M --no-start --on vsphere")
    line, _ = shown(ip, capsys, "vm", f"config {name} --disk 1G --on vsphere")
    [(command, flags, _)] = _govc(line)
    assert command == "vm.disk.create" and flags["vm"] == name
    assert _vsphere(name)["disks"] == [_govc_bytes(flags["size"])]
    ip.run_line_magic("vm", f"delete {name} --on vsphere")
