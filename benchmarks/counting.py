"""Counting what a client asks of an engine, each message with the time it was seen.

``Forwarder``: a Unix-socket forwarder; the client connects to ``path`` instead of the
engine's socket, every byte goes through unchanged, and a parser per connection notes each
message (an HTTP request to dockerd, a libvirt RPC call or keepalive).

    with Forwarder(path, "/var/run/docker.sock", HttpRequests) as forwarder:
        ...                        # connect with docker+unix://PATH
        forwarder.seen_since(t)    # [(time, "GET /v1.41/events?..."), ...]

``PoolRequests``: the HTTP requests this process's urllib3 pools send to one host and port
(the Kubernetes client's transport: TLS to the apiserver, which a plain forwarder cannot
read).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

DOCKER_SOCKET = "/var/run/docker.sock"
LIBVIRT_SOCKET = "/var/run/libvirt/libvirt-sock"


class Parser(Protocol):
    def feed(self, data: bytes, from_client: bool) -> list[str]:
        """The messages that ``data`` completes, one line each."""


class HttpRequests:
    """HTTP/1.1 requests a client sends (request line, headers, then a body of
    Content-Length bytes or in chunks); answers are not parsed."""

    def __init__(self) -> None:
        self._buffer = b""
        self._body = 0  # bytes of the current request's body still to skip
        self._chunked = False

    def feed(self, data: bytes, from_client: bool) -> list[str]:
        if not from_client:
            return []
        self._buffer += data
        found: list[str] = []
        while self._step(found):
            pass
        return found

    def _step(self, found: list[str]) -> bool:
        """Consume one piece of the buffer; False when it needs more bytes."""
        if self._body:
            taken = min(self._body, len(self._buffer))
            self._buffer, self._body = self._buffer[taken:], self._body - taken
            return bool(self._buffer) and not self._body
        if self._chunked:
            return self._chunk()
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4:]
        request, *lines = head.split("\r\n")
        found.append(request)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines)}
        self._body = int(headers.get("content-length", "0") or 0)
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        return True

    def _chunk(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return False
        size = int(self._buffer[:end].split(b";")[0] or b"0", 16)
        if size == 0:  # the last chunk (no trailers from these clients)
            if len(self._buffer) < end + 4:
                return False
            self._buffer, self._chunked = self._buffer[end + 4:], False
            return True
        self._buffer = self._buffer[end + 2:]
        self._body = size + 2  # the chunk and its CRLF
        return True


KEEPALIVE_PROGRAM = 0x6B656570  # "keep": libvirt's keepalive PING (1) / PONG (2)
CALL_TYPES = (0, 4)  # VIR_NET_CALL, VIR_NET_CALL_WITH_FDS
EVENT_TYPE = 2  # VIR_NET_MESSAGE: the daemon's asynchronous events
HEADER = struct.Struct(">IIiiIi")  # program, version, procedure, type, serial, status


class LibvirtMessages:
    """libvirt RPC framing: a 4-byte big-endian length (counting itself), then the header.
    Notes the client's calls as ``call PROGRAM/PROCEDURE``, the daemon's events as
    ``event PROGRAM/PROCEDURE`` and keepalives both ways."""

    def __init__(self) -> None:
        self._buffers = {True: b"", False: b""}

    def feed(self, data: bytes, from_client: bool) -> list[str]:
        buffer = self._buffers[from_client] + data
        found: list[str] = []
        while len(buffer) >= 4:
            (length,) = struct.unpack(">I", buffer[:4])
            if len(buffer) < length:
                break
            program, _, procedure, kind, _, _ = HEADER.unpack(buffer[4:4 + HEADER.size])
            buffer = buffer[length:]
            if program == KEEPALIVE_PROGRAM:
                found.append("keepalive " + ("ping" if procedure == 1 else "pong"))
            elif from_client and kind in CALL_TYPES:
                found.append(f"call {program:#x}/{procedure}")
            elif not from_client and kind == EVENT_TYPE:
                found.append(f"event {program:#x}/{procedure}")
        self._buffers[from_client] = buffer
        return found


class Seen:
    """Messages with the time each was seen, from any thread."""

    def __init__(self) -> None:
        self._seen: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def note(self, found: list[str]) -> None:
        now = time.perf_counter()
        with self._lock:
            self._seen += [(now, what) for what in found]

    def seen_since(self, moment: float) -> list[tuple[float, str]]:
        with self._lock:
            return [(at, what) for at, what in self._seen if at >= moment]


class PoolRequests(Seen):
    """Counts, while entered, every request a urllib3 connection pool of this process sends
    to ``host``:``port``, as ``METHOD URL``."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port
        self._original: Any = None

    def __enter__(self) -> PoolRequests:
        from urllib3.connectionpool import HTTPConnectionPool

        original = self._original = HTTPConnectionPool._make_request
        counter = self

        def make_request(pool: Any, conn: Any, method: str, url: str, *args: Any,
                         **kwargs: Any) -> Any:
            if (pool.host, pool.port) == (counter.host, counter.port):
                counter.note([f"{method} {url}"])
            return original(pool, conn, method, url, *args, **kwargs)

        setattr(HTTPConnectionPool, "_make_request", make_request)  # noqa: B010
        return self

    def __exit__(self, *exc: object) -> None:
        from urllib3.connectionpool import HTTPConnectionPool

        setattr(HTTPConnectionPool, "_make_request", self._original)  # noqa: B010


class Forwarder(Seen):
    def __init__(self, path: str, target: str, parser: Callable[[], Parser]) -> None:
        super().__init__()
        self.path = path
        self.target = target
        self._parser = parser
        self._listener: socket.socket | None = None
        self._ends: list[socket.socket] = []

    def __enter__(self) -> Forwarder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, name="bench-forwarder", daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            ends, self._ends = self._ends, []
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _accept(self) -> None:
        while (listener := self._listener) is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:  # the engine is away: the client sees its connection refused
                upstream.close()
                client.close()
                continue
            with self._lock:
                self._ends += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True,
                             name="bench-forwarder-pipe").start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        parser = self._parser()
        other = {client: upstream, upstream: client}
        try:
            for end, data in _chunks(client, upstream):
                other[end].sendall(data)
                found = parser.feed(data, end is client)
                if found:
                    self.note(found)
        except (OSError, ValueError):
            return
        finally:
            client.close()
            upstream.close()


def _chunks(*ends: socket.socket) -> Iterator[tuple[socket.socket, bytes]]:
    """What arrives on any of ``ends``, as it comes, until one of them closes."""
    with selectors.DefaultSelector() as selector:
        for end in ends:
            selector.register(end, selectors.EVENT_READ, end)
        while True:
            for key, _ in selector.select(timeout=1.0):
                ready: socket.socket = key.data
                data = ready.recv(65536)
                if not data:
                    return
                yield ready, data
