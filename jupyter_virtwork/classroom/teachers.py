"""A teacher's credentials on the cluster, as manifests: pure data, no SDK.

A teacher sees the class and can clean up one learner's namespace, and nothing more:

- a ServiceAccount of their own in the teachers' namespace, which their notebook acts as;
- a ClusterRole (one for every teacher) that may only get, list and watch namespaces,
  and a ClusterRoleBinding of it to that ServiceAccount: enough to find the learners'
  namespaces (they carry the learner label), nothing of any other namespace's content;
- in each learner namespace, a RoleBinding of the learner's own Role to that
  ServiceAccount: the teacher may do there what the learner may (watch the workloads,
  remove them), and nothing of RBAC, quotas or the namespace itself.

Workloads are read namespace by namespace, never cluster-wide, so that a teacher's
credentials reach no namespace but the learners' (not kube-system, not another course's).

The RoleBinding carries the teacher's label (``TEACHER``), not the learner's: it is the
teacher's access to the learner's space, not part of what the learner was given.
"""

from __future__ import annotations

from typing import Any

from ..labels import MANAGED_BY, MANAGER, TEACHER
from .space import ACCOUNT, learner_name

CLUSTER_ROLE = "virtwork-teacher"
RBAC = "rbac.authorization.k8s.io/v1"
RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "verbs": ["get", "list", "watch"], "resources": ["namespaces"]},
]


def account_for(username: str) -> str:
    """The teacher's ServiceAccount in the teachers' namespace (a DNS label)."""
    return learner_name(username)


def labels_for(username: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, TEACHER: account_for(username)}


def binding_name(username: str) -> str:
    """The teacher's RoleBinding in a learner namespace, and their ClusterRoleBinding."""
    return f"{CLUSTER_ROLE}-{account_for(username)}"


def _subject(username: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": account_for(username), "namespace": namespace}


def manifests(username: str, namespace: str) -> list[dict[str, Any]]:
    """The teachers' namespace, the teacher's ServiceAccount in it, the ClusterRole and the
    teacher's ClusterRoleBinding; each with its labels (the namespace and the ClusterRole
    are every teacher's: our ownership label only)."""
    mine = labels_for(username)
    ours = {MANAGED_BY: MANAGER}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": ours}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": account_for(username), "namespace": namespace,
                      "labels": mine}},
        {"apiVersion": RBAC, "kind": "ClusterRole",
         "metadata": {"name": CLUSTER_ROLE, "labels": ours}, "rules": RULES},
        {"apiVersion": RBAC, "kind": "ClusterRoleBinding",
         "metadata": {"name": binding_name(username), "labels": mine},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": CLUSTER_ROLE},
         "subjects": [_subject(username, namespace)]},
    ]


def learner_binding(username: str, teachers_namespace: str,
                    learner_namespace: str) -> dict[str, Any]:
    """The RoleBinding that lets the teacher do in ``learner_namespace`` what its learner
    may (the learner's Role), and no more."""
    return {
        "apiVersion": RBAC, "kind": "RoleBinding",
        "metadata": {"name": binding_name(username), "namespace": learner_namespace,
                     "labels": labels_for(username)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ACCOUNT},
        "subjects": [_subject(username, teachers_namespace)],
    }
