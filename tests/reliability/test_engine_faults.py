"""Engines killed and restarted under a live view and a call.

For each engine (dockerd, kube-apiserver, vcsim, libvirtd): a StatusTable follows the
engine, as a notebook's live output would. The daemon is SIGKILLed, as a crash would end
it; a call then fails with a clear one-line error within 10 s, and the table's status line
says the engine is disconnected. The engine is started again through the sandbox; within
5 s of it answering (each engine's ``start()`` returns once its readiness probe passes) the
table is live again, and a change made after the restart shows as a row. The kernel (this
process) never hangs: every wait is bounded.

These tests really kill the sandbox's daemons and start them again through the sandbox, so
they leave the engines up for the tests that follow.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_virtwork import defaults
from jupyter_virtwork import labels as ownership
from jupyter_virtwork.errors import EngineUnavailable
from jupyter_virtwork.models import ContainerSpec, Kind, VMSpec, WorkloadSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki, process, vcsim
from jupyter_virtwork.sandbox.engines import load
from jupyter_virtwork.sizes import MiB
from jupyter_virtwork.widgets import StatusTable

from ..integration.conftest import ensure_up

BUSYBOX = "localbase/busybox:1.35"
CALL_FAILS_WITHIN = 10.0  # the bound for the call
LIVE_AGAIN_WITHIN = 5.0  # ... and for the view, from the engine answering again


def _disconnected(table: StatusTable) -> bool:
    return "disconnected, retrying" in table.status_lines[0]


def _shows(name: str) -> Callable[[StatusTable], bool]:
    return lambda table: name in {row.name for row in table.rows}


def _crash(daemon: str) -> None:
    """SIGKILL the sandbox's ``daemon``; return once /proc no longer runs it (bounded)."""
    pid = process.running_pid(daemon)
    if pid is None:
        pytest.fail(f"{daemon} was not started by the sandbox; cannot crash it safely")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process.running_pid(daemon) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def _outage(driver: Any, kind: Kind, labels: dict[str, str], daemon: str, engine: str,
            change: Callable[[], str]) -> None:
    """Crash ``daemon`` under a live table and a call; restart ``engine``; see ``change()``
    in the table. Whatever ``change`` made (it carries ``labels``) is removed afterwards."""
    table = StatusTable([(driver, kind, labels)], actions=False)
    try:
        assert table.wait_for(lambda t: t.live, 30), table.status_lines
        _crash(daemon)
        started = time.monotonic()
        with pytest.raises(EngineUnavailable) as caught:
            driver.list(kind, labels=labels)
        assert time.monotonic() - started < CALL_FAILS_WITHIN
        message = str(caught.value)
        assert "\n" not in message and driver.uri in message, message
        assert table.wait_for(_disconnected, CALL_FAILS_WITHIN), table.status_lines

        load(engine).start()  # returns once the engine answers
        assert table.wait_for(lambda t: t.live, LIVE_AGAIN_WITHIN), table.status_lines
        made = change()
        assert table.wait_for(_shows(made), 30), (made, table.rows)
    finally:
        table.close()
        for resource in driver.list(kind, labels=labels):
            driver.destroy(kind, resource.id, force=True)
        driver.close()


def _labels_and_name() -> tuple[dict[str, str], str]:
    return (ownership.ownership(f"fault-{uuid.uuid4().hex[:6]}"),
            f"after-crash-{uuid.uuid4().hex[:6]}")


def test_dockerd_crash() -> None:
    ensure_up("docker", "images")
    driver: Any = connect("docker://")
    labels, name = _labels_and_name()

    def change() -> str:
        driver.create(ContainerSpec(BUSYBOX, name=name, command=("sleep", "60"),
                                    labels=labels, network="none"))
        return name

    _outage(driver, Kind.CONTAINER, labels, "dockerd", "docker", change)
    ensure_up("kubernetes")  # the kubelet's containers went down with dockerd


def test_kube_apiserver_crash() -> None:
    ensure_up("kubernetes")
    driver: Any = connect(f"k8s://{kube_pki.CONTEXT}/default",
                          kubeconfig=str(kube_pki.kubeconfig_path()))
    labels, name = _labels_and_name()

    def change() -> str:
        driver.create(WorkloadSpec(({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sleep", "60"]}]}},)))
        return name

    _outage(driver, Kind.POD, labels, "kube-apiserver", "kubernetes", change)


def test_vcsim_crash() -> None:
    ensure_up("vcsim")
    sandbox = defaults.vsphere()
    assert sandbox is not None, "the sandbox's vcsim is not running"
    driver: Any = connect(sandbox.uri, **sandbox.options)
    labels, name = _labels_and_name()

    def change() -> str:
        # The simulator's inventory starts afresh with each start: the change is a VM made
        # after the restart, found by its labels.
        driver.create(VMSpec(name, memory=64 * MiB, labels=labels))
        return name

    _outage(driver, Kind.VM, labels, vcsim.NAME, "vcsim", change)


def test_libvirtd_crash() -> None:
    ensure_up("libvirt")
    driver: Any = connect("qemu:///system")
    labels, name = _labels_and_name()

    def change() -> str:
        from jupyter_virtwork.sandbox.guest import guest_files

        files = guest_files()
        driver.create(VMSpec.parse(name, cpus=1, memory="128M", kernel=files.kernel,
                                   initrd=files.initrd, labels=labels))
        return name

    _outage(driver, Kind.VM, labels, "libvirtd", "libvirt", change)
