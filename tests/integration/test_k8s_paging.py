"""``%k8s get pods`` over 2,000 pods on the sandbox's apiserver, and a live table over them
(issue 18): the list comes in pages of 500 joined by the server's ``continue`` token, and
the table sends at most 2 KB to the front end per changed row (issue 5's goal).

The pods name a scheduler that does not exist, so no scheduler, kubelet or container ever
works on them: they stay Pending and cost only etcd and the apiserver (2 cores here). They
live in a namespace of the test's own, so no other test's list meets them, and are deleted
with it at the end, also when the test fails.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from benchmarks.counting import PoolRequests
from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.kubernetes.driver import LIST_PAGE
from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.widgets import StatusTable
from tests.widget_traffic import CommTap

from .conftest import ensure_up, ipython_shell, restart_session
from .manifests import pod

COUNT = 2000
ROW_BYTES = 2048  # issue 5: what one changed row may cost on the wire
REQUEST_SECONDS = 30.0  # every request the fixture makes is bounded


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """Never scheduled: two thousand of them cost the node nothing."""
    return pod(name, labels=labels, scheduler="vw-nobody")


def _wait_for_the_default_token(core: Any, namespace: str) -> None:
    """A pod is refused (500, "No API token found for service account default") until the
    controller manager has given the new namespace's default ServiceAccount its token."""
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            account = json.loads(core.read_namespaced_service_account(
                "default", namespace, _preload_content=False,
                _request_timeout=REQUEST_SECONDS).data)
        except ApiException as exc:
            if exc.status != 404:
                raise
        else:
            if account.get("secrets"):
                return
        time.sleep(0.2)
    raise AssertionError(f"namespace {namespace}: no token for its default ServiceAccount "
                         "within 60 s")


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    """A namespace of COUNT Pending pods, deleted with them afterwards."""
    ensure_up("kubernetes")
    from kubernetes import client, config

    new_client: Any = config.new_client_from_config  # the client's own types are partial
    api_client = new_client(config_file=str(kube_pki.kubeconfig_path()),
                            context=kube_pki.CONTEXT)
    core: Any = client.CoreV1Api(api_client)
    labels = ownership.ownership(f"paging-{uuid.uuid4().hex[:8]}")
    name = f"vw-paging-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "labels": labels}},
                          _preload_content=False, _request_timeout=REQUEST_SECONDS)
    try:
        _wait_for_the_default_token(core, name)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: core.create_namespaced_pod(
                name, _pod(f"pending-{i:04d}", labels), _preload_content=False,
                _request_timeout=REQUEST_SECONDS), range(COUNT)))
        yield name
    finally:
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0,
                                              _preload_content=False,
                                              _request_timeout=REQUEST_SECONDS)
        core.delete_namespace(name, _preload_content=False, _request_timeout=REQUEST_SECONDS)
        api_client.close()


def test_get_pods_pages_through_2000_pods(namespace: str) -> None:
    ip = ipython_shell()
    restart_session(ip)  # connections of this test's own, through the proxy
    server = urllib.parse.urlsplit(kube_pki.SERVER)
    try:
        with PoolRequests(server.hostname or "", server.port or 0) as requests:
            pods = ip.run_line_magic("k8s", f"get pods -n {namespace}")
        lists = [what for _, what in requests.seen_since(0)
                 if f"/namespaces/{namespace}/pods" in what]
        assert len(pods) == COUNT
        assert {p.name for p in pods} == {f"pending-{i:04d}" for i in range(COUNT)}
        assert [p.name for p in pods] == sorted(p.name for p in pods)  # the server's order
        assert len(lists) == math.ceil(COUNT / LIST_PAGE)
        assert all(f"limit={LIST_PAGE}" in what for what in lists)
        assert sum("continue=" in what for what in lists) == len(lists) - 1
    finally:
        restart_session(ip)


def test_a_live_table_over_2000_pods_sends_little_per_changed_row(namespace: str) -> None:
    from kubernetes import client, config

    driver = connect(f"k8s://{kube_pki.CONTEXT}/{namespace}",
                     kubeconfig=str(kube_pki.kubeconfig_path()))
    new_client: Any = config.new_client_from_config
    api_client = new_client(config_file=str(kube_pki.kubeconfig_path()),
                            context=kube_pki.CONTEXT)
    core: Any = client.CoreV1Api(api_client)
    table = StatusTable([(driver, Kind.POD, None)], title="2000 pods")
    try:
        assert table.wait_for(lambda t: t.live and len(t.rows) == COUNT, 120), \
            f"the table has {len(table.rows)} of {COUNT} rows: {table.status_lines}"
        tap = CommTap(table)
        gone = [f"pending-{i:04d}" for i in range(3)]
        for name in gone:  # one change at a time: each is one removed row
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0,
                                       _preload_content=False,
                                       _request_timeout=REQUEST_SECONDS)
            assert table.wait_for(lambda t, n=name: n not in {r.name for r in t.rows}, 30)
        changed = sum(len(m["upsert"]) + len(m["remove"]) for m in tap.custom("rows"))
        assert changed >= len(gone)
        assert tap.total_bytes() / changed <= ROW_BYTES
        # While it is live, the table's watch answers the list: no request.
        server = urllib.parse.urlsplit(kube_pki.SERVER)
        with PoolRequests(server.hostname or "", server.port or 0) as requests:
            listed = driver.list_cached(Kind.POD)
        assert requests.seen_since(0) == []
        assert len(listed) == COUNT - len(gone)
    finally:
        table.close()
        driver.close()
        api_client.close()
