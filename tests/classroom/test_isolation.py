"""What isolation between learners must hold, on the real hub and the real cluster.

Two learners' servers are spawned through the hub's REST API; every cell runs in a
learner's own kernel, through that learner's server, as the learner types it. What the
cluster holds afterwards is read with the sandbox's admin credentials, never only from
what a cell printed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from jupyter_virtwork import uri
from jupyter_virtwork.classroom import space, teachers
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.labels import LEARNER, MANAGED_BY, MANAGER
from jupyter_virtwork.models import Kind, State
from jupyter_virtwork.sandbox import hub_accounts, kube_pki, paths, process
from jupyter_virtwork.sandbox.hub_client import CellResult, HubClient, Kernel
from tests.integration.conftest import ensure_up

pytestmark = pytest.mark.engines("hub", "kubernetes", "images")

FIRST, SECOND = hub_accounts.LEARNERS[:2]
TEMPLATE = "virtwork-{username}"
BUSYBOX = "localbase/busybox:1.35"
SHOWN: list[CellResult] = []  # every cell's output, searched for tokens at the end


def namespace(learner: str) -> str:
    return space.namespace_for(learner, TEMPLATE)


def pod(name: str, memory: str = "") -> str:
    resources = (f"\n    resources: {{requests: {{memory: {memory}}}, limits: {{memory: "
                 f"{memory}}}}}") if memory else ""
    return f"""%%k8s apply
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sleep, "3600"]{resources}
"""


class Learner:
    """A learner's kernel, with the toolkit loaded, whose every cell is recorded."""

    def __init__(self, name: str, kernel: Kernel) -> None:
        self.name = name
        self.kernel = kernel

    def run(self, code: str) -> CellResult:
        result = self.kernel.run(code)
        SHOWN.append(result)
        return result

    def ok(self, code: str) -> CellResult:
        result = self.run(code)
        assert not result.error, result.shown
        return result


def admin(learner: str) -> KubernetesDriver:
    target = uri.parse(uri.k8s_uri(kube_pki.CONTEXT, namespace(learner)))
    return KubernetesDriver(target, kubeconfig=str(kube_pki.kubeconfig_path()))


@pytest.fixture(scope="module")
def learners(hub: HubClient) -> Iterator[dict[str, Learner]]:
    ensure_up("images", "kubernetes")
    with ExitStack() as stack:
        found = {}
        for name in (FIRST, SECOND):
            hub.spawn(name)
            found[name] = Learner(name, stack.enter_context(hub.kernel(name)))
            found[name].ok("%load_ext jupyter_virtwork")
        found[SECOND].ok(pod("theirs"))
        yield found
    for name in (FIRST, SECOND):
        for pod_name in ("theirs", "mine", "big-1", "big-2", "big-3", "huge", "intruder"):
            try:
                admin(name).delete(Kind.POD, pod_name, grace_seconds=0, wait=True)
            except NotFound:
                pass


def test_each_learner_has_a_namespace_of_their_own_made_safe(learners: dict[str, Learner]
                                                             ) -> None:
    for name in (FIRST, SECOND):
        cluster = admin(name)
        kinds = {}
        for plural, kind in (("serviceaccounts", "ServiceAccount"), ("resourcequotas",
                             "ResourceQuota"), ("limitranges", "LimitRange")):
            api = ApiResource("v1", kind, plural, True)
            kinds[kind] = [o for o in cluster.objects(api, namespace=namespace(name))
                           if (o["metadata"].get("labels") or {}).get(LEARNER) == name]
        for group_kind, plural in (("Role", "roles"), ("RoleBinding", "rolebindings")):
            api = ApiResource("rbac.authorization.k8s.io/v1", group_kind, plural, True)
            kinds[group_kind] = cluster.objects(api, space.labels_for(name), namespace(name))
        # The teacher's access to the space is the teacher's, not part of the learner's.
        kinds["the teacher's RoleBinding"] = cluster.objects(
            api, teachers.labels_for(hub_accounts.TEACHER), namespace(name))
        assert {k: len(v) for k, v in kinds.items()} == {
            "ServiceAccount": 1, "ResourceQuota": 1, "LimitRange": 1, "Role": 1,
            "RoleBinding": 1, "the teacher's RoleBinding": 1}
        namespaces = cluster.objects(ApiResource("v1", "Namespace", "namespaces", False),
                                     {MANAGED_BY: MANAGER, LEARNER: name})
        assert [n["metadata"]["name"] for n in namespaces] == [namespace(name)]


def test_a_learners_kernel_works_in_their_own_namespace_by_default(
        learners: dict[str, Learner]) -> None:
    first = learners[FIRST]
    said = first.ok("import os; print(os.environ['VW_NAMESPACE'])")
    assert said.stdout.strip() == namespace(FIRST)
    first.ok(pod("mine"))
    listed = first.ok("%k8s get pods")
    assert "mine" in listed.shown and "theirs" not in listed.shown
    placed = admin(FIRST).get(Kind.POD, "mine")
    assert placed.labels[MANAGED_BY] == MANAGER
    with pytest.raises(NotFound):
        admin(SECOND).get(Kind.POD, "mine")


@pytest.mark.parametrize("cell", [
    "%k8s get pods -n {other}",
    "%k8s get pod theirs -n {other}",
    "%k8s logs theirs -n {other}",
    "%k8s exec -n {other} theirs -- cat /etc/hostname",
    "%k8s delete pod/theirs -n {other}",
    "%k8s scale deployment/theirs --replicas 0 -n {other}",
    pod("intruder").replace("%%k8s apply", "%%k8s apply -n {other}"),
], ids=["list", "read", "logs", "exec", "delete", "scale", "create"])
def test_another_learners_namespace_is_out_of_reach_in_one_line(
        learners: dict[str, Learner], cell: str) -> None:
    other = namespace(SECOND)
    attempt = learners[FIRST].run(cell.replace("{other}", other))
    assert len(attempt.error) == 1, attempt.shown
    assert other in attempt.error[0] and "forbidden" in attempt.error[0]
    theirs = admin(SECOND).get(Kind.POD, "theirs")
    assert theirs.state is not State.UNKNOWN  # still there, untouched
    with pytest.raises(NotFound):
        admin(SECOND).get(Kind.POD, "intruder")


@pytest.mark.parametrize(("kind", "api_version"), [
    ("Namespace", "v1"), ("ClusterRole", "rbac.authorization.k8s.io/v1"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
])
def test_a_learner_cannot_make_cluster_scoped_objects(learners: dict[str, Learner],
                                                      kind: str, api_version: str) -> None:
    body = {"ClusterRoleBinding": "roleRef: {apiGroup: rbac.authorization.k8s.io, "
                                  "kind: ClusterRole, name: cluster-admin}\n"
                                  f"subjects: [{{kind: ServiceAccount, name: learner, "
                                  f"namespace: {namespace(FIRST)}}}]\n"}.get(kind, "")
    attempt = learners[FIRST].run(f"%%k8s apply\napiVersion: {api_version}\nkind: {kind}\n"
                                  f"metadata: {{name: vw-escape}}\n{body}")
    assert len(attempt.error) == 1, attempt.shown
    # RBAC names a namespace's own name as the namespace of a request about it.
    where = 'the namespace "vw-escape"' if kind == "Namespace" else "at the cluster scope"
    assert "forbidden" in attempt.error[0] and where in attempt.error[0]
    api = ApiResource(api_version, kind, f"{kind.lower()}s", False)
    names = [o["metadata"]["name"] for o in admin(FIRST).objects(api)]
    assert "vw-escape" not in names


@pytest.mark.parametrize(("kind", "spec", "why"), [
    ("Pod", "spec:\n  hostNetwork: true\n  containers: [{name: main, image: %s}]",
     "host network"),
    ("Pod", "spec:\n  containers:\n  - {name: main, image: %s, "
            "securityContext: {privileged: true}}", "a privileged container (main)"),
    ("Deployment", "spec:\n  selector: {matchLabels: {app: node}}\n  template:\n"
                   "    metadata: {labels: {app: node}}\n    spec:\n"
                   "      volumes: [{name: root, hostPath: {path: /}}]\n"
                   "      containers: [{name: main, image: %s}]", "a hostPath volume (root)"),
], ids=["host-network", "privileged", "host-path-deployment"])
def test_a_learner_cannot_take_the_node_through_a_pod(learners: dict[str, Learner], kind: str,
                                                      spec: str, why: str) -> None:
    version = "apps/v1" if kind == "Deployment" else "v1"
    attempt = learners[FIRST].run(f"%%k8s apply\napiVersion: {version}\nkind: {kind}\n"
                                  f"metadata: {{name: node}}\n{spec % BUSYBOX}\n")
    assert len(attempt.error) == 1, attempt.shown
    assert f"may not use {why} in namespace {namespace(FIRST)}" in attempt.error[0]
    with pytest.raises(NotFound):
        admin(FIRST).get(Kind.DEPLOYMENT if kind == "Deployment" else Kind.POD, "node")


def test_going_over_quota_is_one_line_naming_the_limit(learners: dict[str, Learner]) -> None:
    first = learners[FIRST]
    too_big = first.run(pod("huge", memory="1Gi"))  # more than one container may have
    assert len(too_big.error) == 1, too_big.shown
    assert "maximum memory usage per Container is 512Mi" in too_big.error[0]
    first.ok(pod("big-1", memory="512Mi"))
    first.ok(pod("big-2", memory="400Mi"))
    over = first.run(pod("big-3", memory="512Mi"))  # the namespace's requests.memory: 1Gi
    assert len(over.error) == 1, over.shown
    assert "exceeded quota: learner-quota" in over.error[0]
    assert "limited: requests.memory=1Gi" in over.error[0]
    with pytest.raises(NotFound):
        admin(FIRST).get(Kind.POD, "big-3")


def test_a_learner_cannot_read_another_learners_kubeconfig(learners: dict[str, Learner]
                                                          ) -> None:
    folder = paths.state_dir("classroom")
    theirs = folder / f"{space.learner_name(SECOND)}.kubeconfig"
    assert theirs.exists()
    attempt = learners[FIRST].run(f"!cat {theirs}; ls {folder}")
    assert attempt.stdout.count("Permission denied") == 2, attempt.shown
    assert "token" not in attempt.stdout


def test_no_token_appears_in_any_output_or_log(learners: dict[str, Learner]) -> None:
    learners[FIRST].ok("from jupyter_virtwork.magics.base import session\n"
                       "print(session().driver('kubernetes'))")
    tokens = []
    for name in (FIRST, SECOND):
        for secret in admin(name).objects(ApiResource("v1", "Secret", "secrets", True),
                                          namespace=namespace(name)):
            if secret.get("type") == "kubernetes.io/service-account-token":
                tokens.append(base64.b64decode(secret["data"]["token"]).decode())
    assert len(tokens) >= 2
    logs = [process.log_file(name) for name in ("hub", "kube-apiserver")]
    texts = [result.shown for result in SHOWN] + [log.read_text(errors="replace")
                                                  for log in logs if log.exists()]
    for token in tokens:
        assert not any(token in text for text in texts)
        assert not any(token[-40:] in text for text in texts)  # nor a part of one
