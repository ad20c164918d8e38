"""A dockerd that died hard leaves its containerd's pid file, and sometimes that containerd:
the sandbox's docker start stops such an orphan and removes the file, so the next dockerd
starts its own containerd; and it signals nothing else. Stand-in processes whose /proc
cmdline reads like containerd's (and dockerd's) play the parts: the cases where nothing may
be signalled (another program's containerd, a live dockerd's, a recycled pid) cannot be
staged with the sandbox's real daemons without breaking the engines every other test uses.
The real case, a SIGKILLed dockerd restarted, is test_engine_faults.py's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_virtwork.sandbox import docker as sandbox_docker

SLEEP = "import time; time.sleep(60)"
CONTAINERD = ["containerd", "-c", SLEEP, "--config", sandbox_docker.CONTAINERD_CONFIG]


@pytest.fixture
def pid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "containerd.pid"
    monkeypatch.setattr(sandbox_docker, "CONTAINERD_PID_FILE", path)
    return path


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts are ended afterwards, whatever the test did to them."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(5)


def _spawn(spawned: list[subprocess.Popen[bytes]], argv: list[str],
           stdout: int | None = None) -> subprocess.Popen[bytes]:
    """A Python process whose cmdline reads ``argv`` (argv[0] is only its name)."""
    proc = subprocess.Popen(argv, executable=sys.executable, stdout=stdout)
    spawned.append(proc)
    _wait_for_exec(proc.pid, argv[0])
    return proc


def _wait_for_exec(pid: int, name: str) -> None:
    """Until /proc shows ``pid`` running as ``name`` (a fork reads as its parent before)."""
    deadline = time.monotonic() + 5
    while not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(name.encode() + b"\0"):
        assert time.monotonic() < deadline, f"{name} did not start"
        time.sleep(0.01)


def test_an_orphaned_containerd_is_stopped_and_its_pid_file_removed(
        pid_file: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    orphan = _spawn(spawned, CONTAINERD)  # its parent is this test, not a dockerd
    pid_file.write_text(f"{orphan.pid}\n")
    sandbox_docker._stop_orphaned_containerd()
    assert orphan.wait(5) is not None
    assert not pid_file.exists()


@pytest.mark.parametrize("argv", [
    ["sleep-not-containerd", "-c", SLEEP],  # a recycled pid: some other program
    ["containerd", "-c", SLEEP],  # a containerd, but not docker's (no docker config)
], ids=["other-program", "foreign-containerd"])
def test_a_pid_file_naming_another_process_is_removed_and_the_process_left_alone(
        pid_file: Path, spawned: list[subprocess.Popen[bytes]], argv: list[str]) -> None:
    bystander = _spawn(spawned, argv)
    pid_file.write_text(f"{bystander.pid}\n")
    sandbox_docker._stop_orphaned_containerd()
    assert bystander.poll() is None
    assert not pid_file.exists()


def test_a_pid_file_naming_a_dead_process_is_removed(
        pid_file: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    dead = _spawn(spawned, CONTAINERD)
    dead.kill()
    dead.wait(5)
    pid_file.write_text(f"{dead.pid}\n")
    sandbox_docker._stop_orphaned_containerd()
    assert not pid_file.exists()


def test_the_containerd_of_a_live_dockerd_is_left_alone(
        pid_file: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    # Built-in modules only: a Python named "dockerd" cannot find its own library folder.
    parent_code = ("import os\n"
                   "child = os.fork()\n"
                   f"if child == 0: os.execv({sys.executable!r}, {CONTAINERD!r})\n"
                   "print(child, flush=True)\n"
                   "os.waitpid(child, 0)\n")
    dockerd = _spawn(spawned, ["dockerd", "-c", parent_code], stdout=subprocess.PIPE)
    assert dockerd.stdout is not None
    child = int(dockerd.stdout.readline())
    _wait_for_exec(child, "containerd")
    pid_file.write_text(f"{child}\n")
    try:
        sandbox_docker._stop_orphaned_containerd()
        assert sandbox_docker.process.alive(child)
        assert pid_file.exists()
    finally:
        os.kill(child, signal.SIGKILL)  # the stand-in dockerd reaps it and ends
