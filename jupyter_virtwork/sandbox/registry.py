"""A local image registry (Debian's ``docker-registry``, distribution 2.8) on 127.0.0.1:5000.

Notebooks push their built images here and Kubernetes pulls them from here, so nothing ever
goes to Docker Hub. It is a standalone binary: it needs no dockerd. dockerd treats
127.0.0.0/8 as an insecure registry by default, so plain HTTP needs no daemon config.

Debian's default config turns on htpasswd auth on all interfaces; we write our own: loopback
only, no auth (nothing outside this machine can reach it), deletes allowed so tutorials can
show garbage collection.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from . import apt, paths, process
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, which

ADDRESS = "127.0.0.1:5000"
DAEMON = "docker-registry"

CONFIG = """\
# Written by jupyter_virtwork's sandbox; rewritten on every `up`.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {address}
"""


def api_version(timeout: float = 2.0) -> str:
    """The registry's API version header if GET /v2/ answers 200, else raise."""
    with urllib.request.urlopen(f"http://{ADDRESS}/v2/", timeout=timeout) as resp:
        if resp.status != 200:
            raise SandboxError(f"registry: /v2/ answered {resp.status}")
        return str(resp.headers.get("Docker-Distribution-Api-Version", ""))


def answers() -> bool:
    try:
        api_version()
    except (OSError, SandboxError):  # URLError and HTTPError are OSErrors
        return False
    return True


class RegistryEngine(Engine):
    name = "registry"

    def install(self) -> None:
        apt.install(["docker-registry"], engine=self.name)

    def start(self) -> None:
        ours = process.running_pid(DAEMON)
        if ours is not None and answers():
            say(self.name, f"docker-registry already running (pid {ours})")
            return
        if ours is None and answers():
            say(self.name, f"using the registry that already answers on {ADDRESS}")
            return
        require_root_debian(self.name)
        binary = which("docker-registry", "/usr/bin/docker-registry")
        if binary is None:
            raise SandboxError("registry: docker-registry not found; "
                               "`apt-get install docker-registry`")
        storage = paths.state_dir("registry", "storage")
        storage.mkdir(parents=True, exist_ok=True)
        config = paths.state_dir("registry", "config.yml")
        config.write_text(CONFIG.format(root=storage, address=ADDRESS))
        pid = process.start_daemon(DAEMON, [binary, "serve", str(config)])
        say(self.name, f"docker-registry pid {pid}; waiting for /v2/")
        process.wait_until(answers, timeout=30, what="registry", daemon=DAEMON)

    def stop(self) -> None:
        if not process.stop_daemon(DAEMON):
            say(self.name, "no registry of ours is running")

    def status(self) -> EngineStatus:
        endpoint = f"http://{ADDRESS}"
        try:
            version = api_version()
        except (OSError, SandboxError) as exc:
            return EngineStatus(self.name, False, endpoint, detail=f"not answering: {exc}")
        owner = "started by the sandbox" if process.running_pid(DAEMON) else "not ours"
        return EngineStatus(self.name, True, endpoint, version, detail=owner,
                            extra={"address": ADDRESS})
