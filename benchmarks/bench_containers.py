"""The container lists against the raw SDK calls and the engines' own CLIs, in one run.

    python benchmarks/bench_containers.py [--containers 20] [--pods 10] [--rounds 15]
                                          [--json PATH]

Per engine (see listing.py): the fastest raw SDK call for the same data (docker-py's
low-level ``containers()``, the Kubernetes client's list as JSON), the driver's list, the
magic (``%docker ps -a``, ``%k8s get pods``) in a real IPython shell, and ``docker ps -a`` /
``kubectl get pods`` run as processes. Goals (issues 3 and 5): driver and magic <= 1.1x the
raw call, <= 0.33x the CLI. Also reported: docker-py's high-level ``containers.list()``
(N+1 requests) and the Kubernetes client's models, both against the same raw call.
Issue 18: the magic again while a watch is synced on its connection (from the cache, below
the raw call), and docker's driver list over SSH (the sandbox's sshd) against the local one.
Times are the best of ``--rounds`` runs, taken in turns (listing.py).
Everything created carries the ownership labels and is removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # after the path fix
from figures import Figure, remove_labelled, run_script
from listing import cached, compare, remote

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.registry import connect
from jupyter_virtwork.sandbox import kube_pki, sshd
from tests.integration.conftest import ipython_shell  # the tests' shell, the same way

BUSYBOX = "localbase/busybox:1.35"
DOCKER_CLI = "/usr/bin/docker"  # Debian's client; /usr/local/bin/docker is another one
KUBECTL = "kubectl"  # the dispatcher picks the client that matches the 1.20 cluster


def docker_list(rounds: int, count: int, labels: dict[str, str]) -> list[Figure]:
    client = docker.from_env()
    driver = connect("docker://")
    try:
        for _ in range(count):
            client.containers.run(BUSYBOX, "sleep 600", detach=True, network_mode="none",
                                  labels=labels)
        listed = len(client.api.containers(all=True))
        print(f"docker: {listed} containers", flush=True)
        shell = ipython_shell()
        raw = ("raw client.api.containers(all=True)", lambda: client.api.containers(all=True))
        magic = ("%docker ps -a", lambda: shell.run_line_magic("docker", "ps -a"))
        found = compare(
            "docker", f"{listed} containers", rounds=rounds, raw=raw,
            driver=lambda: driver.list(Kind.CONTAINER), magic=magic,
            cli=("docker ps -a", [DOCKER_CLI, "ps", "-a"]),
            others={"high_level": ("docker-py containers.list(all=True), N+1",
                                   lambda: client.containers.list(all=True))})
        found += cached("docker", f"{listed} containers", raw=raw, magic=magic, rounds=rounds,
                        watch=lambda: session().driver("docker").watch(Kind.CONTAINER))
        return found + docker_over_ssh(rounds, driver, f"{listed} containers")
    finally:
        remove_labelled(driver, Kind.CONTAINER, labels)
        driver.close()
        client.close()


def docker_over_ssh(rounds: int, local: Any, what: str) -> list[Figure]:
    """The same list through the sandbox's sshd (docker+ssh://), when it runs."""
    if not sshd.answers():
        print("docker+ssh: the sandbox's sshd is not running; no remote figure", flush=True)
        return []
    over_ssh = connect(sshd.DOCKER_URI)
    try:
        return remote("docker", what, rounds=rounds,
                      local=("driver list on the local socket", lambda: local.list(Kind.CONTAINER)),
                      over_ssh=(f"driver list over {sshd.DOCKER_URI}",
                                lambda: over_ssh.list(Kind.CONTAINER)))
    finally:
        over_ssh.close()


def kubernetes_list(rounds: int, pods: int, labels: dict[str, str]) -> list[Figure]:
    from kubernetes import client, config

    kubeconfig = str(kube_pki.kubeconfig_path())
    driver: Any = connect(f"k8s://{kube_pki.CONTEXT}/default", kubeconfig=kubeconfig)
    new_client: Any = config.new_client_from_config  # the client's own types are partial
    api_client = new_client(config_file=kubeconfig, context=kube_pki.CONTEXT)
    core: Any = client.CoreV1Api(api_client)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        driver.apply(_deployment(name, pods), labels=labels)
        driver.wait_rollout(Kind.DEPLOYMENT, name, timeout=180)
        listed = len(driver.list(Kind.POD))
        print(f"kubernetes: {listed} pods in default", flush=True)
        shell = ipython_shell()
        raw = ("raw list_namespaced_pod as JSON", lambda: json.loads(
            core.list_namespaced_pod("default", _preload_content=False).data))
        magic = ("%k8s get pods", lambda: shell.run_line_magic("k8s", "get pods"))
        return compare(
            "kubernetes", f"{listed} pods", rounds=rounds, raw=raw,
            driver=lambda: driver.list(Kind.POD), magic=magic,
            cli=("kubectl get pods", [KUBECTL, "--kubeconfig", kubeconfig, "--context",
                                      kube_pki.CONTEXT, "get", "pods"]),
            others={"models": ("raw list_namespaced_pod with the client's models",
                               lambda: core.list_namespaced_pod("default"))}) + \
            cached("kubernetes", f"{listed} pods", raw=raw, magic=magic, rounds=rounds,
                   watch=lambda: session().driver("kubernetes").watch(Kind.POD))
    finally:
        remove_labelled(driver, Kind.DEPLOYMENT, labels)
        driver.close()
        api_client.close()


def _deployment(name: str, replicas: int) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 0, "containers": [{
                         "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                         "command": ["sleep", "3600"]}]}}}})


def measure(args: argparse.Namespace) -> list[Figure]:
    labels = ownership.ownership(f"bench-{uuid.uuid4().hex[:8]}")
    return docker_list(args.rounds, args.containers, labels) + \
        kubernetes_list(args.rounds, args.pods, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    run_script(parser, measure)


if __name__ == "__main__":
    main()
