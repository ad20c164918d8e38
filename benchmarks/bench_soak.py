"""Soak: a live StatusTable over docker containers for N minutes at one engine event a
second; reports memory growth and thread count (goal: < 5 MB growth, no leaked threads).

    python benchmarks/bench_soak.py [--minutes 10]

One container is paused and unpaused in turn, once a second, by docker-py (another client,
as a user's terminal would be); the table follows through the docker driver's event stream.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # after the path fix

from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.widgets import StatusTable

GOAL_GROWTH_MB = 5.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    labels = {"virtwork.io/benchmark": uuid.uuid4().hex[:8]}
    client = docker.from_env()
    container = client.containers.run("localbase/busybox:1.35", "sleep 100000", detach=True,
                                      network_mode="none", labels=labels)
    driver = connect("docker://")
    threads_before = threading.active_count()
    table = StatusTable([(driver, Kind.CONTAINER, labels)], title="soak")
    time.sleep(2)
    start_rss, start_threads = rss_mb(), threading.active_count()
    deadline = time.monotonic() + args.minutes * 60
    events = 0
    try:
        while time.monotonic() < deadline:
            (container.unpause if events % 2 else container.pause)()
            events += 1
            time.sleep(1)
            if events % 60 == 0:
                print(f"  {events:5d} events  rss {rss_mb():7.1f} MB  "
                      f"threads {threading.active_count()}", flush=True)
        # The table must still be following: its row shows the last change.
        last = "paused" if events % 2 else "running"
        followed = table.wait_for(lambda t: [r.state.value for r in t.rows] == [last], 10)
    finally:
        end_rss, end_threads = rss_mb(), threading.active_count()
        table.close()
        driver.close()
        container.remove(force=True)
        client.close()
    time.sleep(1)
    growth = end_rss - start_rss
    print(f"the table {'followed' if followed else 'did NOT follow'} to the last event")
    print(f"events {events}; memory growth {growth:.1f} MB (goal < {GOAL_GROWTH_MB} MB); "
          f"threads while live {start_threads} -> {end_threads}; after close "
          f"{threading.active_count()} (before the table: {threads_before})")


if __name__ == "__main__":
    main()
