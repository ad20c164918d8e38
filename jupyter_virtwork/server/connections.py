"""The server's drivers, one per alias, opened on first use and shared by every request.

Not a notebook ``Session``: the server creates nothing, so it needs no ownership labels, and
its aliases must not fall back to "the current connection of a family" as a Session does.
"""

from __future__ import annotations

import threading

from .. import registry
from ..drivers.base import Driver
from .config import Endpoint, Policy


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
        registry.import_sdk(endpoint.family)
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
