"""A class of this test's own on the real cluster: learners' spaces and a teacher's
credentials as the hook makes them (``LearnerSpaces.prepare`` and ``prepare_teacher``), each
person's kubeconfig in a file, and ``remove`` for all of it.

The hook runs here as the sandbox's hub configures it (its kubeconfig and context, its pod
guard), with the test's own teacher, namespace template and teachers' namespace, so that the
hub's class and other tests' classes are left as they are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from traitlets.config import Config

from jupyter_virtwork import uri
from jupyter_virtwork.classroom import LearnerSpaces, space, teachers
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.labels import MANAGED_BY, MANAGER
from jupyter_virtwork.sandbox import hub_config, kube_pki
from tests.integration.conftest import ensure_up

BUSYBOX = "localbase/busybox:1.35"
RBAC = "rbac.authorization.k8s.io/v1"
REMOVE_WITHIN = 120.0


def admin(namespace: str = "default") -> KubernetesDriver:
    return KubernetesDriver(uri.parse(uri.k8s_uri(kube_pki.CONTEXT, namespace)),
                            kubeconfig=str(kube_pki.kubeconfig_path()))


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sleep", "3600"]}]}}


def as_user(config: dict[str, Any], folder: Path, name: str) -> Path:
    path = folder / f"{name}.kubeconfig"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))
    return path


class Class:
    def __init__(self, folder: Path, *, teacher: str, template: str,
                 teachers_namespace: str) -> None:
        config = Config()
        config.LearnerSpaces.kubeconfig = str(kube_pki.kubeconfig_path())
        config.LearnerSpaces.kube_context = kube_pki.CONTEXT
        config.LearnerSpaces.namespace_template = template
        config.LearnerSpaces.pod_guard_url = f"https://127.0.0.1:{hub_config.GUARD_PORT}/validate"
        config.LearnerSpaces.pod_guard_ca_file = str(kube_pki.pki_file("ca.crt"))
        config.LearnerSpaces.teachers = {teacher}
        config.LearnerSpaces.teachers_namespace = teachers_namespace
        self.spaces = LearnerSpaces(config=config)
        self.folder = folder
        self.teacher_name = teacher
        self.template = template
        self.teachers_namespace = teachers_namespace
        self.learners: list[str] = []
        self.kubeconfigs: dict[str, Path] = {}

    def namespace_of(self, learner: str) -> str:
        return space.namespace_for(learner, self.template)

    def learner(self, name: str) -> KubernetesDriver:
        """The learner's space, and a connection with their kubeconfig."""
        self.learners.append(name)
        namespace, config = self.spaces.prepare(name)
        assert namespace == self.namespace_of(name)
        self.kubeconfigs[name] = as_user(config, self.folder, name)
        return KubernetesDriver(uri.parse(uri.k8s_uri()), kubeconfig=str(self.kubeconfigs[name]))

    def teacher(self) -> Path:
        namespace, config = self.spaces.prepare_teacher(self.teacher_name)
        assert namespace == self.teachers_namespace
        self.kubeconfigs[self.teacher_name] = as_user(config, self.folder, self.teacher_name)
        return self.kubeconfigs[self.teacher_name]

    def remove(self) -> None:
        """The learners' namespaces, the teacher's objects, the teachers' namespace, and
        the teachers' ClusterRole if no teacher of another class binds it."""
        from kubernetes import client, config

        deadline = time.monotonic() + REMOVE_WITHIN
        for name in dict.fromkeys(self.learners):
            admin().remove_owned(space.labels_for(name), deadline=deadline)
        admin().remove_owned(teachers.labels_for(self.teacher_name), deadline=deadline)
        new_client: Any = config.new_client_from_config  # the client's own types are partial
        api = new_client(config_file=str(kube_pki.kubeconfig_path()), context=kube_pki.CONTEXT)
        bindings = admin().objects(ApiResource(RBAC, "ClusterRoleBinding",
                                               "clusterrolebindings", False),
                                   {MANAGED_BY: MANAGER})
        unused = not any(b["roleRef"]["name"] == teachers.CLUSTER_ROLE for b in bindings)
        for delete, name in ((client.CoreV1Api(api).delete_namespace, self.teachers_namespace),
                             *([(client.RbacAuthorizationV1Api(api).delete_cluster_role,
                                 teachers.CLUSTER_ROLE)] if unused else [])):
            try:
                delete(name)
            except client.ApiException as exc:
                assert exc.status == 404  # a setup that failed early made none


@contextlib.contextmanager
def made_class(folder: Path, *, teacher: str, template: str,
               teachers_namespace: str) -> Iterator[Class]:
    """A class on the sandbox's cluster (its hub's pod guard too), removed on leaving."""
    ensure_up("kubernetes", "images", "hub")
    made = Class(folder, teacher=teacher, template=template,
                 teachers_namespace=teachers_namespace)
    try:
        yield made
    finally:
        made.remove()
