"""``%docker run -p`` publishes ports as the docker CLI does, on the sandbox's real dockerd.

For each form docker accepts, the magic runs busybox's httpd with it; the test fetches a page
through the published port, and compares the container's ``HostConfig.PortBindings`` and
``Config.ExposedPorts`` with those of a container the docker CLI made with the same ``-p``
(``docker create``: it binds nothing, so both can name the same host port).
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from jupyter_virtwork.errors import InvalidArguments

from .conftest import ensure_up, ipython_shell

BUSYBOX = "localbase/busybox:1.35"
HTTPD = ("sh", "-c", "mkdir -p /www && echo hello-from-httpd > /www/index.html && "
                     "exec httpd -f -p 80 -h /www")


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "images")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    made = docker.from_env()
    yield made
    made.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _name() -> str:
    return f"vw-port-{uuid.uuid4().hex[:6]}"


def _cli_made(client: Any, publish: str) -> dict[str, Any]:
    """What ``docker create -p PUBLISH`` makes, as the engine reports it."""
    name = _name()
    subprocess.run(["docker", "create", "--name", name, "-p", publish, "--pull", "never",
                    BUSYBOX, *HTTPD], check=True, capture_output=True, timeout=60)
    try:
        attrs: dict[str, Any] = client.api.inspect_container(name)
        return attrs
    finally:
        client.api.remove_container(name, force=True)


def _fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
        return str(answer.read().decode())


def _published(attrs: dict[str, Any], key: str = "80/tcp") -> int:
    """The host port the engine bound for ``key`` on 127.0.0.1 or every address."""
    for binding in attrs["NetworkSettings"]["Ports"][key]:
        if binding["HostIp"] in ("", "0.0.0.0", "127.0.0.1"):
            return int(binding["HostPort"])
    raise AssertionError(f"no IPv4 binding for {key}: {attrs['NetworkSettings']['Ports']}")


FORMS = [
    ("{p}:80", "80/tcp"),
    ("127.0.0.1:{p}:80", "80/tcp"),
    ("80", "80/tcp"),
    ("127.0.0.1::80", "80/tcp"),
    ("{p}:80/tcp", "80/tcp"),
    ("127.0.0.1:{p}-{q}:80", "80/tcp"),
    ("{p}-{q}:80-81", "80/tcp"),
    ("80-81", "80/tcp"),
    ("127.0.0.1:{p}:80/udp", None),
]


@pytest.mark.parametrize(("form", "served"), FORMS)
def test_publish_binds_as_the_docker_cli_binds(ip: Any, client: Any, form: str,
                                               served: str | None) -> None:
    first = _free_port()
    publish = form.format(p=first, q=first + 1)
    name = _name()
    made = ip.run_line_magic("docker", f"run -d --name {name} -p {publish} {BUSYBOX} "
                                       f"{shlex.join(HTTPD)}")
    assert made is not None, f"%docker run -p {publish} failed"
    try:
        ours = client.api.inspect_container(name)
        theirs = _cli_made(client, publish)
        assert ours["HostConfig"]["PortBindings"] == theirs["HostConfig"]["PortBindings"], \
            json.dumps([ours["HostConfig"]["PortBindings"], theirs["HostConfig"]["PortBindings"]])
        assert ours["Config"]["ExposedPorts"] == theirs["Config"]["ExposedPorts"]
        if served is not None:
            assert _fetch(_published(ours, served)) == "hello-from-httpd\n"
    finally:
        client.api.remove_container(name, force=True)


@pytest.mark.parametrize(("publish", "words"), [
    ("http:80", "is not a port docker can publish"),
    ("8080:80-81", "port ranges don't match in length"),
    ("80/icmp", "is not a port docker can publish"),
])
def test_a_bad_publish_is_a_usage_error_and_makes_nothing(ip: Any, client: Any, publish: str,
                                                          words: str) -> None:
    name = _name()
    with pytest.raises(InvalidArguments) as caught:
        ip.run_line_magic("docker", f"run -d --name {name} -p {publish} {BUSYBOX}")
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not client.api.containers(all=True, filters={"name": f"^/{name}$"})
