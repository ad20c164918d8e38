"""The REST handlers: connections, resources, one resource, actions.

Every verb is ``@tornado.web.authenticated`` (Jupyter's token or login cookie; POSTs from a
browser also need the XSRF token, which APIHandler checks). Each answer is JSON: records as
the panel's rows plus ``command``, the equivalent CLI line; a VirtworkError becomes its HTTP
status and ``{code, message}`` in ``_answer``, the one place that applies ``errors.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler

from ..drivers.base import Driver
from ..errors import InvalidInput, VirtworkError
from . import errors, records
from .app import Backend
from .config import Endpoint

Json = dict[str, Any]


class VirtworkHandler(APIHandler):
    @property
    def virtwork(self) -> Backend:
        backend: Backend = self.settings["virtwork"]
        return backend

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's
        # The access log prints request.uri when the request ends: a URI a client sent with
        # a password in it must not reach the log.
        self.request.uri = self.virtwork.redactor.text(self.request.uri or "")
        await super().prepare()

    async def _answer(self, work: Callable[[], Json]) -> None:
        try:
            result = await self.virtwork.call(work)
        except VirtworkError as exc:
            self.set_status(errors.http_status(exc))
            result = errors.body(exc)
            self.log.info("virtwork: %s %s -> %s %s", self.request.method,
                          self.request.path, self.get_status(), result["code"])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.virtwork.redactor.data(result), default=str))

    def _driver(self, name: str) -> tuple[Endpoint, Driver]:
        return self.virtwork.connections.driver(name)


class ConnectionsHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        status = self.virtwork.hub.status()  # the feeds live on the loop: read them here

        def work() -> Json:
            rows = []
            for endpoint in self.virtwork.policy.endpoints().values():
                state, message = status.get(endpoint.alias, ("unknown", ""))
                kinds = [k.value for k in records.PANEL_KINDS.get(endpoint.family, ())]
                rows.append({**endpoint.to_dict(), "kinds": kinds, "status": state,
                             "message": message})
            return {"connections": rows}

        await self._answer(work)


class ResourcesHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        name = self.get_query_argument("connection", "")
        kind_text = self.get_query_argument("kind", "")

        def work() -> Json:
            if not name:
                raise InvalidInput("say which connection",
                                           hint="add ?connection=ALIAS (or an allowed URI)")
            endpoint, driver = self._driver(name)
            kinds = [records.parse_kind(kind_text)] if kind_text \
                else list(records.PANEL_KINDS.get(endpoint.family, ()))
            rows = [records.row(endpoint.alias, driver, r)
                    for kind in kinds for r in driver.list(kind)]
            return {"connection": endpoint.alias, "resources": rows,
                    "command": driver.command("list")}

        await self._answer(work)


class ResourceHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def get(self, name: str, kind_text: str, id: str) -> None:
        def work() -> Json:
            kind = records.parse_kind(kind_text)
            endpoint, driver = self._driver(name)
            resource = driver.get(kind, id)
            return {"resource": records.row(endpoint.alias, driver, resource),
                    "command": records.command_for(driver, resource, "get")}

        await self._answer(work)


class ActionHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def post(self, name: str, kind_text: str, id: str, action_text: str) -> None:
        def work() -> Json:
            kind = records.parse_kind(kind_text)
            action = records.parse_action(action_text)
            endpoint, driver = self._driver(name)
            resource = records.run(driver, kind, id, action)
            return {"resource": records.row(endpoint.alias, driver, resource),
                    "action": action.value,
                    "command": records.command_for(driver, resource, action)}

        await self._answer(work)
