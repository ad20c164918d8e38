"""The container drivers against the raw SDK calls and the engines' own CLIs, in one run.

    python benchmarks/bench_containers.py [--containers 20] [--rounds 15]

Targets (issue: Docker and Kubernetes drivers):
- a driver list call <= 1.1x the fastest raw SDK call for the same data;
- the same list <= 0.33x of `docker ps -a` / `kubectl get pods` run as processes;
- engine event to driver Event: <= 50 ms median added over the SDK's own event stream.
Everything it creates carries a bench label and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # after the path fix

from jupyter_virtwork.models import EventType, Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki

BUSYBOX = "localbase/busybox:1.35"
DOCKER_CLI = "/usr/bin/docker"  # Debian's client; /usr/local/bin/docker is another one


def median_time(rounds: int, work: Callable[[], Any]) -> float:
    work()  # warm: connections, imports, caches
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(label: str, seconds: float, anchor: float | None = None, goal: str = "") -> None:
    ratio = f"{seconds / anchor:6.2f}x" if anchor else "      "
    print(f"  {label:<46} {seconds * 1000:9.2f} ms  {ratio}  {goal}", flush=True)


def bench_docker_list(rounds: int, count: int, bench: dict[str, str]) -> None:
    client = docker.from_env()
    made = [client.containers.run(BUSYBOX, "sleep 600", detach=True, network_mode="none",
                                  labels=bench) for _ in range(count)]
    try:
        driver = connect("docker://")
        raw = median_time(rounds, lambda: client.api.containers(all=True))
        print(f"docker: list {len(client.api.containers(all=True))} containers")
        row("raw client.api.containers(all=True)", raw)
        row("driver.list(CONTAINER)", median_time(rounds, lambda: driver.list(Kind.CONTAINER)),
            raw, "goal <= 1.10x")
        row("docker-py containers.list(all=True) (N+1)",
            median_time(rounds, lambda: client.containers.list(all=True)), raw)
        cli = median_time(max(3, rounds // 3), lambda: subprocess.run(
            [DOCKER_CLI, "ps", "-a"], capture_output=True, check=True))
        row("`docker ps -a` as a process", cli, raw)
        driver_time = median_time(rounds, lambda: driver.list(Kind.CONTAINER))
        print(f"  driver / CLI: {driver_time / cli:.2f}x (goal <= 0.33x)")
        bench_docker_events(client, driver, bench, rounds)
        driver.close()
    finally:
        for container in made:
            container.remove(force=True)


def bench_docker_events(client: Any, driver: Any, bench: dict[str, str], rounds: int) -> None:
    """Latency from the engine's own 'start' event to our driver's Event for it."""
    raw_seen: dict[str, float] = {}
    ours_seen: dict[str, float] = {}
    raw_stream = client.events(decode=True, filters={"type": "container", "event": "start",
                                                     "label": [f"{k}={v}" for k, v in
                                                               bench.items()]})
    ours = driver.watch(Kind.CONTAINER, labels=bench)

    def read_raw() -> None:
        for event in raw_stream:
            raw_seen.setdefault(event["id"], time.perf_counter())

    def read_ours() -> None:
        for event in ours:
            if event.type is EventType.MODIFIED and event.resource is not None \
                    and event.resource.state.value == "running":
                ours_seen.setdefault(event.resource.id, time.perf_counter())

    threads = [threading.Thread(target=read_raw, daemon=True),
               threading.Thread(target=read_ours, daemon=True)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    made = []
    for _ in range(rounds):
        made.append(client.containers.run(BUSYBOX, "sleep 600", detach=True,
                                          network_mode="none", labels=bench))
        time.sleep(0.2)
    time.sleep(1)
    ours.close()
    raw_stream.close()
    for container in made:
        container.remove(force=True)
    added = [ours_seen[i] - raw_seen[i] for i in raw_seen if i in ours_seen]
    if added:
        print(f"  engine event -> driver Event, added: median "
              f"{statistics.median(added) * 1000:.1f} ms over {len(added)} "
              "(goal <= 50 ms)")


def bench_kubernetes_list(rounds: int, pods: int, bench: dict[str, str]) -> None:
    kubeconfig = str(kube_pki.kubeconfig_path())
    driver: Any = connect(f"k8s://{kube_pki.CONTEXT}/default", kubeconfig=kubeconfig)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    driver.apply(_deployment(name, pods), labels=bench)
    try:
        driver.wait_rollout(Kind.DEPLOYMENT, name, timeout=180)
        _kubernetes_rows(driver, kubeconfig, rounds)
    finally:
        driver.delete(Kind.DEPLOYMENT, name, grace_seconds=0)
        driver.close()


def _deployment(name: str, replicas: int) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 0, "containers": [{
                         "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                         "command": ["sleep", "3600"]}]}}}})


def _kubernetes_rows(driver: Any, kubeconfig: str, rounds: int) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig,
                                               context=kube_pki.CONTEXT)
    core = client.CoreV1Api(api_client)
    raw = median_time(rounds, lambda: json.loads(core.list_namespaced_pod(
        "default", _preload_content=False).data))
    print(f"kubernetes: list {len(driver.list(Kind.POD))} pods in default")
    row("raw list_namespaced_pod, JSON", raw)
    row("driver.list(POD)", median_time(rounds, lambda: driver.list(Kind.POD)), raw,
        "goal <= 1.10x")
    row("raw list_namespaced_pod, models",
        median_time(rounds, lambda: core.list_namespaced_pod("default")), raw)
    cli = median_time(3, lambda: subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "--context", kube_pki.CONTEXT, "get", "pods"],
        capture_output=True, check=True))
    row("`kubectl get pods` as a process", cli, raw)
    driver_time = median_time(rounds, lambda: driver.list(Kind.POD))
    print(f"  driver / CLI: {driver_time / cli:.2f}x (goal <= 0.33x)")
    api_client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    bench = {"virtwork.io/benchmark": uuid.uuid4().hex[:8]}
    bench_docker_list(args.rounds, args.containers, bench)
    bench_kubernetes_list(args.rounds, args.pods, bench)


if __name__ == "__main__":
    main()
