"""The sandbox's hub: one Unix user per learner, a login on every door, nothing shared.

Everything goes through the real hub on 127.0.0.1:8000 (its REST API with the sandbox's
service token, a learner's kernel through that learner's server), as a class would.
"""

from __future__ import annotations

import os
import pwd
import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from jupyter_virtwork.sandbox import hub_accounts, hub_config, process
from jupyter_virtwork.sandbox.hub import HubEngine
from jupyter_virtwork.sandbox.hub_client import HubClient

pytestmark = pytest.mark.engines("hub")

FIRST, SECOND = hub_accounts.LEARNERS[:2]


@pytest.fixture(scope="module")
def two_servers(hub: HubClient) -> HubClient:
    for learner in (FIRST, SECOND):
        hub.spawn(learner)
    return hub


def test_status_names_the_hub_and_where_its_secrets_are_never_them(hub: HubClient) -> None:
    status = HubEngine().status()
    assert status.ready, status.detail
    assert status.version.startswith("JupyterHub ")
    shown = str(status.to_json())
    credentials = hub_accounts.credentials()
    for secret in (credentials.api_token, *credentials.passwords.values()):
        assert secret not in shown
    assert status.extra["credentials_file"] == str(hub_accounts.credentials_file())


@pytest.mark.parametrize("path", [
    "/hub/api/users", f"/hub/api/users/{FIRST}", "/hub/api/proxy",
    f"/user/{FIRST}/api/kernels", f"/user/{FIRST}/api/contents",
])
@pytest.mark.parametrize("token", [None, "0123456789abcdef"], ids=["no token", "wrong token"])
def test_every_api_answers_403_without_a_valid_token(two_servers: HubClient, path: str,
                                                     token: str | None) -> None:
    reply = two_servers.request("GET", path, token=token)
    assert reply.status == 403, (path, reply)


@pytest.mark.parametrize("path", ["/hub/home", "/hub/admin", f"/user/{FIRST}/lab"])
def test_every_page_sends_a_stranger_to_the_login(two_servers: HubClient, path: str) -> None:
    """Followed hop by hop (a learner's server sends strangers to the hub's OAuth first),
    every redirect ends at the login form, and no page is served on the way."""
    reply = two_servers.request("GET", path, token=None)
    for _ in range(5):
        assert reply.status == 302, (path, reply.status)
        if reply.location.startswith("/hub/login"):
            return
        reply = two_servers.request("GET", reply.location, token=None)
    pytest.fail(f"{path} never led to /hub/login")


def _login(user: str, password: str) -> int:
    """The status of a browser's login with the hub's form (its XSRF cookie included)."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{hub_config.PUBLIC_URL}/hub/login", timeout=30) as page:
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.read().decode())
    assert xsrf, "the login page carries no _xsrf field"
    form = urllib.parse.urlencode({"username": user, "password": password,
                                   "_xsrf": xsrf[1]}).encode()
    try:
        with opener.open(f"{hub_config.PUBLIC_URL}/hub/login?next=/hub/api/user", form,
                         timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_learner_logs_in_with_their_password_and_with_no_other(hub: HubClient) -> None:
    passwords = hub_accounts.credentials().passwords
    assert _login(FIRST, passwords[SECOND]) == 403
    assert _login(FIRST, "") == 403
    assert _login(FIRST, passwords[FIRST]) == 200  # redirected to its own /hub/api/user


def test_each_learner_server_runs_as_that_learners_own_unix_user(two_servers: HubClient
                                                                 ) -> None:
    for learner in (FIRST, SECOND):
        pid = int((two_servers.server(learner) or {})["state"]["pid"])
        uid = str(pwd.getpwnam(learner).pw_uid)
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [uid] * 4  # real, effective, saved, filesystem
        assert "PYTHONPATH" not in _environ(pid)  # none of the hub's environment leaks in


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if item)


def test_a_learner_cannot_read_another_learners_files_even_with_a_shell(
        two_servers: HubClient) -> None:
    with two_servers.kernel(FIRST) as first:
        written = first.run("import os\n"
                            "open(os.path.expanduser('~/answer.txt'), 'w').write('42')\n"
                            "print(os.path.expanduser('~'))")
        assert not written.error, written.shown
    home = written.stdout.strip()
    assert home == f"/home/{FIRST}"
    with two_servers.kernel(SECOND) as second:
        attempt = second.run(f"!cat {home}/answer.txt; ls {home}\n"
                             f"open('{home}/answer.txt').read()")
    assert "Permission denied" in attempt.stdout
    assert attempt.error and "PermissionError" in attempt.error[-1]
    assert "42" not in attempt.shown


def test_a_learner_cannot_reach_the_loopback_services_that_trust_anyone(
        two_servers: HubClient) -> None:
    probe = ("import socket\n"
             "for port in (2379, 5000, 8000):\n"
             "    try:\n"
             "        socket.create_connection(('127.0.0.1', port), timeout=5).close()\n"
             "        print(port, 'open')\n"
             "    except OSError as exc:\n"
             "        print(port, type(exc).__name__)\n")
    with two_servers.kernel(FIRST) as kernel:
        seen = kernel.run(probe)
    assert seen.stdout.split("\n")[:3] == ["2379 ConnectionRefusedError",
                                          "5000 ConnectionRefusedError", "8000 open"]


def test_no_secret_reaches_the_hubs_log_and_the_log_is_root_only(two_servers: HubClient
                                                                 ) -> None:
    log = process.log_file("hub")
    assert os.stat(log).st_mode & 0o777 == 0o600
    text = log.read_text(errors="replace")
    credentials = hub_accounts.credentials()
    for secret in (credentials.api_token, *credentials.passwords.values()):
        assert secret not in text
