"""A learner's space as manifests and kubeconfig: names, rules and sizes, before any
cluster is asked."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest
import yaml

from jupyter_virtwork.classroom import kubeconfig, space
from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.labels import LEARNER, MANAGED_BY, MANAGER

SIZES = space.Sizes(quota={"pods": "3"}, default_requests={"cpu": "10m"},
                    default_limits={"cpu": "100m"}, max_limits={"memory": "64Mi"})


def test_a_username_that_is_a_dns_label_names_the_namespace_as_it_is() -> None:
    assert space.namespace_for("ada", "class-{username}") == "class-ada"


@pytest.mark.parametrize("odd", ["Ada", "ada@example.org", "ada.lovelace", "-", "a" * 60])
def test_any_other_username_gets_a_dns_label_of_its_own(odd: str) -> None:
    name = space.learner_name(odd)
    assert space.DNS_LABEL.match(name) and len(name) <= 40
    assert name != space.learner_name(odd + "x")  # the hash keeps lookalikes apart
    assert space.namespace_for(odd, "virtwork-{username}").startswith("virtwork-")


@pytest.mark.parametrize("template", ["{username}-" + "x" * 60, "Class_{username}"])
def test_a_template_that_cannot_make_a_namespace_name_is_refused(template: str) -> None:
    with pytest.raises(InvalidInput, match="namespace template"):
        space.namespace_for("ada", template)


def test_every_object_sits_in_the_namespace_and_carries_our_labels() -> None:
    found = space.manifests("ada", "virtwork-ada", SIZES)
    assert [m["kind"] for m in found] == ["Namespace", "ServiceAccount", "Role",
                                          "RoleBinding", "ResourceQuota", "LimitRange"]
    assert all(m["metadata"].get("namespace") == "virtwork-ada" for m in found[1:])
    assert space.labels_for("Ada") == {MANAGED_BY: MANAGER, LEARNER: space.learner_name("Ada")}


def test_the_role_gives_nothing_of_rbac_quotas_or_namespaces_to_change() -> None:
    role = next(m for m in space.manifests("ada", "n", SIZES) if m["kind"] == "Role")
    changeable = {(group, resource) for rule in role["rules"] if "create" in rule["verbs"]
                  for group in rule["apiGroups"] for resource in rule["resources"]}
    assert not {g for g, _ in changeable} & {"rbac.authorization.k8s.io", "*"}
    assert not {r for _, r in changeable} & {"namespaces", "resourcequotas", "limitranges",
                                             "serviceaccounts", "roles", "rolebindings", "*"}
    assert all("*" not in rule["verbs"] for rule in role["rules"])
    binding = next(m for m in space.manifests("ada", "n", SIZES) if m["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": space.ACCOUNT,
                                    "namespace": "n"}]


def test_the_sizes_are_the_quota_and_the_container_limits() -> None:
    found = {m["kind"]: m for m in space.manifests("ada", "n", SIZES)}
    assert found["ResourceQuota"]["spec"]["hard"] == {"pods": "3"}
    assert found["LimitRange"]["spec"]["limits"] == [{
        "type": "Container", "defaultRequest": {"cpu": "10m"}, "default": {"cpu": "100m"},
        "max": {"memory": "64Mi"}}]


def test_the_kubeconfigs_current_context_is_the_learners_namespace() -> None:
    config = kubeconfig.build(server="https://127.0.0.1:6443", ca_data="Q0E=", token="t",
                              namespace="virtwork-ada")
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    assert context["context"]["namespace"] == "virtwork-ada"


def test_the_kubeconfig_file_is_the_learners_alone(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    folder = tmp_path / "kubeconfigs"
    path = kubeconfig.write_private(folder, "ada.kubeconfig", {"a": 1}, uid=nobody.pw_uid,
                                    gid=nobody.pw_gid)
    found = path.stat()
    assert (found.st_uid, stat.S_IMODE(found.st_mode)) == (nobody.pw_uid, 0o600)
    assert stat.S_IMODE(folder.stat().st_mode) == kubeconfig.DIRECTORY_MODE
    assert yaml.safe_load(path.read_text()) == {"a": 1}
    assert os.listdir(folder) == ["ada.kubeconfig"]  # nothing half-written left beside it


def test_a_kubeconfig_directory_that_is_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InvalidInput, match="not a directory of the hub's own user"):
        kubeconfig.write_private(tmp_path / "link", "ada.kubeconfig", {}, uid=0, gid=0)
