"""Engines killed and restarted under a live view and a call.

For each engine: the call fails with a clear error within 10 s, the live view reports the
outage, and it is live again within 5 s of the engine answering after its restart, seeing a
change made after the restart. The kernel (this process) never hangs: every wait is bounded.

These tests really kill the sandbox's daemons (SIGKILL, as a crash would) and start them
again through the sandbox, so they leave the engines up for the tests that follow.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.errors import EngineUnavailable
from jupyter_virtwork.models import ContainerSpec, Event, EventType, Kind, VMSpec, WorkloadSpec
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki, process
from jupyter_virtwork.sandbox.engines import load
from jupyter_virtwork.watch import EventStream

from ..integration.conftest import ensure_up

BUSYBOX = "localbase/busybox:1.35"


def _next(stream: EventStream, wanted: EventType, within: float) -> Event:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        event = stream.get(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and event.type is wanted:
            return event
    raise AssertionError(f"no {wanted.value} event within {within} s")


def _crash(daemon: str, sig: signal.Signals = signal.SIGKILL) -> None:
    pid = process.running_pid(daemon)
    if pid is None:
        pytest.fail(f"{daemon} was not started by the sandbox; cannot crash it safely")
    os.kill(pid, sig)
    deadline = time.monotonic() + 10
    while process.running_pid(daemon) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def _outage(driver: Any, kind: Kind, labels: dict[str, str], daemon: str, engine: str,
            change: Callable[[], str], sig: signal.Signals = signal.SIGKILL) -> None:
    """Crash ``daemon`` under a watch and a call; restart ``engine``; see ``change()``.
    Whatever ``change`` made (it carries ``labels``) is removed afterwards."""
    stream = driver.watch(kind, labels=labels)
    try:
        _next(stream, EventType.SYNCED, 30)
        _crash(daemon, sig)
        started = time.monotonic()
        with pytest.raises(EngineUnavailable) as caught:
            driver.list(kind, labels=labels)
        assert time.monotonic() - started < 10
        assert "\n" not in str(caught.value)
        error = _next(stream, EventType.ERROR, 10)
        assert "disconnected" in error.message
        load(engine).start()
        _next(stream, EventType.SYNCED, 5)  # within 5 s of the engine answering again
        made = change()
        added = _next(stream, EventType.ADDED, 30)
        assert added.resource is not None and added.resource.name == made
    finally:
        stream.close()
        for resource in driver.list(kind, labels=labels):
            driver.destroy(kind, resource.id, force=True)
        driver.close()


def test_dockerd_crash() -> None:
    ensure_up("docker", "images")
    driver: Any = connect("docker://")
    labels = ownership.ownership(f"fault-{uuid.uuid4().hex[:6]}")
    name = f"after-crash-{uuid.uuid4().hex[:6]}"

    def change() -> str:
        driver.create(ContainerSpec(BUSYBOX, name=name, command=("sleep", "60"),
                                    labels=labels, network="none"))
        return name

    # SIGTERM, not SIGKILL: a SIGKILLed dockerd leaves its containerd orphaned, and on this
    # machine the next dockerd then times out starting its own (an open sandbox item).
    _outage(driver, Kind.CONTAINER, labels, "dockerd", "docker", change, signal.SIGTERM)
    ensure_up("kubernetes")  # the kubelet's containers went down with dockerd


def test_kube_apiserver_crash() -> None:
    ensure_up("kubernetes")
    driver: Any = connect(f"k8s://{kube_pki.CONTEXT}/default",
                          kubeconfig=str(kube_pki.kubeconfig_path()))
    labels = ownership.ownership(f"fault-{uuid.uuid4().hex[:6]}")
    name = f"after-crash-{uuid.uuid4().hex[:6]}"

    def change() -> str:
        driver.create(WorkloadSpec(({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sleep", "60"]}]}},)))
        return name

    _outage(driver, Kind.POD, labels, "kube-apiserver", "kubernetes", change)


def test_libvirtd_crash() -> None:
    ensure_up("libvirt")
    driver: Any = connect("qemu:///system")
    labels = ownership.ownership(f"fault-{uuid.uuid4().hex[:6]}")
    name = f"after-crash-{uuid.uuid4().hex[:6]}"

    def change() -> str:
        from jupyter_virtwork.sandbox.guest import guest_files

        files = guest_files()
        driver.create(VMSpec.parse(name, cpus=1, memory="128M", kernel=files.kernel,
                                   initrd=files.initrd, labels=labels))
        return name

    _outage(driver, Kind.VM, labels, "libvirtd", "libvirt", change)
