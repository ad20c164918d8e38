"""Read-only mode on the server: reads answer, every change is a 403 ``ReadOnly`` and the
engine is left as it was; ``GET config`` tells the panel."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_virtwork.server.config import VirtworkServer


@pytest.fixture
def virtwork_config() -> dict[str, Any]:
    return {"read_only": True}


async def test_reads_answer_in_read_only_mode(api: Any, busybox: Any) -> None:
    code, body = await api("config")
    assert (code, body) == (200, {"read_only": True, "actions": []})
    code, body = await api("resources", params={"connection": "docker", "kind": "container"})
    assert code == 200, body
    assert busybox.name in {r["name"] for r in body["resources"]}
    code, body = await api("resources", "docker", "container", busybox.name)
    assert (code, body["resource"]["state"]) == (200, "running")


@pytest.mark.parametrize(("method", "action"), [("POST", "stop"), ("POST", "delete"),
                                                 ("DELETE", None), ("PUT", None)])
async def test_every_change_is_refused_with_403(api: Any, busybox: Any, method: str,
                                                action: str | None) -> None:
    path = ("resources", "docker", "container", busybox.name, *([action] if action else []))
    body_given = {"body": b""} if method == "PUT" else {}  # tornado sends none with DELETE
    code, body = await api(*path, method=method, **body_given)
    assert code == 403, body
    assert body["code"] == "ReadOnly"
    assert "read-only mode is on" in body["message"]
    assert "c.VirtworkServer.read_only = False" in body["message"]
    assert "\n" not in body["message"]
    busybox.reload()
    assert busybox.status == "running"  # the engine's own word: nothing was done


async def test_config_says_when_changes_are_allowed(api: Any,
                                                    jp_serverapp: Any) -> None:
    jp_serverapp.web_app.settings["virtwork"].settings.read_only = False
    code, body = await api("config")
    assert code == 200
    assert body["read_only"] is False
    assert body["actions"] == ["start", "stop", "pause", "resume", "delete"]


@pytest.mark.parametrize(("value", "on"), [("1", True), ("true", True), ("TRUE", True),
                                           ("0", False), ("", False), ("no", False)])
def test_vw_readonly_is_the_default(monkeypatch: pytest.MonkeyPatch, value: str,
                                    on: bool) -> None:
    monkeypatch.setenv("VW_READONLY", value)
    assert VirtworkServer().read_only is on
