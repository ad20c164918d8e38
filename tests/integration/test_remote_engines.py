"""Remote engines, for real: the sandbox's dockerd and libvirtd reached over SSH through the
sandbox's sshd (127.0.0.1:2222, root by key only), and vSphere on a non-default port through
a certificate the test trusts.

The drivers use the user's standard SSH configuration, which the sandbox wrote (its key
in ~/.ssh/config, its host key in ~/.ssh/known_hosts): nothing here passes a key or turns a
host-key check off. The SSH transport is cut under a live table by stopping the sshd (its
listener and the sessions it serves); the table says "disconnected" and is live again once
the sshd answers. Killing only the sshd process that serves a watch's connection (the
listener stays) makes the watch report the break and follow again over a new connection.
Only the sshd is restarted: the engines behind it keep running.

Every container and VM a test makes carries that test's labels and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.drivers.libvirt.driver import LibvirtDriver
from jupyter_virtwork.drivers.vsphere.driver import VSphereDriver
from jupyter_virtwork.errors import (
    EngineUnavailable,
    MissingDependency,
    NotFound,
    TLSVerificationFailed,
)
from jupyter_virtwork.models import ContainerSpec, Event, EventType, Kind, Resource, State, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import guest, process, sshd, vcsim
from jupyter_virtwork.sandbox.engines import load
from jupyter_virtwork.watch import EventStream
from jupyter_virtwork.widgets import StatusTable

from .conftest import ensure_up

pytestmark = pytest.mark.engines("sshd", "docker", "images", "libvirt", "vcsim")

BUSYBOX = "localbase/busybox:1.35"
CALL_FAILS_WITHIN = 10.0  # the engine-fault tests' bound for a call on a dead link
# From the sshd answering again to a live table: the watcher's backoff (2 s at most), a
# new SSH handshake and the remote helper's start (docker dial-stdio, virt-ssh-helper),
# each ~1 s on this 2-core machine under load.
LIVE_AGAIN_WITHIN = 15.0
BOOT_TIMEOUT = 90.0  # the guest prints its marker ~5-9 s after start under TCG; a busy host


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _disconnected(table: StatusTable) -> bool:
    return "disconnected, retrying" in table.status_lines[0]


def _state(table: StatusTable, id: str) -> State | None:
    return next((r.state for r in table.rows if r.id == id), None)


@pytest.fixture(scope="module")
def remote_host() -> None:
    ensure_up("sshd", "docker", "images", "libvirt")


@pytest.fixture
def labels() -> dict[str, str]:
    return ownership.ownership(_name("remote"))


# --- Docker over SSH ------------------------------------------------------------------------


@pytest.fixture
def docker_ssh(remote_host: None, labels: dict[str, str]) -> Iterator[DockerDriver]:
    driver = connect(sshd.DOCKER_URI)
    assert isinstance(driver, DockerDriver)
    yield driver
    try:
        for resource in driver.list(Kind.CONTAINER, labels=labels):
            driver.destroy(Kind.CONTAINER, resource.id, force=True)
    finally:
        driver.close()


def _run(driver: DockerDriver, labels: dict[str, str], *command: str) -> Resource:
    return driver.create(ContainerSpec(
        BUSYBOX, name=_name("vw-ssh"), labels=labels, network="none",
        command=command or ("sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait")))


def test_docker_over_ssh_lists_runs_and_reads_logs(docker_ssh: DockerDriver,
                                                   labels: dict[str, str]) -> None:
    container = _run(docker_ssh, labels, "sh", "-c",
                     "echo hello from the remote engine; sleep 300")
    assert container.state is State.RUNNING
    assert container.raw["HostConfig"]["NetworkMode"] == "none"
    # The same engine as docker://, reached the other way.
    remote = docker_ssh.list(Kind.CONTAINER, labels=labels)
    with connect("docker://") as local:
        assert [r.id for r in remote] == [r.id for r in local.list(Kind.CONTAINER,
                                                                   labels=labels)]
    assert [r.name for r in remote] == [container.name]
    deadline = time.monotonic() + 10
    while "hello from the remote engine" not in (lines := list(docker_ssh.logs(container.id))):
        assert time.monotonic() < deadline, lines
        time.sleep(0.1)
    assert lines == ["hello from the remote engine"]
    docker_ssh.destroy(Kind.CONTAINER, container.id, force=True)
    with pytest.raises(NotFound):
        docker_ssh.get(Kind.CONTAINER, container.id)


def test_docker_over_ssh_live_table(docker_ssh: DockerDriver, labels: dict[str, str]) -> None:
    with contextlib.closing(StatusTable([(docker_ssh, Kind.CONTAINER, labels)],
                                        actions=False)) as table:
        assert table.wait_for(lambda t: t.live, 30), table.status_lines
        container = _run(docker_ssh, labels)
        assert table.wait_for(lambda t: _state(t, container.id) is State.RUNNING, 10), \
            table.rows
        docker_ssh.pause(Kind.CONTAINER, container.id)
        assert table.wait_for(lambda t: _state(t, container.id) is State.PAUSED, 10), \
            table.rows
        docker_ssh.destroy(Kind.CONTAINER, container.id, force=True)
        assert table.wait_for(lambda t: not t.rows, 10), table.rows


def test_docker_over_ssh_refuses_an_unknown_host_key(remote_host: None, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's key and config, but a known_hosts without the sandbox's host: refused."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "config").write_text((sshd.ssh_dir() / "config").read_text())
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    driver = connect(sshd.DOCKER_URI)
    with pytest.raises(EngineUnavailable) as caught:
        driver.list(Kind.CONTAINER)
    message = str(caught.value)
    assert "not found in known_hosts" in message and "\n" not in message, message
    assert sshd.DOCKER_URI in message


def test_docker_over_ssh_without_paramiko_names_the_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)  # `import paramiko` fails
    with pytest.raises(MissingDependency) as caught:
        connect(sshd.DOCKER_URI).list(Kind.CONTAINER)
    assert "pip install 'jupyter_virtwork[docker]'" in str(caught.value)


# --- libvirt over SSH -----------------------------------------------------------------------


@pytest.fixture
def libvirt_ssh(remote_host: None, labels: dict[str, str]) -> Iterator[LibvirtDriver]:
    # The remote host is this machine: QEMU runs as root there and reads the guest's kernel
    # under /root only with a root DAC label (what the driver picks by itself locally).
    driver = connect(sshd.LIBVIRT_URI, seclabel="+0:+0")
    assert isinstance(driver, LibvirtDriver) and not driver.local
    yield driver
    try:
        for resource in driver.list(Kind.VM, labels=labels):
            driver.destroy(Kind.VM, resource.id, force=True)
    finally:
        driver.close()
        # The console log stays on the remote host (destroy cannot reach its files); that
        # host is this machine.
        for name in _made_vms.pop(labels[ownership.SESSION], []):
            Path(f"/var/log/libvirt/qemu/{name}-console.log").unlink(missing_ok=True)


_made_vms: dict[str, list[str]] = {}  # session label -> names of the VMs a test made


def _tiny_vm(name: str, labels: dict[str, str]) -> VMSpec:
    _made_vms.setdefault(labels[ownership.SESSION], []).append(name)
    files = guest.guest_files()
    return VMSpec.parse(name, cpus=1, memory="128M", kernel=files.kernel, initrd=files.initrd,
                        labels=labels)


def test_libvirt_over_ssh_lists_creates_starts_and_reads_the_console(
        libvirt_ssh: LibvirtDriver, labels: dict[str, str]) -> None:
    with contextlib.closing(StatusTable([(libvirt_ssh, Kind.VM, labels)],
                                        actions=False)) as table:
        assert table.wait_for(lambda t: t.live, 30), table.status_lines
        name = _name("vw-ssh")
        vm = libvirt_ssh.create(_tiny_vm(name, labels), start=False)
        assert vm.state is State.STOPPED
        assert table.wait_for(lambda t: _state(t, vm.id) is State.STOPPED, 10), table.rows
        # The same hypervisor as qemu:///system, reached the other way.
        with connect("qemu:///system") as local:
            assert [r.id for r in local.list(Kind.VM, labels=labels)] == [vm.id]
        assert [r.name for r in libvirt_ssh.list(Kind.VM, labels=labels)] == [name]

        assert libvirt_ssh.start(Kind.VM, vm.id).state is State.RUNNING
        assert table.wait_for(lambda t: _state(t, vm.id) is State.RUNNING, 10), table.rows
        text = libvirt_ssh.console(vm.id, wait_for=guest.MARKER, timeout=BOOT_TIMEOUT)
        assert guest.MARKER in text

        libvirt_ssh.destroy(Kind.VM, vm.id, force=True)
        assert table.wait_for(lambda t: not t.rows, 10), table.rows


# --- cutting the SSH transport under a live table -------------------------------------------


def _cut_ssh() -> None:
    """Stop the sandbox's sshd: its listener and every session it serves."""
    listener = process.running_pid(sshd.NAME)
    if listener is None:
        pytest.fail("the sshd was not started by the sandbox; cannot cut it safely")
    sessions = sshd.sessions_of(listener)
    assert sessions, "no SSH session was open: the table does not go through the sshd"
    load(sshd.NAME).stop()
    deadline = time.monotonic() + 10
    while any(process.alive(pid) for pid in sessions) and time.monotonic() < deadline:
        time.sleep(0.05)


def _outage(driver: Any, kind: Kind, labels: dict[str, str],
            change: Callable[[], str]) -> None:
    """Cut SSH under a live table and a call; restart the sshd; see ``change()`` in the
    table. The sshd is started again even when the test fails."""
    table = StatusTable([(driver, kind, labels)], actions=False)
    try:
        assert table.wait_for(lambda t: t.live, 30), table.status_lines
        _cut_ssh()
        started = time.monotonic()
        with pytest.raises(EngineUnavailable) as caught:
            driver.list(kind, labels=labels)
        assert time.monotonic() - started < CALL_FAILS_WITHIN
        message = str(caught.value)
        assert "\n" not in message and driver.uri in message, message
        assert table.wait_for(_disconnected, CALL_FAILS_WITHIN), table.status_lines

        load(sshd.NAME).start()  # returns once the sshd sends its banner
        assert table.wait_for(lambda t: t.live, LIVE_AGAIN_WITHIN), table.status_lines
        made = change()
        assert table.wait_for(lambda t: made in {r.name for r in t.rows}, 30), table.rows
    finally:
        table.close()
        if process.running_pid(sshd.NAME) is None:
            load(sshd.NAME).start()


def test_docker_table_survives_a_cut_ssh_transport(docker_ssh: DockerDriver,
                                                   labels: dict[str, str]) -> None:
    def change() -> str:
        return _run(docker_ssh, labels).name

    _outage(docker_ssh, Kind.CONTAINER, labels, change)


def test_libvirt_table_survives_a_cut_ssh_transport(libvirt_ssh: LibvirtDriver,
                                                    labels: dict[str, str]) -> None:
    def change() -> str:
        # Defined, not booted: the table follows domains, the guest need not run.
        return libvirt_ssh.create(_tiny_vm(_name("vw-ssh"), labels), start=False).name

    _outage(libvirt_ssh, Kind.VM, labels, change)


def _next(stream: EventStream, wanted: EventType, timeout: float,
          where: Callable[[Event], bool] = lambda _event: True) -> Event:
    """The next ``wanted`` event that satisfies ``where``, skipping others."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        event = stream.get(timeout=left)
        if event is not None and event.type is wanted and where(event):
            return event
    raise AssertionError(f"no {wanted.value} event within {timeout:.0f} s")


def _kill_sessions() -> None:
    """SIGKILL the sshd processes serving the open connections; the listener stays up."""
    listener = process.running_pid(sshd.NAME)
    if listener is None:
        pytest.fail("the sshd was not started by the sandbox; cannot cut it safely")
    sessions = sshd.sessions_of(listener)
    assert sessions, "no SSH session was open: the watch does not go through the sshd"
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("family", ["docker", "libvirt"])
def test_a_killed_ssh_session_is_reported_and_followed_again(
        family: str, request: pytest.FixtureRequest, labels: dict[str, str]) -> None:
    """The sshd process serving the watch dies (the listener stays): the watch says
    ERROR once, re-lists over a new SSH connection, and follows again."""
    driver: Any = request.getfixturevalue(f"{family}_ssh")
    kind = Kind.CONTAINER if family == "docker" else Kind.VM

    def make_and_see() -> None:
        if family == "docker":
            made = _run(driver, labels).name
        else:  # defined, not booted: the watch follows domains
            made = driver.create(_tiny_vm(_name("vw-ssh"), labels), start=False).name
        _next(stream, EventType.ADDED, 30,
              lambda event: event.resource is not None and event.resource.name == made)

    stream = driver.watch(kind, labels)
    try:
        _next(stream, EventType.SYNCED, 30)
        make_and_see()  # the watch follows the engine's stream now (SYNCED comes before)
        _kill_sessions()
        error = _next(stream, EventType.ERROR, CALL_FAILS_WITHIN)
        assert error.message and "disconnected, retrying" in error.message
        _next(stream, EventType.SYNCED, LIVE_AGAIN_WITHIN)
        make_and_see()
    finally:
        stream.close()


def test_the_standard_ssh_client_reaches_the_sandbox_host(remote_host: None) -> None:
    """What the sandbox wrote is the user's ordinary OpenSSH setup: `ssh` finds the key and
    checks the host key by itself, and sshd runs the helpers the transports need."""
    proc = subprocess.run(["ssh", "-o", "BatchMode=yes", "-p", str(sshd.PORT),
                           f"{sshd.USER}@{sshd.HOST}", "command -v virt-ssh-helper docker"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "virt-ssh-helper" in proc.stdout and "docker" in proc.stdout
    password = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-p", str(sshd.PORT),
         f"{sshd.USER}@{sshd.HOST}", "true"], capture_output=True, text=True, timeout=60,
        check=False)
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr


# --- vSphere on a non-default port ----------------------------------------------------------


@pytest.fixture(scope="module")
def esxi() -> vcsim.Instance:
    ensure_up("vcsim")
    if process.running_pid(vcsim.ESX_NAME) is None:
        vcsim.start_instance(vcsim.ESX_NAME, vcsim.ESX_PORT, esx=True)
    return vcsim.ESXI


def _vsphere(instance: vcsim.Instance, cafile: Path) -> VSphereDriver:
    driver = connect(f"vsphere://{vcsim.USERNAME}@{vcsim.HOST}:{instance.port}",
                     password=vcsim.credentials()[1], cafile=str(cafile))
    assert isinstance(driver, VSphereDriver)
    return driver


def test_vsphere_on_a_non_default_port_through_a_trusted_certificate(
        esxi: vcsim.Instance) -> None:
    with _vsphere(esxi, esxi.cafile) as driver:
        assert (driver.settings.port, driver.settings.insecure) == (vcsim.ESX_PORT, False)
        assert driver.about()["api_type"] == "HostAgent"
        assert driver.list(Kind.VM)


def test_vsphere_refuses_a_certificate_it_does_not_trust(esxi: vcsim.Instance) -> None:
    # Trusting a certificate, just not this server's: vCenter's on 8989.
    with _vsphere(esxi, vcsim.VCENTER.cafile) as driver, \
            pytest.raises(TLSVerificationFailed) as caught:
        driver.list(Kind.VM)
    message = str(caught.value)
    assert "\n" not in message and f"{vcsim.HOST}:{vcsim.ESX_PORT}" in message, message
