"""No password leaves the server: not in a response, an event message or a log line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.sandbox import vcsim
from tests.integration.conftest import ensure_up

from .conftest import API

WRONG = "wrong-Pa55word-for-the-test"
BAD_VC = f"vsphere://someone@{vcsim.HOST}:{vcsim.PORT}"


@pytest.fixture
def virtwork_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ensure_up("vcsim")
    # A configured vSphere connection whose password (from the environment, as a user would
    # set it) the simulator refuses; TLS is verified against the sandbox's CA.
    monkeypatch.setenv("VIRTWORK_VSPHERE_PASSWORD", WRONG)
    monkeypatch.setenv("GOVC_TLS_CA_CERTS", str(vcsim.VCENTER.cafile))
    return {"connections": {"badvc": BAD_VC}}


@pytest.fixture
def secrets() -> list[str]:
    return [vcsim.credentials()[1], WRONG]


@pytest.fixture
def every_log(jp_serverapp: Any) -> Iterator[list[str]]:
    """Every line the server's and the root logger's handlers are given, after their
    filters (the server's own redaction among them), as its console would print it."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    loggers = [jp_serverapp.log, logging.getLogger()]
    keep = Keep(logging.DEBUG)
    for handler in {h for logger in loggers for h in logger.handlers}:
        for log_filter in handler.filters:
            keep.addFilter(log_filter)
    for logger in loggers:
        logger.addHandler(keep)
    yield lines
    for logger in loggers:
        logger.removeHandler(keep)


async def test_no_password_in_answers_events_or_logs(api: Any, jp_ws_fetch: Any,
                                                     secrets: list[str],
                                                     every_log: list[str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for params in ({}, {"connection": "vsphere"}, {"connection": "badvc"},
                   {"connection": f"vsphere://virtwork:{WRONG}@{vcsim.HOST}:{vcsim.PORT}"}):
        code, body = await api("connections" if not params else "resources", params=params)
        seen.append(json.dumps(body))
        if params.get("connection") == "badvc":
            assert (code, body["code"]) == (403, "AuthenticationFailed")
        if params.get("connection", "").count(":") > 2:  # the URI with a password in it
            assert (code, body["code"]) == (400, "InvalidInput")

    socket = await jp_ws_fetch(*API, "events")
    try:
        while not any('"badvc"' in m and "disconnected" in m for m in seen):
            seen.append(await asyncio.wait_for(socket.read_message(), 20))
    finally:
        socket.close()

    assert any("DC0_H0_VM0" in text for text in seen)  # the real vCenter answered
    logged = [*every_log, caplog.text]
    assert any("AuthenticationFailed" in line for line in logged)
    assert any("virtwork%3A***%40" in line for line in logged)  # the access log, redacted
    for secret in secrets:
        assert not [text for text in seen if secret in text]
        assert not [line for line in logged if secret in line]
