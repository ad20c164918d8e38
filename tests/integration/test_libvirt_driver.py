"""The libvirt driver on real engines: libvirt's in-process test driver, and QEMU
(``qemu:///system``, TCG) booting the sandbox's tiny guest.

Every domain and volume a test makes carries that test's labels and is removed in
fixture teardown, so a failing test leaves nothing behind. The raw SDK is used only to
check what the driver did (volumes, persistent XML), never to do the driver's work.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.libvirt import definition, vm_watch
from jupyter_virtwork.drivers.libvirt.driver import STATE_MAP, LibvirtDriver, default_uri
from jupyter_virtwork.errors import (
    AlreadyExists,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    VirtworkError,
)
from jupyter_virtwork.models import Event, EventType, Kind, State, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import guest
from jupyter_virtwork.sizes import GiB, MiB

from .conftest import ensure_up
from .contract import DriverContract, _wait

pytestmark = pytest.mark.engines("libvirt")

QEMU = "qemu:///system"
TEST = "test:///default"
BOOT_TIMEOUT = 60.0  # the guest prints its marker ~5-9 s after create() under TCG


def _name(prefix: str = "vw-lv") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _open(uri: str) -> LibvirtDriver:
    driver = connect(uri)
    assert isinstance(driver, LibvirtDriver)
    return driver


@pytest.fixture(scope="module")
def test_driver() -> Iterator[LibvirtDriver]:
    driver = _open(TEST)
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def qemu_driver() -> Iterator[LibvirtDriver]:
    ensure_up("libvirt")
    driver = _open(QEMU)
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def tiny_guest() -> guest.GuestFiles:
    ensure_up("libvirt")
    return guest.guest_files()


@pytest.fixture
def labels() -> dict[str, str]:
    return ownership.ownership(_name("session"))


def _remove_labelled(driver: LibvirtDriver, labels: dict[str, str]) -> None:
    for resource in driver.list(Kind.VM, labels=labels):
        try:
            driver.destroy(Kind.VM, resource.id, force=True)
        except NotFound:
            pass


@pytest.fixture
def qemu_cleanup(qemu_driver: LibvirtDriver, labels: dict[str, str]) -> Iterator[None]:
    yield
    _remove_labelled(qemu_driver, labels)


@pytest.fixture
def test_cleanup(test_driver: LibvirtDriver, labels: dict[str, str]) -> Iterator[None]:
    yield
    _remove_labelled(test_driver, labels)


def _sdk() -> Any:
    import libvirt

    return libvirt


def _volumes(pool: str = "virtwork") -> set[str]:
    conn = _sdk().open(QEMU)
    try:
        return set(conn.storagePoolLookupByName(pool).listVolumes())
    finally:
        conn.close()


def _domains(uri: str) -> set[str]:
    conn = _sdk().open(uri)
    try:
        return {dom.name() for dom in conn.listAllDomains(0)}
    finally:
        conn.close()


# --- the contract, on both engines ---------------------------------------------------------


class TestContractOnTestDriver(DriverContract):
    kind: ClassVar[Kind] = Kind.VM
    unsupported: ClassVar[tuple[str, Kind]] = ("pause", Kind.CONTAINER)

    @pytest.fixture
    def driver(self, test_driver: LibvirtDriver) -> LibvirtDriver:
        return test_driver

    @pytest.fixture
    def fresh_driver(self, test_driver: LibvirtDriver) -> Iterator[LibvirtDriver]:
        # test:///default lives in this process until its last connection closes. Closing
        # the last one while a watch runs, then opening another, corrupts the heap now
        # and then (libvirt 9.0): the module's connection stays open meanwhile.
        test_driver.list(Kind.VM)
        connected = _open(TEST)
        yield connected
        connected.close()

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        return VMSpec(name, memory=128 * MiB, disk=GiB, labels=labels)


class TestContractOnQemu(DriverContract):
    kind: ClassVar[Kind] = Kind.VM
    unsupported: ClassVar[tuple[str, Kind]] = ("start", Kind.IMAGE)

    @pytest.fixture
    def driver(self, qemu_driver: LibvirtDriver, tiny_guest: guest.GuestFiles) -> Any:
        self.guest = tiny_guest
        return qemu_driver

    @pytest.fixture
    def fresh_driver(self, qemu_driver: LibvirtDriver) -> Iterator[LibvirtDriver]:
        connected = _open(QEMU)
        yield connected
        connected.close()

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        return VMSpec(name, memory=128 * MiB, kernel=self.guest.kernel,
                      initrd=self.guest.initrd, labels=labels)


# --- the source document's walkthrough, on QEMU --------------------------------------------


def test_walkthrough_on_qemu(qemu_driver: LibvirtDriver, tiny_guest: guest.GuestFiles,
                             labels: dict[str, str], qemu_cleanup: None) -> None:
    """Create my-vm (Linux, Ubuntu 18.04; 2 CPUs, 4 GB, 100 GB), see it boot, reconfigure,
    pause, resume, stop and delete it. 4 GB is real: QEMU maps guest memory lazily and the
    tiny kernel touches ~350 MB of it; the 100 GB qcow2 volume is thin."""
    name = _name("my-vm")
    spec = VMSpec.parse(name, cpus=2, memory="4 GB", disk="100G", guest_os="ubuntu 18.04",
                        kernel=tiny_guest.kernel, initrd=tiny_guest.initrd, labels=labels)
    vm = qemu_driver.create(spec)
    assert (vm.state, vm.details["cpus"], vm.details["memory"], vm.details["os"]) == \
        (State.RUNNING, 2, 4 * GiB, "ubuntu 18.04")
    assert "http://ubuntu.com/ubuntu/18.04" in vm.raw["xml"]
    assert tiny_guest.marker in qemu_driver.console(name, wait_for=tiny_guest.marker,
                                                    timeout=BOOT_TIMEOUT)
    _check_thin_volume(f"{name}.qcow2", 100 * GiB)

    changed = qemu_driver.reconfigure(name, cpus=1, memory="2G", disk="120G")
    assert "disk" in changed.details["changed_live"]
    assert set(changed.details["changed_live"]) | set(changed.details["at_next_start"]) == \
        {"cpus", "memory", "disk"}
    _check_thin_volume(f"{name}.qcow2", 120 * GiB)

    assert qemu_driver.pause(Kind.VM, name).state is State.PAUSED
    assert qemu_driver.resume(Kind.VM, name).state is State.RUNNING
    # The tiny guest has no ACPI daemon: the graceful shutdown times out and it is powered off.
    stopped = qemu_driver.stop(Kind.VM, name, timeout=2)
    assert (stopped.state, stopped.details["cpus"], stopped.details["memory"]) == \
        (State.STOPPED, 1, 2 * GiB)
    console_log = Path(f"/var/log/libvirt/qemu/{name}-console.log")
    assert console_log.exists()
    qemu_driver.destroy(Kind.VM, vm.id)
    with pytest.raises(NotFound):
        qemu_driver.get(Kind.VM, name)
    assert f"{name}.qcow2" not in _volumes()
    assert not console_log.exists()


def _check_thin_volume(volume: str, capacity: int) -> None:
    conn = _sdk().open(QEMU)
    try:
        _kind, size, allocation = conn.storagePoolLookupByName("virtwork") \
            .storageVolLookupByName(volume).info()
    finally:
        conn.close()
    assert size == capacity and allocation < 16 * MiB


def test_deleting_a_running_vm_needs_force(qemu_driver: LibvirtDriver,
                                           tiny_guest: guest.GuestFiles, labels: dict[str, str],
                                           qemu_cleanup: None) -> None:
    vm = qemu_driver.create(VMSpec(_name(), memory=128 * MiB, disk=GiB, kernel=tiny_guest.kernel,
                                   initrd=tiny_guest.initrd, labels=labels))
    with pytest.raises(OperationFailed) as caught:
        qemu_driver.destroy(Kind.VM, vm.id)
    _one_line(caught.value, "stop it first, or delete it with --force")
    assert qemu_driver.get(Kind.VM, vm.id).state is State.RUNNING
    assert f"{vm.name}.qcow2" in _volumes()
    qemu_driver.destroy(Kind.VM, vm.id, force=True)
    assert f"{vm.name}.qcow2" not in _volumes() and vm.name not in _domains(QEMU)


def test_a_failed_start_leaves_nothing(qemu_driver: LibvirtDriver, tiny_guest: guest.GuestFiles,
                                       labels: dict[str, str], qemu_cleanup: None) -> None:
    """The definition and the volume exist before start fails: both are removed again."""
    before = (_domains(QEMU), _volumes())
    with pytest.raises(NotFound) as caught:
        qemu_driver.create(VMSpec(_name(), memory=128 * MiB, disk=GiB, network="no-such-net",
                                  kernel=tiny_guest.kernel, initrd=tiny_guest.initrd,
                                  labels=labels))
    _one_line(caught.value, "no-such-net")
    assert (_domains(QEMU), _volumes()) == before


def test_a_disk_image_becomes_a_thin_overlay(qemu_driver: LibvirtDriver, tmp_path: Path,
                                            labels: dict[str, str], qemu_cleanup: None) -> None:
    """The image stays untouched: the VM's volume is a qcow2 overlay backed by it."""
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1G"], check=True,
                   timeout=30)
    vm = qemu_driver.create(VMSpec(_name(), memory=128 * MiB, image=base, disk=2 * GiB,
                                   labels=labels))
    assert vm.state is State.RUNNING
    conn = _sdk().open(QEMU)
    try:
        volume = conn.storagePoolLookupByName("virtwork").storageVolLookupByName(
            f"{vm.name}.qcow2")
        assert volume.info()[1] == 2 * GiB and f"<path>{base}</path>" in volume.XMLDesc(0)
    finally:
        conn.close()
    qemu_driver.destroy(Kind.VM, vm.id, force=True)
    assert base.exists() and f"{vm.name}.qcow2" not in _volumes()


def test_reconfigure_refuses_shrinking_and_bad_sizes(test_driver: LibvirtDriver,
                                                     labels: dict[str, str],
                                                     test_cleanup: None) -> None:
    vm = test_driver.create(VMSpec(_name(), memory=256 * MiB, disk=2 * GiB, labels=labels))
    with pytest.raises(InvalidInput) as caught:
        test_driver.reconfigure(vm.id, disk="1G")
    _one_line(caught.value, "disks only grow")
    for bad in ({"cpus": 0}, {"memory": "lots"}, {}):
        with pytest.raises(InvalidInput):
            test_driver.reconfigure(vm.id, **bad)
    # Both grow past what the running domain was started with: persistent only.
    changed = test_driver.reconfigure(vm.id, cpus=3, memory="512M")
    assert changed.details["at_next_start"] == ["cpus", "memory"]
    assert "<vcpu placement='static'>3</vcpu>" in _inactive_xml(TEST, vm.name)
    test_driver.stop(Kind.VM, vm.id)
    restarted = test_driver.start(Kind.VM, vm.id)
    assert (restarted.details["cpus"], restarted.details["memory"]) == (3, 512 * MiB)


def _inactive_xml(uri: str, name: str) -> str:
    conn = _sdk().open(uri)
    try:
        return str(conn.lookupByName(name).XMLDesc(_sdk().VIR_DOMAIN_XML_INACTIVE))
    finally:
        conn.close()


# --- bad input: one line, nothing created ---------------------------------------------------


@pytest.mark.parametrize(("build", "words"), [
    (lambda name: VMSpec.parse(name, cpus=0), "0 CPUs is impossible"),
    (lambda name: VMSpec.parse(name, cpus=10000), "10000 CPUs is impossible"),
    (lambda name: VMSpec.parse(name, memory="lots"), "memory 'lots' is not a size"),
    (lambda name: VMSpec.parse(name, disk="-5G"), "disk '-5G' is not a size"),
    (lambda name: VMSpec.parse(f"{name}; rm -rf /"), "is not a valid name"),
    (lambda name: VMSpec.parse(f"$(touch {name})"), "is not a valid name"),
])
def test_bad_specs(qemu_driver: LibvirtDriver, build: Any, words: str) -> None:
    before = (_domains(QEMU), _volumes())
    with pytest.raises(InvalidInput) as caught:
        qemu_driver.create(build(_name()))
    _one_line(caught.value, words)
    assert (_domains(QEMU), _volumes()) == before


def test_duplicate_name_keeps_the_first_vm_and_its_disk(
        qemu_driver: LibvirtDriver, tiny_guest: guest.GuestFiles, labels: dict[str, str],
        qemu_cleanup: None) -> None:
    spec = VMSpec(_name(), memory=128 * MiB, disk=GiB, kernel=tiny_guest.kernel,
                  initrd=tiny_guest.initrd, labels=labels)
    first = qemu_driver.create(spec)
    before = (_domains(QEMU), _volumes())
    with pytest.raises(AlreadyExists) as caught:
        qemu_driver.create(spec)
    _one_line(caught.value, "already exists")
    assert (_domains(QEMU), _volumes()) == before
    assert qemu_driver.get(Kind.VM, spec.name).id == first.id


def test_a_missing_pool_is_named(tiny_guest: guest.GuestFiles, labels: dict[str, str]) -> None:
    driver = connect(QEMU, pool="no-such-pool")
    before = _domains(QEMU)
    with pytest.raises(NotFound) as caught:
        driver.create(VMSpec(_name(), disk=GiB, labels=labels))
    _one_line(caught.value, "storage pool 'no-such-pool' does not exist")
    assert _domains(QEMU) == before
    driver.close()


def test_xen_without_a_hypervisor_is_one_clear_line() -> None:
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        connect("xen:///system").list(Kind.VM)
    _one_line(caught.value, "there is no Xen hypervisor on this machine")
    assert "qemu:///system" in str(caught.value) and time.monotonic() - started < 10


def test_a_dead_socket_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        connect("qemu+unix:///system?socket=/run/no-such-libvirt.sock").list(Kind.VM)
    _one_line(caught.value, "cannot connect to libvirt")
    assert time.monotonic() - started < 2


def test_a_silent_ssh_peer_is_a_bounded_wait(tmp_path: Path) -> None:
    """libvirt's ssh transport runs ``command=``; this one answers nothing, like a host
    that accepts the connection and then hangs."""
    pid_file = tmp_path / "pid"
    silent = tmp_path / "silent-ssh"
    silent.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    silent.chmod(0o755)
    driver = connect(f"qemu+ssh://nobody@silent.invalid/system?command={silent}",
                     open_timeout=2)
    started = time.monotonic()
    try:
        with pytest.raises(EngineUnavailable) as caught:
            driver.list(Kind.VM)
        _one_line(caught.value, "did not answer within 2 s")
        assert time.monotonic() - started < 5
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)  # the sleep we started


def _one_line(error: VirtworkError, words: str) -> None:
    assert words in str(error), str(error)
    assert "\n" not in str(error)


# --- Xen: XML only, validated against libvirt's schema -------------------------------------


@pytest.mark.parametrize("mode", ["pv", "hvm"])
@pytest.mark.parametrize("kernel", [True, False])
def test_xen_xml_validates(tmp_path: Path, mode: str, kernel: bool) -> None:
    plan = definition.DomainPlan(
        name="my-xen-vm", domain_type="xen", vcpus=2, memory=4 * GiB, guest_os="ubuntu 18.04",
        labels=ownership.ownership("xen"), kernel="/boot/vmlinuz" if kernel else None,
        initrd="/boot/initrd.img" if kernel else None, cmdline="console=ttyS0 panic=-1",
        disk="/var/lib/xen/images/my-xen-vm.qcow2",
        volume=definition.Volume("virtwork", "my-xen-vm.qcow2"),
        console_log="/var/log/libvirt/libxl/my-xen-vm-console.log", network="default",
        xen_mode=mode)
    xml = definition.domain_xml(plan)
    document = tmp_path / "my-xen-vm.xml"
    document.write_text(xml)
    proc = subprocess.run(["virt-xml-validate", str(document), "domain"], capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    if mode == "pv":
        assert "<type arch=\"x86_64\" machine=\"xenpv\">xen</type>" in xml
        assert 'bus="xen"' in xml and ("console=hvc0" in xml or not kernel)
    else:
        assert "machine=\"xenfv\">hvm</type>" in xml and "hvmloader" in xml
    owner = definition.parse_owner(_owner_element(xml))
    assert owner.labels == ownership.ownership("xen") and owner.guest_os == "ubuntu 18.04"


def _owner_element(xml: str) -> str:
    """Our metadata element as libvirt hands it back: without the prefix."""
    found = re.search(r"<vw:owner.*?</vw:owner>", xml, re.DOTALL)
    assert found is not None
    return found.group(0).replace("vw:", "").replace("xmlns:vw", "xmlns")


# --- the test driver at scale, and watch across a dropped connection ------------------------


def test_a_thousand_domains_are_listed_with_their_state(test_driver: LibvirtDriver,
                                                       labels: dict[str, str]) -> None:
    """Defined through the SDK (test:///default is one in-process hypervisor per process,
    shared by every connection) so the setup costs milliseconds."""
    libvirt = _sdk()
    conn = libvirt.open(TEST)
    prefix = _name("bulk")
    domains = [conn.defineXML(definition.domain_xml(definition.DomainPlan(
        f"{prefix}-{i}", "test", 1, 64 * MiB, labels=labels))) for i in range(1000)]
    try:
        for dom in domains[::2]:
            dom.create()
        listed = test_driver.list(Kind.VM, labels=labels)
        assert len(listed) == 1000
        running = {r.name for r in listed if r.state is State.RUNNING}
        assert running == {dom.name() for dom in domains[::2]}
        assert {r.state for r in listed} == {State.RUNNING, State.STOPPED}
    finally:
        for dom in domains:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()


def test_watch_reconnects_when_libvirtd_drops_the_connection(
        qemu_driver: LibvirtDriver, labels: dict[str, str]) -> None:
    """virt-admin disconnects this process's client on the daemon side, as a daemon
    restart would; the watcher reports it once, re-lists and is live again."""
    stream = qemu_driver.watch(Kind.VM, labels=labels)
    try:
        _wait(stream, EventType.SYNCED)
        _disconnect_this_process()
        error = stream.get(timeout=15)
        assert error is not None and error.type is EventType.ERROR
        assert "connection closed" in error.message
        _wait(stream, EventType.SYNCED)
        assert qemu_driver.list(Kind.VM, labels=labels) == []
    finally:
        stream.close()


def test_a_watch_catches_up_with_what_changed_while_it_started(
        test_driver: LibvirtDriver, labels: dict[str, str]) -> None:
    """What changes between the watch's listing and its listener's start comes as no event
    (a slow list on a busy host left a table showing a resumed VM paused). Once listening,
    the watch lists again and emits the differences: here a VM suspended and one undefined
    since the listing."""
    libvirt = _sdk()
    conn = libvirt.open(TEST)
    kept, dropped = (conn.defineXML(definition.domain_xml(definition.DomainPlan(
        _name(), "test", 1, 64 * MiB, labels=labels))) for _ in range(2))
    kept.create()
    try:
        listed = {r.id: r for r in test_driver.list(Kind.VM, labels=labels)}
        kept.suspend()
        dropped.undefine()
        emitted: list[Event] = []
        now = {r.id: r for r in test_driver.list(Kind.VM, labels=labels)}
        vm_watch.emit_changes(listed, now, emitted.append)
        assert sorted((e.type.value, e.resource.name, e.resource.state.value)
                      for e in emitted if e.resource is not None) == sorted([
            ("DELETED", dropped.name(), "stopped"), ("MODIFIED", kept.name(), "paused")])
    finally:
        kept.destroy()
        kept.undefine()
        conn.close()


def _disconnect_this_process() -> None:
    clients = subprocess.run(["virt-admin", "srv-clients-list", "libvirtd"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
    mine = []
    for line in clients.splitlines()[2:]:
        if not line.strip():
            continue
        client = line.split()[0]
        info = subprocess.run(["virt-admin", "client-info", "libvirtd", client],
                              capture_output=True, text=True, check=True, timeout=30).stdout
        if re.search(rf"unix_process_id\s*:\s*{os.getpid()}\s*$", info, re.MULTILINE):
            mine.append(client)
    assert mine, clients
    for client in mine:
        subprocess.run(["virt-admin", "client-disconnect", "libvirtd", client],
                       capture_output=True, check=True, timeout=30)


# --- small facts ---------------------------------------------------------------------------


def test_state_map_matches_the_sdk() -> None:
    libvirt = _sdk()
    assert STATE_MAP[libvirt.VIR_DOMAIN_RUNNING] is State.RUNNING
    assert STATE_MAP[libvirt.VIR_DOMAIN_PAUSED] is State.PAUSED
    assert STATE_MAP[libvirt.VIR_DOMAIN_SHUTOFF] is State.STOPPED
    assert STATE_MAP[libvirt.VIR_DOMAIN_CRASHED] is State.FAILED
    assert STATE_MAP[libvirt.VIR_DOMAIN_PMSUSPENDED] is State.SUSPENDED


def test_default_uri_honours_libvirt_default_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    assert default_uri() == QEMU
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", TEST)
    assert default_uri() == TEST


def test_render_is_a_dry_run(qemu_driver: LibvirtDriver, tiny_guest: guest.GuestFiles) -> None:
    before = (_domains(QEMU), _volumes())
    xml = qemu_driver.render(VMSpec(_name(), disk=GiB, kernel=tiny_guest.kernel,
                                    initrd=tiny_guest.initrd))
    assert "<domain type=\"qemu\">" in xml and "+0:+0" in xml and ".qcow2" in xml
    assert (_domains(QEMU), _volumes()) == before


def test_show_command(test_driver: LibvirtDriver) -> None:
    assert test_driver.command("pause", "my-vm") == "virsh -c test:///default suspend my-vm"
    spec = VMSpec.parse("my-vm", memory="128M")
    defined = "virsh -c test:///default define /dev/stdin --validate <<'EOF'"
    assert test_driver.create_command(spec, start=False).startswith(f"{defined}\n<domain")
    assert test_driver.create_command(spec).startswith(
        f"{defined} && virsh -c test:///default start my-vm\n<domain")
    assert test_driver.command("destroy", "my-vm") == \
        "virsh -c test:///default undefine --remove-all-storage my-vm"
