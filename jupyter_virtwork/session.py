"""A notebook's connections and what it created.

The Session holds drivers by alias (the first of each family becomes that family's current
connection), stamps the ownership labels on everything created through it, and answers
"what did this notebook create" and "remove exactly that" across every connection.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import defaults, registry
from . import labels as ownership_labels
from . import uri as uri_module
from .drivers.base import Driver, Verb
from .errors import (
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationFailed,
    VirtworkError,
)
from .models import Kind, Resource, ResourceList


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
        self._current: dict[str, str] = {}  # family -> alias
        self._lock = threading.RLock()
        self._default = default
        self.on_default: Callable[[str], None] | None = None  # told which default was picked
        self.on_skip: Callable[[str], None] | None = None  # told which connection was skipped

    @property
    def labels(self) -> dict[str, str]:
        """The ownership labels every created resource carries."""
        return ownership_labels.ownership(self.id)

    def connect(self, uri: str, alias: str | None = None, *, make_current: bool = True,
                **options: Any) -> Driver:
        target = uri_module.parse(uri)
        name = alias or target.uri
        with self._lock:
            old = self._drivers.get(name)
            if old is not None and old.uri == target.uri and not options:
                driver = old
            else:
                registry.import_sdk(target.family)  # see registry.SDKS: never two at once
                driver = registry.connect(target.uri, **options)
                if old is not None:
                    old.close()
                self._drivers[name] = driver
            if make_current:
                self._current[target.family] = name
        return driver

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
        default = self._default(alias_or_family)
        if default is None:
            raise InvalidInput(f"no connection named {alias_or_family!r}",
                               hint="connect first with %vw connect URI --as ALIAS")
        driver = self.connect(default.uri, alias_or_family, **default.options)
        if self.on_default is not None:
            self.on_default(f"using {default.uri} ({default.why}) for {alias_or_family}")
        return driver

    def connection(self, alias: str) -> Driver:
        """The connection named ``alias`` exactly (a family's name is not its current
        one here)."""
        with self._lock:
            found = self._drivers.get(alias)
        if found is None:
            raise InvalidInput(f"no connection named {alias!r}",
                               hint="%vw connections lists them")
        return found

    def connections(self) -> list[ConnectionInfo]:
        with self._lock:
            current = set(self._current.values())
            return [ConnectionInfo(alias, d.uri, d.target.family, alias in current)
                    for alias, d in self._drivers.items()]

    def created(self) -> ResourceList:
        """Everything this session created, on every open connection."""
        return self.everywhere(labels=self.labels)

    def everywhere(self, kinds: Collection[Kind] | None = None,
                   labels: Mapping[str, str] | None = None) -> ResourceList:
        """``kinds`` (all a driver has, by default) on every open connection; one whose
        engine does not answer is skipped, and said so."""
        found = ResourceList()
        for driver in self._open_drivers():
            if Verb.LIST not in driver.capabilities:
                continue
            with self._skipping_unreachable(driver):
                for kind in driver.kinds:
                    if kinds is None or kind in kinds:
                        found.extend(driver.list(kind, labels=labels))
        return found

    def cleanup(self) -> ResourceList:
        """Destroy exactly what this session created; returns what was removed.

        One resource the engine refuses to remove does not stop the others: all are tried,
        then one error names what is left and why."""
        removed = ResourceList()
        refused: list[tuple[Resource, VirtworkError]] = []
        for driver in self._open_drivers():
            # `kinds` runs from owners to owned (deployments before their pods), so owned
            # resources are usually gone by the time their turn comes.
            with self._skipping_unreachable(driver):
                for kind in driver.kinds:
                    for resource in driver.list(kind, labels=self.labels):
                        try:
                            if self._destroy(driver, resource):
                                removed.append(resource)
                        except EngineUnavailable:
                            raise  # the whole connection is gone: skip it
                        except VirtworkError as exc:
                            refused.append((resource, exc))
        if refused:
            raise _incomplete(removed, refused)
        return removed

    @contextlib.contextmanager
    def _skipping_unreachable(self, driver: Driver) -> Iterator[None]:
        """A connection whose engine does not answer (``%vm create --on xen:///system`` on a
        machine without Xen), or whose SDK is not installed, holds nothing to list or remove:
        say so, go on with the others."""
        try:
            yield
        except EngineUnavailable as exc:
            if self.on_skip is not None:
                self.on_skip(f"skipped {driver.uri}: {exc.message}")
        except MissingDependency as exc:  # with its install command
            if self.on_skip is not None:
                self.on_skip(f"skipped {driver.uri}: {exc.one_line()}")

    @staticmethod
    def _destroy(driver: Driver, resource: Resource) -> bool:
        try:
            driver.destroy(resource.kind, resource.id, force=True)
        except NotFound:
            return False  # already gone with its owner
        return True

    def _open_drivers(self) -> list[Driver]:
        with self._lock:
            return list(self._drivers.values())

    def close(self) -> None:
        with self._lock:
            drivers, self._drivers, self._current = list(self._drivers.values()), {}, {}
        errors = []
        for driver in drivers:
            try:
                driver.close()
            except VirtworkError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _incomplete(removed: ResourceList, refused: list[tuple[Resource, VirtworkError]],
                ) -> OperationFailed:
    resource, first = refused[0]
    more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
    return OperationFailed(
        f"cleanup removed {len(removed)} but could not remove {resource.kind.value} "
        f"{resource.name!r}{more}: {first.message}",
        connection=resource.uri, hint="fix that, then run %vw cleanup --yes again")
