"""``docker run -d`` on the engine: the ``-p`` forms published as the docker CLI publishes
them, then a container created from a local image (never pulled) and started, or removed
again when it does not start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from ...errors import InvalidInput, VirtworkError
from ...models import ContainerSpec
from .connection import Connection
from .records import marked

# HostConfig.PortBindings: "80/tcp" -> [{"HostIp": "127.0.0.1", "HostPort": "8080"}, ...]
PortBindings = dict[str, list[dict[str, str]]]


def port_bindings(publish: Sequence[str]) -> PortBindings:
    """``docker run -p`` forms as the engine's ``HostConfig.PortBindings``, bound as the
    docker CLI binds them: "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80" (any host
    port), "80" (any host port, every address), ranges "8000-8001:80-81", "/udp", "/sctp".

    docker-py's own parser reads them (``docker.utils.ports.split_port``); its keys
    become "PORT/PROTO" with tcp as the default, the key the engine and the CLI use."""
    from docker.utils.ports import split_port

    bindings: PortBindings = {}
    for item in publish:
        try:
            inside, outside = split_port(item)
        except ValueError as exc:  # its "Invalid port" text repeats the usage below
            why = "" if str(exc).startswith("Invalid port") else f" ({str(exc).lower()})"
            raise InvalidInput(f"-p {item!r} is not a port docker can publish{why}",
                               hint="write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], "
                                    "e.g. -p 8080:80 or -p 127.0.0.1:8080:80/udp") from None
        for port, host in zip(inside, outside or [None] * len(inside), strict=True):
            address, host_port = host if isinstance(host, tuple) else ("", host)
            key = port if "/" in port else f"{port}/tcp"
            bindings.setdefault(key, []).append(
                {"HostIp": address or "", "HostPort": "" if host_port is None else str(host_port)})
    return bindings


def run(connection: Connection, spec: ContainerSpec) -> str:
    """Create and start a container of ``spec`` on ``connection``; its id. A container that
    fails to start is removed."""
    bindings = port_bindings(spec.ports)  # a -p docker refuses, before the engine is asked
    api, boundary = connection.api(), connection.boundary
    with boundary(f"creating a container from {spec.image}", spec.image):
        api.inspect_image(spec.image)  # no pull: a missing image is an error, at once
    with boundary(f"creating container {spec.name or ''}".strip(), spec.name or spec.image):
        # memswap_limit equal to mem_limit: no swap past the limit, as `--memory`
        # alone gives on a host without swap accounting.
        host_config = api.create_host_config(port_bindings=bindings,  # {} as the CLI
                                             network_mode=spec.network,
                                             mem_limit=spec.memory,
                                             memswap_limit=spec.memory)
        created = api.create_container(
            spec.image, command=list(spec.command) or None, name=spec.name,
            environment=dict(spec.env) or None, labels=marked(spec.labels),
            ports=[tuple(key.split("/")) for key in bindings] or None,
            host_config=host_config, detach=True)
    container_id = str(created["Id"])
    try:
        with boundary(f"starting container {spec.name or container_id[:12]}"):
            api.start(container_id)
    except VirtworkError:
        with contextlib.suppress(Exception):
            api.remove_container(container_id, force=True)
        raise
    return container_id
