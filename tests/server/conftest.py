"""Handler tests run a real jupyter_server in-process (pytest-jupyter's fixtures).

The fixtures are imported here, not named in a top-level ``pytest_plugins``: that keeps the
plugin (its autouse event-loop fixture, its async-test hooks) to this folder, so the other
test folders neither load jupyter_server nor change how their tests run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the fixtures and async hooks

from tests.integration.conftest import ensure_up

from . import engines

API = ("virtwork", "api")


@pytest.fixture(autouse=True)
def _users_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server sees the engines its user configured, as a real one in that HOME would."""
    monkeypatch.setenv("KUBECONFIG", engines.KUBECONFIG)
    monkeypatch.setenv("XDG_CONFIG_HOME", engines.CONFIG_HOME)


@pytest.fixture
def virtwork_config() -> dict[str, Any]:
    """VirtworkServer settings; a test overrides this fixture to change them."""
    return {}


@pytest.fixture
def jp_server_config(virtwork_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_virtwork": True}},
            "VirtworkServer": virtwork_config}


@pytest.fixture
def api(jp_fetch: Any) -> Any:
    """``await api("connections")``: a token-authenticated request; JSON back, any status."""

    async def call(*parts: str, method: str = "GET", **kwargs: Any) -> tuple[int, Any]:
        if method == "POST":
            kwargs.setdefault("body", b"")
        response = await jp_fetch(*API, *parts, method=method, raise_error=False, **kwargs)
        return response.code, json.loads(response.body or b"null")

    return call


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    ensure_up("docker", "images")
    import docker

    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def labels() -> dict[str, str]:
    """Labels that mark this test's containers, so cleanup removes exactly them."""
    return {"virtwork.test": f"server-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def busybox(docker_client: Any, labels: dict[str, str]) -> Iterator[Any]:
    """A running busybox container with no network, started from outside the toolkit."""
    yield engines.run_busybox(docker_client, labels)
    engines.remove_labelled(docker_client, labels)


@pytest.fixture(autouse=True)
def _close_virtwork(jp_serverapp: Any) -> Iterator[None]:
    """Stop the extension's feeds and drivers with each test's server (jupyter_server has
    no unload hook for a module extension; a real server ends with its process)."""
    yield
    backend = jp_serverapp.web_app.settings.get("virtwork")
    if backend is not None:
        backend.close()
