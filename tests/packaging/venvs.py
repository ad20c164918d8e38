"""Throwaway virtual environments for the packaging tests: made from this interpreter,
without the system's site-packages (which would hide a missing dependency)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 1800  # a cold first run downloads and compiles (libvirt-python)


def run(*command: str | Path, timeout: float = INSTALL_TIMEOUT,
        env: dict[str, str] | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``command``; a failure shows the end of its output."""
    done = subprocess.run([str(word) for word in command], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def make(path: Path) -> Path:
    """A new venv at ``path`` (its own pip, no system site-packages); its python."""
    run(sys.executable, "-m", "venv", path)
    return path / "bin" / "python"


def isolated_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment a user of ``venv`` has: its bin first, none of this checkout on
    sys.path, and Jupyter's user-level config and data dirs empty (``home``)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith("JUPYTER")}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", VIRTUAL_ENV=str(venv),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    return env
