"""The Kubernetes objects the integration tests apply: one Pod, Deployment and Service shape
each, as dicts (a driver's ``apply`` takes them) or, through ``as_yaml``, a ``%%k8s apply`` cell.

Tests whose point is a manifest's exact text (a bad-input corpus, a deliberately invalid
document, a mixed multi-kind cell) keep their own text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

BUSYBOX = "localbase/busybox:1.35"

Manifest = dict[str, Any]

# A container that ignores SIGTERM: only the grace period's end (or --force) stops it.
STUBBORN = ("sh", "-c", "trap '' TERM; while true; do sleep 1; done")


def httpd(first_line: str | None = None) -> tuple[str, ...]:
    """busybox's web server on port 8080, in the foreground; ``first_line`` is printed first
    (a log line a test can wait for or compare)."""
    echo = f"echo {first_line}; " if first_line else ""
    return ("sh", "-c", f"{echo}exec httpd -f -p 8080")


@dataclass(frozen=True)
class Container:
    name: str = "c"
    image: str = BUSYBOX
    pull: str = "Never"  # the sandbox's images are local: no test pulls
    command: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None

    def as_dict(self) -> Manifest:
        found: Manifest = {"name": self.name, "image": self.image, "imagePullPolicy": self.pull}
        if self.command:
            found["command"] = list(self.command)
        if self.env:
            found["env"] = [{"name": k, "value": v} for k, v in self.env.items()]
        if self.port is not None:
            found["ports"] = [{"containerPort": self.port}]
        return found


def pod_spec(container: Container, *, grace: int | None = 0, restart: str | None = None,
             scheduler: str | None = None) -> Manifest:
    """``scheduler``: a name no scheduler answers to keeps the pod Pending for good."""
    spec: Manifest = {}
    if scheduler is not None:
        spec["schedulerName"] = scheduler
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    if restart is not None:
        spec["restartPolicy"] = restart
    spec["containers"] = [container.as_dict()]
    return spec


def _metadata(name: str, labels: Mapping[str, str] | None) -> Manifest:
    return {"name": name, "labels": dict(labels)} if labels else {"name": name}


def pod(name: str, container: Container = Container(), *,
        labels: Mapping[str, str] | None = None, grace: int | None = 0,
        restart: str | None = None, scheduler: str | None = None) -> Manifest:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _metadata(name, labels),
            "spec": pod_spec(container, grace=grace, restart=restart, scheduler=scheduler)}


def deployment(name: str, container: Container = Container("web"), *, replicas: int = 1,
               labels: Mapping[str, str] | None = None, grace: int | None = 0,
               scheduler: str | None = None) -> Manifest:
    """Its pods carry ``app: name``, which is also its selector."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(name, labels),
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": pod_spec(container, grace=grace,
                                                   scheduler=scheduler)}}}


def service(name: str, *, port: int = 80, target: int = 8080) -> Manifest:
    """In front of ``deployment(name)``'s pods."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name},
                     "ports": [{"port": port, "targetPort": target}]}}


def as_yaml(*manifests: Manifest) -> str:
    """The manifests as one cell's text, documents apart by ``---``."""
    return "---\n".join(yaml.safe_dump(m, sort_keys=False) for m in manifests)
