"""The sandbox's one installer of Debian packages.

Engines install in parallel (the Kubernetes build runs in a thread beside the quick engines,
``make`` and a background ``up`` are other processes), and apt allows one writer at a time:
two ``apt-get update`` runs at once fail on ``/var/lib/apt/lists/lock``, which apt's own
``DPkg::Lock::Timeout`` does not cover. So every apt call of the sandbox goes through
``installing()``: one thread of this process at a time, one process of ours at a time on the
machine (a file lock of our own), and it starts only once apt's own locks are free, waiting
a bounded time for another program that holds them and naming that program if it will not
let go. A call that still loses a race to such a program is retried until the same bound.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import paths
from .report import say
from .system import SandboxError, require_root_debian, run

# apt's and dpkg's own locks, in the order apt takes them.
APT_LOCKS = (Path("/var/lib/dpkg/lock-frontend"), Path("/var/lib/dpkg/lock"),
             Path("/var/lib/apt/lists/lock"), Path("/var/cache/apt/archives/lock"))
# Lines apt prints when it lost the race for one of those locks to another program.
_LOCK_LOST = ("Could not get lock", "Unable to acquire the dpkg frontend lock",
              "Unable to lock directory")
_POLL = 0.5
# struct flock: l_type, l_whence, l_start, l_len, l_pid (and the C struct's padding).
_FLOCK = "@hhqqi4x"

_thread_lock = threading.Lock()
_updated = False


def lock_timeout() -> float:
    """How long to wait for apt's locks (``VIRTWORK_APT_LOCK_TIMEOUT`` seconds, default 15
    minutes: a first ``apt-get upgrade`` of another program can take that long)."""
    return float(os.environ.get("VIRTWORK_APT_LOCK_TIMEOUT") or 900)


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The Debian packages of ``packages`` that are not installed."""
    # dpkg-query exits 1 when it knows none of some names: the lines it prints still count.
    status = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n",
                             *packages], capture_output=True, text=True, check=False).stdout
    installed = {name for name, _, abbrev in (line.partition(" ") for line in
                                              status.splitlines()) if abbrev.startswith("ii")}
    return [pkg for pkg in packages if pkg not in installed]


def install(packages: Sequence[str], *, engine: str) -> None:
    """Install the missing Debian packages (no recommends, no prompts, nothing started)."""
    missing = missing_packages(packages)
    if not missing:
        return
    require_root_debian(engine)
    with installing(engine):
        # Another thread may have installed them while this one waited.
        missing = missing_packages(missing)
        if not missing:
            return
        _update_once(engine)
        say(engine, f"installing {' '.join(missing)}")
        # No systemd here: postinst scripts that try to start daemons fail harmlessly.
        apt_get(["install", "-y", "--no-install-recommends", *missing], engine=engine,
                timeout=1800)


def update(*, engine: str) -> None:
    """``apt-get update`` now, through the installer (the package lists are shared)."""
    require_root_debian(engine)
    with installing(engine):
        say(engine, "apt-get update")
        apt_get(["update"], engine=engine, timeout=900)


def download(package: str, *, into: Path, engine: str) -> None:
    """``apt-get download`` (fetch a .deb without installing it) through the installer."""
    with installing(engine):
        apt_get(["download", package], engine=engine, cwd=into, timeout=900)


def _update_once(engine: str) -> None:
    global _updated
    if not _updated:
        say(engine, "apt-get update")
        apt_get(["update"], engine=engine, timeout=900)
        _updated = True


def apt_get(args: Sequence[str], *, engine: str, cwd: Path | None = None,
            timeout: float) -> str:
    """Run ``apt-get ARGS`` inside ``installing()``; a lock lost to another program is
    waited out and retried until ``lock_timeout()``."""
    deadline = time.monotonic() + lock_timeout()
    while True:
        wait_for_apt_locks(engine, deadline)
        try:
            return run(["apt-get", *args], cwd=cwd, env={"DEBIAN_FRONTEND": "noninteractive"},
                       timeout=timeout)
        except SandboxError as exc:
            if not any(line in str(exc) for line in _LOCK_LOST) or time.monotonic() > deadline:
                raise
        time.sleep(_POLL)


@contextlib.contextmanager
def installing(engine: str) -> Iterator[None]:
    """Hold the sandbox's installer: one thread of this process and one process of ours."""
    with _thread_lock, open(paths.run_dir("apt.lock"), "a") as handle:
        deadline = time.monotonic() + lock_timeout()
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SandboxError(
                        f"{engine}: another sandbox process has been installing packages "
                        f"for more than {lock_timeout():.0f} s; wait for it, then try again"
                    ) from None
                if not announced:
                    say(engine, "waiting for another sandbox process to finish installing")
                    announced = True
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for_apt_locks(engine: str, deadline: float) -> None:
    """Return once no other program holds apt's or dpkg's locks; past ``deadline`` raise an
    error naming the program that holds one."""
    announced = False
    while True:
        holder = _lock_holder()
        if holder is None:
            return
        path, pid = holder
        if time.monotonic() > deadline:
            raise SandboxError(
                f"{engine}: {path} has been held by process {pid} ({_program(pid)}) for more "
                f"than {lock_timeout():.0f} s; let it finish (or stop it), then run the "
                "command again")
        if not announced:
            say(engine, f"waiting for {_program(pid)} (pid {pid}) to release {path}")
            announced = True
        time.sleep(_POLL)


def _lock_holder() -> tuple[Path, int] | None:
    """(lock file, pid) of one of apt's locks that another process holds, else None."""
    for path in APT_LOCKS:
        pid = _holder_of(path)
        if pid is not None and pid != os.getpid():
            return path, pid
    return None


def _holder_of(path: Path) -> int | None:
    """The pid of a process holding apt's (POSIX) lock on ``path``, else None. F_GETLK only
    asks: unlike trying the lock ourselves, it can never take apt's turn."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no such lock file yet: nobody holds it
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else int(pid)


def _program(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "a program that has ended"
