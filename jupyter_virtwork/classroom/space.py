"""A learner's space on the cluster, as manifests: pure data, no SDK.

One namespace per learner holds everything of theirs: a ServiceAccount the learner's
notebook acts as, a Role that lets it work with workloads in that namespace and nowhere
else (it may read, never change, its quota, its limits and its own permissions), the
RoleBinding between the two, a ResourceQuota and a LimitRange (defaults for containers that
name no resources, so that every pod fits the quota's requests). Each object carries our
ownership label and the learner's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..labels import LEARNER, MANAGED_BY, MANAGER

ACCOUNT = "learner"  # the ServiceAccount (and Role, RoleBinding) in every learner namespace
QUOTA = "learner-quota"
LIMITS = "learner-limits"
EDIT = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ = ["get", "list", "watch"]
# What a learner may do in their namespace; nothing of RBAC, quotas or the namespace itself.
RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "verbs": EDIT,
     "resources": ["pods", "pods/log", "pods/exec", "pods/attach", "pods/portforward",
                   "services", "endpoints", "configmaps", "secrets",
                   "persistentvolumeclaims"]},
    {"apiGroups": ["apps"], "verbs": EDIT,
     "resources": ["deployments", "deployments/scale", "replicasets", "replicasets/scale",
                   "statefulsets", "statefulsets/scale", "daemonsets", "controllerrevisions"]},
    {"apiGroups": ["batch"], "verbs": EDIT, "resources": ["jobs", "cronjobs"]},
    {"apiGroups": [""], "verbs": READ,
     "resources": ["events", "resourcequotas", "limitranges", "serviceaccounts"]},
    {"apiGroups": ["events.k8s.io"], "verbs": READ, "resources": ["events"]},
]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Sizes:
    """What one learner's namespace may hold (ResourceQuota ``hard``) and what a container
    gets when it names nothing (LimitRange), in Kubernetes quantities."""

    quota: Mapping[str, str] = field(default_factory=dict)
    default_requests: Mapping[str, str] = field(default_factory=dict)
    default_limits: Mapping[str, str] = field(default_factory=dict)
    max_limits: Mapping[str, str] = field(default_factory=dict)


def learner_name(username: str) -> str:
    """A DNS label for ``username``: itself when it is one, else a readable form with a
    hash of the original, so that two usernames never share a namespace."""
    if DNS_LABEL.match(username) and len(username) <= 40:
        return username
    readable = re.sub(r"[^a-z0-9]+", "-", username.lower()).strip("-")[:30].strip("-")
    digest = hashlib.sha256(username.encode()).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else f"user-{digest}"


def namespace_for(username: str, template: str) -> str:
    """The learner's namespace: ``template`` with ``{username}`` as ``learner_name``."""
    namespace = template.replace("{username}", learner_name(username))
    if len(namespace) > 63 or not DNS_LABEL.match(namespace):
        raise InvalidInput(f"the namespace template {template!r} gives {namespace!r}, which "
                           "is not a namespace name",
                           hint="keep it lowercase letters, digits and '-', with "
                                "{username}, under 63 characters")
    return namespace


def labels_for(username: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, LEARNER: learner_name(username)}


def learners_in(namespaces: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Each learner's namespace (learner -> namespace) among ``namespaces`` (name -> its
    labels): those our hook made for a learner, in the order of their names."""
    return {labels[LEARNER]: name for name, labels in sorted(namespaces.items())
            if labels.get(MANAGED_BY) == MANAGER and labels.get(LEARNER)}


def manifests(username: str, namespace: str, sizes: Sizes) -> list[dict[str, Any]]:
    """The namespace first, then what goes in it."""
    def meta(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": namespace}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(ACCOUNT)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(ACCOUNT),
         "rules": RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": meta(ACCOUNT),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": ACCOUNT},
         "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}]},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta(QUOTA),
         "spec": {"hard": dict(sizes.quota)}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": meta(LIMITS),
         "spec": {"limits": [_container_limits(sizes)]}},
    ]


def _container_limits(sizes: Sizes) -> dict[str, Any]:
    limits: dict[str, Any] = {"type": "Container"}
    for key, value in (("defaultRequest", sizes.default_requests),
                       ("default", sizes.default_limits), ("max", sizes.max_limits)):
        if value:
            limits[key] = dict(value)
    return limits
