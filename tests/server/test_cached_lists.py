"""The server's resource list answers from its event feed's watch while that is synced
(issue 18): no request reaches the engine, counted by a forwarder in front of dockerd's
socket (benchmarks/counting.py), yet the list holds a container another client started;
``?fresh=1`` asks the engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.counting import DOCKER_SOCKET, Forwarder, HttpRequests

from . import engines
from .conftest import API

Message = dict[str, Any]


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[Forwarder]:
    with Forwarder(str(tmp_path / "docker.sock"), DOCKER_SOCKET, HttpRequests) as forwarder:
        yield forwarder


@pytest.fixture
def virtwork_config(counted: Forwarder) -> dict[str, Any]:
    uri = f"docker+unix://{counted.path}"
    return {"allowed_uris": ["docker://", uri], "connections": {"counted": uri}}


async def _until(socket: Any, wanted: Callable[[Message], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no such message in time"
        text = await asyncio.wait_for(socket.read_message(), left)
        assert text is not None, "the socket closed"
        if wanted(json.loads(text)):
            return


def _lists(counted: Forwarder, since: int) -> list[str]:
    """The container lists the engine saw (not the watch's lookups of one object)."""
    return [what for _, what in counted.seen_since(0)[since:]
            if what.startswith("GET /v1.41/containers/json?") and "filters=" not in what]


async def test_the_resource_list_answers_from_the_feed(jp_ws_fetch: Any, api: Any,
                                                      counted: Forwarder, docker_client: Any,
                                                      labels: dict[str, str]) -> None:
    socket = await jp_ws_fetch(*API, "events")
    name = engines.name()
    try:
        await _until(socket, lambda m: (m["type"], m["connection"], m.get("status")) == (
            "status", "counted", "connected"))
        await asyncio.get_running_loop().run_in_executor(
            None, engines.run_busybox, docker_client, labels, name)
        await _until(socket, lambda m: m["type"] == "event" and m["connection"] == "counted"
                     and (m.get("row") or {}).get("name") == name)

        before = len(counted.seen_since(0))
        code, body = await api("resources", params={"connection": "counted",
                                                    "kind": "container"})
        assert code == 200 and name in [r["name"] for r in body["resources"]]
        assert _lists(counted, before) == []

        before = len(counted.seen_since(0))
        code, fresh = await api("resources", params={"connection": "counted",
                                                     "kind": "container", "fresh": "1"})
        assert code == 200 and name in [r["name"] for r in fresh["resources"]]
        assert len(_lists(counted, before)) == 1
    finally:
        socket.close()
        engines.remove_labelled(docker_client, labels)
