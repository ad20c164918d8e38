"""A class on the sandbox's hub: N learners (20 by default) spawned through the hub's REST
API, each applying a Pod and a 2-replica Deployment at the same moment, in their own
namespace, from their own kernel.

    python benchmarks/bench_classroom.py [--learners 20] [--json PATH]

Prints the time until every learner's server is ready, the time from the applies until
all 3 x N pods are Running, the hub's memory (JupyterHub, its proxy and the pod guard) and
each learner's server and kernel memory; checks that every pod is in its learner's
namespace and that each namespace's quota holds what it runs. Everything is on 127.0.0.1
and bounded (at most 40 learners, every wait has a deadline). The learners (hub users
``vw-bench01``..., with Unix accounts the hub makes the class's way) are removed at the end:
servers, namespaces, kubeconfigs, hub users and accounts.
"""

from __future__ import annotations

import argparse
import contextlib
import pwd
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from figures import Figure, median, run_script

from jupyter_virtwork import uri
from jupyter_virtwork.classroom import space
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.sandbox import hub_config, kube_pki, paths, process
from jupyter_virtwork.sandbox.hub_client import HubClient, Kernel

MOST = 40
SPAWN_TIMEOUT = 600.0
RUNNING_TIMEOUT = 600.0
TEMPLATE = "virtwork-{username}"
BENCH_LABEL = "virtwork.io/bench-learner"
PODS = ApiResource("v1", "Pod", "pods", True)
QUOTAS = ApiResource("v1", "ResourceQuota", "resourcequotas", True)
CELL = """%%k8s apply
apiVersion: v1
kind: Pod
metadata: {{name: solo, labels: {{{label}: {learner}}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: main, image: localbase/busybox:1.35, imagePullPolicy: Never,
                command: [sleep, "3600"]}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: pair}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: pair}}}}
  template:
    metadata: {{labels: {{app: pair, {label}: {learner}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{{name: main, image: localbase/busybox:1.35, imagePullPolicy: Never,
                    command: [sleep, "3600"]}}]
"""


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) * 1024


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[-1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def admin() -> KubernetesDriver:
    return KubernetesDriver(uri.parse(uri.k8s_uri(kube_pki.CONTEXT)),
                            kubeconfig=str(kube_pki.kubeconfig_path()))


def namespace(learner: str) -> str:
    return space.namespace_for(learner, TEMPLATE)


def bench_pods(cluster: KubernetesDriver) -> list[dict[str, Any]]:
    """Every pod of this benchmark, in any namespace (one list call)."""
    return [pod for pod in cluster.objects(PODS)
            if BENCH_LABEL in (pod.get("metadata") or {}).get("labels", {})]


def running(pods: list[dict[str, Any]]) -> int:
    return sum(1 for pod in pods if (pod.get("status") or {}).get("phase") == "Running")


def spawn_all(hub: HubClient, learners: list[str]) -> float:
    """Seconds from the first POST until every server is ready."""
    for learner in learners:
        hub.add_user(learner)
    started = time.monotonic()
    with ThreadPoolExecutor(len(learners)) as pool:
        list(pool.map(lambda name: hub.spawn(name, timeout=SPAWN_TIMEOUT), learners))
    return time.monotonic() - started


def apply_all(kernels: dict[str, Kernel], cluster: KubernetesDriver) -> float:
    """Seconds from sending every learner's cell at once until all their pods run."""
    expected = 3 * len(kernels)
    with ThreadPoolExecutor(len(kernels)) as pool:
        started = time.monotonic()
        cells = {name: pool.submit(kernel.run, CELL.format(label=BENCH_LABEL, learner=name))
                 for name, kernel in kernels.items()}
        while (found := running(bench_pods(cluster))) < expected:
            if time.monotonic() - started > RUNNING_TIMEOUT:
                raise SystemExit(f"only {found} of {expected} pods Running after "
                                 f"{RUNNING_TIMEOUT:.0f} s")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        failed = {name: cell.result().error for name, cell in cells.items()
                  if cell.result().error}
    if failed:
        raise SystemExit(f"cells failed: {failed}")
    return elapsed


def check_placement(cluster: KubernetesDriver, learners: list[str]) -> None:
    """Every pod in its learner's namespace; every namespace's quota counts its 3 pods."""
    for pod in bench_pods(cluster):
        metadata = pod["metadata"]
        owner = metadata["labels"][BENCH_LABEL]
        if metadata["namespace"] != namespace(owner):
            raise SystemExit(f"{owner}'s pod {metadata['name']} is in {metadata['namespace']}")
    for learner in learners:
        quota = cluster.objects(QUOTAS, namespace=namespace(learner))[0]
        used, hard = quota["status"]["used"], quota["status"]["hard"]
        if used.get("pods") != "3" or int(used["pods"]) > int(hard["pods"]):
            raise SystemExit(f"{learner}'s quota counts {used.get('pods')} of {hard['pods']}")


def hub_memory() -> int:
    """JupyterHub, its proxy and the pod guard (the hub's own children, not the learners)."""
    hub = process.running_pid("hub") or 0
    proxy = int(hub_config.state("proxy.pid").read_text().strip())
    guard = next((pid for pid in children(hub)
                  if "jupyter_virtwork.classroom" in process.cmdline(pid)), 0)
    return rss(hub) + rss(proxy) + rss(guard)


def learner_memory(hub: HubClient, learners: list[str]) -> dict[str, tuple[int, int]]:
    """learner -> (server RSS, kernel RSS)."""
    found = {}
    for learner in learners:
        server = int((hub.server(learner) or {})["state"]["pid"])
        kernel = next(pid for pid in children(server) if "ipykernel" in process.cmdline(pid))
        found[learner] = (rss(server), rss(kernel))
    return found


def remove(hub: HubClient, learners: list[str]) -> None:
    """Servers, namespaces (waited for), kubeconfigs, hub users and Unix accounts."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(
        config_file=str(kube_pki.kubeconfig_path()), context=kube_pki.CONTEXT))
    for learner in learners:
        with contextlib.suppress(Exception):
            hub.stop(learner)
        with contextlib.suppress(client.exceptions.ApiException):
            api.delete_namespace(namespace(learner))
        hub.request("DELETE", f"/hub/api/users/{learner}")
        (paths.state_dir("classroom") / f"{learner}.kubeconfig").unlink(missing_ok=True)
        with contextlib.suppress(KeyError):
            pwd.getpwnam(learner)
            subprocess.run(["userdel", "--remove", learner], capture_output=True, timeout=60,
                           check=False)
    deadline = time.monotonic() + 180
    left = {namespace(learner) for learner in learners}
    while left and time.monotonic() < deadline:
        left &= {ns.metadata.name for ns in api.list_namespace().items}
        time.sleep(1)


def measure(args: argparse.Namespace) -> list[Figure]:
    count = min(args.learners, MOST)
    learners = [f"vw-bench{i:02d}" for i in range(1, count + 1)]
    hub, cluster = HubClient(), admin()
    try:
        spawned = spawn_all(hub, learners)
        print(f"{count} servers ready after {spawned:.1f} s", flush=True)
        with ExitStack() as stack:
            kernels = {name: stack.enter_context(hub.kernel(name)) for name in learners}
            with ThreadPoolExecutor(count) as pool:
                list(pool.map(lambda k: k.run("%load_ext jupyter_virtwork"), kernels.values()))
            elapsed = apply_all(kernels, cluster)
            print(f"{3 * count} pods Running {elapsed:.1f} s after the applies", flush=True)
            check_placement(cluster, learners)
            memory = learner_memory(hub, learners)
            hub_bytes = hub_memory()
    finally:
        remove(hub, learners)
    for learner, (server, kernel) in memory.items():
        print(f"  {learner}: server {server / 2**20:.0f} MiB, kernel {kernel / 2**20:.0f} MiB")
    kernels_rss = [kernel for _, kernel in memory.values()]
    servers_rss = [server for server, _ in memory.values()]
    return [
        Figure("classroom.spawn", "classroom", f"{count} learners' servers ready (REST API, "
               "at once)", spawned, "s"),
        Figure("classroom.running", "classroom", f"{3 * count} pods Running after {count} "
               "simultaneous applies", elapsed, "s"),
        Figure("classroom.hub_memory", "classroom", "hub memory (JupyterHub, proxy, guard)",
               hub_bytes, "B"),
        Figure("classroom.server_memory", "classroom", "a learner's server (median)",
               median(servers_rss), "B"),
        Figure("classroom.kernel_memory", "classroom", "a learner's kernel (median)",
               median(kernels_rss), "B", note=f"max {max(kernels_rss) / 2**20:.0f} MiB, "
               f"stdev {statistics.pstdev(kernels_rss) / 2**20:.0f} MiB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=20, help=f"at most {MOST}")
    run_script(parser, measure)


if __name__ == "__main__":
    main()
