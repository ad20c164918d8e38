"""A learner's kubeconfig: their ServiceAccount's token, their namespace as the context's.

The toolkit's default Kubernetes connection is the kubeconfig's current context with its
namespace (``defaults.kubernetes``), as kubectl's is, so a learner's kernel with
``KUBECONFIG`` pointing here works in the learner's namespace without being told.

``write_private`` hands the file to the learner on this machine (the local spawner): in a
directory root owns (0711: anyone may pass through, nobody may list it or put anything in
it), one file per learner, 0600 and owned by that learner. Another learner can neither read
it nor replace it, and the learner cannot turn it into a link that makes root write
elsewhere. The file is replaced at once, so a reader never sees half of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import EngineUnavailable, InvalidInput

CONTEXT = "classroom"
DIRECTORY_MODE = 0o711


def build(*, server: str, ca_data: str, token: str, namespace: str) -> dict[str, Any]:
    """The kubeconfig, ``ca_data`` being the cluster's CA as base64 (a token secret's
    ``ca.crt`` as the API returns it)."""
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {
            "cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
    }


def write_private(directory: Path, name: str, config: dict[str, Any], *, uid: int,
                  gid: int) -> Path:
    """Write ``config`` to ``directory/name``, readable by ``uid`` only."""
    _root_owned_directory(directory)
    path = directory / name
    partial = directory / f".{name}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchown(handle.fileno(), uid, gid)
            handle.write(yaml.safe_dump(config, sort_keys=False))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _root_owned_directory(directory: Path) -> None:
    directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    found = os.lstat(directory)
    if directory.is_symlink() or found.st_uid != os.geteuid():
        raise InvalidInput(f"{directory} is not a directory of the hub's own user",
                           hint="point LearnerSpaces.kubeconfig_dir at a directory only "
                                "the hub's user may write")
    if found.st_mode & 0o777 != DIRECTORY_MODE:
        os.chmod(directory, DIRECTORY_MODE)


def server_of(kubeconfig_file: str, context: str) -> str:
    """The API server URL of ``context`` (else the current one) as kubectl finds it."""
    named = kubeconfig_file or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    path = Path(named) if named else Path.home() / ".kube" / "config"
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise EngineUnavailable(f"the hub's kubeconfig {path} is unreadable: {exc}",
                                hint="set LearnerSpaces.kubeconfig or api_server") from exc
    chosen = context or config.get("current-context")
    entry = next((c.get("context") or {} for c in config.get("contexts") or []
                  if c.get("name") == chosen), {})
    cluster = next((c.get("cluster") or {} for c in config.get("clusters") or []
                    if c.get("name") == entry.get("cluster")), {})
    if not cluster.get("server"):
        raise InvalidInput(f"context {chosen!r} of {path} names no API server",
                           hint="set LearnerSpaces.api_server")
    return str(cluster["server"])
