"""The user's connections file: ``~/.config/jupyter-virtwork/connections.json``.

One table per family names that family's default connection when the standard
configuration (DOCKER_HOST, the kubeconfig, GOVC_URL, LIBVIRT_DEFAULT_URI) names none; its
keys other than ``uri`` are the driver's options. ``guest`` says where the tiny guest's
kernel and initrd are. JSON, because every supported Python reads it (tomllib is 3.11+)::

    {
      "vsphere": {"uri": "vsphere://someone@vc.example:443", "password": "...",
                  "cafile": "/etc/ssl/vc.pem"},
      "libvirt": {"domain_type": "kvm"},
      "guest": {"dir": "/srv/guest"}
    }

``libvirt.domain_type`` is what local qemu:// connections use when not told; ``guest.dir``
holds ``vmlinuz`` and ``initrd.img``. A file with a password must be 0600 (the sandbox
writes it so). A table with ``"written_by": "jupyter_virtwork sandbox"`` is the sandbox's:
it rewrites those and never a user's own. Only read here (``sandbox/user_config.py`` writes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import InvalidInput

MARK_KEY = "written_by"  # a table the sandbox wrote says so; it is no driver option


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "jupyter-virtwork" / "connections.json"


def shown_path() -> str:
    """``path()`` as a message shows it: under the home directory as ``~/...``, so no
    notebook output names the machine's user."""
    file, home = path(), Path.home()
    return f"~/{file.relative_to(home)}" if file.is_relative_to(home) else str(file)


def section(name: str) -> dict[str, Any]:
    """The table ``name``, empty when the file or the table is not there."""
    file = path()
    try:
        with file.open("rb") as handle:
            content = json.load(handle)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise InvalidInput(f"{file} is not valid JSON: {exc}", hint="fix or remove it") from exc
    table = content.get(name) if isinstance(content, dict) else None
    if not isinstance(table, dict):
        return {}
    return {key: value for key, value in table.items() if key != MARK_KEY}
