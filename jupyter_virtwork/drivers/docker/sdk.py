"""docker-py and paramiko, imported when first needed: importing this package imports
neither (a fresh kernel's first ``%docker`` pays for docker-py, an ``ssh://`` connection for
paramiko), and a missing docker-py is the one-line MissingDependency.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..base import missing_sdk


def import_docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise missing_sdk("docker") from exc
    return docker


def paramiko() -> Any:
    """paramiko (docker-py's ssh:// transport), or None: only ssh:// connections need it.
    Imported by name: it ships no type information."""
    try:
        return importlib.import_module("paramiko")
    except ImportError:
        return None


def ssh_errors() -> tuple[type[BaseException], ...]:
    """paramiko's connection errors; () without paramiko."""
    found = paramiko()
    if found is None:
        return ()
    return (found.SSHException, found.ssh_exception.NoValidConnectionsError)
