"""The user's standard configuration, written by the sandbox so the core finds its engines.

The toolkit's defaults read only what a user's own engines would leave behind (the
kubeconfig, GOVC_*, LIBVIRT_DEFAULT_URI, our connections file: ``defaults.py``); they know
nothing of the sandbox. So each engine's ``start`` writes that configuration, as a user
would after setting up such an engine, and marks what it wrote:

- ``~/.kube/config`` (``merge_kubeconfig``): the cluster, user and context
  ``virtwork-sandbox``, each with an extension ``jupyter-virtwork`` (as minikube marks its
  entries), merged the way ``kubectl config set-context`` does: the user's other entries
  stay, the current context is set only when there is none, and an entry of that name
  without our mark (the user's own) is left alone. ``kubectl`` in a terminal then reaches
  the sandbox (ENGINES.md, trap 8).
- the connections file (``userconfig.path()``, ``write_connections``): vcsim's URI, login
  and CA file, libvirt's KVM verdict and the tiny guest's directory, each table carrying
  ``"written_by"``; a table the user wrote is never replaced. Always 0600: it holds a
  password.

``down`` removes none of it, as ``sshd.py`` keeps its ~/.ssh entries and ``minikube stop``
keeps its context: the PKI, token and password survive ``down``, so a later ``up`` serves
the same configuration, and a kubectl line meanwhile says "connection refused", which is
what a stopped cluster should say. Remove the entries by hand to forget the sandbox.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .. import userconfig
from .report import say

MARK = "jupyter_virtwork sandbox"
KUBE_EXTENSION = {"name": "jupyter-virtwork", "extension": {"provider": MARK}}


def write_connections(engine: str, tables: dict[str, dict[str, Any]]) -> None:
    """Put ``tables`` into the connections file, replacing only tables the sandbox wrote."""
    path = userconfig.path()
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        content = {}
    except ValueError as exc:
        say(engine, f"{path} is not valid JSON ({exc}); left as it is")
        return
    if not isinstance(content, dict):
        say(engine, f"{path} is not a JSON object; left as it is")
        return
    for name, table in tables.items():
        old = content.get(name)
        if isinstance(old, dict) and old.get(userconfig.MARK_KEY) != MARK:
            say(engine, f"{path} has your own {name!r} entry: the sandbox's is not written")
            continue
        content[name] = {userconfig.MARK_KEY: MARK, **table}
    _private_write(path, json.dumps(content, indent=2) + "\n")


def kubeconfig_path() -> Path:
    """The file kubectl writes to: KUBECONFIG's first entry, else ~/.kube/config."""
    named = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(named[0]) if named else Path.home() / ".kube" / "config"


def merge_kubeconfig(source: Path) -> None:
    """Merge the clusters, users and contexts of ``source`` (the sandbox's own kubeconfig)
    into the user's, marked as ours."""
    ours = json.loads(source.read_text())
    path = kubeconfig_path()
    config = _read_kubeconfig(path)
    if config is None:
        return
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    for section, body in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
        entries = config.get(section) or []
        for entry in ours[section]:
            found = next((e for e in entries if e.get("name") == entry["name"]), None)
            if found is not None and KUBE_EXTENSION not in (found.get(body) or {}).get(
                    "extensions", []):
                say("kubernetes", f"{path} has your own {section[:-1]} {entry['name']!r}: "
                                  "left as it is")
                continue
            marked = {"name": entry["name"],
                      body: {**entry[body], "extensions": [copy.deepcopy(KUBE_EXTENSION)]}}
            if found is None:
                entries.append(marked)
            else:
                entries[entries.index(found)] = marked
        config[section] = entries
    if not config.get("current-context"):
        config["current-context"] = ours["current-context"]
    _private_write(path, _dump_kubeconfig(config))


def _read_kubeconfig(path: Path) -> dict[str, Any] | None:
    """The user's kubeconfig ({} if there is none); None (said why) if we must not touch it."""
    if not path.exists():
        return {}
    try:
        import yaml  # the kubernetes client's dependency
    except ImportError:
        say("kubernetes", f"{path} left as it is: merging into it needs PyYAML")
        return None
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        say("kubernetes", f"{path} is not a readable kubeconfig ({exc}); left as it is")
        return None
    if not isinstance(loaded, dict):
        say("kubernetes", f"{path} is not a kubeconfig; left as it is")
        return None
    return loaded


def _dump_kubeconfig(config: dict[str, Any]) -> str:
    try:
        import yaml
    except ImportError:
        return json.dumps(config, indent=2) + "\n"  # JSON is YAML: kubectl reads it
    return str(yaml.safe_dump(config, default_flow_style=False, sort_keys=False))


def _private_write(path: Path, text: str) -> None:
    """Replace ``path`` at once (a reader never sees half a file), readable by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
