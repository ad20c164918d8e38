"""The Kubernetes driver (``k8s://<context>/<namespace>``) over the official client.

One ApiClient per connection, built from its own kubeconfig context (never the client's
global default), with urllib3 retries off so that a cluster that is down fails in bounded
time. Lists and watches ask for raw JSON (``_preload_content=False``): turning thousands of
objects into the client's pydantic models costs more than the request. Apply is server-side
apply through the dynamic client, after a server-side dry run of every document, so a bad
document leaves nothing half-applied.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import functools
import json
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import yaml

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    OperationTimeout,
    TLSVerificationFailed,
    VirtworkError,
    first_line,
)
from ...models import (
    Event,
    EventType,
    ExecResult,
    Kind,
    Progress,
    Resource,
    ResourceList,
    State,
    WorkloadSpec,
)
from ...uri import Target
from ...watch import Emit, EventStream, Stopper, Watcher
from ..base import (
    BaseDriver,
    Cluster,
    ErrorTable,
    ProgressCallback,
    Removal,
    SdkFailure,
    Verb,
    heredoc,
    missing_sdk,
)
from . import manifest_text, owned
from .owned import ApiResource

FIELD_MANAGER = "jupyter-virtwork"
DEFAULT_TIMEOUT = 15.0
WATCH_SECONDS = 240  # the server ends a watch after this; we resume from the last version
CLEANUP_GRACE = 1  # s a pod's containers get to stop in a cleanup (everything goes anyway)
POLL = 0.25  # s between two looks at what a deletion is waiting for
RETRY_FOR = 30.0  # s a request is tried again while the server says "retry after"
NUDGE_EVERY = 10.0  # s between two reminders to the namespace controller (see _Cleanup.nudge)
NUDGED = "virtwork.io/cleanup-waiting"  # the annotation a reminder sets on a namespace
LISTERS = 8  # resource types listed at once when looking for everything a notebook owns
LIST_PAGE = 500  # objects per list request (kubectl's chunk size), pages joined by `continue`


@dataclass(frozen=True)
class KindApi:
    api_version: str
    kind: str
    api_class: str  # CoreV1Api / AppsV1Api
    snake: str  # list_namespaced_<snake>, read_namespaced_<snake>, ...
    scalable: bool = False

    def path(self, namespace: str) -> str:
        """The collection's URL path (every kind here is namespaced, plural ``kind + s``)."""
        group = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{group}/namespaces/{namespace}/{self.kind.lower()}s"


KINDS: dict[Kind, KindApi] = {
    Kind.DEPLOYMENT: KindApi("apps/v1", "Deployment", "AppsV1Api", "deployment", True),
    Kind.STATEFULSET: KindApi("apps/v1", "StatefulSet", "AppsV1Api", "stateful_set", True),
    Kind.REPLICASET: KindApi("apps/v1", "ReplicaSet", "AppsV1Api", "replica_set", True),
    Kind.SERVICE: KindApi("v1", "Service", "CoreV1Api", "service"),
    Kind.POD: KindApi("v1", "Pod", "CoreV1Api", "pod"),
    Kind.EVENT: KindApi("v1", "Event", "CoreV1Api", "event"),
}
KIND_BY_NAME = {api.kind: kind for kind, api in KINDS.items()}
NAMESPACES = ApiResource("v1", "Namespace", "namespaces", False)

POD_PHASES: dict[str, State] = {
    "Pending": State.PENDING, "Running": State.RUNNING, "Succeeded": State.SUCCEEDED,
    "Failed": State.FAILED, "Unknown": State.UNKNOWN,
}


class KubernetesDriver(BaseDriver, Cluster):
    name: ClassVar[str] = "kubernetes"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(
        {Verb.LIST, Verb.GET, Verb.CREATE, Verb.DESTROY, Verb.WATCH})
    # What the toolkit creates, owners before what they own (cleanup's order); events can
    # be listed and watched but are the cluster's own.
    kinds: ClassVar[tuple[Kind, ...]] = tuple(k for k in KINDS if k is not Kind.EVENT)
    state_words: ClassVar[Mapping[str, State]] = {
        **POD_PHASES, "Available": State.AVAILABLE, "Progressing": State.PROGRESSING}

    def __init__(self, target: Target, *, kubeconfig: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, insecure: bool = False,
                 page_size: int = LIST_PAGE) -> None:
        super().__init__(target)
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.page_size = page_size
        self.insecure = insecure
        self._lock = threading.Lock()
        self._api_client: Any = None
        self._dynamic_client: Any = None
        self._namespace: str | None = target.namespace

    # --- connection -------------------------------------------------------------------

    def _client(self) -> Any:
        with self._lock:
            if self._api_client is None:
                self._api_client = self._new_client()
            return self._api_client

    def _new_client(self) -> Any:
        client, config = _import_kubernetes()
        configuration = client.Configuration()
        with self._boundary("reading the kubeconfig"):
            if self.target.context == "in-cluster":
                config.load_incluster_config(client_configuration=configuration)
                self._namespace = self._namespace or _in_cluster_namespace()
            else:
                config.load_kube_config(config_file=self.kubeconfig,
                                        context=self.target.context,
                                        client_configuration=configuration,
                                        persist_config=False)
                self._namespace = self._namespace or self._context_namespace(config)
        configuration.retries = False  # urllib3 would retry a refused connection 3 times
        if self.insecure:
            configuration.verify_ssl = False
        return client.ApiClient(configuration)

    def _context_namespace(self, config: Any) -> str:
        contexts, active = config.list_kube_config_contexts(config_file=self.kubeconfig)
        chosen = next((c for c in contexts if c["name"] == self.target.context), active)
        return str((chosen or {}).get("context", {}).get("namespace") or "default")

    @property
    def namespace(self) -> str:
        self._client()
        return self._namespace or "default"

    @property
    def scope(self) -> tuple[str, ...]:
        """One context's namespace through one kubeconfig, however the URI spelled it."""
        return (self.target.family, self.target.context or "", self.namespace,
                self.kubeconfig or "")

    def _typed(self, kind: Kind) -> tuple[Any, KindApi]:
        client, _ = _import_kubernetes()
        api = self._names(kind)
        return getattr(client, api.api_class)(self._client()), api

    def _names(self, kind: Kind) -> KindApi:
        api = KINDS.get(kind)
        if api is None:
            raise self._unsupported(f"{kind}s")
        return api

    def _get(self, path: str, query: list[tuple[str, Any]], timeout: Any,
             **path_params: str) -> Any:
        """GET ``path`` as JSON: the urllib3 response, like a typed call's
        ``_preload_content=False``, without the typed API classes. Lists and watches need
        none of their models, and building ``CoreV1Api`` (~250 pydantic models) took 0.5 to
        2 s of a fresh kernel's first ``%k8s get``."""
        from kubernetes.client.exceptions import ApiException

        api_client = self._client()
        request = api_client.param_serialize(
            "GET", path, path_params=path_params, query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def _dynamic(self) -> Any:
        client = self._client()  # first: a missing client is the one-line MissingDependency
        from kubernetes.dynamic import DynamicClient

        with self._lock:
            if self._dynamic_client is None:
                with self._boundary("discovering the cluster's API"):
                    self._dynamic_client = DynamicClient(client)  # type: ignore[no-untyped-call]
            return self._dynamic_client

    def close(self) -> None:
        super().close()
        with self._lock:
            client, self._api_client, self._dynamic_client = self._api_client, None, None
        if client is not None:
            client.close()

    def version(self) -> str:
        client, _ = _import_kubernetes()
        with self._boundary("reaching the cluster"):
            info = client.VersionApi(self._client()).get_code(_request_timeout=self.timeout)
        return str(info.git_version)

    # --- the error boundary -----------------------------------------------------------

    def _sdk_errors(self) -> ErrorTable:
        """The client's API and kubeconfig errors, urllib3's and the socket's."""
        _import_kubernetes()  # a missing client is the one-line MissingDependency
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.dynamic.exceptions import DynamicApiError

        return (
            ((ApiException, DynamicApiError), self._api_error),
            (ConfigException, lambda failed: InvalidInput(
                f"{failed.doing}: {first_line(failed.error)}", connection=self.uri,
                hint="check the context name (%k8s use-context) and KUBECONFIG")),
            (urllib3.exceptions.SSLError, lambda failed: TLSVerificationFailed(
                f"{failed.doing}: the API server's certificate is not trusted",
                connection=self.uri,
                hint="put its CA in the kubeconfig, or connect with insecure=True for this "
                     "one connection")),
            ((urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError),
             lambda failed: EngineUnavailable(
                 say.KUBERNETES_SILENT(doing=failed.doing), connection=self.uri,
                 hint=say.START_KUBERNETES())),
        )

    def _api_error(self, failed: SdkFailure) -> VirtworkError:
        """The API server's answer, by its HTTP status."""
        doing, name = failed.doing, failed.name
        status = int(getattr(failed.error, "status", 0) or 0)
        message = _status_message(failed.error)
        if status == 404:
            return NotFound(say.NOT_IN_NAMESPACE(doing=doing, name=name or "object",
                                                 namespace=self._namespace or "default"),
                            connection=self.uri)
        if status == 409:
            return AlreadyExists(say.EXISTS_DETAIL(doing=doing, detail=message),
                                 connection=self.uri)
        # Before 1.21, server-side apply answers a manifest its schema rejects with a 500
        # "failed to create typed patch object"; it is the user's input all the same.
        if status in (400, 422) or (status == 500 and "typed patch object" in message):
            return InvalidInput(f"{doing}: {message}", connection=self.uri,
                                hint="fix the manifest and apply again")
        if status in (401, 403):
            return _refused(doing, message, self.uri)
        return OperationFailed(f"{doing} failed: {message}", connection=self.uri)

    # --- records ----------------------------------------------------------------------

    def record(self, obj: Mapping[str, Any]) -> Resource:
        """A Resource from an object as the API returns it (JSON)."""
        metadata = obj.get("metadata") or {}
        kind = KIND_BY_NAME.get(str(obj.get("kind")), Kind.OBJECT)
        state, details = _state_and_details(kind, obj)
        if kind is Kind.OBJECT:
            details = {"kind": obj.get("kind"), **details}
        created = metadata.get("creationTimestamp")
        return Resource(
            uri=self.uri, kind=kind, id=str(metadata.get("name", "")),
            name=str(metadata.get("name", "")), state=state,
            labels=dict(metadata.get("labels") or {}),
            created=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            details=details, raw=dict(obj))

    def _raw_list(self, kind: Kind, labels: Mapping[str, str] | None) -> dict[str, Any]:
        """Every object of ``kind`` as JSON, in pages of ``page_size`` joined by the server's
        ``continue`` token (one consistent snapshot: the first page's resourceVersion)."""
        names = self._names(kind)
        query: list[tuple[str, Any]] = [("limit", self.page_size)]
        if labels:
            query.append(("labelSelector", _selector(labels)))
        with self._boundary(f"listing {kind}s"):
            path = names.path(self.namespace)
            listed: dict[str, Any] = json.loads(self._get(path, query, self.timeout).data)
            while token := (listed.get("metadata") or {}).get("continue"):
                page = json.loads(self._get(path, [*query, ("continue", token)],
                                            self.timeout).data)
                listed["items"] += page.get("items") or []
                listed["metadata"] = page.get("metadata") or {}
        listed.setdefault("items", [])
        for item in listed["items"]:  # list items omit these; records want them
            item.setdefault("kind", names.kind)
            item.setdefault("apiVersion", names.api_version)
        return listed

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        return ResourceList(self.record(i) for i in self._raw_list(kind, labels)["items"])

    def get(self, kind: Kind, id: str) -> Resource:
        return self.record(self.read(kind, id))

    def read(self, kind: Kind, name: str) -> dict[str, Any]:
        """The live object as JSON."""
        names = self._names(kind)
        with self._boundary(f"reading {names.kind} {name!r}", f"{names.kind} {name!r}"):
            response = self._get(names.path(self.namespace) + "/{name}", [], self.timeout,
                                 name=name)
            obj: dict[str, Any] = json.loads(response.data)
        return obj

    def create(self, spec: Any) -> Resource:
        """Apply a WorkloadSpec; the first object applied (the one the spec is about)."""
        if not isinstance(spec, WorkloadSpec):
            raise InvalidInput(f"the kubernetes driver cannot create {type(spec).__name__}",
                               hint="apply YAML with %%k8s apply")
        return self.apply(list(spec.manifests), namespace=spec.namespace)[0]

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        self.delete(kind, id, grace_seconds=0 if force else None)

    def delete(self, kind: Kind, name: str, *, propagation: str | None = None,
               grace_seconds: int | None = None, wait: bool = False,
               timeout: float = 90.0) -> None:
        """Delete ``name`` and its dependents. With ``wait``, return once it is gone, and
        (Foreground propagation) its pods with it."""
        propagation = propagation or ("Foreground" if wait else "Background")
        api, names = self._typed(kind)
        with self._boundary(f"deleting {names.kind} {name!r}", f"{names.kind} {name!r}"):
            getattr(api, f"delete_namespaced_{names.snake}")(
                name, self.namespace, propagation_policy=propagation,
                grace_period_seconds=grace_seconds, _preload_content=False,
                _request_timeout=self.timeout)
        if wait:
            self._wait_gone(kind, name, timeout)

    def _wait_gone(self, kind: Kind, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.read(kind, name)
            except NotFound:
                return
            time.sleep(0.25)
        raise OperationTimeout(say.STILL_THERE(kind=kind, name=name, seconds=timeout),
                               connection=self.uri)

    # --- apply ------------------------------------------------------------------------

    def apply(self, source: str | Sequence[Mapping[str, Any]], *,
              labels: Mapping[str, str] | None = None, namespace: str | None = None,
              dry_run: bool = False) -> ResourceList:
        """Server-side apply of a YAML text or manifests, all-or-nothing as far as the
        server's dry run can tell; the objects as applied (or as they would be)."""
        manifests = manifest_text.parse(source) if isinstance(source, str) else \
            [manifest_text.check_manifest(dict(m), i + 1) for i, m in enumerate(source)]
        # A Pod in a Namespace of the same cell, a custom resource of its CRD: the server
        # knows neither before the rest is applied, so they are applied last, undry-run.
        later = manifest_text.after_definitions(manifests, namespace)
        stamped = [manifest_text.with_protocols(manifest_text.with_labels(
            m, labels if labels and (i in later or self._ours_or_new(m, namespace, labels))
            else {})) for i, m in enumerate(manifests)]
        planned = {i: self._apply_one(m, namespace, dry_run=True)
                   for i, m in enumerate(stamped) if i not in later}
        if dry_run:
            return ResourceList(self.record(planned.get(i, m)) for i, m in enumerate(stamped))
        applied: dict[int, Resource] = {}
        for i in sorted(range(len(stamped)), key=lambda i: i in later):
            if i in later:
                self._await_kind(stamped[i])
            applied[i] = self.record(self._apply_one(stamped[i], namespace))
            if self.on_created is not None:
                self.on_created(applied[i])
        return ResourceList(applied[i] for i in range(len(stamped)))

    def _ours_or_new(self, manifest: Mapping[str, Any], namespace: str | None,
                     labels: Mapping[str, str]) -> bool:
        """Whether applying ``manifest`` makes an object of ours: it does not exist yet, or
        carries ``labels`` already. A change applied to an object that existed before
        (the ``default`` Namespace in a bundle, a colleague's ConfigMap) leaves it theirs:
        it gets no ownership labels, so cleanup never deletes it."""
        live = self._live(manifest, namespace)
        if live is None:
            return True
        return self._matches((live.get("metadata") or {}).get("labels") or {}, labels)

    def _await_kind(self, manifest: Mapping[str, Any], timeout: float = 30.0) -> None:
        """Return once the server serves the manifest's kind: a CRD applied a moment ago
        is served once it is Established (a second or so)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._resource_api(manifest)
                return
            except InvalidInput:
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL)

    def diff(self, source: str, *, labels: Mapping[str, str] | None = None,
             namespace: str | None = None) -> str:
        """What applying ``source`` would change, as a unified diff per object."""
        parts = []
        for manifest in manifest_text.parse(source):
            stamped = manifest_text.with_protocols(
                manifest_text.with_labels(manifest, labels or {}))
            planned = self._apply_one(stamped, namespace, dry_run=True)
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            parts.append(manifest_text.diff(name, self._live(stamped, namespace), planned))
        return "".join(parts)

    def _resource_api(self, manifest: Mapping[str, Any]) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self._dynamic().resources.get(api_version=manifest["apiVersion"],
                                                 kind=manifest["kind"])
        except ResourceNotFoundError:
            raise InvalidInput(f"unknown kind {manifest['kind']!r} in apiVersion "
                               f"{manifest['apiVersion']!r}", connection=self.uri,
                               hint="check the spelling; kubectl api-resources lists kinds"
                               ) from None

    def _apply_one(self, manifest: Mapping[str, Any], namespace: str | None, *,
                   dry_run: bool = False) -> dict[str, Any]:
        name = f"{manifest['kind']} {manifest['metadata']['name']!r}"
        with self._boundary(f"applying {name}", name):
            api = self._resource_api(manifest)
            ns = (namespace or manifest["metadata"].get("namespace") or self.namespace) \
                if api.namespaced else None
            applied = self._retrying_when_asked(lambda: api.server_side_apply(
                body=dict(manifest), namespace=ns, field_manager=FIELD_MANAGER,
                force_conflicts=True, dry_run="All" if dry_run else None,
                _request_timeout=self.timeout))
            result: dict[str, Any] = applied.to_dict()
        return result

    def _retrying_when_asked(self, call: Callable[[], Any]) -> Any:
        """``call()``, again while the server answers "retry after" (within RETRY_FOR s).

        A pod in a namespace made a moment before is refused until the namespace's default
        ServiceAccount has its token (500 ServerTimeout, Retry-After: 1); so is a request
        that API priority and fairness sheds (429)."""
        from kubernetes.client.exceptions import ApiException

        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                return call()
            except ApiException as exc:
                after = (exc.headers or {}).get("Retry-After")
                if exc.status not in (429, 500, 503) or not after \
                        or time.monotonic() > deadline:
                    raise
                time.sleep(min(float(after) if after.isdigit() else 1.0, 2.0))

    def _live(self, manifest: Mapping[str, Any], namespace: str | None) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        api = self._resource_api(manifest)
        ns = (namespace or manifest["metadata"].get("namespace") or self.namespace) \
            if api.namespaced else None
        with self._boundary(f"reading {manifest['kind']}"):
            try:
                live: dict[str, Any] = api.get(name=manifest["metadata"]["name"],
                                               namespace=ns).to_dict()
            except NotFoundError:
                return None
        return live

    # --- scale and rollout --------------------------------------------------------------

    def scale(self, kind: Kind, name: str, replicas: int, *, wait: bool = False,
              timeout: float = 120.0, on_progress: Callable[[Progress], None] | None = None,
              stopper: Stopper | None = None) -> Resource:
        """Set the replica count; with ``wait``, follow the rollout until every replica is
        ready (``on_progress`` hears "ready k of n"), ``timeout`` passes or ``stopper``
        stops."""
        api, names = self._typed(kind)
        if not names.scalable:
            raise self._unsupported(f"scale {kind}")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise InvalidInput(f"replicas {replicas!r} is impossible",
                               hint="give a whole number, 0 or more")
        with self._boundary(f"scaling {names.kind} {name!r}", f"{names.kind} {name!r}"):
            getattr(api, f"patch_namespaced_{names.snake}_scale")(
                name, self.namespace, {"spec": {"replicas": replicas}},
                _preload_content=False, _request_timeout=self.timeout)
        if wait:
            return self.wait_rollout(kind, name, timeout=timeout, on_progress=on_progress,
                                     stopper=stopper)
        return self.get(kind, name)

    def wait_rollout(self, kind: Kind, name: str, *, timeout: float = 120.0,
                     on_progress: Callable[[Progress], None] | None = None,
                     stopper: Stopper | None = None) -> Resource:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            obj = self.read(kind, name)
            ready, desired, done = _rollout(obj)
            message = f"{ready} of {desired} replicas ready"
            if on_progress and message != last:
                on_progress(Progress("rollout", message, ready, desired, done=done))
                last = message
            if done:
                return self.record(obj)
            if stopper is not None and stopper.stopped:
                raise Cancelled(f"stopped waiting for {kind} {name!r} ({message}); "
                                "the rollout goes on in the cluster", connection=self.uri)
            if time.monotonic() > deadline:
                raise OperationTimeout(say.ROLLOUT_TOO_SLOW(kind=kind, name=name,
                                                            seconds=timeout, status=message),
                                       connection=self.uri, hint=say.LOOK_AT_EVENTS())
            time.sleep(0.25)

    # --- pods: logs and exec ------------------------------------------------------------

    def logs(self, pod: str, *, tail: int | None = None, follow: bool = False,
             container: str | None = None, stopper: Stopper | None = None) -> Iterator[str]:
        client, _ = _import_kubernetes()
        core = client.CoreV1Api(self._client())
        with self._boundary(f"reading logs of pod {pod!r}", f"pod {pod!r}"):
            response = core.read_namespaced_pod_log(
                pod, self.namespace, follow=follow, tail_lines=tail, container=container,
                _preload_content=False,
                _request_timeout=None if follow else self.timeout)
        if stopper is not None:
            stopper.on_stop(lambda: _interrupt(response))
        with self._boundary(f"reading logs of pod {pod!r}", f"pod {pod!r}"):
            yield from _lines(response)

    def exec(self, pod: str, command: Sequence[str] | str, *, container: str | None = None,
             timeout: float = 60.0) -> ExecResult:
        client, _ = _import_kubernetes()
        from kubernetes.stream import stream

        argv = shlex.split(command) if isinstance(command, str) else [*command]
        core = client.CoreV1Api(self._client())
        with self._boundary(f"exec in pod {pod!r}", f"pod {pod!r}"):
            ws = stream(core.connect_get_namespaced_pod_exec, pod, self.namespace,
                        command=argv, container=container, stderr=True, stdout=True,
                        stdin=False, tty=False, _preload_content=False)
            out, err = [], []
            deadline = time.monotonic() + timeout
            while ws.is_open() and time.monotonic() < deadline:
                ws.update(timeout=1)
                out.append(ws.read_stdout(timeout=0) if ws.peek_stdout() else "")
                err.append(ws.read_stderr(timeout=0) if ws.peek_stderr() else "")
            if ws.is_open():
                ws.close()
                raise OperationTimeout(f"exec in pod {pod!r} ran over {timeout:.0f} s",
                                       connection=self.uri)
            code = ws.returncode
        return ExecResult(int(code or 0), "".join(out), "".join(err))

    # --- watch ------------------------------------------------------------------------

    def _in_list_order(self, resources: builtins.list[Resource]) -> builtins.list[Resource]:
        return sorted(resources, key=lambda r: r.name)  # the apiserver lists by name

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        self._names(kind)  # unsupported kinds fail here, not in the thread
        wanted = dict(labels or {})

        def list_all() -> tuple[ResourceList, str | None]:
            listed = self._raw_list(kind, wanted)
            version = (listed.get("metadata") or {}).get("resourceVersion")
            return ResourceList(self.record(i) for i in listed["items"]), version

        def follow(since: str | None, emit: Emit, stopper: Stopper) -> None:
            self._follow(kind, wanted, since, emit, stopper)

        return self._start_watcher(kind, wanted, Watcher(list_all, follow,
                                                         name=f"k8s-{kind}"))

    def _follow(self, kind: Kind, labels: Mapping[str, str], version: str | None,
                emit: Emit, stopper: Stopper) -> None:
        """Watch from ``version`` until the server says 410 Gone (then return: the
        Watcher re-lists) or the connection breaks (then raise)."""
        names = self._names(kind)
        while not stopper.stopped:
            with self._boundary(f"watching {kind}s"):
                query: list[tuple[str, Any]] = [
                    ("watch", True), ("allowWatchBookmarks", True),
                    ("timeoutSeconds", WATCH_SECONDS)]
                if labels:
                    query.append(("labelSelector", _selector(labels)))
                if version:
                    query.append(("resourceVersion", version))
                response = self._get(names.path(self.namespace), query,
                                     (self.timeout, WATCH_SECONDS + 30))
                closer = functools.partial(_interrupt, response)
                stopper.on_stop(closer)
                try:
                    for line in _lines(response):
                        if not line.strip():
                            continue
                        native = json.loads(line)
                        obj = native.get("object") or {}
                        if native.get("type") == "ERROR":
                            if obj.get("code") == 410:
                                return  # too old: re-list
                            raise OperationFailed(f"watch failed: {obj.get('message')}")
                        version = (obj.get("metadata") or {}).get("resourceVersion", version)
                        if native.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            obj.setdefault("kind", names.kind)
                            emit(Event(EventType(native["type"]), self.record(obj)))
                finally:
                    stopper.forget(closer)
                    response.release_conn()
            if stopper.stopped:
                return

    # --- everything a notebook owns, of every kind -----------------------------------------

    def _request(self, method: str, path: str, query: Sequence[tuple[str, str]] = (),
                 body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One call by path (any resource type, as discovery names it), its JSON answer.
        An error status raises the client's ApiException: callers run in ``_boundary``."""
        from kubernetes.client.exceptions import ApiException

        client = self._client()
        request = client.param_serialize(
            method, path, query_params=list(query), body=body, auth_settings=["BearerToken"],
            header_params={"Accept": "application/json", "Content-Type": "application/json"})
        response = client.call_api(*request, _request_timeout=self.timeout)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        answer: dict[str, Any] = json.loads(response.data)
        return answer

    def api_resources(self) -> builtins.list[ApiResource]:
        """Every resource type the server lists and deletes, custom resources included, read
        afresh from its discovery documents (a CRD applied a moment ago counts). A group
        version that does not answer (an aggregated API whose server is down) is left out."""
        from kubernetes.client.exceptions import ApiException

        def document(group_version: str) -> builtins.list[ApiResource]:
            path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            try:
                return owned.removable(group_version, self._request("GET", path))
            except ApiException:
                return []

        with self._boundary("discovering the cluster's resource types"):
            versions = owned.group_versions(self._request("GET", "/apis"))
            with ThreadPoolExecutor(LISTERS) as pool:
                found = [api for apis in pool.map(document, versions) for api in apis]
        return owned.one_per_type(found)

    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList:
        """Every object of every type carrying ``labels``, cluster-scoped and in every
        namespace, and those of ``known`` (applied through this connection) still ours."""
        return ResourceList(self._owned_record(obj)
                            for _, obj in self._owned_objects(labels, known))

    def owned_in_namespace(self, labels: Mapping[str, str]) -> ResourceList:
        return ResourceList(self._owned_record(obj) for _, obj
                            in self._owned_objects(labels, (), everywhere=False))

    def objects(self, api: ApiResource, labels: Mapping[str, str] | None = None,
                namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every object of one type (in every namespace, without ``namespace``), as JSON."""
        query = [("labelSelector", _selector(labels) or "")] if labels else []
        with self._boundary(f"listing {api.plural}"):
            items: builtins.list[dict[str, Any]] = self._request(
                "GET", api.path(namespace), query).get("items") or []
        for item in items:  # list items omit these
            item.setdefault("kind", api.kind)
            item.setdefault("apiVersion", api.group_version)
        return items

    def namespaces(self, labels: Mapping[str, str] | None = None
                   ) -> dict[str, dict[str, str]]:
        return {owned.name(found): dict((found.get("metadata") or {}).get("labels") or {})
                for found in self.objects(NAMESPACES, labels)}

    def _owned_record(self, obj: Mapping[str, Any]) -> Resource:
        """A record that names the object fully: its own kind, namespace and uid."""
        record = self.record(obj)
        return dataclasses.replace(record, details={
            "kind": obj.get("kind"), **record.details,
            "namespace": owned.namespace(obj), "uid": owned.uid(obj)})

    def _owned_objects(self, labels: Mapping[str, str], known: Iterable[Resource], *,
                       everywhere: bool = True
                       ) -> builtins.list[tuple[ApiResource, dict[str, Any]]]:
        """With ``everywhere``, cluster-scoped objects and those of every namespace the
        credentials may list; else those of this connection's namespace only."""
        types = [api for api in self.api_resources() if everywhere or api.namespaced]

        def listed(api: ApiResource) -> builtins.list[tuple[ApiResource,
                                                                      Any]]:
            # Everywhere when allowed; a user confined to a namespace lists that one.
            wheres = [*([None] if everywhere else []),
                      *([self.namespace] if api.namespaced else [])]
            for namespace in wheres:
                try:
                    return [(api, item) for item in self.objects(api, labels, namespace)]
                except AuthenticationFailed:
                    continue
                except EngineUnavailable:
                    raise
                except VirtworkError:
                    return []  # gone meanwhile (a CRD deleted), or not listable after all
            return []

        with self._boundary("listing what this notebook created"):
            with ThreadPoolExecutor(LISTERS) as pool:
                found = [pair for pairs in pool.map(listed, types) for pair in pairs]
            found += self._known_still_there(known, types, labels, found)
        return _one_per_object(found)

    def _known_still_there(self, known: Iterable[Resource],
                           types: Sequence[ApiResource], labels: Mapping[str, str],
                           found: Sequence[tuple[ApiResource, Any]],
                           ) -> builtins.list[tuple[ApiResource, Any]]:
        """Objects applied here that listing by label did not find (a type discovery does
        not offer now), read one by one; only those still carrying ``labels``."""
        by_kind = {(api.group, api.kind): api for api in types}
        seen = {owned.uid(obj) for _, obj in found}
        more = []
        for resource in known:
            raw = resource.raw or {}
            api = by_kind.get((owned.group(raw), str(raw.get("kind"))))
            if api is None or owned.uid(raw) in seen:
                continue
            now = self._read_object(api, raw)
            labelled = (now or {}).get("metadata", {}).get("labels") or {}
            if now is not None and self._matches(labelled, labels):
                more.append((api, now))
        return more

    def _read_object(self, api: ApiResource,
                     obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """The object as it is now; None when it is gone (or another took its name)."""
        from kubernetes.client.exceptions import ApiException

        try:
            now = self._request("GET", api.path(owned.namespace(obj) or None,
                                                 owned.name(obj)))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        now.setdefault("kind", api.kind)
        replaced = owned.uid(obj) and owned.uid(now) != owned.uid(obj)
        return None if replaced else now

    def remove_owned(self, labels: Mapping[str, str], known: Iterable[Resource] = (), *,
                     deadline: float, on_progress: ProgressCallback | None = None
                     ) -> Removal:
        """Delete everything ``owned`` finds, in dependency order, and wait (until
        ``deadline``, a ``time.monotonic()`` value) until each is gone from the cluster.

        Owners go rather than what they own: a Deployment or Job deleted with Foreground
        propagation stays until its pods are gone, and nothing is made again; the rest
        goes with Background propagation, at once. A Namespace of
        ours takes its content along; a CRD is deleted once its custom resources are gone.
        Pods get a short grace period: their containers must be stopped (the kubelet says
        so by removing the pod) before the images they use can be removed."""
        return self._remove_found(lambda: self._owned_objects(labels, known), deadline,
                                  on_progress)

    def remove_owned_in_namespace(self, labels: Mapping[str, str], *, deadline: float,
                                  on_progress: ProgressCallback | None = None) -> Removal:
        return self._remove_found(
            lambda: self._owned_objects(labels, (), everywhere=False), deadline, on_progress)

    def _remove_found(self, find: Callable[[], builtins.list[tuple[ApiResource,
                                                                    dict[str, Any]]]],
                      deadline: float, on_progress: ProgressCallback | None) -> Removal:
        cleanup = _Cleanup(self, on_progress)
        with self._boundary("cleaning up what this notebook created"):
            found = find()
            if not found:
                return Removal()
            cleanup.track(found)
            plan = owned.plan([obj for _, obj in found])
            registrations = self._registrations(plan.last)
            cleanup.track(registrations)
            for obj in plan.first:
                cleanup.delete(obj)
            cleanup.wait(plan.defined, deadline)
            for obj in plan.last:
                cleanup.delete(obj)
            cleanup.wait([*plan.first, *plan.carried, *plan.last,
                          *(obj for _, obj in registrations)], deadline)
        return cleanup.outcome(found)

    def _registrations(self, definitions: Sequence[Mapping[str, Any]],
                       ) -> builtins.list[tuple[ApiResource, Any]]:
        """The APIServices the API server made for the group versions of ``definitions``
        (CRDs): it removes them itself, a moment after the last CRD of the group is gone,
        so a cleanup that returns has waited for them too. Not ours: never deleted by us,
        and not waited for while a CRD of someone else serves the group."""
        if not definitions:
            return []
        crds = ApiResource("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                     "customresourcedefinitions", False)
        services = ApiResource("apiregistration.k8s.io/v1", "APIService",
                                         "apiservices", False)
        ours = {owned.uid(d) for d in definitions}
        shared = {str((c.get("spec") or {}).get("group")) for c in self.objects(crds)
                  if owned.uid(c) not in ours}
        found = []
        for definition in definitions:
            spec = definition.get("spec") or {}
            if str(spec.get("group")) in shared:
                continue
            for version in spec.get("versions") or []:
                name = f"{version.get('name')}.{spec.get('group')}"
                now = self._read_object(services, {"metadata": {"name": name}})
                if now is not None:
                    found.append((services, now))
        return found

    def delete_object(self, api: ApiResource, obj: Mapping[str, Any],
                      propagation: str = "Background") -> bool:
        """Ask for ``obj``'s deletion (this very object: its uid is a precondition);
        False when it is gone already or another object now has its name."""
        from kubernetes.client.exceptions import ApiException

        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation,
            "preconditions": {"uid": owned.uid(obj)}}
        if obj.get("kind") == "Pod" and api.group == "":
            body["gracePeriodSeconds"] = CLEANUP_GRACE
        what = owned.describe(obj)
        with self._boundary(f"deleting {what}", what):
            try:
                self._request("DELETE", api.path(owned.namespace(obj) or None,
                                                 owned.name(obj)), body=body)
            except ApiException as exc:
                if exc.status in (404, 409):  # 409: the uid precondition failed
                    return False
                raise
        return True

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The kubectl line that does the same on this connection: its kubeconfig, context
        and namespace, the same on every line (the namespace as the driver resolves it)."""
        words = {"list": ["get"], "destroy": ["delete"], "create": ["apply", "-f"]}.get(
            verb, [verb])
        return self._kubectl([*words, *args])

    def resource_command(self, verb: str, resource: Resource) -> str:
        """kubectl names an object by its kind: ``pod/web-1``."""
        return self.command(verb, f"{resource.kind.value}/{resource.name}")

    def _kubectl(self, words: Sequence[str], *, namespaced: bool = True) -> str:
        kubeconfig = ["--kubeconfig", self.kubeconfig] if self.kubeconfig else []
        context = ["--context", self.target.context] if self.target.context \
            and self.target.context != "in-cluster" else []
        namespace = ["-n", self.namespace] if namespaced else []
        return shlex.join(["kubectl", *kubeconfig, *context, *namespace, *words])

    def apply_command(self, text: str, *, labels: Mapping[str, str] | None = None,
                      dry_run: bool = False, verb: str = "apply") -> str:
        """``kubectl apply`` (or ``diff``) of exactly what ``apply(text, labels=...)``
        applies: a server-side apply by our field manager of the manifests with the
        ownership labels stamped in (kubectl has no flag for those), on standard input."""
        stamped = [manifest_text.with_protocols(manifest_text.with_labels(m, labels or {}))
                   for m in manifest_text.parse(text)]
        elsewhere = bool({m["metadata"].get("namespace") for m in stamped}
                         - {None, self.namespace})
        if elsewhere:
            # kubectl refuses an object of another namespace under -n: each names its own,
            # where the driver puts it (its own, else this connection's).
            with self._boundary("reading the cluster's kinds"):
                for manifest in stamped:
                    if self._resource_api(manifest).namespaced:
                        manifest["metadata"].setdefault("namespace", self.namespace)
        line = self._kubectl([verb, "--server-side", f"--field-manager={FIELD_MANAGER}",
                              "--force-conflicts", *(["--dry-run=server"] if dry_run else []),
                              "-f", "-"], namespaced=not elsewhere)
        return heredoc(line, yaml.safe_dump_all(stamped, sort_keys=False))


def _import_kubernetes() -> tuple[Any, Any]:
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise missing_sdk("kubernetes") from exc
    return client, config


def _in_cluster_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path) as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"


def _selector(labels: Mapping[str, str] | None) -> str | None:
    return ",".join(f"{k}={v}" for k, v in labels.items()) if labels else None


# The API server's words for a namespace's ResourceQuota and LimitRange refusing a pod, and
# our classroom's admission webhook (classroom/guard.py) refusing a learner's pod.
QUOTA_REFUSALS = ("exceeded quota", "usage per Container", "usage per Pod",
                  "usage per PersistentVolumeClaim")
CLASSROOM_REFUSAL = "a learner's pod may not use"


def _refused(doing: str, message: str, uri: str) -> AuthenticationFailed:
    """A 401 or 403: a quota or limit used up, the classroom's rules, or no permission; each
    with what to do about it."""
    if any(words in message for words in QUOTA_REFUSALS):
        return AuthenticationFailed(say.OVER_QUOTA(doing=doing, detail=message),
                                    connection=uri, hint=say.FREE_QUOTA())
    if CLASSROOM_REFUSAL in message:
        return AuthenticationFailed(say.REFUSED_BY_CLASSROOM(doing=doing, detail=message),
                                    connection=uri, hint=say.REMOVE_SETTINGS())
    return AuthenticationFailed(say.FORBIDDEN(doing=doing, detail=message), connection=uri,
                                hint=say.CHECK_CREDENTIALS())


def _status_message(exc: Any) -> str:
    """The API's own message from a Status body, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            causes = (status.get("details") or {}).get("causes") or []
            fields = "; ".join(f"{c.get('field', '')}: {c.get('message', '')}".strip(": ")
                               for c in causes)
            return str(fields or status.get("message") or body).replace("\n", " ")
        except (ValueError, AttributeError):
            return first_line(body)
    return first_line(getattr(exc, "reason", None) or exc)


def _interrupt(response: Any) -> None:
    """Wake a thread blocked reading ``response`` from another thread.

    ``response.close()`` cannot: on a TLS socket it waits for the reader's lock, so it
    returns only when the server next sends something (a watch may be silent for a minute).
    Shutting the socket down ends the blocked read at once; the reader then closes it.
    """
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is None:
        response.close()
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _lines(response: Any) -> Iterator[str]:
    pending = b""
    for chunk in response.stream(4096, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")


def _rollout(obj: Mapping[str, Any]) -> tuple[int, int, bool]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    current = int(status.get("replicas", 0))
    observed = int(status.get("observedGeneration", 0))
    generation = int((obj.get("metadata") or {}).get("generation", 0))
    done = observed >= generation and ready == desired and current == desired and \
        (updated == desired or obj.get("kind") == "ReplicaSet")
    return ready, desired, done


def _state_and_details(kind: Kind, obj: Mapping[str, Any]) -> tuple[State, dict[str, Any]]:
    spec = obj.get("spec") or {}
    if kind is Kind.POD:
        return _pod_state(obj)
    if kind in (Kind.DEPLOYMENT, Kind.STATEFULSET, Kind.REPLICASET):
        ready, desired, done = _rollout(obj)
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        state = State.STOPPED if desired == 0 and done else (
            State.AVAILABLE if done else State.PROGRESSING)
        return state, {"ready": f"{ready}/{desired}",
                       "image": ", ".join(c.get("image", "") for c in containers)}
    if kind is Kind.EVENT:
        involved = obj.get("involvedObject") or {}
        return State.AVAILABLE, {
            "type": obj.get("type", ""), "reason": obj.get("reason", ""),
            "object": f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            "message": obj.get("message", ""), "count": obj.get("count", 1)}
    if kind is Kind.SERVICE:
        ports = ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                          for p in spec.get("ports") or [])
        return State.AVAILABLE, {"type": spec.get("type", ""),
                                 "cluster_ip": spec.get("clusterIP", ""), "ports": ports}
    return State.AVAILABLE, {}


def _pod_state(obj: Mapping[str, Any]) -> tuple[State, dict[str, Any]]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    reasons = [((s.get("state") or {}).get("waiting") or {}).get("reason") for s in statuses]
    # The phase alone: a pod whose image cannot be pulled (ErrImagePull, ImagePullBackOff)
    # or whose container keeps crashing is Pending or Running, not Failed: the kubelet
    # retries it. The waiting reason says what it waits for.
    state = POD_PHASES.get(str(status.get("phase")), State.UNKNOWN)
    reason = next((r for r in reasons if r), "") or status.get("reason", "")
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        state, reason = State.STOPPED, "Terminating"
    ready = sum(1 for s in statuses if s.get("ready"))
    total = len(spec.get("containers") or statuses)
    return state, {"ready": f"{ready}/{total}", "node": spec.get("nodeName", ""),
                   "ip": status.get("podIP", ""),
                   "restarts": sum(int(s.get("restartCount", 0)) for s in statuses),
                   "reason": reason}


def _one_per_object(found: Iterable[tuple[ApiResource, dict[str, Any]]],
                    ) -> list[tuple[ApiResource, dict[str, Any]]]:
    """Each object once. One served by two groups (an Ingress in ``extensions`` and in
    ``networking.k8s.io``) is kept under the apiVersion it was applied with."""
    chosen: dict[str, tuple[ApiResource, dict[str, Any]]] = {}
    for api, obj in found:
        key = owned.uid(obj)
        if key not in chosen or _applied_as(obj) == api.group_version:
            chosen[key] = (api, obj)
    return list(chosen.values())


def _applied_as(obj: Mapping[str, Any]) -> str | None:
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER:
            return str(entry.get("apiVersion"))
    return None


class _Cleanup:
    """One cleanup's bookkeeping: each object's latest state (None: gone), which deletions
    were asked for, which were refused and why."""

    def __init__(self, driver: KubernetesDriver, on_progress: ProgressCallback | None) -> None:
        self.driver = driver
        self.on_progress = on_progress
        self.api: dict[str, ApiResource] = {}
        self.latest: dict[str, dict[str, Any] | None] = {}
        self.asked: set[str] = set()
        self.refused: dict[str, str] = {}
        self.namespaces: dict[str, str] = {}  # name -> uid of each Namespace of ours
        self.owners: set[str] = set()  # uids that objects of ours name as their owner
        self.nudged: dict[str, float] = {}  # uid of a namespace -> when it was last nudged
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress("cleanup", message))

    def track(self, found: Sequence[tuple[ApiResource, dict[str, Any]]]) -> None:
        for api, obj in found:
            key = owned.uid(obj)
            self.api[key], self.latest[key] = api, obj
            if owned.is_namespace(obj):
                self.namespaces[owned.name(obj)] = key
        self.owners |= owned.owners([obj for _, obj in found])

    def delete(self, obj: Mapping[str, Any]) -> None:
        key = owned.uid(obj)
        self.asked.add(key)
        what = owned.describe(obj)
        try:
            with self.driver._boundary(f"deleting {what}", what):
                if not self.driver.delete_object(
                        self.api[key], obj, owned.propagation(obj, self.owners)):
                    self.latest[key] = None
                    return
        except EngineUnavailable:
            raise
        except VirtworkError as exc:
            self.refused[key] = exc.message
            return
        self.say(f"deleting {what}")

    def pending(self, obj: Mapping[str, Any]) -> bool:
        key = owned.uid(obj)
        return self.latest.get(key) is not None and key not in self.refused

    def wait(self, objects: Sequence[Mapping[str, Any]], deadline: float) -> None:
        """Poll until ``objects`` are gone or ``deadline``. A pod whose owner or namespace
        is going is deleted at once with a short grace, instead of its own (30 s by
        default, which a shell as PID 1 that ignores SIGTERM always takes)."""
        pending = [o for o in objects if self.pending(o)]
        shown = -1
        while pending:
            for obj in pending:
                key = owned.uid(obj)
                self.latest[key] = self.driver._read_object(self.api[key], obj)
            for obj in pending:
                now = self.latest[owned.uid(obj)]
                if now is not None and owned.uid(obj) not in self.asked \
                        and now.get("kind") == "Pod" \
                        and owned.carrier_is_going(now, self.latest, self.namespaces):
                    self.delete(now)
            pending = [o for o in pending if self.pending(o)]
            self.nudge_emptied_namespaces(pending)
            if pending and len(pending) != shown:
                shown = len(pending)
                names = ", ".join(owned.describe(o) for o in pending[:3])
                self.say(f"waiting for {shown} to go: {names}" + (", ..." if shown > 3 else ""))
            if not pending or time.monotonic() >= deadline:
                return
            time.sleep(POLL)

    def nudge_emptied_namespaces(self, pending: Sequence[Mapping[str, Any]]) -> None:
        """Remind the namespace controller of a namespace of ours that still terminates
        though nothing we wait for is left in it.

        The controller retries a namespace whose pods are still going with an exponential
        backoff (5 ms doubling, up to 1000 s): when a kubelet is slow to confirm a pod's
        end, its next look can come minutes after the pod is gone. An update of the
        namespace queues it again within seconds, so the cleanup waits for the namespace,
        not for the backoff."""
        busy = {owned.namespace(o) for o in pending}
        for obj in pending:
            key, now = owned.uid(obj), self.latest.get(owned.uid(obj))
            if not owned.is_namespace(obj) or now is None or owned.name(obj) in busy \
                    or time.monotonic() - self.nudged.get(key, 0.0) < NUDGE_EVERY:
                continue
            self.nudged[key] = time.monotonic()
            metadata = now.get("metadata") or {}
            reminded = {**now, "metadata": {**metadata, "annotations": {
                **(metadata.get("annotations") or {}), NUDGED: f"{time.time():.0f}"}}}
            with contextlib.suppress(VirtworkError):  # a conflict: it changed, so it is queued
                with self.driver._boundary(f"updating {owned.describe(obj)}"):
                    self.driver._request("PUT", self.api[key].path(None, owned.name(obj)),
                                         body=reminded)

    def outcome(self, found: Iterable[tuple[ApiResource, dict[str, Any]]]) -> Removal:
        removal = Removal()
        waited = time.monotonic() - self.started
        for _, obj in found:
            key = owned.uid(obj)
            record = self.driver._owned_record(obj)
            now = self.latest[key]
            if key in self.refused:
                removal.left.append((record, self.refused[key]))
            elif now is None:
                removal.removed.append(record)
            else:
                removal.left.append((record, f"still there after {waited:.0f} s: "
                                             f"{owned.why_still_there(now)}"))
        return removal
