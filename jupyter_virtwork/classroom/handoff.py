"""What the hook needs of a spawner, and how a learner's pod gets its kubeconfig.

The local spawner's learners get a file on the hub's machine (``kubeconfig.write_private``).
KubeSpawner's learners run in a pod: the kubeconfig goes into a Secret in the learner's own
namespace, the pod is placed in that namespace (a pod can mount only its namespace's
Secrets) and mounts it read-only, readable by the pod's fsGroup (Zero to JupyterHub's
single-user pods run as uid 1000 with fsGroup 100).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

import yaml
from traitlets.config import Config

SECRET = "virtwork-kubeconfig"
VOLUME = "virtwork-kubeconfig"
KEY = "config"
MODE = 0o440


class User(Protocol):
    name: str


class Spawner(Protocol):
    """What the hook uses of any JupyterHub spawner."""

    user: User
    config: Config
    environment: dict[str, Any]


class KubeSpawner(Spawner, Protocol):
    """And of KubeSpawner's traits, with ``handoff = "secret"``."""

    namespace: str
    volumes: list[dict[str, Any]]
    volume_mounts: list[dict[str, Any]]


def secret(namespace: str, config: dict[str, Any], name: str = SECRET) -> dict[str, Any]:
    text = yaml.safe_dump(config, sort_keys=False)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {KEY: base64.b64encode(text.encode()).decode()}}


def mount(spawner: KubeSpawner, namespace: str, path: str, name: str = SECRET) -> None:
    """Place the learner's pod in ``namespace`` and mount the Secret ``name``'s directory
    at the parent of ``path`` (replacing a mount of ours from an earlier spawn)."""
    directory = path.rsplit("/", 1)[0]
    spawner.namespace = namespace
    spawner.volumes = [*(v for v in spawner.volumes if v.get("name") != VOLUME),
                       {"name": VOLUME, "secret": {"secretName": name, "defaultMode": MODE}}]
    spawner.volume_mounts = [*(m for m in spawner.volume_mounts if m.get("name") != VOLUME),
                             {"name": VOLUME, "mountPath": directory, "readOnly": True}]
