"""Connections by alias, and what a notebook created through them.

The Session is the one pool of connections: each shell's magics have one, and so does the
server extension (whose panel creates nothing; it opens its endpoints by alias). It holds
drivers by alias (the first of each family becomes that family's current connection),
stamps the ownership labels on everything created through it, and answers "what did this
notebook create" and "remove exactly that" across every connection.

What it created is found twice over: each driver tells the Session of every object made
through it (a Kubernetes object's apiVersion, kind, namespace, name and uid, as applied),
and every engine is asked for what carries the session's labels, so a new Session with the
same id (a restarted kernel) finds it all again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import defaults, registry
from . import error_messages as say
from . import labels as ownership_labels
from . import uri as uri_module
from .drivers.base import Cluster, ContainerEngine, Driver, Hypervisor, ProgressCallback, Verb
from .errors import (
    AuthenticationFailed,
    CleanupIncomplete,
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    VirtworkError,
)
from .journal import Journal
from .models import Kind, Resource, ResourceList

# Cleanup goes through the connections in this order (by driver name; the rest after):
# Kubernetes first, because its pods' containers use images of a Docker engine, then
# Docker (containers, networks, images), then the hypervisors' VMs with their volumes.
CLEANUP_ORDER = {"kubernetes": 0, "docker": 1}
CLEANUP_TIMEOUT = 180.0  # s for a whole cleanup to finish on the engines


@dataclass(frozen=True)
class ConnectionInfo:
    alias: str
    uri: str
    family: str
    current: bool

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "uri": self.uri, "family": self.family,
                "current": self.current}


class Session:
    def __init__(self, session_id: str | None = None,
                 default: Callable[[str], defaults.DefaultConnection | None]
                 = defaults.for_family) -> None:
        self.id = session_id or ownership_labels.session_id_for()
        self._drivers: dict[str, Driver] = {}
        self._opened: dict[str, tuple[str, dict[str, Any]]] = {}  # alias -> (URI, options)
        self._current: dict[str, str] = {}  # family -> alias
        self._lock = threading.RLock()
        self._default = default
        self._chosen: dict[str, defaults.DefaultConnection] = {}  # family -> by choose_default
        self.on_default: Callable[[str], None] | None = None  # told which default was picked
        self.on_skip: Callable[[str], None] | None = None  # told which connection was skipped
        # connection URI -> uid (or id) -> the record of an object created through it
        self._made: dict[str, dict[str, Resource]] = {}
        self.journal = Journal()  # what the notebook did, in order (%vw export writes it)

    @property
    def labels(self) -> dict[str, str]:
        """The ownership labels every created resource carries."""
        return ownership_labels.ownership(self.id)

    def connect(self, uri: str, alias: str | None = None, *, make_current: bool = True,
                **options: Any) -> Driver:
        """The connection ``alias`` (the URI by default) to ``uri``: the one open under
        that alias if it was opened to ``uri`` with the same ``options`` (or none are
        given), else a new one that replaces it. Thread-safe: the server's requests and
        feeds share a Session."""
        target = uri_module.parse(uri)
        name = alias or target.uri
        with self._lock:
            driver = self._reusable(name, target.uri, options)
        if driver is None:
            # Outside the lock: a first SDK import takes seconds, and other connections
            # must not wait for it (see registry.SDKS: never two imports at once).
            registry.import_sdk(target.family)
            opened = registry.connect(target.uri, **options)
            with self._lock:
                driver = self._reusable(name, target.uri, options)  # another thread's?
                replaced = None
                if driver is None:
                    driver, replaced = opened, self._drivers.get(name)
                    driver.on_created = self._remember
                    self._drivers[name] = driver
                    self._opened[name] = (target.uri, dict(options))
            if replaced is not None:
                replaced.close()
            if driver is not opened:
                opened.close()  # another thread opened the same connection first
        if make_current:
            with self._lock:
                self._current[target.family] = name
        return driver

    def _reusable(self, alias: str, uri: str, options: Mapping[str, Any]) -> Driver | None:
        """``alias``'s driver if it was opened to ``uri`` with ``options`` (or any)."""
        opened = self._opened.get(alias)
        if opened is None or opened[0] != uri or (options and options != opened[1]):
            return None
        return self._drivers[alias]

    def driver(self, alias_or_family: str) -> Driver:
        """The current connection of a family (connecting to the family's default URI on
        first use), or a connection by alias.

        A family's name means its current connection even when a connection is also
        aliased so (the default one is): after ``%vw connect k8s://other --as b``, every
        ``%k8s`` line uses ``b``."""
        with self._lock:
            alias = self._current.get(alias_or_family)
            if alias is not None:
                return self._drivers[alias]
            if alias_or_family in self._drivers:
                return self._drivers[alias_or_family]
        default = self._default_of(alias_or_family)
        if default is None:
            raise InvalidInput(say.NO_CONNECTION(alias=alias_or_family),
                               hint=say.CONNECT_FIRST())
        driver = self.connect(default.uri, alias_or_family, **default.options)
        if self.on_default is not None:
            self.on_default(f"using {default.uri} ({default.why}) for {alias_or_family}")
        return driver

    def _default_of(self, family: str) -> defaults.DefaultConnection | None:
        with self._lock:
            chosen = self._chosen.get(family)
        return chosen or self._default(family)

    def choose_default(self, family: str, chosen: defaults.DefaultConnection | None) -> None:
        """Make ``chosen`` the connection ``family`` uses unless the notebook names another
        (``%vw connect``); None restores the automatic choice. A default already opened
        (aliased by its family's name) is replaced at once; a %vw connect made current
        stays so."""
        with self._lock:
            if chosen is None:
                self._chosen.pop(family, None)
            else:
                self._chosen[family] = chosen
            opened = family in self._drivers
            current = family in self._current.values()
        now = self._default_of(family)
        if opened and now is not None:
            self.connect(now.uri, family, make_current=current, **now.options)

    def container_engine(self, alias_or_family: str = "docker") -> ContainerEngine:
        """``driver(alias_or_family)``, which must be a container engine (Docker)."""
        driver = self.driver(alias_or_family)
        if not isinstance(driver, ContainerEngine):
            raise _not_of_family(alias_or_family, driver, "a container engine", "docker")
        return driver

    def cluster(self, alias_or_family: str = "kubernetes") -> Cluster:
        """``driver(alias_or_family)``, which must be a cluster (Kubernetes)."""
        driver = self.driver(alias_or_family)
        if not isinstance(driver, Cluster):
            raise _not_of_family(alias_or_family, driver, "a cluster", "kubernetes")
        return driver

    def hypervisor(self, alias_or_family: str) -> Hypervisor:
        """``driver(alias_or_family)``, which must be a hypervisor (vSphere, libvirt)."""
        driver = self.driver(alias_or_family)
        if not isinstance(driver, Hypervisor):
            raise _not_of_family(alias_or_family, driver, "a hypervisor", "libvirt")
        return driver

    def connection(self, alias: str) -> Driver:
        """The connection named ``alias`` exactly (a family's name is not its current
        one here)."""
        with self._lock:
            found = self._drivers.get(alias)
        if found is None:
            raise InvalidInput(say.NO_CONNECTION(alias=alias), hint=say.LIST_CONNECTIONS())
        return found

    def disconnect(self, alias: str) -> None:
        """Close and forget one connection (one that turned out unusable, say)."""
        with self._lock:
            driver = self._drivers.pop(alias, None)
            self._opened.pop(alias, None)
            self._current = {f: a for f, a in self._current.items() if a != alias}
        if driver is not None:
            driver.close()

    def connections(self) -> list[ConnectionInfo]:
        with self._lock:
            current = set(self._current.values())
            return [ConnectionInfo(alias, d.uri, d.target.family, alias in current)
                    for alias, d in self._drivers.items()]

    def created(self) -> ResourceList:
        """Everything this session created, on every open connection, of every kind; an
        object two connections see (two namespaces of one cluster) once."""
        found, seen = ResourceList(), set()
        for driver in self._drivers_in_cleanup_order():
            with self._skipping_unreachable(driver):
                for resource in driver.owned(self.labels, self._known(driver)):
                    key = resource.details.get("uid") or (resource.uri, resource.kind,
                                                          resource.id)
                    if key not in seen:
                        seen.add(key)
                        found.append(resource)
        return found

    def _remember(self, resource: Resource) -> None:
        """A driver's word that ``resource`` was just created through it."""
        with self._lock:
            self._made.setdefault(resource.uri, {})[_key(resource)] = resource

    def _known(self, driver: Driver) -> list[Resource]:
        with self._lock:
            return list(self._made.get(driver.uri, {}).values())

    def everywhere(self, kinds: Collection[Kind] | None = None,
                   labels: Mapping[str, str] | None = None, *,
                   fresh: bool = False) -> ResourceList:
        """``kinds`` (all a driver has, by default) on every open connection; one whose
        engine does not answer is skipped, and said so. A connection with a live table of a
        kind answers from its cache unless ``fresh`` (``Driver.list_cached``)."""
        found = ResourceList()
        for driver in self._open_drivers():
            if Verb.LIST not in driver.capabilities:
                continue
            with self._skipping_unreachable(driver):
                for kind in driver.kinds:
                    if kinds is None or kind in kinds:
                        found.extend(driver.list_cached(kind, labels=labels, fresh=fresh))
        return found

    def cleanup(self, *, timeout: float = CLEANUP_TIMEOUT,
                on_progress: ProgressCallback | None = None) -> ResourceList:
        """Destroy exactly what this session created, in dependency order, and return
        once each removal has finished on its engine (within ``timeout`` seconds in all);
        returns what was removed.

        Each connection removes owners before what they own and waits for it (see the
        drivers' ``remove_owned``); the connections go in ``CLEANUP_ORDER``. What one
        engine refuses does not stop the others: all are tried, then one error names every
        object left and why, one line each."""
        deadline = time.monotonic() + timeout
        removed = ResourceList()
        left: list[tuple[Resource, str]] = []
        for driver in self._drivers_in_cleanup_order():
            with self._skipping_unreachable(driver):
                removal = driver.remove_owned(self.labels, self._known(driver),
                                              deadline=deadline, on_progress=on_progress)
                removed.extend(removal.removed)
                left.extend(removal.left)
        with self._lock:
            for resource in removed:
                self._made.get(resource.uri, {}).pop(_key(resource), None)
        if left:
            raise cleanup_incomplete(removed, left)
        return removed

    def _drivers_in_cleanup_order(self) -> list[Driver]:
        return sorted(self._open_drivers(), key=lambda d: CLEANUP_ORDER.get(d.name, 2))

    @contextlib.contextmanager
    def _skipping_unreachable(self, driver: Driver) -> Iterator[None]:
        """A connection whose engine does not answer (``%vm create --on xen:///system`` on a
        machine without Xen), or does not let us in (no password for a ``%vm ls --on
        vsphere://...`` tried once), or whose SDK is not installed, holds nothing we could
        list or remove: say so, go on with the others."""
        try:
            yield
        except (EngineUnavailable, AuthenticationFailed) as exc:
            if self.on_skip is not None:
                self.on_skip(f"skipped {driver.uri}: {exc.message}")
        except MissingDependency as exc:  # with its install command
            if self.on_skip is not None:
                self.on_skip(f"skipped {driver.uri}: {exc.one_line()}")

    def _open_drivers(self) -> list[Driver]:
        with self._lock:
            return list(self._drivers.values())

    def close(self) -> None:
        with self._lock:
            drivers, self._drivers, self._current = list(self._drivers.values()), {}, {}
            self._opened = {}
        errors = []
        for driver in drivers:
            try:
                driver.close()
            except VirtworkError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _not_of_family(name: str, driver: Driver, what: str, example: str) -> InvalidInput:
    return InvalidInput(f"{name!r} is a {driver.target.family} connection, not {what}",
                        hint=f"use {what}'s connection (e.g. {example}); %vw connections "
                             "lists them")


def _key(resource: Resource) -> str:
    """A Kubernetes object is itself by uid (a new one may take its name); others by id."""
    raw = resource.raw if isinstance(resource.raw, Mapping) else {}
    return str((raw.get("metadata") or {}).get("uid") or resource.id)


def cleanup_incomplete(removed: ResourceList, left: list[tuple[Resource, str]], *,
                       again: str = "%vw cleanup --yes") -> CleanupIncomplete:
    """The error of a cleanup that left ``left`` (each with why), ``again`` being the line
    that tries once more."""
    return CleanupIncomplete(
        f"cleanup removed {len(removed)} but left {len(left)}",
        [f"{_what(resource)} on {resource.uri}: {why}" for resource, why in left],
        hint=f"fix each, then run {again} again")


def _what(resource: Resource) -> str:
    """``kind 'name'``; a Kubernetes object in its own kind, ``configmap 'ns/name'``."""
    kind = str(resource.details.get("kind") or resource.kind.value).lower()
    namespace = resource.details.get("namespace")
    return f"{kind} " + repr(f"{namespace}/{resource.name}" if namespace else resource.name)


def cluster_in(session: Session, namespace: str | None, context: str | None = None,
               connection: str = "kubernetes") -> Cluster:
    """The current Kubernetes connection (or the one named ``connection``), or a sibling of
    it for another namespace or kubeconfig context (``-n``, ``--context``)."""
    return sibling_of(session, session.cluster(connection), namespace, context)


def sibling_of(session: Session, current: Cluster, namespace: str | None,
               context: str | None = None) -> Cluster:
    """``current`` itself, or a connection of ``session`` with its kubeconfig in another
    namespace or context, kept under the alias ``kubernetes/URI``."""
    if context in (None, current.target.context) and namespace in (None, current.namespace):
        return current
    context = current.target.context if context is None else context
    uri = uri_module.k8s_uri(context, namespace)
    alias = f"kubernetes/{uri}"
    session.connect(uri, alias, make_current=False, kubeconfig=current.kubeconfig)
    sibling = session.cluster(alias)
    try:
        _ = sibling.namespace  # reads the kubeconfig: a context it lacks fails here
    except VirtworkError:
        session.disconnect(alias)  # not kept: %vw cleanup would trip on it
        raise
    return sibling
