"""The hook's KubeSpawner handoff (``LearnerSpaces.handoff = "secret"``) on the real cluster.

KubeSpawner is not installed here (the sandbox has no single-user image for it); the
spawner is a stand-in holding the KubeSpawner traits the hook sets (namespace, volumes,
volume_mounts, environment), not a mock of an SDK. The pod KubeSpawner would make from them
is then made for real, the way Zero to JupyterHub's single-user pods run (uid 1000,
fsGroup 100), and reads the mounted kubeconfig; the kubeconfig itself drives the toolkit.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_virtwork import uri
from jupyter_virtwork.classroom import LearnerSpaces, handoff, space
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.errors import AuthenticationFailed
from jupyter_virtwork.models import Kind, State
from jupyter_virtwork.sandbox import hub_config, kube_pki
from tests.integration.conftest import ensure_up

pytestmark = pytest.mark.engines("kubernetes", "images")

LEARNER = "vw-kube-test"
TEMPLATE = "virtwork-pod-{username}"
NAMESPACE = space.namespace_for(LEARNER, TEMPLATE)
MOUNT = "/etc/virtwork/kube"


@dataclass
class User:
    name: str


@dataclass
class StandInKubeSpawner:
    user: User
    config: Config
    environment: dict[str, Any] = field(default_factory=dict)
    namespace: str = "jhub"
    volumes: list[dict[str, Any]] = field(default_factory=list)
    volume_mounts: list[dict[str, Any]] = field(default_factory=list)


def admin(namespace: str = NAMESPACE) -> KubernetesDriver:
    return KubernetesDriver(uri.parse(uri.k8s_uri(kube_pki.CONTEXT, namespace)),
                            kubeconfig=str(kube_pki.kubeconfig_path()))


@pytest.fixture(scope="module")
def spawner() -> Iterator[StandInKubeSpawner]:
    ensure_up("kubernetes", "images")
    config = Config()
    config.LearnerSpaces.handoff = "secret"
    config.LearnerSpaces.kubeconfig_mount = MOUNT
    config.LearnerSpaces.namespace_template = TEMPLATE
    config.LearnerSpaces.kube_context = kube_pki.CONTEXT
    config.LearnerSpaces.kubeconfig = str(kube_pki.kubeconfig_path())
    config.LearnerSpaces.pod_guard_url = f"https://127.0.0.1:{hub_config.GUARD_PORT}/validate"
    config.LearnerSpaces.pod_guard_ca_file = str(kube_pki.pki_file("ca.crt"))
    found = StandInKubeSpawner(User(LEARNER), config, {"JUPYTERHUB_USER": LEARNER},
                               volumes=[{"name": "home", "emptyDir": {}}])
    spaces = LearnerSpaces(config=config)
    for _ in range(2):  # a second spawn changes nothing
        asyncio.run(spaces.ready(found))
    yield found
    admin().remove_owned(space.labels_for(LEARNER), deadline=time.monotonic() + 120)


def test_the_learners_pod_is_placed_in_their_namespace_with_the_secret_mounted(
        spawner: StandInKubeSpawner) -> None:
    assert spawner.namespace == NAMESPACE
    assert spawner.volumes == [
        {"name": "home", "emptyDir": {}},
        {"name": handoff.VOLUME, "secret": {"secretName": handoff.SECRET,
                                            "defaultMode": handoff.MODE}}]
    assert spawner.volume_mounts == [{"name": handoff.VOLUME, "mountPath": MOUNT,
                                      "readOnly": True}]
    assert spawner.environment == {"JUPYTERHUB_USER": LEARNER, "VW_NAMESPACE": NAMESPACE,
                                   "KUBECONFIG": f"{MOUNT}/{handoff.KEY}"}


def test_a_pod_made_as_kubespawner_makes_it_reads_its_kubeconfig(
        spawner: StandInKubeSpawner) -> None:
    cluster = admin()
    env = [{"name": k, "value": v} for k, v in spawner.environment.items()]
    cluster.apply([{
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-learner"},
        "spec": {"restartPolicy": "Never", "volumes": spawner.volumes,
                 "securityContext": {"runAsUser": 1000, "fsGroup": 100},
                 "containers": [{"name": "notebook", "image": "localbase/busybox:1.35",
                                 "imagePullPolicy": "Never", "env": env,
                                 "volumeMounts": spawner.volume_mounts,
                                 "command": ["sh", "-c", "grep 'namespace:' $KUBECONFIG"]}]},
    }])
    deadline = time.monotonic() + 120
    while cluster.get(Kind.POD, "jupyter-learner").state not in (State.SUCCEEDED,
                                                                  State.FAILED):
        assert time.monotonic() < deadline, "the pod did not finish in 120 s"
        time.sleep(0.5)
    assert cluster.get(Kind.POD, "jupyter-learner").state is State.SUCCEEDED
    assert [line.strip() for line in cluster.logs("jupyter-learner")] == \
        [f"namespace: {NAMESPACE}"]


def test_the_mounted_kubeconfig_drives_the_toolkit_in_that_namespace_only(
        spawner: StandInKubeSpawner, tmp_path: Path) -> None:
    secret = next(s for s in admin().objects(ApiResource("v1", "Secret", "secrets", True),
                                             namespace=NAMESPACE)
                  if s["metadata"]["name"] == handoff.SECRET)
    file = tmp_path / "config"
    file.write_bytes(base64.b64decode(secret["data"][handoff.KEY]))
    learner = KubernetesDriver(uri.parse(uri.k8s_uri()), kubeconfig=str(file))
    assert learner.namespace == NAMESPACE
    learner.list(Kind.POD)
    elsewhere = KubernetesDriver(uri.parse(uri.k8s_uri(None, "default")), kubeconfig=str(file))
    with pytest.raises(AuthenticationFailed, match='in the namespace "default"'):
        elsewhere.list(Kind.POD)


def test_a_later_spawn_removes_what_the_space_no_longer_holds(
        spawner: StandInKubeSpawner) -> None:
    """A binding an earlier hook granted (here: the learner Role to the namespace's default
    account) is gone after the next spawn; the space's own binding stays."""
    bindings = ApiResource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True)
    admin().apply([{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "granted-earlier", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": space.ACCOUNT},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": NAMESPACE}],
    }], labels=space.labels_for(LEARNER))

    def names() -> list[str]:
        return sorted(b["metadata"]["name"] for b in admin().objects(
            bindings, space.labels_for(LEARNER), NAMESPACE))

    assert names() == ["granted-earlier", space.ACCOUNT]
    LearnerSpaces(config=spawner.config).prepare(LEARNER)
    assert names() == [space.ACCOUNT]
