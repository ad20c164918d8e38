"""A teacher's credentials as manifests: what they may see and change, before any cluster is
asked; and how the class is found among namespaces."""

from __future__ import annotations

from jupyter_virtwork.classroom import space, teachers
from jupyter_virtwork.labels import LEARNER, MANAGED_BY, MANAGER, TEACHER


def test_the_teacher_may_only_read_namespaces_cluster_wide() -> None:
    found = {m["kind"]: m for m in teachers.manifests("Ms. Hopper", "virtwork-teachers")}
    assert list(found) == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    rules = found["ClusterRole"]["rules"]
    assert {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]} \
        == {("", "namespaces")}
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in rules)
    account = teachers.account_for("Ms. Hopper")
    assert space.DNS_LABEL.match(account)
    assert found["ClusterRoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": "virtwork-teachers"}]


def test_in_a_learner_namespace_the_teacher_gets_the_learners_role_and_their_own_label(
        ) -> None:
    binding = teachers.learner_binding("hopper", "virtwork-teachers", "virtwork-ada")
    assert binding["metadata"]["namespace"] == "virtwork-ada"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": space.ACCOUNT}
    assert binding["subjects"][0]["namespace"] == "virtwork-teachers"
    assert binding["metadata"]["labels"] == {MANAGED_BY: MANAGER, TEACHER: "hopper"}
    assert LEARNER not in binding["metadata"]["labels"]  # not part of the learner's space


def test_the_class_is_the_namespaces_our_hook_made_for_learners() -> None:
    found = space.learners_in({
        "virtwork-bob": {MANAGED_BY: MANAGER, LEARNER: "bob"},
        "virtwork-ada": {MANAGED_BY: MANAGER, LEARNER: "ada"},
        "virtwork-teachers": {MANAGED_BY: MANAGER},
        "impostor": {LEARNER: "eve"},  # not made by us
        "kube-system": {},
    })
    assert found == {"ada": "virtwork-ada", "bob": "virtwork-bob"}
