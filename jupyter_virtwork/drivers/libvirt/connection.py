"""One driver's connection to libvirt: opened on first use within a time limit, reopened when
the daemon went away, and telling its listeners when libvirt closes it.

A remote connection gets keepalive probes, so that a dead peer is noticed; libvirt's close
callback (the daemon or the link died) wakes the listeners, e.g. each watch, which then
reconnects through ``get``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from ... import error_messages as say
from ...errors import EngineUnavailable, Said
from .failures import open_error
from .sdk import import_libvirt

log = logging.getLogger(__name__)

KEEPALIVE = (5, 3)  # seconds between probes, unanswered probes: a dead peer in ~20 s


class Connection:
    """The libvirt connection to ``uri`` that a driver's calls share. ``remote``: the daemon
    runs elsewhere (keepalive); ``hint``: how to bring it back when it cannot be reached."""

    def __init__(self, uri: str, *, remote: bool, open_timeout: float, hint: Said) -> None:
        self.uri = uri
        self.remote = remote
        self.open_timeout = open_timeout
        self.hint = hint
        # Called in the event loop thread when libvirt closes the connection.
        self.close_listeners: list[Callable[[], None]] = []
        self._connection: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The shared connection, reopened if the daemon went away since."""
        with self._lock:
            conn = self._connection
            if conn is not None and _alive(conn):
                return conn
            self._connection = self._open()
        if conn is not None:  # dead: make sure its late close event wakes no new watch
            _release(conn)
        return self._connection

    def close(self) -> None:
        with self._lock:
            conn, self._connection = self._connection, None
        if conn is not None:
            _release(conn)

    def _open(self) -> Any:
        libvirt = import_libvirt()
        conn = self._open_bounded(libvirt)
        if self.remote:
            with contextlib.suppress(libvirt.libvirtError):
                conn.setKeepAlive(*KEEPALIVE)
        with contextlib.suppress(libvirt.libvirtError):  # local test:/// has no close event
            conn.registerCloseCallback(self._closed, None)
        return conn

    def _open_bounded(self, libvirt: Any) -> Any:
        """``libvirt.open`` in a helper thread: qemu+ssh can hang on a silent host."""
        outcome: dict[str, Any] = {}
        abandoned = threading.Event()

        def opener() -> None:
            try:
                outcome["conn"] = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                outcome["error"] = exc
            if abandoned.is_set() and "conn" in outcome:
                outcome["conn"].close()  # the caller gave up on us: leave nothing open

        thread = threading.Thread(target=opener, name="virtwork-libvirt-open", daemon=True)
        thread.start()
        thread.join(self.open_timeout)
        if thread.is_alive():
            abandoned.set()
            raise EngineUnavailable(say.LIBVIRT_SLOW(seconds=self.open_timeout),
                                    connection=self.uri, hint=self.hint)
        if "error" in outcome:
            raise open_error(libvirt, outcome["error"], uri=self.uri,
                             hint=self.hint) from outcome["error"]
        return outcome["conn"]

    def _closed(self, _conn: Any, reason: int, _opaque: Any) -> None:
        """libvirt's close callback (event loop thread): the daemon or the link died."""
        log.info("libvirt connection %s closed (reason %s)", self.uri, reason)
        for listener in list(self.close_listeners):
            listener()


def _alive(conn: Any) -> bool:
    try:
        return bool(conn.isAlive())
    except Exception:  # noqa: BLE001 - a broken handle is simply not alive
        return False


def _release(conn: Any) -> None:
    """Close ``conn`` without its close callback, whatever state it is in."""
    with contextlib.suppress(Exception):
        conn.unregisterCloseCallback()
    with contextlib.suppress(Exception):
        conn.close()
