"""The WebSocket of live events: ``/virtwork/api/events``.

On open the client gets one ``snapshot`` per connection and kind (rows and status), then
``event`` (ADDED/MODIFIED/DELETED with the row) and ``status`` (connected / disconnected,
with why) messages as they happen. Every tab shares the same feeds (``feeds.FeedHub``).
Authentication is Jupyter's (``ws_authenticated``): a token or the login cookie, and the
origin check of ``WebSocketMixin``.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import websocket

from .app import Backend
from .errors import http_body
from .feeds import Message


class EventsSocket(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    @property
    def virtwork(self) -> Backend:
        backend: Backend = self.settings["virtwork"]
        return backend

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            # tornado's own answer is a text/plain 400; the API's errors are JSON.
            self.set_status(400)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(http_body(400, "the events endpoint is a WebSocket: "
                                                  "open it with a WebSocket client")))
            return
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # WebSocketMixin: keep-alive pings
        endpoints = await self.virtwork.call(self.virtwork.policy.endpoints)
        if self.ws_connection is None:
            return  # closed while the endpoints were read
        for message in self.virtwork.hub.subscribe(self.send, endpoints):
            self.send(message)

    def send(self, message: Message) -> None:
        self.write_message(json.dumps(message, default=str))

    def on_message(self, message: str | bytes) -> None:
        """The panel only listens; anything it says is ignored."""

    def on_close(self) -> None:
        self.virtwork.hub.unsubscribe(self.send)
