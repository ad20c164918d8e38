"""The driver contract: one typed surface over Docker, Kubernetes, vSphere and libvirt.

``Driver`` is the Protocol the rest of the toolkit codes against; ``BaseDriver`` gives every
verb a default that raises ``UnsupportedOperation`` naming driver and verb, so a driver
implements what its backend can do and ``capabilities`` says which verbs those are.
What an engine does beyond the nine verbs is typed by its family (at the end of this file):
a ``ContainerEngine`` builds, pushes, execs; a ``Cluster`` applies and scales; a
``Hypervisor`` creates from a VMSpec, reconfigures, reads a console.

``BaseDriver`` also holds what every driver shares: the boundary that turns SDK exceptions
into our errors (a driver gives only its table, ``_sdk_errors``), kind checks, label
matching, and its open watches, forgotten as each closes and closed by ``close()``.

A driver's running watches are also its list cache: ``list_cached`` answers from a synced
Watcher of the same kind and labels (``watch.Informers``), else asks the engine.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..errors import (
    EngineUnavailable,
    MissingDependency,
    NotFound,
    UnsupportedOperation,
    VirtworkError,
)
from ..models import (
    ContainerSpec,
    ExecResult,
    ImageSpec,
    Kind,
    Progress,
    Resource,
    ResourceList,
    State,
    VMSpec,
)
from ..uri import Target
from ..watch import EventStream, Informers, Stopper, Watcher

# The SDK each backend needs, as pip names it. pyproject's extras carry the family's name,
# so `pip install 'jupyter_virtwork[libvirt]'` installs what the libvirt backend needs.
SDK_PACKAGES: dict[str, str] = {
    "docker": "docker",
    "kubernetes": "kubernetes",
    "vsphere": "pyvmomi",
    "libvirt": "libvirt-python",
}


def missing_sdk(family: str) -> MissingDependency:
    """The one line for a backend whose SDK is not installed, naming the extra to install."""
    return MissingDependency(f"the {family} backend needs {SDK_PACKAGES[family]}",
                             hint=f"pip install 'jupyter_virtwork[{family}]'")


class Verb(str, Enum):
    LIST = "list"
    GET = "get"
    CREATE = "create"
    START = "start"
    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"
    DESTROY = "destroy"
    WATCH = "watch"

    def __str__(self) -> str:
        return self.value


@dataclass
class Removal:
    """What a cleanup removed from one connection, and what it left there and why."""

    removed: ResourceList = field(default_factory=ResourceList)
    left: list[tuple[Resource, str]] = field(default_factory=list)


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class SdkFailure:
    """An SDK exception caught at a driver's boundary, with what the driver was doing."""

    error: Any  # the SDK's exception (SDKs ship no types, so its attributes are Any)
    doing: str  # e.g. "listing VMs": how our one line starts
    name: str  # the object concerned, "" when none


ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]
# Our error for an SDK failure; None: not this row's after all (a later row may take it,
# and one no row takes goes up unchanged).
Translation = Callable[[SdkFailure], VirtworkError | None]
ErrorTable = Sequence[tuple[ExceptionTypes, Translation]]


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``labels`` carry every label of ``wanted`` (a selector's equalities)."""
    return all(labels.get(key) == value for key, value in wanted.items())


class Boundary(Protocol):
    """A driver's error boundary (``BaseDriver._boundary``), handed to the helper modules of
    its package so that their SDK calls are translated in the one place."""

    def __call__(self, doing: str, name: str = "") -> contextlib.AbstractContextManager[None]:
        ...


@runtime_checkable
class Driver(Protocol):
    name: ClassVar[str]
    target: Target
    capabilities: ClassVar[frozenset[Verb]]
    kinds: ClassVar[tuple[Kind, ...]]
    state_words: ClassVar[Mapping[str, State]]
    on_created: Callable[[Resource], None] | None

    @property
    def uri(self) -> str: ...
    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList: ...
    def list_cached(self, kind: Kind, labels: Mapping[str, str] | None = None, *,
                    fresh: bool = False) -> ResourceList: ...
    def get(self, kind: Kind, id: str) -> Resource: ...
    def create(self, spec: Any) -> Resource: ...
    def start(self, kind: Kind, id: str) -> Resource: ...
    def stop(self, kind: Kind, id: str) -> Resource: ...
    def pause(self, kind: Kind, id: str) -> Resource: ...
    def resume(self, kind: Kind, id: str) -> Resource: ...
    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None: ...
    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream: ...
    def command(self, verb: str, *args: str) -> str: ...
    def resource_command(self, verb: str, resource: Resource) -> str: ...
    @property
    def scope(self) -> tuple[str, ...]: ...
    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList: ...
    def remove_owned(self, labels: Mapping[str, str], known: Iterable[Resource] = (), *,
                     deadline: float, on_progress: ProgressCallback | None = None
                     ) -> Removal: ...
    def close(self) -> None: ...


class BaseDriver:
    """Defaults for the contract. Subclasses set ``name``, ``capabilities`` and ``kinds``."""

    name: ClassVar[str] = "base"
    capabilities: ClassVar[frozenset[Verb]] = frozenset()
    kinds: ClassVar[tuple[Kind, ...]] = ()
    # The engine's own words for its states, as it spells them (docker's "exited", vSphere's
    # "poweredOn"...): what a learner may write beside ours (models.State) in %vw check.
    state_words: ClassVar[Mapping[str, State]] = {}

    def __init__(self, target: Target) -> None:
        self.target = target
        # Told of each object created through this driver (the Session's record of what
        # the notebook made); drivers whose engine lists everything by label may not call it.
        self.on_created: Callable[[Resource], None] | None = None
        self.informers = Informers()
        self._watches: set[EventStream] = set()  # open ones; each leaves as it closes
        self._watches_lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self.target.uri

    def _unsupported(self, verb: Verb | str) -> UnsupportedOperation:
        return UnsupportedOperation(self.name, str(verb), connection=self.uri)

    def _check_kind(self, kind: Kind, verb: str, *allowed: Kind) -> None:
        """Refuse ``verb`` on a ``kind`` not ``allowed`` (by default, the kinds it makes)."""
        if kind not in (allowed or self.kinds):
            raise self._unsupported(f"{verb} {kind}")

    # --- the error boundary -----------------------------------------------------------

    _sdk_cause_shown: ClassVar[bool] = True
    """Our error names the SDK's exception as its cause in a full traceback."""

    def _sdk_errors(self) -> ErrorTable:
        """The SDK's exceptions and what each becomes, most specific first. Called as a
        boundary opens: importing the SDK there makes a missing one the one-line
        MissingDependency."""
        return ()

    @contextlib.contextmanager
    def _boundary(self, doing: str, name: str = "") -> Iterator[None]:
        """Translate an SDK exception raised while ``doing`` (to ``name``) by the driver's
        ``_sdk_errors``: nothing above the drivers sees one. Ours pass unchanged."""
        table = self._sdk_errors()
        try:
            yield
        except VirtworkError:
            raise  # several are OSError or ValueError too: never translate them again
        except Exception as exc:
            failure = SdkFailure(exc, doing, name)
            for types, translate in table:
                error = translate(failure) if isinstance(exc, types) else None
                if error is not None:
                    raise error from (exc if self._sdk_cause_shown else None)
            raise

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        raise self._unsupported(Verb.LIST)

    def list_cached(self, kind: Kind, labels: Mapping[str, str] | None = None, *,
                    fresh: bool = False) -> ResourceList:
        """``list``, answered without asking the engine while a watch of the same kind and
        labels is synced (its cache holds every event delivered so far); ``fresh`` asks the
        engine anyway."""
        cached = None if fresh else self.informers.cached(kind, labels)
        if cached is None:
            return self.list(kind, labels)
        return ResourceList(self._in_list_order(cached))

    def _in_list_order(self, resources: builtins.list[Resource]) -> builtins.list[Resource]:
        """The cache's records in the order the engine lists them."""
        return resources

    def get(self, kind: Kind, id: str) -> Resource:
        raise self._unsupported(Verb.GET)

    def create(self, spec: Any) -> Resource:
        raise self._unsupported(Verb.CREATE)

    def start(self, kind: Kind, id: str) -> Resource:
        raise self._unsupported(Verb.START)

    def stop(self, kind: Kind, id: str) -> Resource:
        raise self._unsupported(Verb.STOP)

    def pause(self, kind: Kind, id: str) -> Resource:
        raise self._unsupported(Verb.PAUSE)

    def resume(self, kind: Kind, id: str) -> Resource:
        raise self._unsupported(Verb.RESUME)

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        raise self._unsupported(Verb.DESTROY)

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        raise self._unsupported(Verb.WATCH)

    def _start_watcher(self, kind: Kind, labels: Mapping[str, str] | None,
                       watcher: Watcher) -> EventStream:
        """Start ``watcher``; lists of ``kind`` and ``labels`` answer from it while synced.
        The driver holds its stream until it closes (``close`` closes it), no longer."""
        stream = watcher.stream
        with self._watches_lock:
            self._watches.add(stream)
        stream.stopper.on_stop(lambda: self._forget_watch(stream))
        self.informers.add(kind, labels, watcher)
        return watcher.start()

    def _forget_watch(self, stream: EventStream) -> None:
        with self._watches_lock:
            self._watches.discard(stream)

    @property
    def open_watches(self) -> builtins.list[EventStream]:
        """The streams of this driver's watches that are still open."""
        with self._watches_lock:
            return builtins.list(self._watches)

    def command(self, verb: str, *args: str) -> str:
        """The equivalent docker / kubectl / virsh / govc command line, for teaching."""
        raise self._unsupported(f"command for {verb}")

    def resource_command(self, verb: str, resource: Resource) -> str:
        """``command`` for ``verb`` on ``resource``, named as this CLI names it."""
        return self.command(verb, resource.name or resource.id)

    @property
    def scope(self) -> tuple[str, ...]:
        """What this connection sees: two connections of one scope list the same objects
        (one engine through two aliases)."""
        return (self.target.family, self.uri)

    def owned(self, labels: Mapping[str, str],
              known: Iterable[Resource] = ()) -> ResourceList:
        """Everything on this connection that carries ``labels``, of every kind it makes.
        ``known`` are records of what was created here, for a driver that cannot find
        everything by label alone."""
        found = ResourceList()
        for kind in self.kinds:
            found.extend(self.list(kind, labels=labels))
        return found

    def remove_owned(self, labels: Mapping[str, str], known: Iterable[Resource] = (), *,
                     deadline: float, on_progress: ProgressCallback | None = None
                     ) -> Removal:
        """Remove what ``owned`` finds, owners before what they own (the order of
        ``kinds``), and return once each is gone from the engine (``destroy`` waits here).
        A refusal does not stop the others: it is returned with its reason. ``deadline``
        is a ``time.monotonic()`` bound for drivers whose deletions finish later."""
        removal = Removal()
        for kind in self.kinds:
            for resource in self.list(kind, labels=labels):
                self._remove(resource, removal, on_progress)
        return removal

    def _remove(self, resource: Resource, removal: Removal,
                on_progress: ProgressCallback | None) -> None:
        """Destroy ``resource`` for ``remove_owned`` and note how it went in ``removal``."""
        try:
            self.destroy(resource.kind, resource.id, force=True)
        except NotFound:
            return  # already gone with its owner
        except EngineUnavailable:
            raise  # the whole connection is gone: the caller skips it
        except VirtworkError as exc:
            removal.left.append((resource, exc.message))
            return
        removal.removed.append(resource)
        if on_progress is not None:
            on_progress(Progress("cleanup", f"removed {resource.kind} {resource.name!r}"))

    def close(self) -> None:
        """Close the open watches; a driver then releases its connections (the next call
        connects again). Safe to call twice."""
        for stream in self.open_watches:
            stream.close()

    def __enter__(self) -> BaseDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri}>"


def heredoc(line: str, text: str, then: str = "") -> str:
    """``line`` reading ``text`` on its standard input, as a shell here-document (``then``
    follows on the first line, e.g. `` && virsh start vm1``): how an equivalent command
    carries exactly what the driver sends (a cell's Dockerfile, stamped YAML, domain XML)."""
    marker = "EOF"
    while marker in text.splitlines():
        marker += "_"
    return f"{line} <<'{marker}'{then}\n{text.rstrip(chr(10))}\n{marker}"


# --- the families: what an engine of each kind does beyond the nine verbs -----------------
#
# Each driver inherits its family (``class DockerDriver(BaseDriver, ContainerEngine)``), so
# mypy checks its methods against the family's, and a driver missing one cannot be made
# (the methods are abstract). Callers hold these types: the Session hands them out
# (``Session.container_engine``, ``cluster``, ``hypervisor``), never a probe by name.


class ContainerEngine(Driver, abc.ABC):
    """A Docker-API engine: images built, tagged and pushed; commands and logs of a
    container; the ``docker run``/``build`` lines of what it does."""

    @abc.abstractmethod
    def create(self, spec: ContainerSpec | ImageSpec) -> Resource:
        """``docker run -d`` of a ContainerSpec (a build of an ImageSpec)."""

    @abc.abstractmethod
    def stop(self, kind: Kind, id: str, *, force: bool = False,
             timeout: float | None = None) -> Resource:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (at once with ``force``)."""

    @abc.abstractmethod
    def restart(self, kind: Kind, id: str) -> Resource: ...

    @abc.abstractmethod
    def build(self, spec: ImageSpec, on_progress: ProgressCallback | None = None) -> Resource:
        ...

    @abc.abstractmethod
    def tag(self, image: str, reference: str) -> Resource: ...

    @abc.abstractmethod
    def push(self, reference: str, on_progress: ProgressCallback | None = None) -> str:
        """Push ``reference`` (registry host included); the pushed digest."""

    @abc.abstractmethod
    def registry_tags(self, image: str) -> dict[str, bool]:
        """Each tag of a local image that names a registry, and whether that registry
        holds this very image under it (``%vw check image NAME --pushed``)."""

    @abc.abstractmethod
    def exec(self, id: str, command: Sequence[str] | str) -> ExecResult: ...

    @abc.abstractmethod
    def logs(self, id: str, *, tail: int | None = None, follow: bool = False,
             stopper: Stopper | None = None) -> Iterator[str]: ...

    def images(self, *, fresh: bool = False) -> ResourceList:
        """The engine's images (``docker images``), from a live table's cache unless
        ``fresh``."""
        return self.list_cached(Kind.IMAGE, fresh=fresh)

    @staticmethod
    @abc.abstractmethod
    def port_bindings(publish: Sequence[str]) -> Mapping[str, builtins.list[dict[str, str]]]:
        """``-p`` forms as the engine's port bindings; InvalidInput for one it refuses."""

    @abc.abstractmethod
    def create_command(self, spec: ContainerSpec, *, detach: bool = True,
                       env_values: bool = True) -> str:
        """The CLI line of ``create(spec)``; without ``env_values`` each variable of the
        environment is named only, and the CLI takes its value from its caller's."""

    @abc.abstractmethod
    def build_command(self, spec: ImageSpec, dockerfile: str | None = None) -> str: ...


class Cluster(Driver, abc.ABC):
    """A Kubernetes namespace through one kubeconfig context: YAML applied (or dry-run,
    or diffed), workloads scaled, pods' logs and commands, deletions that can wait."""

    kubeconfig: str | None

    @property
    @abc.abstractmethod
    def namespace(self) -> str:
        """The namespace this connection works in (read from the kubeconfig if the URI
        names none: a context the kubeconfig lacks fails here)."""

    @abc.abstractmethod
    def apply(self, source: str | Sequence[Mapping[str, Any]], *,
              labels: Mapping[str, str] | None = None, namespace: str | None = None,
              dry_run: bool = False) -> ResourceList: ...

    @abc.abstractmethod
    def diff(self, source: str, *, labels: Mapping[str, str] | None = None,
             namespace: str | None = None) -> str: ...

    @abc.abstractmethod
    def scale(self, kind: Kind, name: str, replicas: int, *, wait: bool = False,
              timeout: float = 120.0, on_progress: ProgressCallback | None = None,
              stopper: Stopper | None = None) -> Resource: ...

    @abc.abstractmethod
    def logs(self, pod: str, *, tail: int | None = None, follow: bool = False,
             container: str | None = None, stopper: Stopper | None = None) -> Iterator[str]:
        ...

    @abc.abstractmethod
    def exec(self, pod: str, command: Sequence[str] | str, *, container: str | None = None,
             timeout: float = 60.0) -> ExecResult: ...

    @abc.abstractmethod
    def delete(self, kind: Kind, name: str, *, propagation: str | None = None,
               grace_seconds: int | None = None, wait: bool = False,
               timeout: float = 90.0) -> None:
        """Delete ``name`` and its dependents; with ``wait``, return once they are gone."""

    @abc.abstractmethod
    def apply_command(self, text: str, *, labels: Mapping[str, str] | None = None,
                      dry_run: bool = False, verb: str = "apply") -> str: ...

    @abc.abstractmethod
    def owned_in_namespace(self, labels: Mapping[str, str]) -> ResourceList:
        """``owned``, in this connection's namespace only, whatever else the credentials
        may list."""

    @abc.abstractmethod
    def remove_owned_in_namespace(self, labels: Mapping[str, str], *, deadline: float,
                                  on_progress: ProgressCallback | None = None) -> Removal:
        """``remove_owned``, in this connection's namespace only: nothing cluster-scoped,
        nothing of another namespace, whatever else the credentials may reach."""

    @abc.abstractmethod
    def namespaces(self, labels: Mapping[str, str] | None = None
                   ) -> dict[str, dict[str, str]]:
        """Each namespace of the cluster carrying ``labels``, by name, with its labels; a
        cluster-wide read, which credentials confined to a namespace may not make."""


class Hypervisor(Driver, abc.ABC):
    """Virtual machines from a VMSpec: created (started or not), reconfigured, suspended
    and resumed, their serial console read; the virsh/govc lines of each."""

    # Whether ``console`` can read what the guest printed on its serial port.
    serial_console: ClassVar[bool]
    # The file suffix of ``definition``'s text ("xml": libvirt's domain, "govc": a line).
    definition_suffix: ClassVar[str]

    @abc.abstractmethod
    def create(self, spec: VMSpec, *, start: bool = ...,
               on_progress: ProgressCallback | None = None) -> Resource:
        """Create the VM, and start it when ``start`` (each driver's default is its
        engine's own: libvirt starts, vSphere does not)."""

    @abc.abstractmethod
    def stop(self, kind: Kind, id: str, *, force: bool = False) -> Resource:
        """Shut the guest down; ``force`` powers it off at once."""

    @abc.abstractmethod
    def reconfigure(self, id: str, *, cpus: int | str | None = None,
                    memory: int | str | None = None, disk: int | str | None = None
                    ) -> Resource: ...

    @abc.abstractmethod
    def disks(self, id: str) -> builtins.list[int]:
        """The VM's disk sizes in bytes, in device order."""

    @abc.abstractmethod
    def console(self, id: str, *, wait_for: str | None = None, timeout: float = 60.0) -> str:
        """What the guest printed on its serial console; with ``wait_for``, once that text
        shows (within ``timeout`` seconds)."""

    @abc.abstractmethod
    def render(self, spec: VMSpec) -> str | None:
        """The definition ``create(spec)`` would send, as text (libvirt's domain XML); None
        when the engine has no such document."""

    def definition(self, spec: VMSpec, *, start: bool) -> str:
        """What describes a VM made from ``spec`` (``%vw export`` keeps it as a file):
        ``render``'s document, else the create line (vSphere's govc flags)."""
        return self.render(spec) or self.create_command(spec, start=start) + "\n"

    @abc.abstractmethod
    def create_command(self, spec: VMSpec, *, start: bool = ...) -> str: ...

    @abc.abstractmethod
    def reconfigure_command(self, id: str, *, cpus: int | str | None = None,
                            memory: int | str | None = None,
                            disk: int | str | None = None) -> str: ...

    @abc.abstractmethod
    def destroy_command(self, id: str, *, force: bool = False) -> str: ...
