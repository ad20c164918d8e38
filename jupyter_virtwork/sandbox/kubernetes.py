"""A real single-node Kubernetes v1.20.2 cluster whose pods run on the sandbox's dockerd.

``install`` builds the control plane from Debian's source package once (``kube_build``);
``start`` makes the PKI (``kube_pki``), imports the pause image and starts etcd ->
kube-apiserver -> controller-manager + scheduler -> kubelet (dockershim) -> kube-proxy, each
as a pid-file daemon, and returns when the node is Ready. Everything listens on 127.0.0.1,
except the kubelet, which must use docker0's address (it refuses a loopback node IP) and so
requires client certificates signed by the sandbox CA.

The apiserver is only ever asked through urllib with a neutral User-Agent: clients whose
agent looks like curl or a browser get pretty-printed JSON, the code path that crashed
this build before its reflect2 fix (ENGINES.md).
"""

from __future__ import annotations

import datetime
import fcntl
import io
import json
import shlex
import socket
import ssl
import struct
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import kube_build, kube_pki, paths, process, user_config
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, run

DOCKER_SOCKET = "unix:///var/run/docker.sock"
PAUSE_IMAGE = "localbase/pause:3.2"
SERVICE_RANGE = "10.0.0.0/24"
BRIDGE = "docker0"
USER_AGENT = "virtwork-sandbox/0.1"
# Stop order is the reverse of this start order.
DAEMONS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
           "kube-proxy")
POD_LABEL = "io.kubernetes.pod.name"  # set by the kubelet on every container it creates


def _state(*parts: str) -> Path:
    path = paths.state_dir("kubernetes", *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _route_marker() -> Path:
    # Present only when start() added the service route itself, so stop() removes only that.
    return _state("route-added")


class KubernetesEngine(Engine):
    name = "kubernetes"
    quick = False
    needs = ("docker", "images")

    def install(self) -> None:
        require_root_debian(self.name)
        kube_build.ensure_binaries()

    def start(self) -> None:
        require_root_debian(self.name)
        if not kube_build.cached():
            raise SandboxError("kubernetes: binaries not built; run `up kubernetes`")
        if all(process.running_pid(d) for d in DAEMONS[:-1]) and _node_ready():
            user_config.merge_kubeconfig(kube_pki.kubeconfig_path())
            return  # already up: start() is idempotent and quick
        client = _docker_client()
        node_ip = _ipv4_of(BRIDGE)
        kube_pki.ensure(node_ip)
        _ensure_pause_image(client)
        _start_etcd()
        _start_apiserver(node_ip)
        _start_controllers()
        # The node object outlives down/up in etcd, still saying Ready: only a heartbeat
        # from the kubelet started now counts.
        since = 0.0 if process.running_pid("kubelet") else time.time()
        if since:
            # A kubelet that was killed (not stopped by `down`) leaves its containers behind,
            # and the next kubelet dies on them ("no PodsandBox found with Id ..."). Pods are
            # in etcd: the new kubelet makes their containers again.
            _remove_pod_containers()
        _start_kubelet(node_ip)
        _start_kube_proxy()
        process.wait_until(lambda: _node_ready(since), timeout=180,
                           what="kubernetes node Ready", daemon="kubelet", interval=0.5)
        # Pods are refused until the default service account exists: wait for it too, so a
        # caller can create a pod as soon as `up` returns.
        process.wait_until(_default_service_account, timeout=60,
                           what="kubernetes default service account",
                           daemon="kube-controller-manager", interval=0.5)
        if process.running_pid("kube-proxy") is None:
            say("kubernetes", "kube-proxy exited: pods work, Services' ClusterIPs do not; its "
                              f"log ends with:\n{process.log_tail('kube-proxy', 5)}")
        # kubectl and the toolkit's default find the cluster in the user's kubeconfig.
        user_config.merge_kubeconfig(kube_pki.kubeconfig_path())

    def stop(self) -> None:
        ours = [d for d in ("kubelet", "kube-proxy") if process.running_pid(d) is not None]
        for daemon in reversed(DAEMONS):
            process.stop_daemon(daemon)
        if ours:
            _remove_kube_chains()
        _remove_route()
        _remove_pod_containers()
        _unmount_kubelet_volumes()

    def status(self) -> EngineStatus:
        try:
            return _status()
        except Exception as exc:  # noqa: BLE001 - status must never raise
            return EngineStatus(self.name, False, kube_pki.SERVER,
                                detail=f"status failed: {exc}", extra=_extra())


# --- status ------------------------------------------------------------------------------

def _extra() -> dict[str, Any]:
    return {"kubeconfig": str(kube_pki.kubeconfig_path()), "context": kube_pki.CONTEXT}


def _status() -> EngineStatus:
    name, endpoint = KubernetesEngine.name, kube_pki.SERVER
    building = kube_build.progress_text()
    if process.running_pid("kube-apiserver") is None:
        why = building or ("not running" if kube_build.cached()
                           else "not built yet (`up kubernetes` builds it, ~13 min)")
        return EngineStatus(name, False, endpoint, detail=why, extra=_extra())
    code, body = _api_get("/version", token=False)
    version = str(json.loads(body).get("gitVersion", "")) if code == 200 else ""
    missing = [d for d in DAEMONS[:-1] if process.running_pid(d) is None]
    if missing or not _node_ready():
        why = f"{', '.join(missing)} not running" if missing else "node not Ready yet"
        return EngineStatus(name, False, endpoint, version, why, _extra())
    return EngineStatus(name, True, endpoint, version, "", _extra())


# --- talking to the apiserver ------------------------------------------------------------

def _api_get(path: str, *, token: bool = True, timeout: float = 3.0) -> tuple[int, bytes]:
    """GET from the apiserver: (HTTP status, body). The token stays in this process."""
    context = ssl.create_default_context(cafile=str(kube_pki.pki_file("ca.crt")))
    request = urllib.request.Request(kube_pki.SERVER + path,
                                     headers={"User-Agent": USER_AGENT,
                                              "Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {kube_pki.admin_token()}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except (OSError, ssl.SSLError):
        return 0, b""


def _ready_status_200(path: str) -> bool:
    # /readyz lists "[+]ping ok" even when it fails as a whole: the HTTP status is the answer.
    return _api_get(path)[0] == 200


def _node_ready(since: float = 0.0) -> bool:
    """The node's Ready condition is True, from a kubelet heartbeat at or after ``since``."""
    code, body = _api_get(f"/api/v1/nodes/{kube_pki.NODE_NAME}")
    if code != 200:
        return False
    conditions = json.loads(body).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               and _epoch(c.get("lastHeartbeatTime", "")) >= since - 1 for c in conditions)


def _epoch(timestamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 UTC time as the apiserver writes it."""
    try:
        parsed = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return 0.0
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


def _default_service_account() -> bool:
    return _ready_status_200("/api/v1/namespaces/default/serviceaccounts/default")


# --- docker: the runtime, the pause image, leftovers -------------------------------------

def _docker_client() -> Any:
    """A client of the dockerd the kubelet will use (the default socket, not DOCKER_HOST)."""
    import docker  # lazy: only start/stop need it

    client = docker.DockerClient(base_url=DOCKER_SOCKET, version="auto", timeout=30)
    try:
        client.ping()
    except Exception as exc:
        raise SandboxError("kubernetes: dockerd is not answering on /var/run/docker.sock; "
                           "run `python -m jupyter_virtwork.sandbox up docker` first") from exc
    return client


def _ensure_pause_image(client: Any) -> None:
    """Import the static pause binary as the pod sandbox image (nothing is pulled)."""
    import docker.errors

    try:
        client.images.get(PAUSE_IMAGE)
        return
    except docker.errors.ImageNotFound:
        pass
    say("kubernetes", f"importing {PAUSE_IMAGE}")
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        info = archive.gettarinfo(str(kube_build.binary("pause")), arcname="pause")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        with open(kube_build.binary("pause"), "rb") as binary:
            archive.addfile(info, binary)
    repository, _, tag = PAUSE_IMAGE.rpartition(":")
    client.api.import_image_from_data(data.getvalue(), repository=repository, tag=tag,
                                      changes=['ENTRYPOINT ["/pause"]'])


def _remove_pod_containers() -> None:
    """Remove the kubelet's containers (k8s_*, labelled with a pod name) and nothing else."""
    try:
        client = _docker_client()
    except SandboxError:
        return  # dockerd is down: its containers are not running either
    for container in client.api.containers(all=True, filters={"label": POD_LABEL}):
        names = container.get("Names") or []
        if any(n.lstrip("/").startswith("k8s_") for n in names):
            client.api.remove_container(container["Id"], force=True, v=True)


# --- daemons -----------------------------------------------------------------------------

def _bin(name: str) -> str:
    return str(kube_build.binary(name))


def _pki(name: str) -> str:
    return str(kube_pki.pki_file(name))


def _start_etcd() -> None:
    data = _state("etcd")
    process.start_daemon("etcd", [
        "etcd", "--name=virtwork", f"--data-dir={data}",
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=virtwork=http://127.0.0.1:2380"])
    process.wait_until(_etcd_healthy, timeout=60, what="etcd", daemon="etcd")


def _etcd_healthy() -> bool:
    with urllib.request.urlopen("http://127.0.0.1:2379/health", timeout=2) as response:
        return int(response.status) == 200


def _start_apiserver(node_ip: str) -> None:
    say("kubernetes", "starting kube-apiserver")
    process.start_daemon("kube-apiserver", [
        _bin("kube-apiserver"), "--etcd-servers=http://127.0.0.1:2379",
        "--bind-address=127.0.0.1", "--secure-port=6443", "--insecure-port=0",
        f"--advertise-address={node_ip}",
        f"--tls-cert-file={_pki('apiserver.crt')}",
        f"--tls-private-key-file={_pki('apiserver.key')}",
        f"--client-ca-file={_pki('ca.crt')}", f"--token-auth-file={_pki('tokens.csv')}",
        "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
        f"--service-cluster-ip-range={SERVICE_RANGE}", "--allow-privileged=true",
        f"--service-account-key-file={_pki('sa.pub')}",
        f"--service-account-signing-key-file={_pki('sa.key')}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--kubelet-client-certificate={_pki('apiserver-kubelet-client.crt')}",
        f"--kubelet-client-key={_pki('apiserver-kubelet-client.key')}",
        f"--kubelet-certificate-authority={_pki('ca.crt')}",
        # The node's hostname-override resolves nowhere: dial the kubelet by its IP, and
        # never send the name to a DNS server.
        "--kubelet-preferred-address-types=InternalIP"])
    process.wait_until(lambda: _ready_status_200("/readyz"), timeout=120,
                       what="kube-apiserver /readyz", daemon="kube-apiserver", interval=0.5)


def _start_controllers() -> None:
    common = ["--port=0", "--secure-port=0", "--leader-elect=false"]
    process.start_daemon("kube-controller-manager", [
        _bin("kube-controller-manager"), *common,
        f"--kubeconfig={kube_pki.kubeconfig_path('controller-manager')}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={_pki('sa.key')}",
        f"--root-ca-file={_pki('ca.crt')}",
        f"--service-cluster-ip-range={SERVICE_RANGE}"])
    process.start_daemon("kube-scheduler", [
        _bin("kube-scheduler"), *common,
        f"--kubeconfig={kube_pki.kubeconfig_path('scheduler')}"])


def _start_kubelet(node_ip: str) -> None:
    say("kubernetes", "starting kubelet")
    root = _state("kubelet")
    process.start_daemon("kubelet", [
        _bin("kubelet"), f"--kubeconfig={kube_pki.kubeconfig_path('kubelet')}",
        "--container-runtime=docker", f"--docker-endpoint={DOCKER_SOCKET}",
        "--cgroup-driver=cgroupfs", "--fail-swap-on=false",
        f"--node-ip={node_ip}", f"--address={node_ip}",
        f"--hostname-override={kube_pki.NODE_NAME}",
        f"--pod-infra-container-image={PAUSE_IMAGE}",
        f"--root-dir={root}", f"--volume-plugin-dir={_state('kubelet-plugins')}",
        # The kubelet listens on docker0, which every container can reach: only the
        # apiserver's client cert may talk to it, and the read-only port stays closed.
        "--anonymous-auth=false", "--authorization-mode=Webhook",
        f"--client-ca-file={_pki('ca.crt')}", "--read-only-port=0",
        f"--tls-cert-file={_pki('kubelet.crt')}", f"--tls-private-key-file={_pki('kubelet.key')}",
        "--healthz-bind-address=127.0.0.1",
        # Local images cannot be pulled again: never garbage-collect them.
        "--image-gc-high-threshold=100", "--image-gc-low-threshold=99"])


def _start_kube_proxy() -> None:
    """Optional: Services' ClusterIPs; a failure here does not fail the cluster."""
    process.start_daemon("kube-proxy", [
        _bin("kube-proxy"), f"--kubeconfig={kube_pki.kubeconfig_path('kube-proxy')}",
        "--proxy-mode=iptables", f"--hostname-override={kube_pki.NODE_NAME}",
        "--bind-address=127.0.0.1", "--healthz-bind-address=127.0.0.1:10256",
        "--metrics-bind-address=127.0.0.1:10249",
        # Leave the host's conntrack sysctls alone (root lacks some capabilities here).
        "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0"])
    _add_route()


def _add_route() -> None:
    """Route the service range to docker0 so ClusterIPs answer from the host too."""
    if run(["ip", "-4", "route", "show", SERVICE_RANGE]).strip():
        return  # someone else's route (or ours from a crashed run without marker): keep it
    run(["ip", "route", "add", SERVICE_RANGE, "dev", BRIDGE])
    _route_marker().touch()


def _remove_route() -> None:
    if not _route_marker().exists():
        return
    try:
        run(["ip", "route", "del", SERVICE_RANGE, "dev", BRIDGE])
    except SandboxError:
        pass  # docker0 went away with dockerd, and its routes with it
    _route_marker().unlink(missing_ok=True)


def _remove_kube_chains() -> None:
    """Remove the KUBE-* iptables chains the kubelet and kube-proxy made, and jumps to them.

    `kube-proxy --cleanup` is not enough: it leaves the kubelet's chains (KUBE-FIREWALL drops
    non-local packets to 127.0.0.0/8) and exits with an error when ipset is missing.
    """
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            try:
                rules = [shlex.split(r) for r in run([tool, "-w", "-t", table, "-S"]).splitlines()]
            except (SandboxError, OSError):
                continue  # no such tool or table here
            chains = [r[1] for r in rules if len(r) == 2 and r[0] == "-N" and _is_kube(r[1])]
            jumps = [r for r in rules
                     if r[:1] == ["-A"] and not _is_kube(r[1]) and _jump_target(r) in chains]
            commands = [["-D", *r[1:]] for r in jumps]
            commands += [["-F", c] for c in chains] + [["-X", c] for c in chains]
            for command in commands:
                try:
                    run([tool, "-w", "-t", table, *command])
                except SandboxError:
                    pass  # already gone


def _is_kube(chain: str) -> bool:
    return chain.startswith("KUBE-")


def _jump_target(rule: list[str]) -> str:
    return rule[rule.index("-j") + 1] if "-j" in rule[:-1] else ""


def _unmount_kubelet_volumes() -> None:
    """Unmount what the kubelet mounted under its root dir (secret tmpfs volumes, itself)."""
    root = str(_state("kubelet"))
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    # The kubelet also bind-mounts its root dir onto itself (for mount propagation).
    ours = [m.replace("\\040", " ") for m in mounts if m == root or m.startswith(root + "/")]
    for mount in sorted(ours, key=len, reverse=True):
        try:
            run(["umount", mount])
        except SandboxError:
            pass  # already gone, or busy; the next stop tries again


# --- host facts --------------------------------------------------------------------------

def _ipv4_of(interface: str) -> str:
    """The IPv4 address of ``interface`` (SIOCGIFADDR), e.g. docker0's 172.17.0.1."""
    siocgifaddr = 0x8915
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            packed = fcntl.ioctl(sock.fileno(), siocgifaddr,
                                 struct.pack("256s", interface.encode()[:15]))
    except OSError as exc:
        raise SandboxError(f"kubernetes: no IPv4 address on {interface}; is dockerd up?") from exc
    return socket.inet_ntoa(packed[20:24])
