"""Where the sandbox keeps things.

Three places, each with an environment override so tests and CI can move them:

- the cache (``VIRTWORK_CACHE_DIR``, default ``~/.cache/jupyter-virtwork``): expensive build
  outputs (Kubernetes binaries, vcsim, the tiny guest) that survive ``down`` and later
  checkouts, so a machine builds them once;
- the state (``VIRTWORK_STATE_DIR``, default ``/var/lib/jupyter-virtwork``): configuration,
  PKI, credentials, registry and engine data of the running sandbox;
- the run directory (``VIRTWORK_RUN_DIR``, default ``/run/jupyter-virtwork``): pid files and
  logs of the daemons ``up`` started, so ``down`` stops exactly those.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _dir(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env) or default)
    # Readers (a notebook kernel of another user, looking for the sandbox's connection
    # facts) may not be allowed to create it; only writers need it to exist.
    with contextlib.suppress(PermissionError):
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    return _dir("VIRTWORK_CACHE_DIR", Path.home() / ".cache" / "jupyter-virtwork").joinpath(*parts)


def state_dir(*parts: str) -> Path:
    return _dir("VIRTWORK_STATE_DIR", Path("/var/lib/jupyter-virtwork")).joinpath(*parts)


def run_dir(*parts: str) -> Path:
    return _dir("VIRTWORK_RUN_DIR", Path("/run/jupyter-virtwork")).joinpath(*parts)


def private_file(path: Path, content: str) -> Path:
    """Write ``content`` readable by the owner only (credentials, keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(path, 0o600)
    return path
