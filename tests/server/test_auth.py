"""Every verb needs Jupyter's authentication; a browser's POST also needs the XSRF token."""

from __future__ import annotations

import urllib.parse
from http.cookies import SimpleCookie
from typing import Any

import pytest
import tornado.httpclient
from jupyter_server.utils import url_path_join

from .conftest import API

ENDPOINTS = [
    ("GET", ("config",)),
    ("GET", ("connections",)),
    ("GET", ("resources",)),
    ("GET", ("resources", "docker", "container", "nope")),
    ("POST", ("resources", "docker", "container", "nope", "stop")),
    ("GET", ("class",)),
    ("GET", ("class", "nobody", "cleanup")),
    ("POST", ("class", "nobody", "cleanup")),
]


def _url(base: str, *parts: str) -> str:
    """A path: pytest-jupyter's http_server_client adds the scheme, host and port."""
    return url_path_join(base, *parts)


async def _fetch(client: Any, url: str, **kwargs: Any) -> Any:
    kwargs.setdefault("raise_error", False)
    kwargs.setdefault("follow_redirects", False)
    if kwargs.get("method") == "POST":
        kwargs.setdefault("body", b"")
    return await client.fetch(url, **kwargs)


@pytest.mark.parametrize(("method", "parts"), ENDPOINTS)
async def test_no_token_is_refused(http_server_client: Any, jp_base_url: str, method: str,
                                   parts: tuple[str, ...]) -> None:
    url = _url(jp_base_url, *API, *parts)
    for headers in ({}, {"Authorization": "token not-the-token"}):
        response = await _fetch(http_server_client, url, method=method, headers=headers)
        assert response.code == 403, (method, parts, headers, response.code)


async def test_event_socket_needs_the_token(jp_ws_fetch: Any) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_ws_fetch(*API, "events", headers={"Authorization": "token wrong"})
    assert refused.value.code == 403
    socket = await jp_ws_fetch(*API, "events")  # the right token: accepted
    socket.close()


async def _log_in(client: Any, base: str, token: str) -> dict[str, str]:
    """Log in as a browser does (form + token as password): the session's cookies."""
    login = _url(base, "login")
    page = await _fetch(client, login)
    cookies = _cookies(page)
    form = urllib.parse.urlencode({"_xsrf": cookies["_xsrf"], "password": token})
    answer = await _fetch(client, login, method="POST", body=form,
                          headers={"Cookie": _cookie_header(cookies)})
    assert answer.code == 302, answer.code
    cookies.update(_cookies(answer))
    assert any(name.startswith("username-") for name in cookies), cookies
    return cookies


def _cookies(response: Any) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def test_browser_post_needs_xsrf(http_server_client: Any, jp_base_url: str,
                                       jp_serverapp: Any) -> None:
    cookies = await _log_in(http_server_client, jp_base_url,
                           jp_serverapp.identity_provider.token)
    cookie = {"Cookie": _cookie_header(cookies)}
    action = _url(jp_base_url, *API, "resources", "docker", "container",
                  "vw-no-such-container", "stop")

    # The login cookie alone reads...
    listed = await _fetch(http_server_client, _url(jp_base_url, *API,
                                                   "connections"), headers=cookie)
    assert listed.code == 200
    # ...but does not act: a cross-site form could send the cookie too.
    refused = await _fetch(http_server_client, action, method="POST", headers=cookie)
    assert refused.code == 403
    # With the XSRF token (JupyterLab sends it as X-XSRFToken) the request goes through
    # to the engine, which knows no such container.
    passed = await _fetch(http_server_client, action, method="POST",
                          headers={**cookie, "X-XSRFToken": cookies["_xsrf"]})
    assert passed.code == 404, passed.body
