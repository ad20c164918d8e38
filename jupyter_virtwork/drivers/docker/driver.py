"""The Docker driver (``docker://``, ``docker+ssh://``, ``docker+tcp://``) over docker-py.

Lists use the low-level API (one request; docker-py's ``containers.list()`` inspects every
container, N+1 requests). Nothing is ever pulled: a missing image is an error that says to
build it or push it to the local registry, because this project's machines cannot reach
Docker Hub and a silent pull would hang a cell. Every SDK exception is translated by
``_sdk_errors``; nothing above this module sees one.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import importlib
import math
import os
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationFailed,
    Said,
    VirtworkError,
    first_line,
)
from ...models import (
    ContainerExit,
    ContainerSpec,
    Event,
    EventType,
    ExecResult,
    ImageSpec,
    Kind,
    Resource,
    ResourceList,
    State,
)
from ...uri import Target
from ...watch import EventStream, Stopper, Watcher
from ..base import (
    BaseDriver,
    ContainerEngine,
    ErrorTable,
    ProgressCallback,
    Removal,
    SdkFailure,
    Verb,
    heredoc,
    missing_sdk,
)
from . import build, registry
from .build import Made

STATE_MAP: dict[str, State] = {
    "created": State.CREATED,
    "running": State.RUNNING,
    "paused": State.PAUSED,
    "restarting": State.RESTARTING,
    "removing": State.STOPPED,
    "exited": State.STOPPED,
    "dead": State.FAILED,
}

# HostConfig.PortBindings: "80/tcp" -> [{"HostIp": "127.0.0.1", "HostPort": "8080"}, ...]
PortBindings = dict[str, list[dict[str, str]]]

DEFAULT_TIMEOUT = 15.0  # seconds an ordinary request may take before the engine counts as down


# The kubelet (dockershim) copies a pod's labels onto the pod's sandbox container, ours
# included. Those containers are the kubelet's: a label-filtered list or watch (what this
# notebook created, its cleanup) leaves them out, so a pod is not counted twice, nor
# removed behind the kubelet's back. An unfiltered list shows them, as `docker ps` does.
KUBELET_LABEL = "io.kubernetes.pod.name"


def _kubelet_owned(labels: Mapping[str, str] | None) -> bool:
    return KUBELET_LABEL in (labels or {})


_EPOCH = datetime.fromtimestamp(0, tz=timezone.utc)

# A container inherits its image's labels: every container of an image this notebook built
# carries its ownership labels, whoever ran it. Ours carry this one too, which no image
# does (images are built, not committed from our containers), so only they are ours.
CREATED_HERE = "virtwork.io/created-as"


def _marked(labels: Mapping[str, str]) -> dict[str, str]:
    return {**labels, CREATED_HERE: "container"} if labels else {}


class DockerDriver(BaseDriver, ContainerEngine):
    name: ClassVar[str] = "docker"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(Verb)
    kinds: ClassVar[tuple[Kind, ...]] = (Kind.CONTAINER, Kind.IMAGE)
    state_words: ClassVar[Mapping[str, State]] = STATE_MAP

    def __init__(self, target: Target, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(target)
        self.timeout = timeout
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- connection -------------------------------------------------------------------

    def _base_url(self) -> str | None:
        """Where the engine listens; None lets docker-py read DOCKER_HOST and friends."""
        scheme, target = self.target.scheme, self.target
        if scheme == "docker+ssh":
            user = f"{target.user}@" if target.user else ""
            port = f":{target.port}" if target.port else ""
            return f"ssh://{user}{target.host}{port}"
        if scheme == "docker+tcp":
            return f"tcp://{target.host}:{target.port or 2376}"
        if scheme == "docker+unix":
            return f"unix://{target.path}"
        if target.host:
            return f"tcp://{target.host}:{target.port or 2375}"
        if "DOCKER_HOST" in os.environ:
            return None
        return _current_context_host()

    def _api(self, *, streaming: bool = False) -> Any:
        """The low-level client; ``streaming`` has no read timeout (follow logs, builds)."""
        key = "stream" if streaming else "call"
        with self._lock:
            client = self._clients.get(key)
            if client is not None and not _transport_alive(client):
                del self._clients[key]  # its SSH link died: docker-py never reconnects it
                client.close()
                client = None
            if client is None:
                client = self._clients[key] = self._new_client(None if streaming
                                                               else self.timeout)
        return client

    def _new_client(self, timeout: float | None) -> Any:
        """A docker-py client. Over ``ssh://`` it is docker-py's paramiko transport: one
        SSH connection whose channels the HTTP pool reuses (its shell-out to ``ssh``
        starts a new SSH session per request), with paramiko's RejectPolicy: a host key
        not in ~/.ssh/known_hosts, or a changed one, refuses the connection."""
        docker = _import_docker()
        base_url = self._base_url()
        if base_url is not None and base_url.startswith("ssh://") and _paramiko() is None:
            raise MissingDependency("docker+ssh:// needs paramiko, docker-py's SSH transport",
                                    connection=self.uri,
                                    hint="pip install 'jupyter_virtwork[docker]'")
        with self._boundary("connecting"):
            if base_url is None:
                kwargs = docker.utils.kwargs_from_env()
                client = docker.APIClient(timeout=timeout, version="auto", **kwargs)
            else:
                tls = base_url.startswith("tcp://") and bool(os.environ.get("DOCKER_TLS_VERIFY"))
                kwargs = docker.utils.kwargs_from_env() if tls else {}
                kwargs.pop("base_url", None)
                client = _one_ssh_pool(docker.APIClient(base_url=base_url, timeout=timeout,
                                                        version="auto", **kwargs))
        # A Unix socket or SSH (http+docker://) has no use for the proxy and CA settings
        # requests reads from the environment on every request (~0.1 ms of a 1 ms list).
        if str(client.base_url).startswith("http+docker://"):
            client.trust_env = False
        return client

    def close(self) -> None:
        super().close()
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def ping(self) -> str:
        """The engine's version; raises EngineUnavailable when it does not answer."""
        with self._boundary("reaching the engine"):
            return str(self._api().version()["Version"])

    # --- the error boundary -----------------------------------------------------------

    def _sdk_errors(self) -> ErrorTable:
        """docker-py's, requests' and paramiko's exceptions."""
        docker = _import_docker()
        import requests

        return (
            (docker.errors.ImageNotFound, lambda failed: NotFound(
                say.IMAGE_NOT_LOCAL(name=failed.name), connection=self.uri,
                hint=say.BUILD_OR_PUSH())),
            (docker.errors.NotFound, lambda failed: NotFound(
                say.NO_SUCH_OBJECT(doing=failed.doing, name=failed.name) if failed.name
                else say.NO_SUCH_OBJECT_UNNAMED(doing=failed.doing), connection=self.uri)),
            (docker.errors.APIError, self._api_error),
            (_ssh_errors(), self._ssh_error),
            ((requests.exceptions.ConnectionError, requests.exceptions.Timeout,
              docker.errors.DockerException, ConnectionError, TimeoutError), self._unanswered),
        )

    def _unanswered(self, failed: SdkFailure) -> VirtworkError:
        return EngineUnavailable(say.DOCKER_SILENT(doing=failed.doing,
                                                   why=first_line(failed.error)),
                                 connection=self.uri,
                                 hint=self._ssh_hint() if self.target.scheme == "docker+ssh"
                                 else say.START_DOCKER())

    def _ssh_error(self, failed: SdkFailure) -> VirtworkError:
        """paramiko's errors: the SSH link to the engine's host, not the engine."""
        hint, why = self._ssh_hint(), first_line(failed.error)
        if isinstance(failed.error, _paramiko().AuthenticationException):
            return AuthenticationFailed(f"{failed.doing} failed: the SSH login was refused "
                                        f"({why})", connection=self.uri, hint=hint)
        return EngineUnavailable(say.DOCKER_NO_SSH(doing=failed.doing, why=why),
                                 connection=self.uri, hint=hint)

    def _ssh_hint(self) -> Said:
        user = f"{self.target.user}@" if self.target.user else ""
        return say.CHECK_SSH(port=self.target.port or 22, login=f"{user}{self.target.host}")

    def _api_error(self, failed: SdkFailure) -> VirtworkError:
        """docker-py's APIError: the engine's answer, by its HTTP status."""
        explanation = first_line(failed.error.explanation or failed.error)
        status = failed.error.status_code
        if status == 409 and "already in use" in explanation:
            return AlreadyExists(say.EXISTS(name=failed.name), connection=self.uri,
                                 hint=say.RENAME_OR_REMOVE())
        if status == 400 or "parse error" in explanation:
            return InvalidInput(f"{failed.doing}: {explanation}", connection=self.uri)
        return OperationFailed(f"{failed.doing} failed: {explanation}", connection=self.uri)

    # --- records ----------------------------------------------------------------------

    def _container(self, row: Mapping[str, Any]) -> Resource:
        names = row.get("Names") or [""]
        return Resource(
            uri=self.uri, kind=Kind.CONTAINER, id=str(row["Id"]),
            name=str(names[0]).lstrip("/"),
            state=STATE_MAP.get(str(row.get("State", "")).lower(), State.UNKNOWN),
            labels=dict(row.get("Labels") or {}),
            created=datetime.fromtimestamp(int(row.get("Created", 0)), tz=timezone.utc),
            details={"image": row.get("Image", ""), "ports": _ports(row.get("Ports") or [])},
            raw=dict(row),
        )

    def _image(self, row: Mapping[str, Any]) -> Resource:
        tags = [t for t in row.get("RepoTags") or [] if t != "<none>:<none>"]
        return Resource(
            uri=self.uri, kind=Kind.IMAGE, id=str(row["Id"]),
            name=tags[0] if tags else str(row["Id"])[7:19], state=State.AVAILABLE,
            labels=dict(row.get("Labels") or {}),
            created=datetime.fromtimestamp(int(row.get("Created", 0)), tz=timezone.utc),
            details={"tags": ", ".join(tags), "size": int(row.get("Size", 0))},
            raw=dict(row),
        )

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        # No filter at all when none is wanted: an empty one still costs a JSON query.
        self._check_kind(kind, "list")
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None
        with self._boundary(f"listing {kind}s"):
            if kind is Kind.CONTAINER:
                rows = self._api().containers(all=True, filters=filters)
                return ResourceList(self._container(r) for r in rows
                                    if not (labels and _kubelet_owned(r.get("Labels"))))
            rows = self._api().images(filters=filters)
            return ResourceList(self._image(r) for r in rows)

    def get(self, kind: Kind, id: str) -> Resource:
        """By id (or unique id prefix) or name; one list request, like ``list``."""
        self._check_kind(kind, "get")
        with self._boundary(f"finding {kind} {id!r}", id):
            if kind is Kind.IMAGE:
                return self._image_by_reference(id)
            for filters in ({"id": id}, {"name": f"^/{id}$"}):
                rows = self._api().containers(all=True, filters=filters)
                if len(rows) == 1:
                    return self._container(rows[0])
        raise NotFound(say.NO_SUCH(kind=say.kind(kind.value), name=id), connection=self.uri,
                       hint=say.LIST_DOCKER())

    def _image_by_reference(self, reference: str) -> Resource:
        info = self._api().inspect_image(reference)
        rows = self._api().images(filters={"reference": reference}) or [
            {"Id": info["Id"], "RepoTags": info.get("RepoTags"),
             "Labels": (info.get("Config") or {}).get("Labels"), "Size": info.get("Size", 0),
             "Created": 0}]
        return self._image(rows[0])

    def create(self, spec: Any) -> Resource:
        """``docker run -d``: create and start; a container that fails to start is removed."""
        if isinstance(spec, ImageSpec):
            return self.build(spec)
        if not isinstance(spec, ContainerSpec):
            raise InvalidInput(f"the docker driver cannot create {type(spec).__name__}")
        bindings = port_bindings(spec.ports)
        api = self._api()
        with self._boundary(f"creating a container from {spec.image}", spec.image):
            api.inspect_image(spec.image)  # no pull: a missing image is an error, at once
        with self._boundary(f"creating container {spec.name or ''}".strip(),
                            spec.name or spec.image):
            # memswap_limit equal to mem_limit: no swap past the limit, as `--memory`
            # alone gives on a host without swap accounting.
            host_config = api.create_host_config(port_bindings=bindings,  # {} as the CLI
                                                 network_mode=spec.network,
                                                 mem_limit=spec.memory,
                                                 memswap_limit=spec.memory)
            created = api.create_container(
                spec.image, command=list(spec.command) or None, name=spec.name,
                environment=dict(spec.env) or None, labels=_marked(spec.labels),
                ports=[tuple(key.split("/")) for key in bindings] or None,
                host_config=host_config, detach=True)
        container_id = str(created["Id"])
        try:
            with self._boundary(f"starting container {spec.name or container_id[:12]}"):
                api.start(container_id)
        except VirtworkError:
            with contextlib.suppress(Exception):
                api.remove_container(container_id, force=True)
            raise
        return self.get(Kind.CONTAINER, container_id)

    def start(self, kind: Kind, id: str) -> Resource:
        return self._container_verb("start", kind, id)

    def stop(self, kind: Kind, id: str, *, force: bool = False,
             timeout: float | None = None) -> Resource:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (docker's 10 by default; at
        once with ``force``)."""
        self._check_kind(kind, "stop", Kind.CONTAINER)
        wait = 0 if force else 10 if timeout is None else timeout
        with self._boundary(f"stop container {id!r}", id):
            self._api().stop(id, timeout=math.ceil(wait))  # the API takes whole seconds
        return self.get(kind, id)

    def pause(self, kind: Kind, id: str) -> Resource:
        return self._container_verb("pause", kind, id)

    def resume(self, kind: Kind, id: str) -> Resource:
        return self._container_verb("unpause", kind, id)

    def restart(self, kind: Kind, id: str) -> Resource:
        return self._container_verb("restart", kind, id)

    def _container_verb(self, verb: str, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, verb, Kind.CONTAINER)
        with self._boundary(f"{verb} container {id!r}", id):
            getattr(self._api(), verb)(id)
        return self.get(kind, id)

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        """Remove a container (with its anonymous volumes: ``docker rm -v``), an image or a
        network. Each is gone from the engine when this returns."""
        self._check_kind(kind, "destroy", Kind.CONTAINER, Kind.IMAGE, Kind.NETWORK)
        with self._boundary(f"removing {kind} {id!r}", id):
            if kind is Kind.CONTAINER:
                self._api().remove_container(id, force=force, v=True)
            elif kind is Kind.IMAGE:
                self._api().remove_image(id, force=force)
            else:
                self._api().remove_network(id)

    # --- what a notebook owns ---------------------------------------------------------

    def networks(self, labels: Mapping[str, str] | None = None) -> ResourceList:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None
        with self._boundary("listing networks"):
            rows = self._api().networks(filters=filters)
        return ResourceList(self._network(r) for r in rows)

    def _network(self, row: Mapping[str, Any]) -> Resource:
        created = str(row.get("Created") or "")
        return Resource(
            uri=self.uri, kind=Kind.NETWORK, id=str(row["Id"]), name=str(row.get("Name", "")),
            state=State.AVAILABLE, labels=dict(row.get("Labels") or {}),
            created=datetime.fromisoformat(created[:26].rstrip("Z")).replace(
                tzinfo=timezone.utc) if created else None,
            details={"driver": row.get("Driver", "")}, raw=dict(row))

    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList:
        """Containers (not the kubelet's: their pods stand for them), networks and images
        carrying ``labels``."""
        return ResourceList([*self._containers_owned(labels), *self.networks(labels),
                             *self.list(Kind.IMAGE, labels)])

    def _containers_owned(self, labels: Mapping[str, str]) -> ResourceList:
        return self.list(Kind.CONTAINER, {**labels, CREATED_HERE: "container"})

    def remove_owned(self, labels: Mapping[str, str], known: Iterable[Resource] = (), *,
                     deadline: float, on_progress: ProgressCallback | None = None
                     ) -> Removal:
        """Containers first (with their anonymous volumes), then networks, which no
        container of ours uses any more, then images, newest first (a child before the
        image it was built on). Each removal has finished when the next starts.

        An image or network that someone else's container still uses is left, and the
        containers named: removing it by force would pull it from under them. Stopped
        containers of our own pods (the kubelet removes them a little later) do not count."""
        removal = Removal()
        images = sorted(self.list(Kind.IMAGE, labels), key=lambda r: r.created or _EPOCH,
                        reverse=True)
        for resource in [*self._containers_owned(labels), *self.networks(labels), *images]:
            if resource.kind is Kind.IMAGE:
                self._unpush(resource, removal)
            others = [] if resource.kind is Kind.CONTAINER else self._others_using(resource,
                                                                                   labels)
            if others:
                removal.left.append((resource, "used by " + ", ".join(others)))
            else:  # one already gone (an image removed with its child) is skipped there
                self._remove(resource, removal, on_progress)
        return removal

    def _unpush(self, image: Resource, removal: Removal) -> None:
        """Delete from its registry each tag of ``image`` that was pushed (the registry
        holds this very image under it)."""
        for tag in (image.raw or {}).get("RepoTags") or []:
            digest = registry.pushed_digest(tag, image.id)
            if digest is None:
                continue
            pushed = dataclasses.replace(image, name=f"{tag} in its registry",
                                         details={**image.details, "digest": digest})
            try:
                registry.delete(tag, digest)
            except OperationFailed as exc:
                removal.left.append((pushed, exc.message))
                continue
            removal.removed.append(pushed)

    def _others_using(self, resource: Resource, labels: Mapping[str, str]) -> builtins.list[str]:
        """The containers not of this notebook that use an image or network, described.
        A container of our image inherits its labels, so only our mark tells ours; a
        stopped container of a pod is the kubelet's to remove, its pod gone."""
        filters = {"ancestor": resource.id} if resource.kind is Kind.IMAGE \
            else {"network": resource.id}
        with self._boundary(f"listing the containers using {resource.kind} {resource.name!r}"):
            rows = self._api().containers(all=True, filters=filters)
        users = [self._container(row) for row in rows]
        mine = {**labels, CREATED_HERE: "container"}
        return [f"{u.state} container {u.name!r}" + (" of a pod" if _kubelet_owned(u.labels)
                                                      else "") + " (not this notebook's)"
                for u in users
                if not self._matches(u.labels, mine)
                and not (_kubelet_owned(u.labels) and u.state is not State.RUNNING)]

    # --- backend verbs ----------------------------------------------------------------

    def build(self, spec: ImageSpec,
              on_progress: ProgressCallback | None = None) -> Resource:
        """Build ``spec`` with the engine's own builder, never pulling a base image."""
        for base in build.base_images(spec.dockerfile):
            with self._boundary(f"building {spec.tag}", base):
                self._api().inspect_image(base)
        made = Made()
        try:
            with self._boundary(f"building {spec.tag}", spec.tag), self._own_stream(
                    f"the build of {spec.tag}") as api:
                chunks = api.build(
                    fileobj=build.context_tar(spec), custom_context=True,
                    dockerfile=build.DOCKERFILE_NAME, tag=spec.tag,
                    labels=dict(spec.labels), buildargs=dict(spec.buildargs) or None,
                    rm=True, forcerm=True, pull=False, decode=True)
                build.read_build(chunks, on_progress, spec.tag, self.uri,
                                        build.count_steps(spec.dockerfile), made)
        except BaseException:
            self._remove_made(made)
            raise
        return self.get(Kind.IMAGE, spec.tag)

    def _remove_made(self, made: Made) -> None:
        """Remove what a failed build made (newest first: a layer is its successor's
        parent); one that a later build already uses is that build's now, and stays."""
        import requests

        # The build's own error is the one to report, whatever happens here.
        unreported = (_import_docker().errors.DockerException, requests.RequestException)
        api = self._api()
        for container in made.containers:
            with contextlib.suppress(*unreported):
                api.remove_container(container, force=True)
        for image in reversed(made.images):
            with contextlib.suppress(*unreported):
                api.remove_image(image)

    @contextlib.contextmanager
    def _own_stream(self, work: str) -> Iterator[Any]:
        """A client of its own for one long stream (a build, a push), closed afterwards.

        Closing its connection is how the engine learns the client gave up: dockerd cancels
        a build (and removes its intermediate containers), the registry a push. So Ctrl-C
        cancels the work for real, and says so."""
        api = self._new_client(None)
        try:
            yield api
        except KeyboardInterrupt:
            api.close()
            raise Cancelled(f"interrupted: {work} was cancelled", connection=self.uri) from None
        finally:
            api.close()

    def tag(self, image: str, reference: str) -> Resource:
        repository, tag = _split_reference(reference)
        if tag.startswith("sha256:"):
            raise InvalidInput(f"cannot tag {image} as {reference}: a digest names content, "
                               "it is not a tag", connection=self.uri,
                               hint="give a name with a :tag")
        with self._boundary(f"tagging {image} as {reference}", image):
            self._api().tag(image, repository, tag)
        return self.get(Kind.IMAGE, reference)

    def push(self, reference: str,
             on_progress: ProgressCallback | None = None) -> str:
        """Push ``reference`` (registry host included); the pushed digest. A reference by
        digest pushes the tags of that repository that name the same image (the engine
        pushes tags only)."""
        repository, tag = _split_reference(reference)
        with self._boundary(f"pushing {reference}", reference), self._own_stream(
                f"the push of {reference}") as api:
            image = api.inspect_image(reference)
            if tag.startswith("sha256:"):
                tag = self._tag_of(image, repository, reference)
            chunks = api.push(repository, tag=tag, stream=True, decode=True)
            return build.read_push(chunks, on_progress, reference, self.uri)

    def registry_tags(self, image: str) -> dict[str, bool]:
        """Each tag of the local image ``image`` (a name or id) that names a registry, and
        whether that registry holds this very image under it: what a push put there and
        nobody pushed over since (a registry that does not answer holds nothing)."""
        with self._boundary(f"reading image {image!r}", image):
            info = self._api().inspect_image(image)  # every tag: a list filters them
        tags = [str(tag) for tag in info.get("RepoTags") or []]
        return {tag: registry.pushed_digest(tag, str(info["Id"])) is not None
                for tag in tags if registry.split(tag) is not None}

    def _tag_of(self, image: Mapping[str, Any], repository: str, reference: str) -> str:
        tags = [t.rpartition(":")[2] for t in image.get("RepoTags") or []
                if _split_reference(t)[0] == repository]
        if not tags:
            raise InvalidInput(f"{reference} has no tag in {repository} to push",
                               connection=self.uri, hint=f"push it by a tag: {repository}:TAG")
        return "latest" if "latest" in tags else tags[0]

    def exec(self, id: str, command: Sequence[str] | str) -> ExecResult:
        argv = shlex.split(command) if isinstance(command, str) else [*command]
        with self._boundary(f"exec in {id!r}", id):
            api = self._api(streaming=True)
            exec_id = api.exec_create(id, argv, stdout=True, stderr=True)["Id"]
            out, err = api.exec_start(exec_id, demux=True)
            code = api.exec_inspect(exec_id)["ExitCode"]
        return ExecResult(int(code or 0), (out or b"").decode(errors="replace"),
                          (err or b"").decode(errors="replace"))

    def wait(self, id: str, *, timeout: float = 60.0) -> ContainerExit:
        """``docker wait``: once the container's main process has ended, how it ended
        (its exit code, and whether the OOM killer ended it), as the engine recorded it."""
        with self._boundary(f"waiting for {id!r} to end", id):
            self._api(streaming=True).wait(id, timeout=timeout)  # its own read timeout
            state = self._api().inspect_container(id)["State"]
        return ContainerExit(int(state.get("ExitCode") or 0), bool(state.get("OOMKilled")))

    def logs(self, id: str, *, tail: int | None = None, follow: bool = False,
             stopper: Stopper | None = None) -> Iterator[str]:
        """The container's output lines; with ``follow``, until it stops or ``stopper``
        stops (from any thread)."""
        with self._boundary(f"reading logs of {id!r}", id):
            stream = self._api(streaming=follow).logs(
                id, stream=True, follow=follow, tail=tail if tail is not None else "all")
        if stopper is not None:
            stopper.on_stop(getattr(stream, "close", lambda: None))
        pending = b""
        with self._boundary(f"reading logs of {id!r}", id):
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
            if pending:
                yield pending.decode(errors="replace")

    def stats(self, id: str) -> dict[str, Any]:
        """One snapshot: CPU and memory as the engine reports them."""
        with self._boundary(f"reading stats of {id!r}", id):
            raw = self._api().stats(id, stream=False)
        memory = raw.get("memory_stats") or {}
        return {"memory_bytes": int(memory.get("usage", 0)),
                "memory_limit": int(memory.get("limit", 0)),
                "pids": int((raw.get("pids_stats") or {}).get("current", 0)), "raw": raw}

    # --- watch ------------------------------------------------------------------------

    def _in_list_order(self, resources: builtins.list[Resource]) -> builtins.list[Resource]:
        """Newest first, as the engine lists them."""
        return sorted(resources, key=lambda r: -r.created.timestamp() if r.created else 0.0)

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        self._check_kind(kind, "watch")
        wanted = dict(labels or {})

        def list_all() -> tuple[ResourceList, str | None]:
            since = self._server_time()
            return self.list(kind, wanted), since

        def follow(since: str | None, emit: Any, stopper: Stopper) -> None:
            filters = {"type": "container" if kind is Kind.CONTAINER else "image",
                       "label": [f"{k}={v}" for k, v in wanted.items()]}
            with self._boundary("following engine events"):
                events = self._api(streaming=True).events(since=since, filters=filters,
                                                          decode=True)
                stopper.on_stop(events.close)
                for native in events:
                    if stopper.stopped:
                        return
                    if wanted and _kubelet_owned((native.get("Actor") or {}).get("Attributes")):
                        continue
                    event = self._event(kind, native)
                    if event is not None:
                        emit(event)
            if not stopper.stopped:  # the stream never ends by itself: its link broke
                raise EngineUnavailable("the engine's event stream ended",
                                        connection=self.uri)

        return self._start_watcher(kind, wanted, Watcher(list_all, follow,
                                                         name=f"docker-{kind}"))

    def _server_time(self) -> str:
        with self._boundary("reading the engine clock"):
            info = self._api().info()
        system_time = str(info.get("SystemTime", ""))
        moment = datetime.fromisoformat(system_time[:26].rstrip("Z")) if system_time else None
        return str(int(moment.replace(tzinfo=timezone.utc).timestamp())) if moment else "0"

    def _event(self, kind: Kind, native: Mapping[str, Any]) -> Event | None:
        action = str(native.get("Action") or native.get("status") or "")
        actor = native.get("Actor") or {}
        object_id = str(actor.get("ID") or native.get("id") or "")
        if not object_id or action.startswith(("exec_", "health_status", "top", "attach")):
            return None
        if action in ("destroy", "delete", "untag"):
            stub = Resource(self.uri, kind, object_id, object_id, State.DELETED)
            if kind is Kind.IMAGE and action == "untag":
                return self._image_event(object_id)
            return Event(EventType.DELETED, stub)
        try:
            resource = self.get(kind, object_id)
            if kind is Kind.CONTAINER:
                resource = self._with_inspected_state(resource)
        except NotFound:
            return None  # gone again before we asked; its destroy event follows
        return Event(EventType.MODIFIED, resource)

    def _with_inspected_state(self, resource: Resource) -> Resource:
        """dockerd 20.10 sends pause/unpause before its container list shows the change;
        inspect already has it, so an event's row carries the state the event announced."""
        with self._boundary(f"inspecting {resource.name!r}", resource.name):
            status = str(self._api().inspect_container(resource.id)["State"]["Status"])
        state = STATE_MAP.get(status.lower(), State.UNKNOWN)
        return resource if state is resource.state else dataclasses.replace(resource,
                                                                            state=state)

    def _image_event(self, image_id: str) -> Event:
        try:
            return Event(EventType.MODIFIED, self.get(Kind.IMAGE, image_id))
        except NotFound:
            return Event(EventType.DELETED,
                         Resource(self.uri, Kind.IMAGE, image_id, image_id, State.DELETED))

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The docker CLI line that does the same, e.g. ``command("pause", "web")``."""
        words = {"list": ["ps", "-a"], "get": ["inspect"], "images": ["images"],
                 "resume": ["unpause"], "destroy": ["rm", "-f"],
                 "create": ["run", "-d"]}.get(verb, [verb])
        host = self._base_url()
        prefix = ["docker", "-H", host] if host and not host.startswith("unix://") else ["docker"]
        return shlex.join([*prefix, *words, *args])

    @staticmethod
    def port_bindings(publish: Sequence[str]) -> PortBindings:
        """``-p`` forms as the engine's PortBindings; InvalidInput for one docker refuses."""
        return port_bindings(publish)

    def create_command(self, spec: ContainerSpec, *, detach: bool = True,
                       env_values: bool = True) -> str:
        """The ``docker run`` line that makes what ``create(spec)`` makes: every option
        of the spec (ownership labels included), and never a pull, as the driver. Without
        ``env_values``, ``-e NAME``: docker reads the value from its caller's environment."""
        flags = ["-d"] if detach else []
        flags += ["--name", spec.name] if spec.name else []
        for key, value in spec.env.items():
            flags += ["-e", f"{key}={value}" if env_values else key]
        for port in spec.ports:
            flags += ["-p", port]
        for key, value in _marked(spec.labels).items():
            flags += ["--label", f"{key}={value}"]
        flags += ["--network", spec.network] if spec.network else []
        flags += ["--memory", f"{spec.memory}b", "--memory-swap", f"{spec.memory}b"] \
            if spec.memory else []
        return self.command("run", *flags, "--pull", "never", spec.image, *spec.command)

    def build_command(self, spec: ImageSpec, dockerfile: str | None = None) -> str:
        """The ``docker build`` line of ``build(spec)``. ``dockerfile``: the ``-f FILE``
        the user gave, "" for the context's own Dockerfile, None for the spec's text (a
        cell), given on standard input."""
        flags = ["-t", spec.tag, "--force-rm"]
        for key, value in spec.labels.items():
            flags += ["--label", f"{key}={value}"]
        for key, value in spec.buildargs.items():
            flags += ["--build-arg", f"{key}={value}"]
        context = str(spec.context) if spec.context is not None else None
        if dockerfile is not None:
            flags += ["-f", dockerfile] if dockerfile else []
            return self.command("build", *flags, context or ".")
        line = self.command("build", *flags, *(["-f", "-", context] if context else ["-"]))
        return heredoc(line, spec.dockerfile)


def _import_docker() -> Any:
    try:
        import docker
    except ImportError as exc:
        raise missing_sdk("docker") from exc
    return docker


def _paramiko() -> Any:
    """paramiko (docker-py's ssh:// transport), or None: only ssh:// connections need it.
    Imported by name: it ships no type information."""
    try:
        return importlib.import_module("paramiko")
    except ImportError:
        return None


def _ssh_errors() -> tuple[type[BaseException], ...]:
    """paramiko's connection errors; () without paramiko."""
    paramiko = _paramiko()
    if paramiko is None:
        return ()
    return (paramiko.SSHException, paramiko.ssh_exception.NoValidConnectionsError)


def _transport_alive(client: Any) -> bool:
    """False once the SSH transport under a docker-py ssh:// client has died (a local or
    TCP client has none and is always "alive": its pool reconnects by itself)."""
    ssh = getattr(getattr(client, "_custom_adapter", None), "ssh_client", None)
    if ssh is None:
        return True
    transport = ssh.get_transport()
    return transport is not None and bool(transport.is_active())


def _one_ssh_pool(client: Any) -> Any:
    """docker-py keys its SSH connection pools by the whole request URL (path and query):
    each distinct request keeps an SSH session channel of its own open, and sshd's default
    ``MaxSessions 10`` refuses the eleventh ("open failed"). One pool for every URL: its
    channels serve any request, and a repeated list reuses one."""
    adapter: Any = getattr(client, "_custom_adapter", None)
    if getattr(adapter, "ssh_client", None) is None:
        return client
    by_url = adapter.get_connection
    adapter.get_connection = lambda _url, proxies=None: by_url("http+docker://ssh", proxies)
    return client


def _current_context_host() -> str | None:
    """The endpoint of the current docker context, when one other than default is set."""
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:  # noqa: BLE001 - an unreadable docker config means "the default"
        return None
    if context is None or context.name == "default":
        return None
    host = context.Host
    return str(host) if host else None


def port_bindings(publish: Sequence[str]) -> PortBindings:
    """``docker run -p`` forms as the engine's ``HostConfig.PortBindings``, bound as the
    docker CLI binds them: "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80" (any host
    port), "80" (any host port, every address), ranges "8000-8001:80-81", "/udp", "/sctp".

    docker-py's own parser reads them (``docker.utils.ports.split_port``); its keys
    become "PORT/PROTO" with tcp as the default, the key the engine and the CLI use."""
    from docker.utils.ports import split_port

    bindings: PortBindings = {}
    for item in publish:
        try:
            inside, outside = split_port(item)
        except ValueError as exc:  # its "Invalid port" text repeats the usage below
            why = "" if str(exc).startswith("Invalid port") else f" ({str(exc).lower()})"
            raise InvalidInput(f"-p {item!r} is not a port docker can publish{why}",
                               hint="write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], "
                                    "e.g. -p 8080:80 or -p 127.0.0.1:8080:80/udp") from None
        for port, host in zip(inside, outside or [None] * len(inside), strict=True):
            address, host_port = host if isinstance(host, tuple) else ("", host)
            key = port if "/" in port else f"{port}/tcp"
            bindings.setdefault(key, []).append(
                {"HostIp": address or "", "HostPort": "" if host_port is None else str(host_port)})
    return bindings


def _ports(ports: list[Mapping[str, Any]]) -> str:
    shown = []
    for port in ports:
        inside = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        public = port.get("PublicPort")
        shown.append(f"{port.get('IP', '')}:{public}->{inside}".lstrip(":") if public
                     else inside)
    return ", ".join(sorted(set(shown)))


def _split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag or "sha256:..." digest), as docker-py's ``parse_repository_tag``
    splits it (a registry's host:port is not a tag); no tag means ``latest``."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(reference)
    return repository, tag or "latest"
