"""Connection URIs: every accepted spelling, and the refusals that protect secrets."""

import pytest

from jupyter_virtwork import uri
from jupyter_virtwork.errors import InvalidInput


@pytest.mark.parametrize(("text", "family"), [
    ("docker://", "docker"),
    ("docker", "docker"),
    ("docker+ssh://me@build-host", "docker"),
    ("docker+tcp://10.1.2.3:2376", "docker"),
    ("k8s://", "kubernetes"),
    ("k8s://virtwork-sandbox/default", "kubernetes"),
    ("vsphere://administrator@vcenter.example:8989", "vsphere"),
    ("qemu:///system", "libvirt"),
    ("qemu+ssh://root@h/system", "libvirt"),
    ("xen:///system", "libvirt"),
    ("test:///default", "libvirt"),
])
def test_accepted_uris_map_to_their_family(text: str, family: str) -> None:
    assert uri.parse(text).family == family


def test_kubernetes_context_and_namespace() -> None:
    target = uri.parse("k8s://virtwork-sandbox/team-a")
    assert (target.context, target.namespace) == ("virtwork-sandbox", "team-a")
    current = uri.parse("k8s://")
    assert (current.context, current.namespace) == (None, None)


def test_vsphere_user_host_port() -> None:
    target = uri.parse("vsphere://administrator@127.0.0.1:8989")
    assert (target.user, target.host, target.port) == ("administrator", "127.0.0.1", 8989)


def test_libvirt_uri_is_kept_as_spelled() -> None:
    assert uri.parse("qemu+ssh://root@h/system?keyfile=/k").uri == \
        "qemu+ssh://root@h/system?keyfile=/k"


def test_password_in_uri_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        uri.parse("vsphere://admin:s3cret-pass@vc")
    assert "s3cret-pass" not in str(caught.value)
    assert "password" in str(caught.value)


def test_bare_vsphere_means_govc_url() -> None:
    target = uri.parse("vsphere://")
    assert (target.family, target.host) == ("vsphere", None)


@pytest.mark.parametrize("text", ["ftp://x", "nonsense", "qemu+carrier-pigeon:///system",
                                  "docker+tcp://h:99999"])
def test_bad_uris_are_one_line_errors(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        uri.parse(text)
    assert "\n" not in str(caught.value)


CONTEXT_NAMES = [
    "arn:aws:eks:us-east-1:123456789012:cluster/demo",  # EKS
    "gke_proj_europe-west1_demo",  # GKE
    "alice@team/dev",
    "Admin@Kind-Kind",  # case is kept: kubeconfig names are case-sensitive
    "100%:done?#frag",
    "virtwork-sandbox",
]


@pytest.mark.parametrize("name", CONTEXT_NAMES)
@pytest.mark.parametrize("namespace", [None, "team-a"])
def test_any_kube_context_name_round_trips(name: str, namespace: str | None) -> None:
    text = uri.k8s_uri(name, namespace)
    target = uri.parse(text)
    assert (target.family, target.context, target.namespace) == ("kubernetes", name, namespace)
    assert target.uri == text
    assert uri.k8s_uri(target.context, target.namespace) == text


def test_context_names_with_at_and_colons_also_work_unencoded() -> None:
    assert uri.parse("k8s://admin@kind-kind/default").context == "admin@kind-kind"
    eks = uri.parse("k8s://arn:aws:eks:us-east-1:123456789012:cluster%2Fdemo/web")
    assert (eks.context, eks.namespace) == ("arn:aws:eks:us-east-1:123456789012:cluster/demo",
                                            "web")


def test_a_raw_slash_in_a_context_name_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidInput) as caught:
        uri.parse("k8s://arn:aws:eks:us-east-1:123456789012:cluster/demo/default")
    assert "%2F" in str(caught.value)


def test_the_current_context() -> None:
    assert uri.k8s_uri() == "k8s://"
    assert uri.parse(uri.k8s_uri(None, "web")).context is None
