"""What the sandbox writes into a user's configuration, and what the defaults read from it:
the user's own entries are never replaced, the sandbox's are marked, secrets stay 0600."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from jupyter_virtwork import defaults, userconfig
from jupyter_virtwork import uri as uri_module
from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.sandbox import user_config

SANDBOX_KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "virtwork-sandbox",
    "clusters": [{"name": "virtwork-sandbox", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "virtwork-sandbox-admin", "user": {"token": "t0ken"}}],
    "contexts": [{"name": "virtwork-sandbox", "context": {
        "cluster": "virtwork-sandbox", "user": "virtwork-sandbox-admin", "namespace": "default"}}],
}
USERS_OWN = {
    "apiVersion": "v1", "kind": "Config", "current-context": "mine",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example"}}],
    "users": [{"name": "me", "user": {"token": "secret"}}],
    "contexts": [{"name": "mine", "context": {"cluster": "prod", "user": "me",
                                              "namespace": "team"}}],
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("GOVC_URL", "LIBVIRT_DEFAULT_URI", "VIRTWORK_GUEST_DIR"):
        monkeypatch.delenv(name, raising=False)
    source = tmp_path / "sandbox.kubeconfig"
    source.write_text(json.dumps(SANDBOX_KUBECONFIG))
    return tmp_path


def _names(config: dict[str, list[dict[str, str]]], section: str) -> list[str]:
    return [entry["name"] for entry in config[section]]


def test_the_kube_context_is_merged_beside_the_users_own(home: Path) -> None:
    kubeconfig = home / "kube" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text(yaml.safe_dump(USERS_OWN))
    for _ in range(2):  # a second `up` rewrites its entries in place
        user_config.merge_kubeconfig(home / "sandbox.kubeconfig")
    merged = yaml.safe_load(kubeconfig.read_text())
    assert merged["current-context"] == "mine"  # the user's stays current
    assert _names(merged, "contexts") == ["mine", "virtwork-sandbox"]
    assert _names(merged, "users") == ["me", "virtwork-sandbox-admin"]
    assert merged["users"][0] == USERS_OWN["users"][0]
    assert merged["contexts"][1]["context"]["extensions"] == [user_config.KUBE_EXTENSION]
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert defaults.kubernetes().uri == "k8s://mine/team"


def test_without_a_kubeconfig_the_sandbox_becomes_current(home: Path) -> None:
    user_config.merge_kubeconfig(home / "sandbox.kubeconfig")
    assert defaults.kubernetes().uri == "k8s://virtwork-sandbox/default"
    assert defaults.kubernetes().options == {"kubeconfig": str(home / "kube" / "config")}


def test_a_users_entry_of_the_same_name_is_left_alone(home: Path) -> None:
    kubeconfig = home / "kube" / "config"
    kubeconfig.parent.mkdir()
    own = {**USERS_OWN, "contexts": [{"name": "virtwork-sandbox", "context": {"cluster": "prod"}}]}
    kubeconfig.write_text(yaml.safe_dump(own))
    user_config.merge_kubeconfig(home / "sandbox.kubeconfig")
    assert yaml.safe_load(kubeconfig.read_text())["contexts"] == own["contexts"]


def test_connections_entries_are_marked_and_private(home: Path) -> None:
    path = userconfig.path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"libvirt": {"uri": "qemu+ssh://me@host/system"}}))
    user_config.write_connections("vcsim", {"vsphere": {
        "uri": "vsphere://u@127.0.0.1:8989", "password": "pw", "cafile": "/ca.pem"}})
    user_config.write_connections("libvirt", {"libvirt": {"domain_type": "qemu"},
                                              "guest": {"dir": str(home)}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["libvirt"] == {"uri": "qemu+ssh://me@host/system"}
    vsphere = defaults.vsphere()
    assert vsphere is not None and vsphere.uri == "vsphere://u@127.0.0.1:8989"
    assert vsphere.options == {"password": "pw", "cafile": "/ca.pem"}  # no mark as an option
    assert vsphere.why == f"set in {path}"  # outside the home directory: the whole path
    assert defaults.libvirt().uri == "qemu+ssh://me@host/system"
    with pytest.raises(InvalidInput, match="tiny guest is not in"):
        defaults.guest_files()  # the directory is there, the kernel is not


def test_the_connections_file_is_shown_under_home_as_tilde(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert userconfig.shown_path() == "~/.config/jupyter-virtwork/connections.json"


def test_no_guest_configured_says_where_to_configure_one(home: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        defaults.guest_files()
    assert "VIRTWORK_GUEST_DIR" in str(caught.value.hint)


def test_the_docker_default_names_the_current_context(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert defaults.docker().why == "the local Docker engine"
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert defaults.docker().why == "the docker context remote"


def test_any_current_context_name_is_the_default(home: Path) -> None:
    eks = "arn:aws:eks:us-east-1:123456789012:cluster/demo"
    own = {**USERS_OWN, "current-context": eks,
           "contexts": [{"name": eks, "context": {"cluster": "prod", "user": "me"}}]}
    kubeconfig = home / "kube" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text(yaml.safe_dump(own))
    chosen = uri_module.parse(defaults.kubernetes().uri)
    assert (chosen.context, chosen.namespace) == (eks, "default")
