"""The event WebSocket: snapshots, live changes from outside, one watcher shared by every
tab, and a connection that goes down and comes back."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import engines
from .conftest import API
from .proxy import DockerProxy

Message = dict[str, Any]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[DockerProxy]:
    forwarder = DockerProxy(str(tmp_path / "docker.sock"))
    forwarder.start()
    yield forwarder
    forwarder.cut()


@pytest.fixture
def virtwork_config(proxy: DockerProxy) -> dict[str, Any]:
    return {"allowed_uris": ["docker://", proxy.uri], "connections": {"proxied": proxy.uri}}


async def _until(socket: Any, wanted: Callable[[Message], bool], seconds: float = 15) -> Message:
    """The first message for which ``wanted`` holds (others are skipped)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no such message in time"
        text = await asyncio.wait_for(socket.read_message(), left)
        assert text is not None, "the socket closed"
        message: Message = json.loads(text)
        if wanted(message):
            return message


def _row_named(name: str, state: str | None = None,
               connection: str = "docker") -> Callable[[Message], bool]:
    def wanted(message: Message) -> bool:
        row = message.get("row") or {}
        return (message["type"], message["connection"], row.get("name")) == (
            "event", connection, name) and state in (None, row.get("state"))
    return wanted


def _status(connection: str, status: str) -> Callable[[Message], bool]:
    return lambda m: (m["type"], m["connection"], m.get("status")) == (
        "status", connection, status)


async def test_changes_from_outside_arrive_live(jp_ws_fetch: Any, api: Any,
                                                docker_client: Any,
                                                labels: dict[str, str]) -> None:
    socket = await jp_ws_fetch(*API, "events")
    try:
        await _until(socket, _status("docker", "connected"))
        name = engines.name()
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(
            None, engines.run_busybox, docker_client, labels, name)
        added = await _until(socket, _row_named(name, "running"))
        assert time.monotonic() - started < 5
        row = added["row"]
        assert (added["connection"], added["kind"], row["actions"]) == (
            "docker", "container", ["stop", "pause", "delete"])

        code, _ = await api("resources", "docker", "container", row["id"], "stop",
                            method="POST")
        assert code == 200
        await _until(socket, _row_named(name, "stopped"))
        await asyncio.get_running_loop().run_in_executor(
            None, engines.remove_labelled, docker_client, labels)
        gone = await _until(socket, lambda m: m.get("event") == "DELETED"
                            and m["row"]["name"] == name)
        assert gone["row"]["id"] == row["id"]
    finally:
        socket.close()
        engines.remove_labelled(docker_client, labels)


async def test_every_tab_shares_one_watcher(jp_ws_fetch: Any, jp_serverapp: Any) -> None:
    tabs = [await jp_ws_fetch(*API, "events") for _ in range(3)]
    try:
        for tab in tabs:
            first = await _until(tab, lambda m: m["type"] == "snapshot")
            assert {"connection", "kind", "status", "rows"} <= set(first)
        hub = jp_serverapp.web_app.settings["virtwork"].hub
        assert sorted(hub._feeds) == [("docker", "container"), ("proxied", "container")]
        watchers = [t.name for t in threading.enumerate()
                    if t.name.startswith("virtwork-watch-docker-container")]
        assert len(watchers) == 2  # one per connection, not one per tab
    finally:
        for tab in tabs:
            tab.close()


async def test_a_lost_engine_shows_and_recovers(jp_ws_fetch: Any, api: Any,
                                               proxy: DockerProxy, docker_client: Any,
                                               labels: dict[str, str]) -> None:
    socket = await jp_ws_fetch(*API, "events")
    try:
        await _until(socket, _status("proxied", "connected"))
        proxy.cut()
        down = await _until(socket, _status("proxied", "disconnected"))
        assert "disconnected, retrying" in down["message"]
        code, body = await api("connections")
        assert {c["alias"]: c["status"] for c in body["connections"]}["proxied"] == \
            "disconnected"
        code, body = await api("resources", params={"connection": "proxied"})
        assert (code, body["code"]) == (503, "EngineUnavailable")

        # A container started while the connection is down is there once it is back.
        name = engines.name()
        engines.run_busybox(docker_client, labels, name)
        proxy.start()
        # The watcher re-lists and sends what changed in the gap, then says it is live.
        back = await _until(socket, _row_named(name, connection="proxied"))
        assert back["event"] == "ADDED"
        await _until(socket, _status("proxied", "connected"))
        code, body = await api("resources", params={"connection": "proxied"})
        assert code == 200
        assert name in [r["name"] for r in body["resources"]]
    finally:
        socket.close()
        engines.remove_labelled(docker_client, labels)
