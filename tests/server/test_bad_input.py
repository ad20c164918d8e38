"""The server's bad-request corpus (bad_requests.py) on a real server and the sandbox's real
engines: each request is answered with its status and a JSON ``{code, message}`` whose
message is one line, never a traceback or a password, and the engines hold the same before
and after."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_server.utils import url_path_join

from tests.integration.conftest import ensure_up
from tests.reliability import engine_state

from .bad_requests import CORPUS, BadRequest
from .conftest import API


@pytest.fixture(scope="module", autouse=True)
def _engines_up() -> None:
    ensure_up(*engine_state.ENGINES)


@pytest.mark.parametrize("case", CORPUS, ids=[case.why for case in CORPUS])
async def test_bad_request_is_a_one_line_json_error_and_changes_nothing(
        http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str],
        case: BadRequest) -> None:
    before = engine_state.snapshot()
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, *API) + case.path, method=case.method, body=case.body,
        headers=jp_auth_header, raise_error=False, allow_nonstandard_methods=True)
    assert response.headers["Content-Type"].startswith("application/json")
    answer = json.loads(response.body)
    assert (response.code, answer["code"]) == (case.status, case.code), answer
    assert set(answer) == {"code", "message"}
    message = answer["message"]
    assert case.words in message
    assert "\n" not in message and "Traceback" not in message and "hunter2" not in message
    assert engine_state.snapshot() == before
