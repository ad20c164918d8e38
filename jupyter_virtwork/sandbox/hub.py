"""A real JupyterHub for the classroom, on http://127.0.0.1:8000.

``install`` gets JupyterHub's proxy, ``configurable-http-proxy``, from npm into the
sandbox's cache (once per machine; Node from Debian if this machine has none), the
learners' Python environment (``hub_env``), the class's Unix accounts (``hub_accounts``:
``vw-teacher``, an admin of the hub, and ``vw-learner1..3``) and the firewall rule that
keeps them off the loopback services that trust anyone (``hub_firewall``). ``start``, once
the cluster is up, signs the pod guard's certificate with the cluster's CA, writes the
config file (``hub_config``) and runs ``jupyterhub`` as a daemon, which starts the proxy and
the pod guard; it is ready when the hub answers through the proxy. A hub already running
is kept only if it started from this checkout's code (a digest of it, in the hub's state):
otherwise it would serve, and the tests would test, the classroom hook of other code.

Every endpoint but the hub's version (``/hub/api``) and health check needs a login (PAM,
the accounts' passwords) or a token. The sandbox's own token (the ``virtwork-sandbox``
service) and the passwords are in ``hub_accounts.credentials_file()``, root only; the hub's
log is root only too.

``stop`` stops the hub, which stops the single-user servers, the proxy and the guard it
started; anything of theirs still running after that (the hub was killed, not stopped) is
ended by its pid file (the proxy), its command line (the guard) or its owner (a class
account's processes). The accounts, their
homes, the credentials and the database stay for the next ``up``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from . import apt, hub_accounts, hub_config, hub_env, hub_firewall, kube_pki, paths, process
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, run, which

NAME = "hub"
START_TIMEOUT = 90.0
CODE_FILE = "code.sha256"  # the digest of the toolkit's code the running hub started with


def version(timeout: float = 2.0) -> str:
    """The hub's version, asked through the proxy (``/hub/api`` needs no login)."""
    with urllib.request.urlopen(f"{hub_config.PUBLIC_URL}/hub/api", timeout=timeout) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return str(answer["version"])


def answers() -> bool:
    try:
        version()
    except (OSError, ValueError, KeyError):
        return False
    return True


def _ensure_proxy() -> None:
    """configurable-http-proxy from npm, into the cache (a later ``up`` reuses it)."""
    if hub_config.proxy_command().exists():
        return
    if which("npm") is None:
        apt.install(["nodejs", "npm"], engine=NAME)
    npm = which("npm")
    if npm is None:
        raise SandboxError("hub: npm not found after installing nodejs and npm")
    folder = paths.cache_dir("configurable-http-proxy")
    say(NAME, f"npm install {hub_config.PROXY_PACKAGE}")
    run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder),
         hub_config.PROXY_PACKAGE], timeout=600)


def _root_only(path: Path) -> None:
    """``path`` made (empty if new) or kept, readable by root only, before the hub writes to
    it: its log and its database (token hashes, cookie ids) are nobody else's business."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(path, 0o600)


class HubEngine(Engine):
    name = NAME
    # The classroom hook makes each learner's namespace on the sandbox's cluster, and the
    # pod guard's certificate comes from the cluster's CA: the hub starts after it.
    quick = False
    needs = ("kubernetes",)

    def install(self) -> None:
        require_root_debian(NAME)
        _ensure_proxy()
        hub_env.ensure(NAME)
        hub_accounts.ensure_accounts(hub_accounts.credentials().passwords)
        hub_firewall.install(NAME)

    def start(self) -> None:
        ours = process.running_pid(NAME)
        if ours is not None and answers():
            if _started_code() == hub_env.code_digest():
                hub_firewall.close_ports()
                say(NAME, f"jupyterhub already running (pid {ours})")
                return
            # The hub imported the classroom hook and the guard when it started: a hub
            # started from other code would test (and serve) that code, not this.
            say(NAME, "jupyterhub runs code other than this checkout's: restarting it")
            self.stop()
            ours = None
        require_root_debian(NAME)
        if ours is None and process.port_in_use(hub_config.HOST, hub_config.PORT):
            raise SandboxError(f"hub: {hub_config.PUBLIC_URL} is in use by a process the "
                               "sandbox did not start; stop it or free the port")
        started = time.monotonic()
        hub_firewall.close_ports()  # before any learner's process can start
        kube_pki.ensure_loopback_cert(hub_config.GUARD)
        config = hub_config.write_config_file()
        _root_only(process.log_file(NAME))
        _root_only(hub_config.database())
        hub_config.state(CODE_FILE).write_text(hub_env.code_digest() + "\n")
        pid = process.start_daemon(NAME, [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                                   cwd=hub_config.state())
        say(NAME, f"jupyterhub pid {pid}; waiting for {hub_config.PUBLIC_URL}")
        process.wait_until(answers, timeout=START_TIMEOUT, what="jupyterhub", daemon=NAME)
        say(NAME, f"{hub_config.PUBLIC_URL} answers ({time.monotonic() - started:.1f} s)")

    def stop(self) -> None:
        if not process.stop_daemon(NAME):
            say(NAME, "no jupyterhub of ours is running")
        _end_proxy()
        _end_guard()
        for pid in hub_accounts.processes_of(hub_accounts.members()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        hub_firewall.open_ports()

    def status(self) -> EngineStatus:
        extra = {"url": hub_config.PUBLIC_URL, "teacher": hub_accounts.TEACHER,
                 "learners": list(hub_accounts.LEARNERS), "service": hub_config.SERVICE,
                 "credentials_file": str(hub_accounts.credentials_file())}
        if process.running_pid(NAME) is None:
            return EngineStatus(NAME, False, hub_config.PUBLIC_URL, detail="not running",
                                extra=extra)
        try:
            found = version()
        except (OSError, ValueError, KeyError) as exc:
            return EngineStatus(NAME, False, hub_config.PUBLIC_URL,
                                detail=f"not answering: {exc}", extra=extra)
        return EngineStatus(NAME, True, hub_config.PUBLIC_URL, f"JupyterHub {found}",
                            detail="started by the sandbox", extra=extra)


def _started_code() -> str:
    try:
        return hub_config.state(CODE_FILE).read_text().strip()
    except OSError:
        return ""


def _end_proxy() -> None:
    """The proxy the hub started, if it outlived the hub (it runs in a session of its own)."""
    try:
        pid = int(hub_config.state("proxy.pid").read_text().strip())
    except (OSError, ValueError):
        return
    if "configurable-http-proxy" in process.cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    hub_config.state("proxy.pid").unlink(missing_ok=True)


def _end_guard() -> None:
    """The pod guard the hub started, if it outlived the hub (a session of its own too)."""
    ours = " ".join(hub_config.guard_command())
    for entry in Path("/proc").glob("[0-9]*"):
        if process.cmdline(int(entry.name)).strip() == ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGTERM)
