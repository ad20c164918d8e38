"""A Kubernetes watch that resumes from a version the apiserver no longer holds: the
apiserver answers 410 Gone, and the driver's watch re-lists and loses no change.

Provoked for real on the sandbox's apiserver. Its watch cache keeps the recent events of
each resource: 100 at first, and it grows (doubles) instead of dropping its oldest event
while that event is younger than 75 s (``watch_cache.go`` of Kubernetes 1.20). The driver's
watcher lists, then stalls before it starts watching (a client that paused: the only thing
the test arranges, by holding the driver's first follow). Meanwhile the test changes its
Deployments (one modified, one created, one deleted), lets those events age past 75 s, and
writes until the cache has dropped them: the apiserver itself then answers a watch from the
listed version with 410 "too old resource version". Released, the driver meets the same
answer, re-lists, and the stream carries every change it missed; a change after the
re-list follows as usual.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.models import Event, EventType, Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.watch import EventStream

from .conftest import ensure_up
from .manifests import Container, deployment

FRESH = 75.0  # seconds the apiserver's watch cache grows rather than drop an event
MAX_WRITES = 5000  # the cache holds 100 events or more; it drops one a write once full


def _deployment(name: str) -> dict[str, Any]:
    return deployment(name, Container(), replicas=0, grace=None)


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    """The raw client, for what the test does behind the driver's back."""
    ensure_up("kubernetes")
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kube_pki.kubeconfig_path()),
                                           context=kube_pki.CONTEXT)
    yield client
    client.close()


@pytest.fixture
def namespace(api: Any) -> Iterator[str]:
    from kubernetes import client

    name = f"vw-gone-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def driver(namespace: str) -> Iterator[KubernetesDriver]:
    connected = connect(f"k8s://{kube_pki.CONTEXT}/{namespace}",
                        kubeconfig=str(kube_pki.kubeconfig_path()))
    assert isinstance(connected, KubernetesDriver)
    yield connected
    connected.close()


class StalledFirstFollow:
    """Holds the driver's first watch request until released; records its version."""

    def __init__(self, driver: KubernetesDriver) -> None:
        self._follow = driver._follow
        self.version: str | None = None
        self.listed = threading.Event()
        self.release = threading.Event()

    def __call__(self, kind: Kind, labels: Any, version: str | None, emit: Any,
                 stopper: Any) -> None:
        if not self.listed.is_set():
            self.version = version
            self.listed.set()
            self.release.wait(FRESH + 300)
        self._follow(kind, labels, version, emit, stopper)


def _gone(api: Any, namespace: str, version: str) -> bool:
    """Whether the apiserver answers a watch from ``version`` with 410 Gone (its first
    line says: an ERROR, or the first event since ``version``)."""
    from kubernetes import client

    response = client.AppsV1Api(api).list_namespaced_deployment(
        namespace, watch=True, resource_version=version, timeout_seconds=5,
        _preload_content=False, _request_timeout=10)
    try:
        first = response.readline()
    finally:
        response.close()
    event = json.loads(first)
    return bool(event["type"] == "ERROR" and event["object"].get("code") == 410)


def _until_synced(stream: EventStream, within: float = 60) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + within
    while (event := stream.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
        if event.type is EventType.SYNCED:
            return events
        events.append(event)
    raise AssertionError(f"no SYNCED within {within} s; got {events}")


def test_a_watch_answered_410_relists_and_loses_no_change(
        api: Any, namespace: str, driver: KubernetesDriver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(api)
    labels = ownership.ownership(f"gone-{uuid.uuid4().hex[:6]}")
    driver.apply([_deployment(n) for n in ("kept", "changed", "deleted")], labels=labels)
    stalled = StalledFirstFollow(driver)
    monkeypatch.setattr(driver, "_follow", stalled)
    stream = driver.watch(Kind.DEPLOYMENT, labels=labels)
    try:
        listed = _until_synced(stream)
        assert sorted(e.resource.name for e in listed if e.resource) == [
            "changed", "deleted", "kept"]
        assert stalled.listed.wait(30) and stalled.version is not None

        # What the stalled watch misses: one object modified, one created, one deleted.
        # (Label changes: a record shows its labels, and the watch hands on only changes
        # that a record shows.)
        apps.patch_namespaced_deployment(
            "changed", namespace, {"metadata": {"labels": {"vw-test/changed": "yes"}}})
        driver.apply([_deployment("created")], labels=labels)
        apps.delete_namespaced_deployment("deleted", namespace)
        # The cache drops no event younger than FRESH seconds: nothing on the apiserver
        # tells when that has passed, so this is its rule, waited out, not a guess.
        time.sleep(FRESH + 1)
        writes = 0
        while not (writes % 10 == 0 and _gone(api, namespace, stalled.version)):
            assert writes < MAX_WRITES, "the listed version is still not gone"
            writes += 1
            apps.patch_namespaced_deployment(
                "kept", namespace, {"metadata": {"labels": {"vw-test/write": str(writes)}}})

        stalled.release.set()
        missed = _until_synced(stream)  # the driver met the 410 and listed again
        assert [e for e in missed if e.type is EventType.ERROR] == []  # not a broken watch
        seen = {(e.type, e.resource.name) for e in missed if e.resource}
        assert seen == {(EventType.MODIFIED, "changed"), (EventType.ADDED, "created"),
                        (EventType.DELETED, "deleted"), (EventType.MODIFIED, "kept")}, seen
        by_name = {e.resource.name: e.resource for e in missed if e.resource}
        assert by_name["changed"].labels["vw-test/changed"] == "yes"
        assert by_name["kept"].labels["vw-test/write"] == str(writes)

        # Following again from the new list's version: the next change arrives as it happens.
        apps.delete_namespaced_deployment("created", namespace)
        deadline = time.monotonic() + 30
        while (event := stream.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            assert event.type is not EventType.ERROR, event
            if event.resource and (event.type, event.resource.name) == (EventType.DELETED,
                                                                        "created"):
                break
        assert event is not None, "the deletion after the re-list did not arrive"
    finally:
        stalled.release.set()
        stream.close()
