"""Installing what an engine needs: Debian packages and commands, idempotently.

The sandbox is the one place in the project allowed to run processes; everything else talks
to the engines through their SDKs.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import say


class SandboxError(RuntimeError):
    """An engine could not be installed or started; the message says why and what to do."""


def is_root() -> bool:
    return os.geteuid() == 0


def is_debian() -> bool:
    return Path("/etc/debian_version").exists() and platform.system() == "Linux"


def require_root_debian(engine: str) -> None:
    if not is_debian():
        raise SandboxError(f"{engine}: the sandbox installs engines on Debian only; "
                           "point the toolkit at your own engine instead (see README)")
    if not is_root():
        raise SandboxError(f"{engine}: installing and starting engines needs root; "
                           "run `sudo python -m jupyter_virtwork.sandbox up`")


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        log: Path | None = None, timeout: float | None = None) -> str:
    """Run a command to completion; raise SandboxError with its output's tail on failure."""
    full_env = {**os.environ, **(env or {})}
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.run(list(cmd), cwd=cwd, env=full_env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
        output = log.read_bytes()[-4000:].decode(errors="replace")
    else:
        proc = subprocess.run(list(cmd), cwd=cwd, env=full_env, capture_output=True,
                              timeout=timeout, check=False)
        output = (proc.stdout + proc.stderr).decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise SandboxError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n{tail}")
    return output


def pip_install(requirements: Sequence[str], *, engine: str) -> None:
    say(engine, f"pip install {' '.join(requirements)}")
    run([sys.executable, "-m", "pip", "install", "--quiet", *requirements], timeout=1800)


def which(command: str, *candidates: str) -> str | None:
    """The first existing path among ``candidates``, else ``command`` on PATH."""
    for path in candidates:
        if Path(path).exists():
            return path
    return shutil.which(command)
