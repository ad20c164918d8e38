"""The server's drivers, one per alias, opened on first use and shared by every request.

Not a notebook ``Session``: the server creates nothing, so it needs no ownership labels, and
its aliases must not fall back to "the current connection of a family" as a Session does.
"""

from __future__ import annotations

import importlib
import threading

from .. import registry
from ..drivers.base import Driver
from .config import Endpoint, Policy

# The SDK each family imports lazily on first use. The server's threads (requests, feeds)
# would otherwise import them concurrently, and a circular import raced between two threads
# hands one of them a half-initialised module (seen: "module 'requests' has no attribute
# 'exceptions'" inside docker-py). They are imported once, under one lock, before any driver
# is handed out.
SDKS: dict[str, tuple[str, ...]] = {
    "docker": ("requests", "docker"),
    "kubernetes": ("kubernetes.client", "kubernetes.config", "kubernetes.dynamic"),
    "vsphere": ("pyVmomi", "pyVim.connect"),
    "libvirt": ("libvirt",),
}
_IMPORT_LOCK = threading.Lock()


def import_sdk(family: str) -> None:
    """Import ``family``'s SDK now (a missing one is the driver's to report, on use)."""
    with _IMPORT_LOCK:
        for name in SDKS.get(family, ()):
            try:
                importlib.import_module(name)
            except ImportError:
                return


class Connections:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._drivers: dict[str, tuple[Endpoint, Driver]] = {}
        self._lock = threading.Lock()

    def driver(self, name: str) -> tuple[Endpoint, Driver]:
        """The endpoint and driver for an alias or allowed URI (blocking: call off the loop).

        Re-resolved on every call, so an admin's or the sandbox's change is seen, and a
        driver whose endpoint changed is replaced.
        """
        endpoint = self.policy.resolve(name)
        with self._lock:
            known = self._drivers.get(endpoint.alias)
            if known is not None and known[0] == endpoint:
                return known
        import_sdk(endpoint.family)
        driver = registry.connect(endpoint.uri, **endpoint.options)
        with self._lock:
            old = self._drivers.get(endpoint.alias)
            if old is not None and old[0] == endpoint:
                driver.close()  # another request won the race: keep its driver
                return old
            self._drivers[endpoint.alias] = (endpoint, driver)
        if old is not None:
            old[1].close()
        return endpoint, driver

    def close(self) -> None:
        with self._lock:
            opened, self._drivers = list(self._drivers.values()), {}
        for _, driver in opened:
            driver.close()
