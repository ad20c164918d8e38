"""Live views on this machine's engines: engine event to table row, the table's traffic per
changed row, and the API calls an idle live table makes.

    python benchmarks/bench_live.py [--rounds 10] [--domains 1000] [--idle-seconds 60]
                                    [--json PATH]

1. Events: labelled busybox containers, created beforehand, are started one by one with
   docker-py. From the moment the start call is made: when docker-py's own event stream sees
   the ``start`` event (the anchor), when the driver's watch yields the Event, and when a
   StatusTable holds the row as running. Goal (issues 3 and 5): <= 50 ms median added over
   the raw stream.
2. Traffic: a StatusTable of ``--domains`` domains on libvirt's test driver; one domain
   suspended (a real libvirt lifecycle event) costs one "rows" message. Its size as a kernel
   puts it on the wire (a signed comm_msg; tests/widget_traffic.py) against the whole table
   as the front end gets it after a reconnect. Goal (issue 5): <= 2 KB per changed row.
3. Idle: one live table over docker, Kubernetes and libvirt (qemu:///system), left alone
   for ``--idle-seconds``. docker's HTTP requests and libvirt's RPC calls are counted by
   forwarders in front of their sockets, Kubernetes' at this process's urllib3 pool to the
   apiserver (counting.py). Not the apiserver's ``apiserver_request_total``: it counts
   every client's requests, and the tests that share these engines list pods several
   times a second. Goal (issue 5): 0 calls a minute besides the one long-lived watch each
   opened before. libvirt's keepalive messages are reported apart: they are no API calls.
Everything created carries the ownership labels and is removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # after the path fix
from bench_libvirt import define
from counting import (
    DOCKER_SOCKET,
    LIBVIRT_SOCKET,
    Forwarder,
    HttpRequests,
    LibvirtMessages,
    PoolRequests,
)
from figures import Figure, Goal, median, remove_labelled, run_script

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.drivers.base import Driver
from jupyter_virtwork.models import EventType, Kind, State
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki
from jupyter_virtwork.widgets import StatusTable
from tests.widget_traffic import CommTap

BUSYBOX = "localbase/busybox:1.35"
ROW_GOAL = Goal("<=", 2048)
ADDED_GOAL = Goal("<=", 50, "added")
IDLE_GOAL = Goal("<=", 0)
ANSWER_SECONDS = 1.0  # a libvirt call this soon after an event answers it


def _shows(id: str, state: State) -> Callable[[StatusTable], bool]:
    """Whether a table holds the row ``id`` in ``state``."""
    return lambda table: any(row.id == id and row.state is state for row in table.rows)


# --- 1. engine event to driver Event and table row --------------------------------------

def events(rounds: int, labels: dict[str, str]) -> list[Figure]:
    client = docker.from_env()
    driver = connect("docker://")
    raw_seen: dict[str, float] = {}
    ours_seen: dict[str, float] = {}
    raw = client.events(decode=True, filters={
        "type": "container", "event": "start", "label": [f"{k}={v}" for k, v in labels.items()]})
    ours = driver.watch(Kind.CONTAINER, labels=labels)
    table = StatusTable([(driver, Kind.CONTAINER, labels)], title="bench events")

    def read_raw() -> None:
        for native in raw:
            raw_seen.setdefault(native["id"], time.perf_counter())

    def read_ours() -> None:
        for event in ours:
            if event.type in (EventType.ADDED, EventType.MODIFIED) and event.resource \
                    and event.resource.state is State.RUNNING:
                ours_seen.setdefault(event.resource.id, time.perf_counter())

    for reader in (read_raw, read_ours):
        threading.Thread(target=reader, daemon=True).start()
    started: dict[str, float] = {}
    rows: dict[str, float] = {}
    try:
        made = [client.containers.create(BUSYBOX, "sleep 600", network_mode="none",
                                         labels=labels) for _ in range(rounds)]
        if not table.wait_for(lambda t: t.live and len(t.rows) == rounds, 10):
            raise RuntimeError(f"the table did not show the containers: {table.status_lines}")
        time.sleep(0.5)
        for container in made:
            started[container.id] = time.perf_counter()
            container.start()
            if not table.wait_for(_shows(container.id, State.RUNNING), 5):
                raise RuntimeError(f"the table did not show {container.name} running")
            rows[container.id] = time.perf_counter()
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        ours.close()
        raw.close()
        table.close()
        remove_labelled(driver, Kind.CONTAINER, labels)
        driver.close()
        client.close()
    ids = [i for i in started if i in raw_seen and i in ours_seen]
    raw_ms, ours_ms, row_ms = ([(seen[i] - started[i]) * 1000 for i in ids]
                               for seen in (raw_seen, ours_seen, rows))
    anchor = "docker-py's raw event stream"
    print(f"docker start, from the call (medians of {len(ids)}): raw event "
          f"{median(raw_ms):.1f} ms, driver Event {median(ours_ms):.1f} ms, table row "
          f"{median(row_ms):.1f} ms", flush=True)
    return [
        Figure("events.docker.driver", "events", "docker start to driver Event", median(ours_ms),
               "ms", anchor, median(raw_ms), ADDED_GOAL),
        Figure("events.docker.table", "events", "docker start to StatusTable row updated",
               median(row_ms), "ms", anchor, median(raw_ms), ADDED_GOAL),
    ]


# --- 2. bytes per changed row -----------------------------------------------------------

def traffic(count: int, changes: int, labels: dict[str, str]) -> list[Figure]:
    import libvirt

    driver = connect("test:///default")
    driver.list(Kind.VM)  # libvirt's event loop is set up before the first connection
    conn = libvirt.open("test:///default")  # the same in-process hypervisor as the driver's
    table: StatusTable | None = None
    try:
        domains = define(conn, "bench-row", count, "test", labels)
        for dom in domains:
            dom.create()
        table = StatusTable([(driver, Kind.VM, labels)], title="bench traffic")
        if not table.wait_for(lambda t: len(t.rows) == count, 60):
            raise RuntimeError(f"the table has {len(table.rows)} of {count} rows")
        tap = CommTap(table)
        per_row = []
        for dom in domains[:changes]:
            tap.clear()
            dom.suspend()
            if not table.wait_for(_shows(dom.UUIDString(), State.PAUSED), 5):
                raise RuntimeError(f"the table did not show {dom.name()} paused")
            changed = sum(len(m["upsert"]) + len(m["remove"]) for m in tap.custom("rows"))
            per_row.append(tap.total_bytes() / max(changed, 1))
        tap.clear()
        table.comm.handle_msg({"content": {"data": {"method": "custom", "content": {
            "type": "sync", "seen": -1}}}, "buffers": []})  # as a reconnected view asks
        whole = tap.total_bytes()
    finally:
        if table is not None:
            table.close()
        remove_labelled(driver, Kind.VM, labels)
        conn.close()
        driver.close()
    return [Figure("live.bytes_per_row", "live table",
                   f"bytes per changed row, {count}-row table (libvirt test driver)",
                   median(per_row), "B", "the whole table resent", whole, ROW_GOAL)]


# --- 3. API calls of an idle live table -------------------------------------------------

def idle(seconds: float, labels: dict[str, str]) -> list[Figure]:
    import libvirt

    server = urllib.parse.urlsplit(kube_pki.SERVER)
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="vw-bench-"))
        docker_proxy = stack.enter_context(
            Forwarder(f"{scratch}/docker.sock", DOCKER_SOCKET, HttpRequests))
        libvirt_proxy = stack.enter_context(
            Forwarder(f"{scratch}/libvirt.sock", LIBVIRT_SOCKET, LibvirtMessages))
        kubernetes = stack.enter_context(PoolRequests(server.hostname or "", server.port or 0))
        drivers: list[tuple[Driver, Kind]] = [
            (connect(f"docker+unix://{docker_proxy.path}"), Kind.CONTAINER),
            (connect(f"k8s://{kube_pki.CONTEXT}/default",
                     kubeconfig=str(kube_pki.kubeconfig_path())), Kind.POD),
            (connect(f"qemu+unix:///system?socket={libvirt_proxy.path}"), Kind.VM)]
        for driver, kind in drivers:
            stack.callback(driver.close)
            stack.callback(remove_labelled, driver, kind, labels)  # runs before the close
        client = docker.from_env()
        stack.callback(client.close)
        conn = libvirt.open("qemu:///system")
        stack.callback(conn.close)
        for _ in range(2):  # a few rows, made by other clients than the table's
            client.containers.run(BUSYBOX, "sleep 600", detach=True, network_mode="none",
                                  labels=labels)
        define(conn, f"vw-bench-idle-{uuid.uuid4().hex[:6]}", 2, "qemu", labels)
        table = StatusTable([(driver, kind, labels) for driver, kind in drivers],
                            title="bench idle")
        stack.callback(table.close)
        if not table.wait_for(lambda t: t.live and len(t.rows) == 4, 30):
            raise RuntimeError(f"the table did not go live: {table.status_lines}")
        time.sleep(2)  # let the first list and the watches settle
        away: list[Any] = []  # an engine restarted meanwhile: its re-list is no idle call
        table.observe(lambda change: away.append(change["new"]), names="status")
        begin = time.perf_counter()
        print(f"idle for {seconds:.0f} s; requests before, docker: "
              f"{_short(docker_proxy.seen_since(0))}; kubernetes: "
              f"{_short(kubernetes.seen_since(0))}", flush=True)
        time.sleep(seconds)
        end = time.perf_counter()
        if away:
            raise RuntimeError("an engine went away while the table was idle: " + "; ".join(
                f"{status['label']}: {status['text']}" for change in away for status in change
                if not status["ok"]))
        seen = {name: [(at, what) for at, what in counter.seen_since(begin) if at < end]
                for name, counter in (("docker", docker_proxy), ("kubernetes", kubernetes),
                                      ("libvirt", libvirt_proxy))}
    per_minute = 60 / (end - begin)
    own, answers, events, keepalives = _libvirt_kinds(seen.pop("libvirt"))
    print(f"while idle: docker {_short(seen['docker'])}, kubernetes "
          f"{_short(seen['kubernetes'])}, libvirt: {len(own)} calls of its own, "
          f"{len(answers)} answering {len(events)} events", flush=True)
    name = "idle live table"
    return [
        Figure("idle.docker", "live table", f"{name}: docker API requests",
               len(seen["docker"]) * per_minute, "/min", goal=IDLE_GOAL),
        Figure("idle.kubernetes", "live table", f"{name}: Kubernetes API requests",
               len(seen["kubernetes"]) * per_minute, "/min", goal=IDLE_GOAL),
        Figure("idle.libvirt", "live table", f"{name}: libvirt RPC calls of its own",
               len(own) * per_minute, "/min", goal=IDLE_GOAL),
        Figure("idle.libvirt_answers", "live table",
               f"{name}: libvirt calls answering events", len(answers) * per_minute, "/min",
               note=f"{len(events)} events of other VMs"),
        Figure("idle.libvirt_keepalive", "live table", f"{name}: libvirt keepalive messages",
               len(keepalives) * per_minute, "/min", note="not API calls"),
    ]


def _libvirt_kinds(seen: list[tuple[float, str]]) -> tuple[list[str], ...]:
    """(calls of its own, calls answering an event, events, keepalives). libvirt filters no
    event by label: the driver looks up each lifecycle event's domain, then drops it if it
    is not the table's, so events of other clients' VMs cost calls."""
    events = [at for at, what in seen if what.startswith("event")]
    calls = [(at, what) for at, what in seen if what.startswith("call")]

    def answering(at: float) -> bool:
        return any(0 <= at - event <= ANSWER_SECONDS for event in events)

    answers = [what for at, what in calls if answering(at)]
    own = [what for at, what in calls if not answering(at)]
    return (own, answers, [f"event at {at:.1f}" for at in events],
            [what for _, what in seen if what.startswith("keepalive")])


def _short(seen: list[tuple[float, str]]) -> list[str]:
    """Request lines without query strings and HTTP versions, for a readable print."""
    return [what.split("?")[0].removesuffix(" HTTP/1.1") for _, what in seen]


def measure(args: argparse.Namespace) -> list[Figure]:
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    return (events(args.rounds, labels) + traffic(args.domains, args.changes, labels)
            + idle(args.idle_seconds, labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="containers started")
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=10, help="rows changed, one at a time")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    run_script(parser, measure)


if __name__ == "__main__":
    main()
