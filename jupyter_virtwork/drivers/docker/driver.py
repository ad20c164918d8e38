"""The Docker driver (``docker://``, ``docker+ssh://``, ``docker+tcp://``) over docker-py.

Lists use the low-level API (one request; docker-py's ``containers.list()`` inspects every
container, N+1 requests). Nothing is ever pulled: a missing image is an error that says to
build it or push it to the local registry, because this project's machines cannot reach
Docker Hub and a silent pull would hang a cell.

The modules beside this one: ``sdk`` imports docker-py and paramiko lazily; ``connection``
finds the engine and keeps its clients; ``failures`` is the table of SDK errors the
boundary translates (nothing above this package sees one); ``records`` makes our records of
containers, images and networks; ``run`` publishes ports and runs a container; ``images``
finds images by reference and removes a failed build's leftovers; ``build`` packs build
contexts and reads build and push streams; ``streams`` reads logs and exec output;
``events`` turns the engine's event stream into a watch; ``cleanup`` removes what a
notebook owns, with ``registry`` deleting its pushed tags; ``commands`` writes the docker
CLI lines.
"""

from __future__ import annotations

import builtins
import math
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from ... import error_messages as say
from ...errors import InvalidInput, NotFound
from ...models import (
    ContainerExit,
    ContainerSpec,
    ExecResult,
    ImageSpec,
    Kind,
    Resource,
    ResourceList,
    State,
)
from ...uri import Target
from ...watch import EventStream, Stopper, Watcher
from ..base import BaseDriver, ContainerEngine, ErrorTable, ProgressCallback, Removal, Verb
from . import build, cleanup, commands, failures, images, records, registry, run, streams
from .build import Made
from .connection import Connection
from .events import EngineEvents
from .records import KUBELET_LABEL as KUBELET_LABEL
from .records import STATE_MAP as STATE_MAP
from .run import PortBindings, port_bindings

DEFAULT_TIMEOUT = 15.0  # seconds an ordinary request may take before the engine counts as down


class DockerDriver(BaseDriver, ContainerEngine):
    name: ClassVar[str] = "docker"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(Verb)
    kinds: ClassVar[tuple[Kind, ...]] = (Kind.CONTAINER, Kind.IMAGE)
    state_words: ClassVar[Mapping[str, State]] = STATE_MAP

    def __init__(self, target: Target, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(target)
        self.timeout = timeout
        self.connection = Connection(target, timeout=timeout, boundary=self._boundary)

    # --- connection -------------------------------------------------------------------

    def _api(self, *, streaming: bool = False) -> Any:
        """The low-level client; ``streaming`` has no read timeout (follow logs, builds)."""
        return self.connection.api(streaming=streaming)

    def close(self) -> None:
        super().close()
        self.connection.close()

    def ping(self) -> str:
        """The engine's version; raises EngineUnavailable when it does not answer."""
        with self._boundary("reaching the engine"):
            return str(self._api().version()["Version"])

    # --- the error boundary -----------------------------------------------------------

    def _sdk_errors(self) -> ErrorTable:
        """docker-py's, requests' and paramiko's exceptions."""
        return failures.error_table(self.target)

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        # No filter at all when none is wanted: an empty one still costs a JSON query.
        self._check_kind(kind, "list")
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None
        with self._boundary(f"listing {kind}s"):
            if kind is Kind.CONTAINER:
                rows = self._api().containers(all=True, filters=filters)
                return ResourceList(records.container(self.uri, r) for r in rows
                                    if not (labels and records.kubelet_owned(r.get("Labels"))))
            rows = self._api().images(filters=filters)
            return ResourceList(records.image(self.uri, r) for r in rows)

    def get(self, kind: Kind, id: str) -> Resource:
        """By id (or unique id prefix) or name; one list request, like ``list``."""
        self._check_kind(kind, "get")
        with self._boundary(f"finding {kind} {id!r}", id):
            if kind is Kind.IMAGE:
                return images.find(self._api(), self.uri, id)
            for filters in ({"id": id}, {"name": f"^/{id}$"}):
                rows = self._api().containers(all=True, filters=filters)
                if len(rows) == 1:
                    return records.container(self.uri, rows[0])
        raise NotFound(say.NO_SUCH(kind=say.kind(kind.value), name=id), connection=self.uri,
                       hint=say.LIST_DOCKER())

    def create(self, spec: Any) -> Resource:
        """``docker run -d``: create and start; a container that fails to start is removed."""
        if isinstance(spec, ImageSpec):
            return self.build(spec)
        if not isinstance(spec, ContainerSpec):
            raise InvalidInput(f"the docker driver cannot create {type(spec).__name__}")
        return self.get(Kind.CONTAINER, run.run(self.connection, spec))

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
        return ResourceList(records.network(self.uri, r) for r in rows)

    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList:
        """Containers (not the kubelet's: their pods stand for them), networks and images
        carrying ``labels``."""
        return ResourceList([*self._containers_owned(labels), *self.networks(labels),
                             *self.list(Kind.IMAGE, labels)])

    def _containers_owned(self, labels: Mapping[str, str]) -> ResourceList:
        return self.list(Kind.CONTAINER, records.mine(labels))

    def remove_owned(self, labels: Mapping[str, str], known: Iterable[Resource] = (), *,
                     deadline: float, on_progress: ProgressCallback | None = None
                     ) -> Removal:
        """Containers first (with their anonymous volumes), then networks, which no
        container of ours uses any more, then images, newest first, each removal finished
        before the next starts; what someone else's container uses is left (``cleanup``)."""
        owned_images = cleanup.newest_first(self.list(Kind.IMAGE, labels))
        found = [*self._containers_owned(labels), *self.networks(labels), *owned_images]
        return cleanup.remove(found, labels, self.connection, self._remove, on_progress)

    # --- backend verbs ----------------------------------------------------------------

    def build(self, spec: ImageSpec,
              on_progress: ProgressCallback | None = None) -> Resource:
        """Build ``spec`` with the engine's own builder, never pulling a base image."""
        for base in build.base_images(spec.dockerfile):
            with self._boundary(f"building {spec.tag}", base):
                self._api().inspect_image(base)
        made = Made()
        try:
            with self._boundary(f"building {spec.tag}", spec.tag), self.connection.own_stream(
                    f"the build of {spec.tag}") as api:
                chunks = api.build(
                    fileobj=build.context_tar(spec), custom_context=True,
                    dockerfile=build.DOCKERFILE_NAME, tag=spec.tag,
                    labels=dict(spec.labels), buildargs=dict(spec.buildargs) or None,
                    rm=True, forcerm=True, pull=False, decode=True)
                build.read_build(chunks, on_progress, spec.tag, self.uri,
                                 build.count_steps(spec.dockerfile), made)
        except BaseException:
            images.remove_made(self._api(), made)
            raise
        return self.get(Kind.IMAGE, spec.tag)

    def tag(self, image: str, reference: str) -> Resource:
        repository, tag = images.split_reference(reference)
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
        repository, tag = images.split_reference(reference)
        with self._boundary(f"pushing {reference}", reference), self.connection.own_stream(
                f"the push of {reference}") as api:
            image = api.inspect_image(reference)
            if tag.startswith("sha256:"):
                tag = images.tag_of(image, repository, reference, self.uri)
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

    def exec(self, id: str, command: Sequence[str] | str) -> ExecResult:
        argv = shlex.split(command) if isinstance(command, str) else [*command]
        with self._boundary(f"exec in {id!r}", id):
            return streams.exec_in(self._api(streaming=True), id, argv)

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
        with self._boundary(f"reading logs of {id!r}", id):
            yield from streams.lines(stream)

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
        """Containers or images carrying ``labels``, listed, then followed (``events``)."""
        self._check_kind(kind, "watch")
        wanted = dict(labels or {})
        events = EngineEvents(kind, wanted, self.connection, self.list, self.get)
        return self._start_watcher(kind, wanted, Watcher(events.list_all, events.follow,
                                                         name=f"docker-{kind}"))

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The docker CLI line that does the same, e.g. ``command("pause", "web")``."""
        return commands.command(self.connection.base_url(), verb, *args)

    @staticmethod
    def port_bindings(publish: Sequence[str]) -> PortBindings:
        """``-p`` forms as the engine's PortBindings; InvalidInput for one docker refuses."""
        return port_bindings(publish)

    def create_command(self, spec: ContainerSpec, *, detach: bool = True,
                       env_values: bool = True) -> str:
        """The ``docker run`` line that makes what ``create(spec)`` makes (``commands``)."""
        return commands.create_command(self.connection.base_url(), spec, detach=detach,
                                       env_values=env_values)

    def build_command(self, spec: ImageSpec, dockerfile: str | None = None) -> str:
        """The ``docker build`` line of ``build(spec)``. ``dockerfile``: the ``-f FILE``
        the user gave, "" for the context's own Dockerfile, None for the spec's text (a
        cell), given on standard input."""
        return commands.build_command(self.connection.base_url(), spec, dockerfile)
