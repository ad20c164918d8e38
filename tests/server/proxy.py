"""A Unix-socket forwarder to the Docker engine that a test can cut and restore: the engine
"goes away" for one connection only, without stopping the dockerd other tests use."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import threading
from typing import Any

DOCKER_SOCKET = "/var/run/docker.sock"


class _Pipe(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.server.target)
        self.server.track(self.request, upstream)
        pair = {self.request: upstream, upstream: self.request}
        with contextlib.suppress(OSError, ValueError):
            while True:
                ready, _, _ = select.select(list(pair), [], [], 1.0)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    pair[end].sendall(data)
        upstream.close()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, target: str) -> None:
        self.target = target
        self.live: list[socket.socket] = []
        super().__init__(path, _Pipe)

    def track(self, *ends: Any) -> None:
        self.live.extend(ends)


class DockerProxy:
    def __init__(self, path: str) -> None:
        self.path = path
        self._server: _Server | None = None

    @property
    def uri(self) -> str:
        return f"docker+unix://{self.path}"

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = _Server(self.path, DOCKER_SOCKET)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break the open ones (a long events stream too)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for end in server.live:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
