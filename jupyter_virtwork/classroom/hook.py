"""The hub's ``pre_spawn_hook``: each learner's namespace, made safe, before their server
starts, and the learner's server handed credentials for that namespace only.

In ``jupyterhub_config.py``::

    from jupyter_virtwork.classroom import pre_spawn_hook
    c.Spawner.pre_spawn_hook = pre_spawn_hook
    c.LearnerSpaces.quota = {"pods": "10", "requests.cpu": "1", ...}  # sizes, all optional

The hook acts with the hub's own Kubernetes credentials (``kube_context`` of
``kubeconfig``; ``in-cluster`` for a hub that runs in a pod), which may create namespaces
and RBAC objects. It applies the learner's space (``space.manifests``) with server-side
apply, so a later spawn brings an existing space to the configured sizes, and removes
what the space no longer holds (``_prune``: never wider than configured); it refuses a
namespace of that name that is not this learner's. It then reads the ServiceAccount's
token (Kubernetes 1.20 makes its Secret by itself), hands the learner's server a
kubeconfig for it (``handoff``: a file on this machine for the local spawner, a mounted
Secret for KubeSpawner) and sets the server's ``KUBECONFIG`` and ``VW_NAMESPACE``.
Before the first learner's space, it registers the pod guard (``guard``), which keeps
learners' pods off the node's privileges. The cluster calls run in a thread: the hub's
event loop keeps serving other learners.

A teacher (``LearnerSpaces.teachers``) gets no namespace of their own to work in but
credentials that see the class (``teachers``): a ServiceAccount in the teachers'
namespace, which may list namespaces, and in every learner namespace a RoleBinding of the
learner's Role to it. A learner's space applied later gets those RoleBindings too.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pwd
import threading
import time
from pathlib import Path
from typing import Any, cast

from traitlets import Dict, Enum, Float, Set, Unicode
from traitlets.config import Config, LoggingConfigurable

from .. import uri
from ..drivers.kubernetes.driver import KubernetesDriver
from ..drivers.kubernetes.owned import ApiResource
from ..errors import InvalidInput, OperationTimeout
from ..labels import LEARNER, MANAGED_BY, MANAGER
from . import guard, handoff, kubeconfig, space, teachers
from .handoff import KubeSpawner, Spawner

NAMESPACES = ApiResource("v1", "Namespace", "namespaces", False)
# The kinds of a learner's space inside their namespace (``space.manifests``).
SPACE_KINDS = (
    ApiResource("v1", "ServiceAccount", "serviceaccounts", True),
    ApiResource("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    ApiResource("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    ApiResource("v1", "ResourceQuota", "resourcequotas", True),
    ApiResource("v1", "LimitRange", "limitranges", True),
)
SECRETS = ApiResource("v1", "Secret", "secrets", True)
TOKEN_TYPE = "kubernetes.io/service-account-token"
ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"


class LearnerSpaces(LoggingConfigurable):
    namespace_template = Unicode(
        "virtwork-{username}",
        help="Each learner's namespace; {username} is the hub's username as a DNS label.",
    ).tag(config=True)
    kube_context = Unicode(
        "",
        help="The hub's kubeconfig context, which may create namespaces and RBAC objects "
             "('' its current context; 'in-cluster' for a hub running in a pod).",
    ).tag(config=True)
    kubeconfig = Unicode(
        "", help="The hub's kubeconfig file ('' $KUBECONFIG, else ~/.kube/config).",
    ).tag(config=True)
    api_server = Unicode(
        "", help="The API server URL learners use ('' the server of the hub's context).",
    ).tag(config=True)
    kubeconfig_dir = Unicode(
        "/var/lib/jupyter-virtwork/classroom",
        help="Where the learners' kubeconfigs go: a directory of the hub's user, 0711, "
             "one file per learner, 0600 and owned by that learner.",
    ).tag(config=True)
    quota = Dict(
        {"pods": "10", "services": "5", "persistentvolumeclaims": "2",
         "requests.cpu": "1", "requests.memory": "1Gi",
         "limits.cpu": "2", "limits.memory": "2Gi"},
        help="The ResourceQuota of each learner's namespace (its spec.hard).",
    ).tag(config=True)
    default_requests = Dict(
        {"cpu": "10m", "memory": "16Mi"},
        help="What a container that names no requests asks for (LimitRange).",
    ).tag(config=True)
    default_limits = Dict(
        {"cpu": "250m", "memory": "128Mi"},
        help="The limits of a container that names none (LimitRange).",
    ).tag(config=True)
    max_limits = Dict(
        {"cpu": "1", "memory": "512Mi"},
        help="The most one container may ask for (LimitRange max).",
    ).tag(config=True)
    pod_guard_url = Unicode(
        "",
        help="The HTTPS URL where the API server reaches the pod guard (classroom.guard); "
             "'' registers none, and learners may then run privileged pods.",
    ).tag(config=True)
    pod_guard_ca_file = Unicode(
        "", help="The PEM file of the CA that signed the pod guard's certificate.",
    ).tag(config=True)
    handoff = Enum(
        ["file", "secret"], "file",
        help="How a learner's server gets its kubeconfig: 'file' on the hub's machine (the "
             "local spawner; 0600, the learner's own Unix user), or 'secret' (KubeSpawner): "
             "a Secret in the learner's namespace, mounted into the server's pod, which "
             "then runs in that namespace.",
    ).tag(config=True)
    kubeconfig_mount = Unicode(
        "/etc/virtwork/kube",
        help="Where the server's pod mounts the kubeconfig Secret (handoff 'secret').",
    ).tag(config=True)
    token_timeout = Float(
        30.0, help="Seconds to wait for the cluster to make the ServiceAccount's token.",
    ).tag(config=True)
    teachers = Set(
        Unicode(),
        help="The hub usernames of the class's teachers: each gets credentials that see "
             "every learner namespace and may clean one up (classroom.teachers), instead "
             "of a namespace of their own.",
    ).tag(config=True)
    teachers_namespace = Unicode(
        "virtwork-teachers",
        help="The namespace of the teachers' ServiceAccounts (and, with handoff 'secret', "
             "of their servers' pods).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._driver_lock = threading.Lock()
        self._driver: KubernetesDriver | None = None
        self._guarded = False

    @property
    def sizes(self) -> space.Sizes:
        return space.Sizes(quota=self.quota, default_requests=self.default_requests,
                           default_limits=self.default_limits, max_limits=self.max_limits)

    def driver(self) -> KubernetesDriver:
        with self._driver_lock:
            if self._driver is None:
                target = uri.parse(uri.k8s_uri(self.kube_context or None))
                self._driver = KubernetesDriver(target, kubeconfig=self.kubeconfig or None)
            return self._driver

    async def ready(self, spawner: Spawner) -> None:
        """The learner's space (a teacher's credentials), then their server's credentials
        and environment."""
        username = spawner.user.name
        prepare = self.prepare_teacher if username in self.teachers else self.prepare
        namespace, config = await asyncio.to_thread(prepare, username)
        if self.handoff == "secret":
            where = await asyncio.to_thread(self._to_secret, username, namespace, config)
            handoff.mount(cast(KubeSpawner, spawner), namespace, str(where),
                          self._secret_name(username))
        else:
            where = await asyncio.to_thread(self._to_file, username, config)
        spawner.environment = {**spawner.environment, "KUBECONFIG": str(where),
                               "VW_NAMESPACE": namespace}

    def prepare(self, username: str) -> tuple[str, dict[str, Any]]:
        """(namespace, kubeconfig) of the learner's space, made or brought up to date."""
        namespace = space.namespace_for(username, self.namespace_template)
        self._refuse_foreign(namespace, username)
        self._guard_pods()
        wanted = space.manifests(username, namespace, self.sizes)
        self.driver().apply(wanted, labels=space.labels_for(username))
        self._prune(username, namespace, wanted)
        self._let_teachers_in(namespace, self.teachers)
        return namespace, self._kubeconfig(namespace, space.ACCOUNT)

    def prepare_teacher(self, username: str) -> tuple[str, dict[str, Any]]:
        """(namespace, kubeconfig) of a teacher's credentials, made or brought up to date,
        with access to every learner namespace there is (later ones get it as they are
        made)."""
        namespace = self.teachers_namespace
        self.driver().apply(teachers.manifests(username, namespace),
                            labels={MANAGED_BY: MANAGER})
        found = self.driver().namespaces({MANAGED_BY: MANAGER})
        for learner_namespace in space.learners_in(found).values():
            self._let_teachers_in(learner_namespace, {username})
        return namespace, self._kubeconfig(namespace, teachers.account_for(username))

    def _let_teachers_in(self, namespace: str, usernames: set[str]) -> None:
        """The RoleBindings of ``usernames`` (teachers) in a learner's ``namespace``: the
        teachers' labels, not the learner's (``_prune`` keeps to the learner's)."""
        bindings = [teachers.learner_binding(name, self.teachers_namespace, namespace)
                    for name in sorted(usernames)]
        if bindings:
            self.driver().apply(bindings, labels={MANAGED_BY: MANAGER})

    def _kubeconfig(self, namespace: str, account: str) -> dict[str, Any]:
        token, ca_data = self._token(namespace, account)
        return kubeconfig.build(server=self._server(), ca_data=ca_data, token=token,
                                namespace=namespace)

    def _to_file(self, username: str, config: dict[str, Any]) -> Path:
        account = self._unix_account(username)
        return kubeconfig.write_private(Path(self.kubeconfig_dir),
                                        f"{space.learner_name(username)}.kubeconfig", config,
                                        uid=account.pw_uid, gid=account.pw_gid)

    def _to_secret(self, username: str, namespace: str, config: dict[str, Any]) -> Path:
        labels = teachers.labels_for(username) if username in self.teachers \
            else space.labels_for(username)
        self.driver().apply([handoff.secret(namespace, config, self._secret_name(username))],
                            labels=labels)
        return Path(self.kubeconfig_mount) / handoff.KEY

    def _secret_name(self, username: str) -> str:
        """The kubeconfig Secret's name: teachers share their namespace, learners do not."""
        if username in self.teachers:
            return f"{handoff.SECRET}-{teachers.account_for(username)}"
        return handoff.SECRET

    def _unix_account(self, username: str) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(username)
        except KeyError:
            raise InvalidInput(f"learner {username!r} has no Unix account on the hub's "
                               "machine", hint="the local spawner runs each learner as "
                               "their own user: create it (LocalAuthenticator."
                               "create_system_users)") from None

    def _prune(self, username: str, namespace: str, wanted: list[dict[str, Any]]) -> None:
        """Delete what an earlier version of the space put in the namespace and this one
        does not (a RoleBinding a previous hook granted, say): a spawn leaves the space
        exactly as configured, never wider."""
        names = {(m["kind"], m["metadata"]["name"]) for m in wanted}
        for api in SPACE_KINDS:
            for found in self.driver().objects(api, space.labels_for(username), namespace):
                if (api.kind, found["metadata"]["name"]) not in names:
                    self.log.info("removing %s %s/%s, no longer part of a learner's space",
                                  api.kind, namespace, found["metadata"]["name"])
                    self.driver().delete_object(api, found)

    def _refuse_foreign(self, namespace: str, username: str) -> None:
        """Raise if ``namespace`` exists and is not this learner's (someone else's own)."""
        for found in self.driver().objects(NAMESPACES):
            metadata = found.get("metadata") or {}
            if metadata.get("name") != namespace:
                continue
            labels = metadata.get("labels") or {}
            if any(labels.get(k) != v for k, v in space.labels_for(username).items()):
                raise InvalidInput(f"namespace {namespace} exists and is not learner "
                                   f"{username}'s (its {LEARNER} label says otherwise)",
                                   connection=self.driver().uri,
                                   hint="change LearnerSpaces.namespace_template or remove "
                                        "that namespace")

    def _guard_pods(self) -> None:
        """Register the pod guard for every learner namespace, once per hub, before the
        first namespace exists; without one, say in the hub's log what that leaves open."""
        if self._guarded:
            return  # two first spawns at once both apply it: the same object, no harm
        if not self.pod_guard_url:
            self.log.warning("LearnerSpaces.pod_guard_url is not set: learners may run "
                             "privileged pods, which reach the node and every namespace")
        else:
            bundle = base64.b64encode(Path(self.pod_guard_ca_file).read_bytes()).decode()
            self.driver().apply([guard.webhook_configuration(self.pod_guard_url, bundle)],
                                labels={MANAGED_BY: MANAGER})
        self._guarded = True

    def _token(self, namespace: str, account: str) -> tuple[str, str]:
        """(token, CA as base64) of ServiceAccount ``account``'s token Secret, once the
        cluster has made it."""
        deadline = time.monotonic() + self.token_timeout
        while True:
            for secret in self.driver().objects(SECRETS, namespace=namespace):
                annotations = (secret.get("metadata") or {}).get("annotations") or {}
                data = secret.get("data") or {}
                if secret.get("type") == TOKEN_TYPE and data.get("token") \
                        and annotations.get(ACCOUNT_ANNOTATION) == account:
                    return base64.b64decode(data["token"]).decode(), str(data["ca.crt"])
            if time.monotonic() > deadline:
                raise OperationTimeout(
                    f"the token of ServiceAccount {account} in namespace {namespace} "
                    f"did not appear in {self.token_timeout:.0f} s",
                    connection=self.driver().uri,
                    hint="check that kube-controller-manager runs with "
                         "--service-account-private-key-file")
            time.sleep(0.25)

    def _server(self) -> str:
        if self.api_server:
            return str(self.api_server)
        if self.kube_context == "in-cluster":
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
            return f"https://{host}:{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}"
        return kubeconfig.server_of(self.kubeconfig, self.kube_context)


_spaces: LearnerSpaces | None = None
_spaces_lock = threading.Lock()


def spaces_for(config: Config) -> LearnerSpaces:
    """One LearnerSpaces per hub (its connection to the cluster is reused)."""
    global _spaces
    with _spaces_lock:
        if _spaces is None:
            _spaces = LearnerSpaces(config=config)
        return _spaces


async def pre_spawn_hook(spawner: Spawner) -> None:
    """``c.Spawner.pre_spawn_hook``: the learner's space, then the server's credentials."""
    await spaces_for(spawner.config).ready(spawner)
