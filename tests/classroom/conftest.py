"""The classroom tests run on the sandbox's real hub (and, for namespaces, its cluster).

Servers the tests start stay up for the session (spawning one costs a few seconds) and are
stopped at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jupyter_virtwork.sandbox.hub_client import HubClient
from tests.integration.conftest import ensure_up


@pytest.fixture(scope="session")
def hub() -> Iterator[HubClient]:
    ensure_up("hub")
    client = HubClient()
    yield client
    for user in client.ok("GET", "/hub/api/users"):
        if (user.get("servers") or {}).get(""):
            client.stop(user["name"])
