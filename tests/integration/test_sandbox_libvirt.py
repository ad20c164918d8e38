"""The sandbox's real libvirt: QEMU on qemu:///system booting the tiny guest, the project's
storage pool, and libvirt's in-process test driver.

Every domain and volume a test makes is removed in a ``finally``/fixture teardown, so a
failing test leaves nothing behind. The guest boots under TCG (``type='qemu'``): KVM does
not boot guests on this machine kind (ENGINES.md).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.sandbox import guest
from jupyter_virtwork.sandbox.libvirt import POOL, TEST_URI, URI

from .conftest import ensure_up

pytestmark = pytest.mark.engines("libvirt")

BOOT_TIMEOUT = 60.0  # the guest prints its marker ~5-9 s after create() under TCG


@pytest.fixture(scope="module")
def libvirt() -> Any:
    ensure_up("libvirt")
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors raise; no stderr noise
    return libvirt


@pytest.fixture(scope="module")
def conn(libvirt: Any) -> Iterator[Any]:
    connection = libvirt.open(URI)
    yield connection
    connection.close()


def _name() -> str:
    return f"virtwork-test-{uuid.uuid4().hex[:8]}"


def _remove_domain(libvirt: Any, conn: Any, name: str) -> None:
    """Destroy and undefine ``name`` if it exists; never raises (runs in cleanup)."""
    try:
        domain = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    with contextlib.suppress(libvirt.libvirtError):
        if domain.isActive():
            domain.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        domain.undefine()


def _qemu_processes(name: str) -> list[int]:
    """Pids of QEMU processes running domain ``name`` (libvirt passes ``-name guest=NAME``)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if f"guest={name}".encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
    return found


def test_status_json_shows_libvirt_ready(libvirt: Any) -> None:
    proc = subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", "status",
                           "libvirt", "--json"], capture_output=True, text=True, timeout=60,
                          check=True)
    [status] = json.loads(proc.stdout)
    assert status["name"] == "libvirt" and status["ready"] is True, status
    assert status["endpoint"] == URI and status["version"]
    extra = status["extra"]
    assert extra["uri"] == URI and extra["test_uri"] == TEST_URI and extra["pool"] == POOL
    assert Path(extra["guest_kernel"]).is_file() and Path(extra["guest_initrd"]).is_file()
    assert extra["guest_marker"] == guest.MARKER
    assert isinstance(extra["kvm"], bool) and extra["kvm_reason"]


def test_pool_exists_and_is_active(conn: Any) -> None:
    pool = conn.storagePoolLookupByName(POOL)
    assert pool.isActive() and pool.autostart()


def test_qcow2_volume_in_pool(libvirt: Any, conn: Any) -> None:
    pool = conn.storagePoolLookupByName(POOL)
    name = f"{_name()}.qcow2"
    xml = (f"<volume><name>{name}</name><capacity unit='MiB'>16</capacity>"
           "<target><format type='qcow2'/></target></volume>")
    volume = pool.createXML(xml, 0)
    try:
        assert volume.info()[1] == 16 * 1024 * 1024  # [type, capacity, allocation]
        assert "<format type='qcow2'/>" in volume.XMLDesc(0)
    finally:
        volume.delete(0)
    pool.refresh(0)
    assert name not in pool.listVolumes()


def test_tiny_guest_boots_to_its_marker(libvirt: Any, conn: Any, tmp_path: Path) -> None:
    files = guest.guest_files()
    name, console = _name(), tmp_path / "console.log"
    try:
        domain = conn.defineXML(guest.domain_xml(name, files, console))
        started = time.monotonic()
        domain.create()
        booted = guest.wait_for_marker(console, files.marker, timeout=BOOT_TIMEOUT)
        tail = console.read_text(errors="replace")[-2000:] if console.exists() else ""
        assert booted, f"no {files.marker} in {BOOT_TIMEOUT:.0f} s; console ends with:\n{tail}"
        print(f"boot to marker: {time.monotonic() - started:.1f} s")
        assert domain.isActive()
        domain.destroy()
        domain.undefine()
    finally:
        _remove_domain(libvirt, conn, name)
    assert name not in [d.name() for d in conn.listAllDomains(0)]
    assert _qemu_processes(name) == []


def test_guest_powers_off_by_itself(libvirt: Any, conn: Any, tmp_path: Path) -> None:
    """With ``poweroff=True`` the guest stops after its marker and the transient domain
    vanishes on its own (the KVM probe relies on this never looping on reboot)."""
    files = guest.guest_files()
    name, console = _name(), tmp_path / "console.log"
    try:
        conn.createXML(guest.domain_xml(name, files, console, poweroff=True), 0)
        assert guest.wait_for_marker(console, files.marker, timeout=BOOT_TIMEOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and name in [d.name() for d in conn.listAllDomains(0)]:
            time.sleep(0.2)
        assert name not in [d.name() for d in conn.listAllDomains(0)]
    finally:
        _remove_domain(libvirt, conn, name)


def test_test_driver_lifecycle(libvirt: Any) -> None:
    test_conn = libvirt.open(TEST_URI)
    name = _name()
    xml = (f"<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory>"
           "<os><type>hvm</type></os></domain>")
    try:
        domain = test_conn.defineXML(xml)
        domain.create()
        assert domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        domain.suspend()
        assert domain.state()[0] == libvirt.VIR_DOMAIN_PAUSED
        domain.resume()
        domain.destroy()
        assert domain.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
        domain.undefine()
        assert name not in [d.name() for d in test_conn.listAllDomains(0)]
    finally:
        _remove_domain(libvirt, test_conn, name)
        test_conn.close()


def test_the_tiny_guest_is_where_the_toolkit_looks(libvirt: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` wrote the guest's directory into the user's connections file, so `%vm create
    --tiny-guest` boots it without knowing of the sandbox."""
    from jupyter_virtwork import defaults

    monkeypatch.delenv("VIRTWORK_GUEST_DIR", raising=False)
    files = guest.guest_files()
    assert defaults.guest_files() == (files.kernel, files.initrd)
