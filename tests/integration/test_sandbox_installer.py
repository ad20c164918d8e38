"""The sandbox's one installer, on the machine's real apt.

Two installers run at once while a third program holds apt's package-lists lock the way
apt-get does (a POSIX write lock on /var/lib/apt/lists/lock): neither fails on the lock, both
wait for it. Held past the bound, the installer fails in one message that names the holder.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_virtwork.sandbox import apt, system

pytestmark = pytest.mark.skipif(not (system.is_debian() and system.is_root()),
                                reason="the sandbox installs Debian packages as root only")

LISTS_LOCK = Path("/var/lib/apt/lists/lock")
UPDATE = "from jupyter_virtwork.sandbox import apt; apt.update(engine='{name}')"


def _installer(name: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", UPDATE.format(name=name)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


@pytest.fixture
def lists_lock_held() -> Iterator[subprocess.Popen[str]]:
    """Another program holding apt's lists lock as apt-get does, until the test lets go."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import fcntl, sys; f = open({str(LISTS_LOCK)!r}, 'w'); fcntl.lockf(f, fcntl.LOCK_EX)"
         "; print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    yield holder
    if holder.poll() is None:
        holder.kill()
    holder.wait()


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)


def test_the_holder_of_an_apt_lock_is_named(
        lists_lock_held: subprocess.Popen[str]) -> None:
    holder = apt._lock_holder()
    assert holder == (LISTS_LOCK, lists_lock_held.pid)
    _release(lists_lock_held)
    assert apt._lock_holder() is None


def test_two_installers_at_once_wait_for_the_lock_and_both_succeed(
        lists_lock_held: subprocess.Popen[str]) -> None:
    first, second = _installer("first"), _installer("second")
    time.sleep(2)  # both are now waiting: on the held lock, or on each other
    assert first.poll() is None and second.poll() is None
    _release(lists_lock_held)
    for proc in (first, second):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "Could not get lock" not in err
        # It said what it waited for (apt's lock, or the other installer) instead of failing.
        assert "waiting for" in err, err


def test_a_lock_held_past_the_bound_fails_in_one_message_naming_the_holder(
        lists_lock_held: subprocess.Popen[str]) -> None:
    proc = _installer("bounded", VIRTWORK_APT_LOCK_TIMEOUT="2")
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - started < 30
    last = err.strip().splitlines()[-1]
    assert str(LISTS_LOCK) in last
    assert f"process {lists_lock_held.pid} (python" in last
    assert "let it finish" in last


def test_installing_is_one_process_at_a_time() -> None:
    """Our own lock: while one process holds the installer, another waits for it."""
    with open(apt.paths.run_dir("apt.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        waiter = _installer("waiter", VIRTWORK_APT_LOCK_TIMEOUT="2")
        _, err = waiter.communicate(timeout=60)
    assert waiter.returncode != 0
    assert "another sandbox process has been installing" in err
