"""``_load_jupyter_server_extension``: the settings, the shared state and the routes."""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server.utils import url_path_join

from . import handlers, redact, stream
from .app import Backend
from .config import VirtworkServer

API = "virtwork/api"
SEGMENT = r"([^/]+)"


def routes(base_url: str) -> list[tuple[str, type]]:
    def path(*parts: str) -> str:
        return url_path_join(base_url, API, *parts)

    resource = (SEGMENT, SEGMENT, SEGMENT)  # connection, kind, id
    return [
        (path("config"), handlers.ConfigHandler),
        (path("connections"), handlers.ConnectionsHandler),
        (path("resources"), handlers.ResourcesHandler),
        (path("resources", *resource), handlers.ResourceHandler),
        (path("resources", *resource, SEGMENT), handlers.ActionHandler),
        (path("class"), handlers.ClassHandler),
        (path("class", SEGMENT, "cleanup"), handlers.ClassCleanupHandler),
        (path("events"), stream.EventsSocket),
        (path(".*"), handlers.UnknownEndpointHandler),  # last: tornado takes the first match
    ]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = VirtworkServer(parent=serverapp)
    backend = Backend(settings)
    web_app = serverapp.web_app
    web_app.settings["virtwork"] = backend
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    # Our own messages are redacted where written; this second fence covers whatever else
    # reaches the server's handlers (tornado's loggers propagate to serverapp.log) or the
    # root logger's (the drivers' modules log there).
    for logger in (serverapp.log, logging.getLogger()):
        redact.guard_logger(logger, backend.redactor)
    serverapp.log.info("jupyter_virtwork server extension loaded at /%s", API)
