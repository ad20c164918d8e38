"""Docker Engine from Debian's ``docker.io``, started as a plain background dockerd.

Machine quirks handled here (see ENGINES.md):

- root may lack CAP_SYS_RESOURCE, so runc fails on a negative ``oom_score_adj`` (the kubelet's
  pause container asks for -998): dockerd runs every container through ``files/runc-wrapper``,
  which clamps it to 0;
- two dockerd instances fight over ``docker0``: if a dockerd we did not start already answers
  on the default socket, we use it and never stop it;
- ``/usr/local/bin/docker`` may be a newer client than the daemon: we speak the API through the
  ``docker`` SDK and never run the CLI;
- a dockerd that died hard (SIGKILL, OOM) leaves its containerd's pid file, and often that
  containerd as an unreaped zombie: the next dockerd takes the pid for a live containerd,
  waits for its socket and gives up ("timeout waiting for containerd to start"). Before a
  start, a containerd of a dead dockerd is stopped and its pid file removed.

dockerd listens on the default socket, so ``docker://`` and the SDK's ``from_env()`` need no
configuration.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from . import apt, paths, process
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, which

if TYPE_CHECKING:
    import docker

SOCKET = "/var/run/docker.sock"
BASE_URL = f"unix://{SOCKET}"
DAEMON = "dockerd"
RUNTIME = "virtwork-runc"
# python3-minimal provides /usr/bin/python3, the wrapper's interpreter.
PACKAGES = ("docker.io", "busybox-static", "iptables", "python3-minimal")
# dockerd's own pid file: it tells us whether some other dockerd runs (quirk 5).
DOCKERD_PID_FILE = Path("/var/run/docker.pid")
CONTAINERD_SOCKET = "/var/run/docker/containerd/containerd.sock"
# The containerd that dockerd starts for itself: its config and pid file (see the last
# quirk above).
CONTAINERD_CONFIG = "/var/run/docker/containerd/containerd.toml"
CONTAINERD_PID_FILE = Path("/var/run/docker/containerd/containerd.pid")


def client(timeout: float = 60.0) -> docker.DockerClient:
    """An SDK client on the sandbox's socket (the SDK is imported only when needed)."""
    import docker

    return docker.DockerClient(base_url=BASE_URL, timeout=timeout)


@contextmanager
def connected(timeout: float) -> Iterator[docker.DockerClient]:
    """A client closed after use (DockerClient is no context manager itself)."""
    api = client(timeout)
    try:
        yield api
    finally:
        api.close()


def ping(timeout: float = 2.0) -> bool:
    try:
        with connected(timeout) as api:
            return bool(api.ping())
    except Exception:  # noqa: BLE001 - any failure (no socket, 500, timeout) means "not up"
        return False


def _foreign_dockerd() -> int | None:
    """The pid of a live dockerd that we did not start, from dockerd's own pid file."""
    try:
        pid = int(DOCKERD_PID_FILE.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if b"dockerd" not in cmdline or pid == process.running_pid(DAEMON):
        return None
    return pid


def _remove_stale_pid_file() -> None:
    """dockerd refuses to start while its pid file names a process that /proc still lists,
    and a crashed dockerd stays there as an unreaped zombie: its pid file is stale then."""
    try:
        pid = int(DOCKERD_PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return
    if not process.alive(pid):
        DOCKERD_PID_FILE.unlink(missing_ok=True)


def _stop_orphaned_containerd() -> None:
    """Stop the containerd a dead dockerd left behind and remove its pid file, so the next
    dockerd starts its own. Only the process that pid file names, only if /proc says it is
    dockerd's containerd, and only if no live dockerd is its parent; a pid file naming a
    zombie or a recycled pid is stale and only removed."""
    try:
        pid = int(CONTAINERD_PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return
    if process.alive(pid) and _is_dockerd_containerd(pid):
        if _has_live_dockerd_parent(pid):
            return  # some dockerd still runs it: not ours to stop
        say("docker", f"stopping containerd (pid {pid}) left by a dockerd that died")
        _terminate([pid], timeout=10)
    CONTAINERD_PID_FILE.unlink(missing_ok=True)


def _is_dockerd_containerd(pid: int) -> bool:
    argv = _argv(pid)
    return bool(argv) and Path(argv[0]).name == "containerd" and CONTAINERD_CONFIG in argv


def _has_live_dockerd_parent(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        parent = int(next(line.split()[1] for line in status.splitlines()
                          if line.startswith("PPid:")))
    except (OSError, ValueError, StopIteration, IndexError):
        return False
    argv = _argv(parent)
    return process.alive(parent) and bool(argv) and Path(argv[0]).name == "dockerd"


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [word.decode(errors="replace") for word in raw.split(b"\0") if word]


def _install_wrapper() -> Path:
    """Copy the runtime wrapper out of the package (an installed wheel may be zipped)."""
    target = paths.state_dir("docker", "runc-wrapper")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = resources.files(__package__).joinpath("files", "runc-wrapper")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(source.read_bytes())
    tmp.chmod(0o755)
    tmp.replace(target)  # atomic: a container starting right now sees old or new, never half
    return target


class DockerEngine(Engine):
    name = "docker"

    def install(self) -> None:
        apt.install(PACKAGES, engine=self.name)

    def start(self) -> None:
        ours = process.running_pid(DAEMON)
        if ours is not None and ping():
            _install_wrapper()  # a running dockerd picks up a newer wrapper at the next create
            say(self.name, f"dockerd already running (pid {ours})")
            return
        if ours is None and ping():
            say(self.name, f"using the dockerd that already answers on {SOCKET}")
            return
        foreign = _foreign_dockerd()
        if foreign is not None:
            # Another dockerd is starting: wait for it rather than run a second one.
            say(self.name, f"waiting for the dockerd already running (pid {foreign})")
            process.wait_until(ping, timeout=60, what="dockerd (not ours)")
            return
        require_root_debian(self.name)
        _remove_stale_pid_file()
        if ours is None:
            _stop_orphaned_containerd()
        wrapper = _install_wrapper()
        dockerd = which("dockerd", "/usr/sbin/dockerd", "/usr/bin/dockerd")
        if dockerd is None:
            raise SandboxError("docker: dockerd not found; `apt-get install docker.io`")
        _remember_host_network()
        cmd = [dockerd, "--host", BASE_URL, "--add-runtime", f"{RUNTIME}={wrapper}",
               "--default-runtime", RUNTIME]
        pid = process.start_daemon(DAEMON, cmd)
        say(self.name, f"dockerd pid {pid}; waiting for /_ping")
        process.wait_until(ping, timeout=60, what="dockerd", daemon=DAEMON)

    def stop(self) -> None:
        pid = process.running_pid(DAEMON)
        if pid is None:
            process.pid_file(DAEMON).unlink(missing_ok=True)
            say(self.name, "no dockerd of ours is running (one we did not start is left alone)")
            return
        bridges = _bridges()
        # SIGTERM to dockerd alone: it stops its containers, then its containerd. Signalling
        # the whole group at once would kill containerd under it and orphan containers.
        _terminate([pid], timeout=60)
        _terminate(_group_members(pid), timeout=10)
        _terminate(_our_shims(), timeout=10)
        process.stop_daemon(DAEMON)  # clears the pid file; nothing is left to signal
        _remove_network(bridges)
        _restore_host_network()

    def status(self) -> EngineStatus:
        try:
            with connected(timeout=3) as api:
                version = str(api.version().get("Version", ""))
        except Exception as exc:  # noqa: BLE001 - status never raises, it explains
            return EngineStatus(self.name, False, BASE_URL, detail=_why_down(exc))
        owner = "started by the sandbox" if process.running_pid(DAEMON) else "not ours"
        return EngineStatus(self.name, True, BASE_URL, version, detail=owner,
                            extra={"base_url": BASE_URL})


def _why_down(exc: Exception) -> str:
    if not Path(SOCKET).exists():
        return "dockerd is not running (`python -m jupyter_virtwork.sandbox up docker`)"
    return f"dockerd does not answer on {SOCKET}: {type(exc).__name__}"


def _bridges() -> list[str]:
    """Linux bridges of dockerd's bridge networks, to delete once dockerd has exited."""
    try:
        with connected(timeout=5) as api:
            networks = api.api.networks(filters={"driver": "bridge"})
    except Exception:  # noqa: BLE001 - dockerd half-dead: fall back to the default bridge
        return ["docker0"]
    names = []
    for net in networks:
        options = net.get("Options") or {}
        names.append(options.get("com.docker.network.bridge.name") or f"br-{net['Id'][:12]}")
    return names


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _terminate(pids: list[int], timeout: float) -> None:
    """SIGTERM ``pids``, SIGKILL what is still alive after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            _reap(pids)
            time.sleep(0.1)
        if not any(_alive(p) for p in pids):
            return


def _reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _processes() -> list[tuple[int, int, bytes]]:
    """(pid, process group, cmdline) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[2])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(entry.name), pgrp, cmdline))
    return found


def _group_members(pgid: int) -> list[int]:
    """What is left of dockerd's process group (its containerd, when dockerd died hard)."""
    return [pid for pid, pgrp, _ in _processes() if pgrp == pgid and _alive(pid)]


def _our_shims() -> list[int]:
    """containerd shims of our dockerd's containerd that outlived it (they detach)."""
    return [pid for pid, _, cmdline in _processes()
            if b"containerd-shim" in cmdline and CONTAINERD_SOCKET.encode() in cmdline
            and _alive(pid)]


def _remove_network(bridges: list[str]) -> None:
    """Delete dockerd's bridges and iptables chains; the next dockerd recreates them."""
    for bridge in bridges:
        if Path(f"/sys/class/net/{bridge}").exists():
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
    for table in ("filter", "nat"):
        _remove_docker_rules(table, bridges)


# dockerd turns on IP forwarding and, because it did, sets the FORWARD policy to DROP; both
# outlive it. We note them before our first start and put them back on `down`.
HOST_NETWORK = "host-network-before.json"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def _remember_host_network() -> None:
    record = paths.state_dir("docker", HOST_NETWORK)
    if record.exists():  # a dockerd of ours ran before without `down`: keep the first record
        return
    policy = _forward_policy()
    if policy:
        record.write_text(json.dumps({"forward_policy": policy,
                                      "ip_forward": IP_FORWARD.read_text().strip()}))


def _restore_host_network() -> None:
    record = paths.state_dir("docker", HOST_NETWORK)
    try:
        before = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    iptables = shutil.which("iptables")
    if iptables is not None and before.get("forward_policy") in ("ACCEPT", "DROP"):
        subprocess.run([iptables, "-w", "-P", "FORWARD", before["forward_policy"]],
                       capture_output=True, check=False)
    if before.get("ip_forward") in ("0", "1"):
        IP_FORWARD.write_text(before["ip_forward"])
    record.unlink()


def _forward_policy() -> str:
    iptables = shutil.which("iptables")
    if iptables is None:
        return ""
    proc = subprocess.run([iptables, "-w", "-S", "FORWARD"], capture_output=True, text=True,
                          check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("-P FORWARD "):
            return line.split()[2]
    return ""


_DOCKER_CHAIN = re.compile(r"^DOCKER(-[A-Z0-9-]+)?$")


def _remove_docker_rules(table: str, bridges: list[str]) -> None:
    iptables = shutil.which("iptables")
    if iptables is None:
        return
    proc = subprocess.run([iptables, "-w", "-t", table, "-S"], capture_output=True, text=True,
                          check=False)
    chains = []
    for line in proc.stdout.splitlines():
        words = shlex.split(line)
        if words[:1] == ["-N"] and _DOCKER_CHAIN.match(words[1]):
            chains.append(words[1])
        elif words[:1] == ["-A"] and _is_docker_rule(words, bridges):
            # Rules in the built-in chains that jump to docker's chains or masquerade its
            # subnets; delete by spec, exactly as listed.
            subprocess.run([iptables, "-w", "-t", table, "-D", *words[1:]],
                           capture_output=True, check=False)
    for flag in ("-F", "-X"):  # flush all first: docker's chains jump to one another
        for chain in chains:
            subprocess.run([iptables, "-w", "-t", table, flag, chain], capture_output=True,
                           check=False)


def _is_docker_rule(words: list[str], bridges: list[str]) -> bool:
    """A rule of a built-in chain that docker added (rules in docker's chains go with them)."""
    if _DOCKER_CHAIN.match(words[1]):
        return False
    target = words[words.index("-j") + 1] if "-j" in words else ""
    return bool(_DOCKER_CHAIN.match(target)) or any(b in words for b in bridges)
