"""The sandbox's hub driven as a class drives it: the REST API with a token, and a learner's
kernel through that learner's own server (its kernels API, then the kernel's websocket
channel), the way JupyterLab runs a cell.

Tests and benchmarks use it with the sandbox's service token; everything stays on
127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import hub_accounts, hub_config
from .system import SandboxError


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the JSON answer, else its text
    location: str = ""  # where a redirect points


@dataclass
class CellResult:
    """What a cell showed: streams, results as text/plain, and the lines of its error."""

    stdout: str = ""
    stderr: str = ""
    text: str = ""
    error: list[str] = field(default_factory=list)  # as IPython renders it; [] if it passed

    @property
    def shown(self) -> str:
        return "\n".join([self.stdout, self.stderr, self.text, *self.error])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer to look at, not to follow


class HubClient:
    def __init__(self, token: str | None = None, url: str = hub_config.PUBLIC_URL,
                 timeout: float = 30.0) -> None:
        self.token = hub_accounts.credentials().api_token if token is None else token
        self.url = url
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def request(self, method: str, path: str, body: Any = None, *,
                token: str | None = "") -> Reply:
        """One call; ``token=None`` sends none, ``""`` (the default) this client's."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"token {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _reply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            return _reply(exc.code, exc.read(), exc.headers)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        reply = self.request(method, path, body)
        if not 200 <= reply.status < 300:
            raise SandboxError(f"hub: {method} {path} answered {reply.status}: "
                               f"{str(reply.body)[:300]}")
        return reply.body

    def add_user(self, name: str) -> None:
        """A hub user (the hub makes its Unix account the class's way) unless it exists."""
        if self.request("GET", f"/hub/api/users/{name}").status == 404:
            self.ok("POST", f"/hub/api/users/{name}")

    def server(self, name: str) -> dict[str, Any] | None:
        servers: dict[str, Any] = self.ok("GET", f"/hub/api/users/{name}").get("servers") or {}
        found: dict[str, Any] | None = servers.get("")
        return found

    def spawn(self, name: str, timeout: float = 180.0) -> None:
        """Start ``name``'s server (if it is not running) and return once it is ready."""
        reply = self.request("POST", f"/hub/api/users/{name}/server")
        if reply.status not in (201, 202, 400):  # 400: it is running already
            raise SandboxError(f"hub: starting {name}'s server answered {reply.status}: "
                               f"{str(reply.body)[:300]}")
        self._wait(name, timeout, lambda found: bool(found and found.get("ready")), "ready")

    def stop(self, name: str, timeout: float = 60.0) -> None:
        reply = self.request("DELETE", f"/hub/api/users/{name}/server")
        if reply.status not in (202, 204, 400):  # 400: not running
            raise SandboxError(f"hub: stopping {name}'s server answered {reply.status}")
        self._wait(name, timeout, lambda found: found is None, "stopped")

    def _wait(self, name: str, timeout: float, done: Any, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.server(name)):
            if time.monotonic() > deadline:
                raise SandboxError(f"hub: {name}'s server not {what} after {timeout:.0f} s")
            time.sleep(0.5)

    @contextmanager
    def kernel(self, name: str) -> Iterator[Kernel]:
        """A new kernel in ``name``'s running server, shut down afterwards."""
        started = self.ok("POST", f"/user/{name}/api/kernels", {"name": "python3"})
        kernel = Kernel(self, name, str(started["id"]))
        try:
            yield kernel
        finally:
            kernel.close()
            self.request("DELETE", f"/user/{name}/api/kernels/{started['id']}")


class Kernel:
    """One kernel's websocket channel: ``run(code)`` executes a cell and collects what it
    showed."""

    def __init__(self, hub: HubClient, user: str, kernel_id: str) -> None:
        import websocket  # websocket-client

        self.id = kernel_id
        self.session = uuid.uuid4().hex
        url = hub.url.replace("http://", "ws://", 1)
        self._socket = websocket.create_connection(
            f"{url}/user/{user}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {hub.token}"], timeout=hub.timeout)

    def run(self, code: str, timeout: float = 120.0) -> CellResult:
        msg_id = uuid.uuid4().hex
        self._socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "",
                       "session": self.session, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False,
                        "stop_on_error": True}}))
        result = CellResult()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if _collect(result, message):
                return result
        raise SandboxError(f"hub: the cell did not finish in {timeout:.0f} s: {code[:80]!r}")

    def close(self) -> None:
        self._socket.close()


def _collect(result: CellResult, message: dict[str, Any]) -> bool:
    """Add an iopub message to ``result``; True once the kernel is idle again."""
    kind, content = message["header"]["msg_type"], message.get("content") or {}
    if kind == "stream":
        if content.get("name") == "stderr":
            result.stderr += content.get("text", "")
        else:
            result.stdout += content.get("text", "")
    elif kind in ("execute_result", "display_data"):
        result.text += str((content.get("data") or {}).get("text/plain", "")) + "\n"
    elif kind == "error":
        result.error = [str(line) for line in content.get("traceback") or []]
    return kind == "status" and content.get("execution_state") == "idle"


def _reply(status: int, raw: bytes, headers: Any) -> Reply:
    text = raw.decode(errors="replace")
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    return Reply(status, body, str(headers.get("Location", "")) if headers else "")
