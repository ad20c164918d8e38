"""One connection to a Docker engine: where it listens, and the docker-py clients that talk
to it (one for ordinary calls, with a read timeout; one without, for streams that follow;
one of its own for each long build or push).

A client whose SSH link died is replaced at its next use: docker-py never reconnects one.
Clients are made inside the driver's error boundary, which the driver hands over.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from ...errors import Cancelled, MissingDependency
from ...uri import Target
from ..base import Boundary
from .sdk import import_docker, paramiko


def base_url(target: Target) -> str | None:
    """Where the engine of ``target`` listens; None lets docker-py read DOCKER_HOST and
    friends."""
    scheme = target.scheme
    if scheme == "docker+ssh":
        user = f"{target.user}@" if target.user else ""
        port = f":{target.port}" if target.port else ""
        return f"ssh://{user}{target.host}{port}"
    if scheme == "docker+tcp":
        return f"tcp://{target.host}:{target.port or 2376}"
    if scheme == "docker+unix":
        return f"unix://{target.path}"
    if target.host:
        return f"tcp://{target.host}:{target.port or 2375}"
    if "DOCKER_HOST" in os.environ:
        return None
    return current_context_host()


class Connection:
    """The docker-py clients of one ``docker://`` target, made at their first use."""

    def __init__(self, target: Target, *, timeout: float, boundary: Boundary) -> None:
        self.target = target
        self.timeout = timeout
        self.boundary = boundary
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self.target.uri

    def base_url(self) -> str | None:
        return base_url(self.target)

    def api(self, *, streaming: bool = False) -> Any:
        """The low-level client; ``streaming`` has no read timeout (follow logs, builds)."""
        key = "stream" if streaming else "call"
        with self._lock:
            client = self._clients.get(key)
            if client is not None and not transport_alive(client):
                del self._clients[key]  # its SSH link died: docker-py never reconnects it
                client.close()
                client = None
            if client is None:
                client = self._clients[key] = self.new_client(None if streaming
                                                              else self.timeout)
        return client

    def new_client(self, timeout: float | None) -> Any:
        """A docker-py client. Over ``ssh://`` it is docker-py's paramiko transport: one
        SSH connection whose channels the HTTP pool reuses (its shell-out to ``ssh``
        starts a new SSH session per request), with paramiko's RejectPolicy: a host key
        not in ~/.ssh/known_hosts, or a changed one, refuses the connection."""
        docker = import_docker()
        url = self.base_url()
        if url is not None and url.startswith("ssh://") and paramiko() is None:
            raise MissingDependency("docker+ssh:// needs paramiko, docker-py's SSH transport",
                                    connection=self.uri,
                                    hint="pip install 'jupyter_virtwork[docker]'")
        with self.boundary("connecting"):
            if url is None:
                kwargs = docker.utils.kwargs_from_env()
                client = docker.APIClient(timeout=timeout, version="auto", **kwargs)
            else:
                tls = url.startswith("tcp://") and bool(os.environ.get("DOCKER_TLS_VERIFY"))
                kwargs = docker.utils.kwargs_from_env() if tls else {}
                kwargs.pop("base_url", None)
                client = one_ssh_pool(docker.APIClient(base_url=url, timeout=timeout,
                                                       version="auto", **kwargs))
        # A Unix socket or SSH (http+docker://) has no use for the proxy and CA settings
        # requests reads from the environment on every request (~0.1 ms of a 1 ms list).
        if str(client.base_url).startswith("http+docker://"):
            client.trust_env = False
        return client

    @contextlib.contextmanager
    def own_stream(self, work: str) -> Iterator[Any]:
        """A client of its own for one long stream (a build, a push), closed afterwards.

        Closing its connection is how the engine learns the client gave up: dockerd cancels
        a build (and removes its intermediate containers), the registry a push. So Ctrl-C
        cancels the work for real, and says so."""
        api = self.new_client(None)
        try:
            yield api
        except KeyboardInterrupt:
            api.close()
            raise Cancelled(f"interrupted: {work} was cancelled", connection=self.uri) from None
        finally:
            api.close()

    def close(self) -> None:
        """Close every client; the next call connects again."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def transport_alive(client: Any) -> bool:
    """False once the SSH transport under a docker-py ssh:// client has died (a local or
    TCP client has none and is always "alive": its pool reconnects by itself)."""
    ssh = getattr(getattr(client, "_custom_adapter", None), "ssh_client", None)
    if ssh is None:
        return True
    transport = ssh.get_transport()
    return transport is not None and bool(transport.is_active())


def one_ssh_pool(client: Any) -> Any:
    """docker-py keys its SSH connection pools by the whole request URL (path and query):
    each distinct request keeps an SSH session channel of its own open, and sshd's default
    ``MaxSessions 10`` refuses the eleventh ("open failed"). One pool for every URL: its
    channels serve any request, and a repeated list reuses one."""
    adapter: Any = getattr(client, "_custom_adapter", None)
    if getattr(adapter, "ssh_client", None) is None:
        return client
    by_url = adapter.get_connection
    adapter.get_connection = lambda _url, proxies=None: by_url("http+docker://ssh", proxies)
    return client


def current_context_host() -> str | None:
    """The endpoint of the current docker context, when one other than default is set."""
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
    except Exception:  # noqa: BLE001 - an unreadable docker config means "the default"
        return None
    if context is None or context.name == "default":
        return None
    host = context.Host
    return str(host) if host else None
