"""The admin's list of allowed URIs, and VirtworkError -> HTTP status in one place."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from jupyter_server.utils import url_path_join

from jupyter_virtwork.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BuildError,
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationFailed,
    OperationTimeout,
    TLSVerificationFailed,
    UnsupportedOperation,
    VirtworkError,
)
from jupyter_virtwork.server import errors
from jupyter_virtwork.server.config import RefusedConnection

from .conftest import API

SANDBOX_K8S = "k8s://virtwork-sandbox/default"


@pytest.fixture
def virtwork_config() -> dict[str, Any]:
    # Docker only, plus a named connection to an address nothing listens on.
    return {"allowed_uris": ["docker://", "docker+tcp://127.0.0.1:1"],
            "connections": {"nowhere": "docker+tcp://127.0.0.1:1"}}


async def test_only_allowed_connections_are_listed(api: Any) -> None:
    code, body = await api("connections")
    assert code == 200
    assert {c["alias"]: c["uri"] for c in body["connections"]} == {
        "docker": "docker://", "nowhere": "docker+tcp://127.0.0.1:1"}


@pytest.mark.parametrize("uri", [SANDBOX_K8S, "qemu:///system", "docker+tcp://10.1.2.3:2375"])
async def test_a_uri_not_allowed_is_refused(api: Any, http_server_client: Any,
                                            jp_base_url: str, jp_auth_header: dict[str, str],
                                            uri: str) -> None:
    code, body = await api("resources", params={"connection": uri})
    assert code == 403
    assert body["code"] == "RefusedConnection"
    assert uri in body["message"] and "allowed_uris" in body["message"]
    # In the path, as the panel sends it: the URI percent-encoded as one segment (jp_fetch
    # would encode it again).
    path = url_path_join(jp_base_url, *API, "resources", urllib.parse.quote(uri, safe=""),
                         "pod", "web", "pause")
    response = await http_server_client.fetch(path, method="POST", body=b"",
                                              headers=jp_auth_header, raise_error=False)
    assert (response.code, json.loads(response.body)["code"]) == (403, "RefusedConnection")


async def test_an_allowed_uri_answers_under_its_own_alias(api: Any) -> None:
    code, body = await api("resources", params={"connection": "docker://"})
    assert code == 200, body
    assert body["connection"] == "docker"
    assert body["command"] == "docker ps -a"


async def test_unknown_alias_kind_and_action(api: Any) -> None:
    assert await api("resources", params={"connection": "kubernetes"}) == (404, {
        "code": "NotFound", "message": "no connection named 'kubernetes': the server's "
                                       "connections are listed at /virtwork/api/connections"})
    code, body = await api("resources", "docker", "planet", "x")
    assert (code, body["code"]) == (400, "InvalidInput")
    assert "unknown kind 'planet'" in body["message"]
    code, body = await api("resources", "docker", "container", "x", "explode", method="POST")
    assert (code, body["code"]) == (400, "InvalidInput")
    assert "use one of start, stop, pause, resume, delete" in body["message"]
    code, body = await api("resources")
    assert (code, body["code"]) == (400, "InvalidInput")


async def test_unknown_container_is_404_with_code_and_message(api: Any) -> None:
    code, body = await api("resources", "docker", "container", "vw-no-such-container")
    assert code == 404
    assert body == {"code": "NotFound",
                    "message": "no container 'vw-no-such-container' on docker://: "
                               "list them with %docker ps -a"}
    code, body = await api("resources", "docker", "container", "vw-no-such-container", "stop",
                           method="POST")
    assert (code, body["code"]) == (404, "NotFound")


async def test_an_engine_that_does_not_answer_is_503(api: Any) -> None:
    code, body = await api("resources", params={"connection": "nowhere"})
    assert (code, body["code"]) == (503, "EngineUnavailable")
    assert "docker+tcp://127.0.0.1:1" in body["message"]


async def test_a_verb_the_driver_lacks_is_501(api: Any) -> None:
    code, body = await api("resources", "docker", "image", "vw-any-image", "pause",
                           method="POST")
    assert (code, body["code"]) == (501, "UnsupportedOperation")
    assert "docker driver does not support 'pause image'" in body["message"]


@pytest.mark.parametrize(("error", "status"), [
    (InvalidInput("x"), 400),
    (RefusedConnection("x"), 403),
    (AuthenticationFailed("x"), 403),
    (NotFound("x"), 404),
    (AlreadyExists("x"), 409),
    (UnsupportedOperation("docker", "pause"), 501),
    (MissingDependency("x"), 501),
    (EngineUnavailable("x"), 503),
    (TLSVerificationFailed("x"), 503),
    (OperationTimeout("x"), 504),
    (OperationFailed("x"), 500),
    (BuildError("x"), 500),
    (VirtworkError("x"), 500),
])
def test_status_table(error: VirtworkError, status: int) -> None:
    assert errors.http_status(error) == status
    assert errors.body(error) == {"code": type(error).__name__, "message": error.one_line()}
