"""Lists answered from a live watch's cache, on the real engines (issue 18).

While a watch of the same kind and labels is synced, ``%docker ps``, ``%k8s get``,
``%vm ls`` and ``%vw status`` ask the engine nothing: every request is counted where it
leaves this process (a forwarder in front of dockerd's and libvirtd's sockets, the urllib3
pool to the apiserver; benchmarks/counting.py). The answer still holds every change whose
event was delivered, made by another client than the magics'; ``--fresh`` asks the engine;
a closed watch answers nothing any more. And libvirt lists read a domain's labels once,
then again only after its metadata-change event.
"""

from __future__ import annotations

import tempfile
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from benchmarks.counting import (
    DOCKER_SOCKET,
    LIBVIRT_SOCKET,
    Forwarder,
    HttpRequests,
    LibvirtMessages,
    PoolRequests,
    Seen,
)
from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.libvirt import definition
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Event, EventType, Kind, State
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.sizes import MiB
from jupyter_virtwork.watch import EventStream

from .conftest import ensure_up, ipython_shell, restart_session

BUSYBOX = "localbase/busybox:1.35"
WITHIN = 30.0  # seconds for an engine's event to arrive


@pytest.fixture
def ip() -> Iterator[Any]:
    ensure_up("docker", "images", "kubernetes", "libvirt")
    shell = ipython_shell()
    restart_session(shell)  # connections of this test's own, through the counters
    yield shell
    restart_session(shell)


@pytest.fixture
def labels() -> dict[str, str]:
    return ownership.ownership(f"cache-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="vw-cache-") as path:
        yield path


def _until(stream: EventStream, wanted: Callable[[Event], bool]) -> Event:
    """The first event of ``stream`` that is ``wanted``; fails after WITHIN seconds."""
    while (event := stream.get(timeout=WITHIN)) is not None:
        if wanted(event):
            return event
    raise AssertionError("the watch did not deliver the event in time")


def _synced(stream: EventStream) -> None:
    _until(stream, lambda e: e.type is EventType.SYNCED)


def _about(name: str, kind: EventType) -> Callable[[Event], bool]:
    return lambda e: e.type is kind and e.resource is not None and e.resource.name == name


def _asked(counter: Seen, call: Callable[[], Any],
           listing: Callable[[str], bool]) -> tuple[Any, list[str]]:
    """``call()`` and the list requests the engine saw meanwhile. The watch's own requests
    (docker and libvirt look up the object of each event, other sessions' too) are not
    the list's: ``listing`` tells the list's requests apart."""
    seen_before = len(counter.seen_since(0))
    result = call()
    return result, [what for _, what in counter.seen_since(0)[seen_before:] if listing(what)]


def _docker_list(request: str) -> bool:
    return request.startswith("GET /v1.41/containers/json?") and "filters=" not in request


def _libvirt_list(message: str) -> bool:  # getAllDomainStats, listAllDomains
    return message in ("call 0x20008086/344", "call 0x20008086/273")


def _k8s_list(kind: str) -> Callable[[str], bool]:
    return lambda request: f"/{kind}" in request.split("?")[0] and "watch=" not in request


def _names(rows: Any) -> set[str]:
    return {r.name for r in rows}


def test_docker_ps_answers_from_a_synced_watch(ip: Any, scratch: str,
                                               labels: dict[str, str]) -> None:
    client = docker.from_env()
    with Forwarder(f"{scratch}/docker.sock", DOCKER_SOCKET, HttpRequests) as requests:
        ip.run_line_magic("vw", f"connect docker+unix://{requests.path} --as docker")
        driver = session(ip).driver("docker")
        stream = driver.watch(Kind.CONTAINER)
        name = f"vw-cache-{uuid.uuid4().hex[:6]}"
        try:
            _synced(stream)
            # Another client runs a container: the watch delivers it, the list holds it.
            client.containers.run(BUSYBOX, "sleep 600", name=name, detach=True,
                                  network_mode="none", labels=labels)
            # The engine reports "create" then "start": the cache holds the container as
            # running once the start has come through the watch, not before.
            _until(stream, lambda e: e.resource is not None and e.resource.name == name
                   and e.resource.state is State.RUNNING)
            cached, asked = _asked(requests, lambda: ip.run_line_magic("docker", "ps -a"),
                                   _docker_list)
            assert asked == []
            assert name in _names(cached)
            fresh, asked = _asked(requests, lambda: ip.run_line_magic("docker", "ps -a --fresh"),
                                  _docker_list)
            assert len(asked) == 1
            assert name in _names(fresh)
            running, asked = _asked(requests, lambda: ip.run_line_magic("docker", "ps"),
                                    _docker_list)
            assert asked == [] and name in _names(running)

            client.containers.get(name).remove(force=True)
            _until(stream, _about(name, EventType.DELETED))
            after, asked = _asked(requests, lambda: ip.run_line_magic("docker", "ps -a"),
                                  _docker_list)
            assert asked == [] and name not in _names(after)
        finally:
            stream.close()
            client.api.remove_container(name, force=True) if client.containers.list(
                all=True, filters={"name": f"^/{name}$"}) else None
            client.close()
        # No watch any more: the list asks the engine again.
        _, asked = _asked(requests, lambda: ip.run_line_magic("docker", "ps -a"), _docker_list)
        assert len(asked) == 1


def test_k8s_get_answers_from_synced_watches(ip: Any, labels: dict[str, str]) -> None:
    from kubernetes import client, config

    server = urllib.parse.urlsplit(kube_pki.SERVER)
    driver = session(ip).driver("kubernetes")
    streams = [driver.watch(Kind.SERVICE), driver.watch(Kind.POD)]
    new_client: Any = config.new_client_from_config  # the client's own types are partial
    api = client.CoreV1Api(new_client(config_file=str(kube_pki.kubeconfig_path()),
                                      context=kube_pki.CONTEXT))
    name = f"vw-cache-{uuid.uuid4().hex[:6]}"
    services, pods = _k8s_list("services"), _k8s_list("pods")
    selector = f"{ownership.SESSION}={labels[ownership.SESSION]}"
    try:
        for stream in streams:
            _synced(stream)
        with PoolRequests(server.hostname or "", server.port or 0) as requests:
            # A Service: another client's object, that runs nothing.
            api.create_namespaced_service(driver.namespace, {
                "metadata": {"name": name, "labels": labels},
                "spec": {"ports": [{"port": 80}], "selector": {"app": name}}})
            _until(streams[0], _about(name, EventType.ADDED))
            got, asked = _asked(requests, lambda: ip.run_line_magic("k8s", "get services"),
                                services)
            assert asked == [] and name in _names(got)
            _, asked = _asked(requests, lambda: ip.run_line_magic("k8s", "get pods"), pods)
            assert asked == []
            fresh, asked = _asked(requests, lambda: ip.run_line_magic(
                "k8s", "get services --fresh"), services)
            assert len(asked) == 1 and name in _names(fresh)
            # A selector no watch has: the engine answers.
            labelled, asked = _asked(requests, lambda: ip.run_line_magic(
                "k8s", f"get services -l {selector}"), services)
            assert len(asked) == 1 and _names(labelled) == {name}

            api.delete_namespaced_service(name, driver.namespace, _preload_content=False)
            _until(streams[0], _about(name, EventType.DELETED))
            got, asked = _asked(requests, lambda: ip.run_line_magic("k8s", "get services"),
                                services)
            assert asked == [] and name not in _names(got)
    finally:
        for stream in streams:
            stream.close()
        if api.list_namespaced_service(driver.namespace, label_selector=selector).items:
            api.delete_namespaced_service(name, driver.namespace, _preload_content=False)
        api.api_client.close()


def test_vm_ls_answers_from_a_synced_watch(ip: Any, scratch: str,
                                          labels: dict[str, str]) -> None:
    import libvirt

    conn = libvirt.open("qemu:///system")  # another client than the magics
    name = f"vw-cache-{uuid.uuid4().hex[:6]}"
    with Forwarder(f"{scratch}/libvirt.sock", LIBVIRT_SOCKET, LibvirtMessages) as messages:
        uri = f"qemu+unix:///system?socket={messages.path}"
        ip.run_line_magic("vm", f"ls --on {uri}")
        stream = session(ip).driver(uri).watch(Kind.VM)
        try:
            _synced(stream)
            dom = conn.defineXML(definition.domain_xml(definition.DomainPlan(
                name, "qemu", 1, 64 * MiB, labels=labels)))
            _until(stream, _about(name, EventType.ADDED))
            listed, seen = _asked(messages, lambda: ip.run_line_magic("vm", f"ls --on {uri}"),
                                  _libvirt_list)
            assert seen == []
            assert {r.name: r.labels for r in listed}[name] == labels
            everything, seen = _asked(messages, lambda: ip.run_line_magic("vw", "status"),
                                      _libvirt_list)
            assert name in _names(everything)
            assert seen == []
            fresh, seen = _asked(messages, lambda: ip.run_line_magic(
                "vm", f"ls --on {uri} --fresh"), _libvirt_list)
            assert len(seen) == 1 and name in _names(fresh)

            dom.undefine()
            _until(stream, _about(name, EventType.DELETED))
            listed, seen = _asked(messages, lambda: ip.run_line_magic("vm", f"ls --on {uri}"),
                                  _libvirt_list)
            assert name not in _names(listed)
            assert seen == []
        finally:
            stream.close()
            if name in conn.listDefinedDomains():
                conn.lookupByName(name).undefine()
            conn.close()


def test_libvirt_lists_read_labels_once_then_on_metadata_change(
        scratch: str, labels: dict[str, str]) -> None:
    """No watch here: the labels come from the driver's own cache, refreshed by the
    metadata-change event another client's change sends."""
    import libvirt

    from jupyter_virtwork.registry import connect

    ensure_up("libvirt")
    conn = libvirt.open("qemu:///system")
    names = [f"vw-owners-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    domains = [conn.defineXML(definition.domain_xml(definition.DomainPlan(
        name, "qemu", 1, 64 * MiB, labels=labels))) for name in names]
    with Forwarder(f"{scratch}/libvirt.sock", LIBVIRT_SOCKET, LibvirtMessages) as messages:
        driver = connect(f"qemu+unix:///system?socket={messages.path}")
        try:
            assert _names(driver.list(Kind.VM, labels=labels)) == set(names)
            total = len(conn.listAllDomains(0))
            listed, seen = _asked(messages, lambda: driver.list(Kind.VM),
                                  lambda m: m.startswith("call"))
            assert seen == ["call 0x20008086/344"]  # getAllDomainStats; no call per domain
            assert len(listed) >= total - 1  # other sessions' domains come and go

            changed = dict(labels, tier="web")
            owner = ET.Element("owner", os="other linux")  # libvirt adds our namespace
            for key, value in changed.items():
                ET.SubElement(owner, "label", name=key).text = value
            domains[0].setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                   ET.tostring(owner, encoding="unicode"), "vw",
                                   ownership.XML_NAMESPACE, 0)
            assert _until_labels(driver, names[0], changed), "the metadata change was missed"
        finally:
            driver.close()
            for dom in domains:
                dom.undefine()
            conn.close()


def _until_labels(driver: Any, name: str, wanted: dict[str, str]) -> bool:
    """Whether a list shows ``wanted`` on ``name`` within WITHIN seconds (the event is
    asynchronous: it may arrive a moment after setMetadata returns)."""
    import time

    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        if {r.name: r.labels for r in driver.list(Kind.VM)}.get(name) == wanted:
            return True
        time.sleep(0.05)
    return False

