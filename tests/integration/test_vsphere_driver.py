"""The vSphere driver on the sandbox's real vcsim, in vCenter and ESXi modes (no mocks).

Every test checks the login's password never shows: not in records, reprs, errors, logs or
captured output. TLS is verified against the certificate each simulator exports.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.vsphere.driver import VSphereDriver
from jupyter_virtwork.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    TLSVerificationFailed,
)
from jupyter_virtwork.models import Event, EventType, Kind, Progress, State, VMSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import process, vcsim
from jupyter_virtwork.sandbox.vcsim import Instance
from jupyter_virtwork.sizes import GiB, MiB
from jupyter_virtwork.watch import EventStream, Stopper

from .conftest import ensure_up
from .contract import DriverContract

pytestmark = pytest.mark.engines("vcsim")
RESTART_NAME = "vcsim-vw-restart"  # a private simulator for the restart test
RESTART_PORT = 8996


@pytest.fixture(scope="module")
def sandbox() -> None:
    ensure_up("vcsim")
    if process.running_pid(vcsim.ESX_NAME) is None:
        vcsim.start_instance(vcsim.ESX_NAME, vcsim.ESX_PORT, esx=True)


@pytest.fixture(scope="module")
def password(sandbox: None) -> str:
    return vcsim.credentials()[1]


def _uri(instance: Instance, port: int | None = None) -> str:
    return f"vsphere://{vcsim.USERNAME}@{vcsim.HOST}:{port or instance.port}"


def _connect(instance: Instance, **options: Any) -> VSphereDriver:
    options.setdefault("password", vcsim.credentials()[1])
    options.setdefault("cafile", str(instance.cafile))
    driver = connect(_uri(instance), **options)
    assert isinstance(driver, VSphereDriver)
    return driver


@pytest.fixture(scope="module", params=[vcsim.VCENTER, vcsim.ESXI], ids=["vcenter", "esxi"])
def instance(request: pytest.FixtureRequest, sandbox: None) -> Instance:
    assert isinstance(request.param, Instance)
    return request.param


@pytest.fixture(scope="module")
def driver(instance: Instance) -> Iterator[VSphereDriver]:
    connected = _connect(instance)
    yield connected
    connected.close()


@pytest.fixture
def raw(instance: Instance) -> Iterator[Any]:
    """Another client: plain pyVmomi, as a colleague's script would use it."""
    from pyVim.connect import Disconnect, SmartConnect

    user, secret = vcsim.credentials()
    si = SmartConnect(host=vcsim.HOST, port=instance.port, user=user, pwd=secret,
                      sslContext=vcsim.ssl_context(instance))
    yield si.RetrieveContent()
    Disconnect(si)


@pytest.fixture(autouse=True)
def password_never_shown(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture,
                         capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    secret = vcsim.credentials()[1]
    captured = capsys.readouterr()
    assert secret not in caplog.text
    assert secret not in captured.out + captured.err
    for fixture in ("driver",):
        if fixture in request.fixturenames:
            driver = request.getfixturevalue(fixture)
            assert secret not in repr(driver) + repr(vars(driver)) + driver.uri


@pytest.fixture
def labels() -> dict[str, str]:
    return ownership.ownership(f"vw-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def cleanup(driver: VSphereDriver, labels: dict[str, str]) -> Iterator[None]:
    yield
    for vm in driver.list(Kind.VM, labels=labels):
        driver.destroy(Kind.VM, vm.id, force=True)


def _name(prefix: str = "vw-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _names(driver: VSphereDriver) -> set[str]:
    return {vm.name for vm in driver.list(Kind.VM)}


class TestContract(DriverContract):
    kind: ClassVar[Kind] = Kind.VM
    unsupported: ClassVar[tuple[str, Kind]] = ("pause", Kind.CONTAINER)

    @pytest.fixture
    def fresh_driver(self, instance: Instance) -> Iterator[VSphereDriver]:
        connected = _connect(instance)
        yield connected
        connected.close()

    def make_spec(self, name: str, labels: dict[str, str]) -> Any:
        return VMSpec(name, memory=64 * MiB, guest_os="other linux", labels=labels)


# --- the document's walkthrough ------------------------------------------------------------


def test_walkthrough_my_vmware_vm(driver: VSphereDriver, labels: dict[str, str],
                                  cleanup: None) -> None:
    if "my-vmware-vm" in _names(driver):  # a previous run that died half-way
        driver.destroy(Kind.VM, "my-vmware-vm", force=True)
    steps: list[Progress] = []
    spec = VMSpec.parse("my-vmware-vm", guest_os="ubuntu 18.04", labels=labels)
    vm = driver.create(spec, on_progress=steps.append)
    assert (vm.name, vm.state, vm.details["guest_id"]) == \
        ("my-vmware-vm", State.STOPPED, "ubuntu64Guest")
    assert steps and steps[-1].done and "creating VM" in steps[-1].message

    steps.clear()
    vm = driver.reconfigure("my-vmware-vm", cpus=2, memory="4 GB", disk="100 GB",
                            on_progress=steps.append)
    assert (vm.details["cpus"], vm.details["memory"]) == (2, 4 * GiB)
    assert driver.disks(vm.id) == [100 * GiB]
    assert steps[-1].done

    for verb, state in (("start", State.RUNNING), ("pause", State.SUSPENDED),
                        ("resume", State.RUNNING), ("stop", State.STOPPED)):
        steps.clear()
        assert getattr(driver, verb)(Kind.VM, "my-vmware-vm",
                                     on_progress=steps.append).state is state, verb
        assert steps and steps[-1].done, verb
    driver.destroy(Kind.VM, "my-vmware-vm")
    with pytest.raises(NotFound):
        driver.get(Kind.VM, "my-vmware-vm")


def test_power_verbs_that_have_nothing_to_do(driver: VSphereDriver, labels: dict[str, str],
                                             cleanup: None) -> None:
    vm = driver.create(VMSpec(_name(), memory=64 * MiB, labels=labels))
    assert driver.stop(Kind.VM, vm.id).state is State.STOPPED  # already stopped: no-op
    with pytest.raises(OperationFailed, match="nothing to suspend"):
        driver.pause(Kind.VM, vm.id)
    with pytest.raises(OperationFailed, match="not suspended"):
        driver.resume(Kind.VM, vm.id)
    driver.start(Kind.VM, vm.id)
    assert driver.start(Kind.VM, vm.id).state is State.RUNNING
    assert driver.reset(Kind.VM, vm.id).state is State.RUNNING
    driver.pause(Kind.VM, vm.id)
    with pytest.raises(OperationFailed, match="--force"):  # the magics' flag
        driver.stop(Kind.VM, vm.id)
    assert driver.stop(Kind.VM, vm.id, force=True).state is State.STOPPED


def test_snapshots(driver: VSphereDriver, labels: dict[str, str], cleanup: None) -> None:
    vm = driver.create(VMSpec(_name(), memory=64 * MiB, labels=labels))
    first = driver.snapshot(vm.id, "clean install", description="before anything")
    driver.start(Kind.VM, vm.id)
    second = driver.snapshot(vm.name, "running")
    tree = {s.name: s for s in driver.snapshots(vm.id)}
    assert set(tree) == {"clean install", "running"}
    assert tree["running"].parent == "clean install" and tree["running"].current
    assert tree["clean install"].description == "before anything"
    assert (first.power_state, second.power_state) == ("poweredOff", "poweredOn")

    # vSphere also restores the snapshot's power state; vcsim keeps the current one.
    assert driver.revert(vm.id, "clean install").id == vm.id
    assert [s.name for s in driver.snapshots(vm.id) if s.current] == ["clean install"]
    driver.remove_snapshot(vm.id, second.id)
    driver.remove_snapshot(vm.id, "clean install")
    assert driver.snapshots(vm.id) == []
    with pytest.raises(NotFound, match="no snapshot"):
        driver.revert(vm.id, "clean install")


def test_list_matches_what_the_server_holds(driver: VSphereDriver, raw: Any) -> None:
    from pyVmomi import vim

    view = raw.viewManager.CreateContainerView(raw.rootFolder, [vim.VirtualMachine], True)
    try:
        expected = {vm._moId: (vm.name, str(vm.runtime.powerState), vm.config.hardware.numCPU,
                               vm.config.hardware.memoryMB * MiB) for vm in view.view}
    finally:
        view.Destroy()
    listed = {vm.id: (vm.name, vm.raw["runtime.powerState"], vm.details["cpus"],
                      vm.details["memory"]) for vm in driver.list(Kind.VM)}
    assert listed == expected


def test_watch_sees_another_clients_vm(driver: VSphereDriver, raw: Any) -> None:
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    name = _name("vw-raw")
    stream = driver.watch(Kind.VM)
    try:
        _wait(stream, EventType.SYNCED)
        dc = raw.rootFolder.childEntity[0]
        compute = dc.hostFolder.childEntity[0]
        pool, datastore = compute.resourcePool, compute.datastore[0].name
        config = vim.vm.ConfigSpec(name=name, guestId="otherGuest", numCPUs=1, memoryMB=32,
                                   files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"))
        task = dc.vmFolder.CreateVM_Task(config=config, pool=pool)
        WaitForTask(task)
        added = _wait(stream, EventType.ADDED, lambda e: e.resource.name == name)
        assert added.resource is not None and added.resource.state is State.STOPPED
        task.info.result.PowerOnVM_Task()
        modified = _wait(stream, EventType.MODIFIED, lambda e: e.resource.name == name)
        assert modified.resource is not None and modified.resource.state is State.RUNNING
        WaitForTask(task.info.result.PowerOffVM_Task())
        WaitForTask(task.info.result.Destroy_Task())
        deleted = _wait(stream, EventType.DELETED, lambda e: e.resource.name == name)
        assert deleted.resource is not None and deleted.resource.id == added.resource.id
    finally:
        stream.close()


def _wait(stream: EventStream, wanted: EventType, match: Any = None,
          timeout: float = 15) -> Event:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = stream.get(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and event.type is wanted and (match is None or match(event)):
            return event
        assert event is None or event.type is not EventType.ERROR, event.message
    raise AssertionError(f"no {wanted.value} event within {timeout} s")


def test_an_expired_session_logs_in_again(driver: VSphereDriver) -> None:
    before = _names(driver)
    driver._call(lambda content: content.sessionManager.Logout())  # as if it timed out
    assert _names(driver) == before


def test_interrupted_create_leaves_nothing(driver: VSphereDriver, labels: dict[str, str],
                                           cleanup: None) -> None:
    stopper = Stopper()
    name = _name()
    with pytest.raises(Cancelled) as caught:
        driver.create(VMSpec(name, memory=64 * MiB, labels=labels),
                      on_progress=lambda _: stopper.stop(), stopper=stopper)
    assert "interrupted" in str(caught.value)
    assert name not in _names(driver)


# --- bad input: one line, nothing created -------------------------------------------------


@pytest.mark.parametrize(("fields", "words"), [
    ({"cpus": 0}, "0 CPUs is impossible"),
    ({"cpus": 10000}, "10000 CPUs is impossible"),
    ({"memory": "lots"}, "memory 'lots' is not a size"),
    ({"disk": "-5G"}, "disk '-5G' is not a size"),
    ({"guest_os": "ubunto 18.04"}, "did you mean 'ubuntu'"),
    ({"name": "vm; rm -rf /"}, "is not a valid name"),
    ({"name": "$(reboot)"}, "is not a valid name"),
])
def test_bad_input_creates_nothing(driver: VSphereDriver, fields: dict[str, Any],
                                   words: str) -> None:
    before = _names(driver)
    with pytest.raises(InvalidInput) as caught:
        driver.create(VMSpec.parse(**{"name": _name(), **fields}))
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert _names(driver) == before


def test_duplicate_name(driver: VSphereDriver, labels: dict[str, str], cleanup: None) -> None:
    spec = VMSpec(_name(), memory=64 * MiB, labels=labels)
    driver.create(spec)
    before = _names(driver)
    with pytest.raises(AlreadyExists, match="exists already"):
        driver.create(spec)
    assert _names(driver) == before


def test_deleting_a_running_vm_needs_force(driver: VSphereDriver, labels: dict[str, str],
                                           cleanup: None) -> None:
    vm = driver.create(VMSpec(_name(), memory=64 * MiB, labels=labels))
    driver.start(Kind.VM, vm.id)
    with pytest.raises(OperationFailed) as caught:
        driver.destroy(Kind.VM, vm.id)
    assert "running" in str(caught.value) and "--force" in str(caught.value)
    assert driver.get(Kind.VM, vm.id).state is State.RUNNING
    driver.destroy(Kind.VM, vm.id, force=True)
    assert vm.name not in _names(driver)


def test_disks_only_grow(driver: VSphereDriver, labels: dict[str, str], cleanup: None) -> None:
    vm = driver.create(VMSpec(_name(), memory=64 * MiB, disk=2 * GiB, labels=labels))
    with pytest.raises(InvalidInput, match="disks only grow"):
        driver.reconfigure(vm.id, disk="1G")
    assert driver.disks(vm.id) == [2 * GiB]


def test_wrong_password(instance: Instance) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    with _connect(instance, password=wrong) as bad, pytest.raises(AuthenticationFailed) as caught:
        bad.list(Kind.VM)
    assert "refused the login" in str(caught.value) and wrong not in str(caught.value)


def test_unreachable_vcenter_fails_within_the_bounded_wait(sandbox: None) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind((vcsim.HOST, 0))
        closed = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as caught:
        connect(_uri(vcsim.VCENTER, closed), password="x", timeout=5).list(Kind.VM)
    assert time.monotonic() - started < 6
    assert f"127.0.0.1:{closed}" in str(caught.value) and "\n" not in str(caught.value)


def test_a_server_that_never_answers(sandbox: None) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), says nothing
        silent.bind((vcsim.HOST, 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match="no answer within 2 s"):
            connect(_uri(vcsim.VCENTER, port), password="x", timeout=2).list(Kind.VM)
        assert time.monotonic() - started < 3


def test_untrusted_certificate(sandbox: None) -> None:
    untrusted = connect(_uri(vcsim.VCENTER), password=vcsim.credentials()[1])
    with pytest.raises(TLSVerificationFailed) as caught:
        untrusted.list(Kind.VM)
    assert "cafile=" in str(caught.value) and "insecure=True" in str(caught.value)
    assert isinstance(caught.value.__context__, ssl.SSLCertVerificationError)
    # Asked for explicitly, for this one connection only: the same login then works.
    with _connect(vcsim.VCENTER, cafile=None, insecure=True) as insecure:
        assert insecure.list(Kind.VM)


def test_govc_environment(sandbox: None, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = vcsim.credentials()[1]
    monkeypatch.setenv("GOVC_URL", f"https://{vcsim.HOST}:{vcsim.PORT}/sdk")
    monkeypatch.setenv("GOVC_USERNAME", vcsim.USERNAME)
    monkeypatch.setenv("GOVC_PASSWORD", secret)
    monkeypatch.setenv("GOVC_TLS_CA_CERTS", str(vcsim.VCENTER.cafile))
    with VSphereDriver.from_env() as driver:
        assert driver.list(Kind.VM)
        assert driver.uri == f"vsphere://{vcsim.USERNAME}@{vcsim.HOST}:{vcsim.PORT}"
    # govc's other spelling: user and password in GOVC_URL, and GOVC_INSECURE
    user = urllib.parse.quote(vcsim.USERNAME, safe="")
    monkeypatch.setenv("GOVC_URL", f"https://{user}:{secret}@{vcsim.HOST}:{vcsim.PORT}/sdk")
    for name in ("GOVC_USERNAME", "GOVC_PASSWORD", "GOVC_TLS_CA_CERTS"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GOVC_INSECURE", "1")
    with VSphereDriver.from_env() as driver:
        assert driver.list(Kind.VM) and driver.settings.insecure
        assert secret not in driver.uri + driver.command("list")


def test_watch_survives_a_simulator_restart(sandbox: None) -> None:
    instance = vcsim.start_instance(RESTART_NAME, RESTART_PORT, esx=True)
    driver = _connect(instance)
    stream = driver.watch(Kind.VM)
    try:
        _wait(stream, EventType.SYNCED)
        vcsim.stop_instance(RESTART_NAME)
        _wait(stream, EventType.ERROR, timeout=20)
        vcsim.start_instance(RESTART_NAME, RESTART_PORT, esx=True)  # a new certificate too
        _wait(stream, EventType.SYNCED, timeout=30)
        vm = driver.create(VMSpec(_name(), memory=64 * MiB))
        _wait(stream, EventType.ADDED, lambda e: e.resource.id == vm.id)
    finally:
        stream.close()
        driver.close()
        vcsim.stop_instance(RESTART_NAME)


def test_show_command(driver: VSphereDriver) -> None:
    where = f"-u {vcsim.USERNAME}@{vcsim.HOST}:{driver.settings.port}"
    assert driver.command("start", "my-vmware-vm").startswith(f"govc vm.power {where}")
    assert driver.command("start", "my-vmware-vm").endswith(" -on my-vmware-vm")
    line = driver.create_command(VMSpec.parse("my-vmware-vm", cpus=2, memory="4G",
                                              disk="100G", guest_os="ubuntu 18.04"))
    assert line.endswith("-on=false -c 2 -m 4096 -g ubuntu64Guest -disk 100GB my-vmware-vm")
    started = driver.create_command(VMSpec.parse("my-vmware-vm"), start=True)
    assert "-on" not in started.split()  # govc's vm.create powers on by default
    assert vcsim.credentials()[1] not in line
