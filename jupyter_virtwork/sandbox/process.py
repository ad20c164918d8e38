"""Background daemons that ``up`` starts and ``down`` stops, tracked by pid files.

No systemd here: each daemon is a detached process whose pid goes to ``<run dir>/<name>.pid``
and whose output goes to ``<run dir>/<name>.log``. ``down`` signals only pids it wrote, after
checking the process still runs the command it started (a recycled pid is left alone).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import paths
from .system import SandboxError


def pid_file(name: str) -> Path:
    return paths.run_dir(f"{name}.pid")


def log_file(name: str) -> Path:
    return paths.run_dir(f"{name}.log")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running_pid(name: str) -> int | None:
    """The pid of daemon ``name`` if we started it and it is still alive."""
    try:
        pid_text, _, program = pid_file(name).read_text().partition("\n")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    command = cmdline(pid)
    state = _proc_state(pid)
    if not command or state == "Z" or (program and program.strip() not in command):
        return None
    return pid


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: not gone, and not a zombie nobody reaped (pid 1 here does not
    reap orphans, so a crashed daemon's pid lingers in /proc)."""
    return _proc_state(pid) not in ("", "Z")


def _proc_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]


def start_daemon(name: str, cmd: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> int:
    """Start ``cmd`` detached (own session, so the caller's Ctrl-C does not reach it)."""
    pid = running_pid(name)
    if pid is not None:
        return pid
    log = log_file(name)
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, **(env or {})})
    pid_file(name).write_text(f"{proc.pid}\n{cmd[0]}\n")
    # Popen returns while the kernel is still inside execve: for a moment /proc/<pid>/cmdline
    # reads empty and running_pid() would call the new daemon dead. Wait out that window.
    deadline = time.monotonic() + 2.0
    while not cmdline(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc.pid


def stop_daemon(name: str, *, timeout: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True if something was stopped."""
    pid = running_pid(name)
    pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        if _wait_gone(pid, wait):
            return True
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if _proc_state(pid) in ("", "Z"):
            return True
        time.sleep(0.1)
    return False


def wait_until(check: Callable[[], bool], *, timeout: float, what: str,
               daemon: str | None = None, interval: float = 0.2) -> None:
    """Poll ``check`` until true; fail with the daemon's log tail if it died or timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure of a readiness probe means "not yet"
            pass
        if daemon is not None and running_pid(daemon) is None:
            raise SandboxError(f"{what}: {daemon} exited; its log ends with:\n{log_tail(daemon)}")
        time.sleep(interval)
    tail = f"; its log ends with:\n{log_tail(daemon)}" if daemon else ""
    raise SandboxError(f"{what}: not ready after {timeout:.0f} s{tail}")


def log_tail(name: str, lines: int = 15) -> str:
    try:
        text = log_file(name).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (a daemon binding it would fail)."""
    try:
        socket.create_connection((host, port), timeout=2.0).close()
    except OSError:
        return False
    return True
