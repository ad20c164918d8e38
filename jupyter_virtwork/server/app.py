"""The extension's state, one per server: policy, connections, feeds, redactor, executor.

Handlers reach it as ``self.settings["virtwork"]``. Every blocking call (an SDK request, or
reading the defaults' files) goes through ``call``, which runs it on the extension's own
thread pool, never on the server's event loop.

The connections are a ``Session``, the same pool the notebook's magics use, holding the
policy's endpoints by alias; no family default is opened behind the policy's back.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tornado.ioloop import IOLoop

from ..drivers.base import Driver
from ..session import Session
from .config import Endpoint, Policy, VirtworkServer
from .feeds import FeedHub
from .redact import Redactor

T = TypeVar("T")


class Backend:
    def __init__(self, settings: VirtworkServer, policy: Policy | None = None) -> None:
        self.settings = settings
        self.policy = policy or Policy(settings)
        self.session = Session(default=lambda family: None)
        self.redactor = Redactor(self.policy.secrets)
        self.executor = ThreadPoolExecutor(max_workers=settings.max_workers,
                                           thread_name_prefix="virtwork-call")
        self._hub: FeedHub | None = None

    @property
    def hub(self) -> FeedHub:
        """Created on first use, on the loop that serves the WebSockets."""
        if self._hub is None:
            self._hub = FeedHub(self.driver, self.redactor, IOLoop.current())
        return self._hub

    def driver(self, name: str) -> tuple[Endpoint, Driver]:
        """The endpoint and driver for an alias or allowed URI (blocking: call off the loop).

        Re-resolved on every call, so an admin's or the sandbox's change is seen: the
        Session keeps an alias's driver while its URI and options stay, and replaces it
        when they change."""
        endpoint = self.policy.resolve(name)
        driver = self.session.connect(endpoint.uri, endpoint.alias, make_current=False,
                                      **endpoint.options)
        return endpoint, driver

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._hub is not None:
            self._hub.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()
