"""The Kubernetes driver (``k8s://<context>/<namespace>``) over the official client.

Lists and watches ask for raw JSON (``_preload_content=False``): turning thousands of
objects into the client's pydantic models costs more than the request. Apply is server-side
apply through the dynamic client, after a server-side dry run of every document, so a bad
document leaves nothing half-applied.

Beside it, one job each: ``connection`` (the client of one kubeconfig context, calls by
path), ``failures`` (the client's errors as ours), ``records`` (objects as our records),
``manifest_text`` and ``server_side`` (what apply sends, one document's apply), ``by_path``
(objects of any resource type), ``owned`` and ``cleanup`` (what a notebook owns, and its
removal), ``streams`` (logs and watches as they come), ``commands`` (the kubectl lines that
do the same).
"""

from __future__ import annotations

import builtins
import functools
import json
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from ... import error_messages as say
from ...errors import (
    AuthenticationFailed,
    Cancelled,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    OperationTimeout,
    VirtworkError,
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
    Verb,
    labels_match,
)
from . import by_path, cleanup, failures, manifest_text, owned, records, server_side, streams
from .by_path import LISTERS
from .commands import Kubectl
from .connection import Connection, import_kubernetes, selector
from .owned import ApiResource
from .records import KINDS, POD_PHASES, KindApi

DEFAULT_TIMEOUT = 15.0
WATCH_SECONDS = 240  # the server ends a watch after this; we resume from the last version
LIST_PAGE = 500  # objects per list request (kubectl's chunk size), pages joined by `continue`
NAMESPACES = ApiResource("v1", "Namespace", "namespaces", False)


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
        self.connection = Connection(target, kubeconfig=kubeconfig, timeout=timeout,
                                     insecure=insecure, boundary=self._boundary)

    @property
    def namespace(self) -> str:
        return self.connection.namespace

    @property
    def scope(self) -> tuple[str, ...]:
        """One context's namespace through one kubeconfig, however the URI spelled it."""
        return (self.target.family, self.target.context or "", self.namespace,
                self.kubeconfig or "")

    def _typed(self, kind: Kind) -> tuple[Any, KindApi]:
        client, _ = import_kubernetes()
        api = self._names(kind)
        return getattr(client, api.api_class)(self.connection.client()), api

    def _names(self, kind: Kind) -> KindApi:
        api = KINDS.get(kind)
        if api is None:
            raise self._unsupported(f"{kind}s")
        return api

    def close(self) -> None:
        super().close()
        self.connection.close()

    def version(self) -> str:
        client, _ = import_kubernetes()
        with self._boundary("reaching the cluster"):
            info = client.VersionApi(self.connection.client()).get_code(
                _request_timeout=self.timeout)
        return str(info.git_version)

    # --- the error boundary -----------------------------------------------------------

    def _sdk_errors(self) -> ErrorTable:
        import_kubernetes()  # a missing client is the one-line MissingDependency
        return failures.error_table(self.uri, lambda: self.connection.known_namespace)

    # --- records ----------------------------------------------------------------------

    def record(self, obj: Mapping[str, Any]) -> Resource:
        """A Resource from an object as the API returns it (JSON)."""
        return records.record(self.uri, obj)

    def _raw_list(self, kind: Kind, labels: Mapping[str, str] | None) -> dict[str, Any]:
        """Every object of ``kind`` as JSON, in pages of ``page_size`` joined by the server's
        ``continue`` token (one consistent snapshot: the first page's resourceVersion)."""
        names = self._names(kind)
        query: list[tuple[str, Any]] = [("limit", self.page_size)]
        if labels:
            query.append(("labelSelector", selector(labels)))
        with self._boundary(f"listing {kind}s"):
            path = names.path(self.namespace)
            listed: dict[str, Any] = json.loads(
                self.connection.get(path, query, self.timeout).data)
            while token := (listed.get("metadata") or {}).get("continue"):
                page = json.loads(self.connection.get(path, [*query, ("continue", token)],
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
            response = self.connection.get(names.path(self.namespace) + "/{name}", [],
                                           self.timeout, name=name)
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
        stamped = [manifest_text.stamped(
            m, labels if labels and (i in later or self._ours_or_new(m, namespace, labels))
            else {}) for i, m in enumerate(manifests)]
        planned = {i: server_side.apply_one(self.connection, m, namespace, dry_run=True)
                   for i, m in enumerate(stamped) if i not in later}
        if dry_run:
            return ResourceList(self.record(planned.get(i, m)) for i, m in enumerate(stamped))
        applied: dict[int, Resource] = {}
        for i in sorted(range(len(stamped)), key=lambda i: i in later):
            if i in later:
                server_side.await_kind(self.connection, stamped[i])
            applied[i] = self.record(server_side.apply_one(self.connection, stamped[i],
                                                           namespace))
            if self.on_created is not None:
                self.on_created(applied[i])
        return ResourceList(applied[i] for i in range(len(stamped)))

    def _ours_or_new(self, manifest: Mapping[str, Any], namespace: str | None,
                     labels: Mapping[str, str]) -> bool:
        """Whether applying ``manifest`` makes an object of ours: it does not exist yet, or
        carries ``labels`` already. A change applied to an object that existed before
        (the ``default`` Namespace in a bundle, a colleague's ConfigMap) leaves it theirs:
        it gets no ownership labels, so cleanup never deletes it."""
        live = server_side.live(self.connection, manifest, namespace)
        if live is None:
            return True
        return labels_match((live.get("metadata") or {}).get("labels") or {}, labels)

    def diff(self, source: str, *, labels: Mapping[str, str] | None = None,
             namespace: str | None = None) -> str:
        """What applying ``source`` would change, as a unified diff per object."""
        parts = []
        for manifest in manifest_text.parse(source):
            stamped = manifest_text.stamped(manifest, labels or {})
            planned = server_side.apply_one(self.connection, stamped, namespace, dry_run=True)
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            live = server_side.live(self.connection, stamped, namespace)
            parts.append(manifest_text.diff(name, live, planned))
        return "".join(parts)

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
            ready, desired, done = records.rollout(obj)
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
        client, _ = import_kubernetes()
        core = client.CoreV1Api(self.connection.client())
        with self._boundary(f"reading logs of pod {pod!r}", f"pod {pod!r}"):
            response = core.read_namespaced_pod_log(
                pod, self.namespace, follow=follow, tail_lines=tail, container=container,
                _preload_content=False,
                _request_timeout=None if follow else self.timeout)
        if stopper is not None:
            stopper.on_stop(lambda: streams.interrupt(response))
        with self._boundary(f"reading logs of pod {pod!r}", f"pod {pod!r}"):
            yield from streams.lines(response)

    def exec(self, pod: str, command: Sequence[str] | str, *, container: str | None = None,
             timeout: float = 60.0) -> ExecResult:
        client, _ = import_kubernetes()
        from kubernetes.stream import stream

        argv = shlex.split(command) if isinstance(command, str) else [*command]
        core = client.CoreV1Api(self.connection.client())
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
                    query.append(("labelSelector", selector(labels)))
                if version:
                    query.append(("resourceVersion", version))
                response = self.connection.get(names.path(self.namespace), query,
                                               (self.timeout, WATCH_SECONDS + 30))
                closer = functools.partial(streams.interrupt, response)
                stopper.on_stop(closer)
                try:
                    for line in streams.lines(response):
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

    def api_resources(self) -> builtins.list[ApiResource]:
        """Every resource type the server lists and deletes, custom resources included."""
        return by_path.resource_types(self.connection)

    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList:
        """Every object of every type carrying ``labels``, cluster-scoped and in every
        namespace, and those of ``known`` (applied through this connection) still ours."""
        return ResourceList(records.owned_record(self.uri, obj)
                            for _, obj in self._owned_objects(labels, known))

    def owned_in_namespace(self, labels: Mapping[str, str]) -> ResourceList:
        return ResourceList(records.owned_record(self.uri, obj) for _, obj
                            in self._owned_objects(labels, (), everywhere=False))

    def objects(self, api: ApiResource, labels: Mapping[str, str] | None = None,
                namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every object of one type (in every namespace, without ``namespace``), as JSON."""
        return by_path.list_objects(self.connection, api, labels, namespace)

    def namespaces(self, labels: Mapping[str, str] | None = None
                   ) -> dict[str, dict[str, str]]:
        return {owned.name(found): dict((found.get("metadata") or {}).get("labels") or {})
                for found in self.objects(NAMESPACES, labels)}

    def _owned_objects(self, labels: Mapping[str, str], known: Iterable[Resource], *,
                       everywhere: bool = True) -> cleanup.Found:
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
        return owned.one_per_object(found)

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
            now = by_path.read_object(self.connection, api, raw)
            labelled = (now or {}).get("metadata", {}).get("labels") or {}
            if now is not None and labels_match(labelled, labels):
                more.append((api, now))
        return more

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

    def _remove_found(self, find: Callable[[], cleanup.Found], deadline: float,
                      on_progress: ProgressCallback | None) -> Removal:
        with self._boundary("cleaning up what this notebook created"):
            return cleanup.remove(self.connection, find, deadline, on_progress)

    def delete_object(self, api: ApiResource, obj: Mapping[str, Any],
                      propagation: str = "Background") -> bool:
        """Ask for ``obj``'s deletion (this very object: its uid is a precondition);
        False when it is gone already or another object now has its name."""
        return by_path.delete_object(self.connection, api, obj, propagation)

    # --- teaching -----------------------------------------------------------------------

    def _kubectl(self) -> Kubectl:
        return Kubectl(self.kubeconfig, self.target.context, self.namespace)

    def command(self, verb: str, *args: str) -> str:
        """The kubectl line that does the same on this connection: its kubeconfig, context
        and namespace, the same on every line (the namespace as the driver resolves it)."""
        return self._kubectl().command(verb, *args)

    def resource_command(self, verb: str, resource: Resource) -> str:
        """kubectl names an object by its kind: ``pod/web-1``."""
        return self._kubectl().resource_command(verb, resource)

    def apply_command(self, text: str, *, labels: Mapping[str, str] | None = None,
                      dry_run: bool = False, verb: str = "apply") -> str:
        """``kubectl apply`` (or ``diff``) of exactly what ``apply(text, labels=...)``
        applies: a server-side apply by our field manager of the manifests with the
        ownership labels stamped in (kubectl has no flag for those), on standard input."""
        stamped = [manifest_text.stamped(m, labels or {}) for m in manifest_text.parse(text)]
        return self._kubectl().apply_command(stamped, dry_run=dry_run, verb=verb,
                                             namespaced=self._namespaced)

    def _namespaced(self, manifest: Mapping[str, Any]) -> bool:
        """Whether the server keeps the manifest's kind in a namespace."""
        with self._boundary("reading the cluster's kinds"):
            return bool(server_side.resource_api(self.connection, manifest).namespaced)
