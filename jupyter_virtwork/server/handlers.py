"""The REST handlers: connections, resources, one resource, actions, the panel's config,
and the teacher's view of the class (``classview``).

Every verb is ``@tornado.web.authenticated`` (Jupyter's token or login cookie; POSTs from a
browser also need the XSRF token, which APIHandler checks). Each answer is JSON: records as
the panel's rows plus ``command``, the equivalent CLI line; a VirtworkError becomes its HTTP
status and ``{code, message}`` in ``_answer``, the one place that applies ``errors.py``.
Errors raised before that (by tornado, by Jupyter's checks, or an unexpected exception) take
the same shape in ``write_error``, never a traceback; a path under the API that is no
endpoint answers a JSON 404 (``UnknownEndpointHandler``) rather than Jupyter's HTML page.

In read-only mode (``VirtworkServer.read_only``) every request that is not a read (POST,
PUT, PATCH, DELETE), on any path of the API, is refused with 403 ``ReadOnly`` in
``prepare``, once Jupyter has authenticated it and before any handler runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler

from .. import actions, readonly
from ..drivers.base import Driver
from ..errors import InvalidInput, VirtworkError
from ..models import StreamStatus
from ..session import CLEANUP_TIMEOUT
from . import classview, errors, records
from .app import Backend
from .config import Endpoint

Json = dict[str, Any]
READS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_SETTING = "c.VirtworkServer.read_only"


class Refused(tornado.web.HTTPError):
    """A VirtworkError raised before a handler runs; answered as ``_answer`` would."""

    def __init__(self, error: VirtworkError) -> None:
        super().__init__(errors.http_status(error), error.one_line())
        self.error = error


class VirtworkHandler(APIHandler):
    # The query parameters the endpoint reads, each at most once. Others are not refused:
    # JupyterLab's ServerConnection adds a cache-busting one to every GET, Jupyter a token.
    query: frozenset[str] = frozenset()

    @property
    def virtwork(self) -> Backend:
        backend: Backend = self.settings["virtwork"]
        return backend

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's
        # The access log prints request.uri when the request ends: a URI a client sent with
        # a password in it must not reach the log.
        self.request.uri = self.virtwork.redactor.text(self.request.uri or "")
        await super().prepare()
        if self.request.method not in READS and self.current_user \
                and self.virtwork.settings.read_only:  # no user: @authenticated refuses it
            raise Refused(readonly.refusal(f"{self.request.method} {self.request.path}",
                                           setting=READ_ONLY_SETTING))

    async def _answer(self, work: Callable[[], Json]) -> None:
        try:
            self._check_query()
            result = await self.virtwork.call(work)
        except VirtworkError as exc:
            self.set_status(errors.http_status(exc))
            result = errors.body(exc)
            self.log.info("virtwork: %s %s -> %s %s", self.request.method,
                          self.request.path, self.get_status(), result["code"])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.virtwork.redactor.data(result), default=str))

    def _check_query(self) -> None:
        """A parameter given twice is refused: which one was meant?"""
        given = self.request.query_arguments
        for name in sorted(self.query & set(given)):
            if len(given[name]) > 1:
                raise InvalidInput(f"{name!r} is given {len(given[name])} times",
                                   hint="give it once")

    def _driver(self, name: str) -> tuple[Endpoint, Driver]:
        return self.virtwork.driver(name)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{code, message}`` as for a VirtworkError (APIHandler's own has no ``code``)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, Refused):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(self.virtwork.redactor.data(errors.body(error.error))))
            return
        message = str(error.log_message or "") if isinstance(error, tornado.web.HTTPError) \
            else ""
        if isinstance(error, tornado.web.HTTPError) and error.args:
            message %= error.args
        if status_code == 405:
            message = f"{self.request.method} is not allowed here: use " \
                      f"{' or '.join(_verbs(self))}"
        elif status_code >= 500:
            message = "the server failed on this request; its log says why"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(errors.http_body(status_code, message)))


def _no_body(body: bytes, what: str) -> None:
    """``what`` has no options: a body the server ignored could be a client's "force" or
    "dry run" that it thinks was honoured."""
    if size := len(body):
        raise InvalidInput(f"{what} takes no body ({size} byte{'s' * (size != 1)} sent)",
                           hint="send the POST with an empty body")


def _verbs(handler: tornado.web.RequestHandler) -> list[str]:
    """The HTTP methods ``handler`` answers (those its class defines itself)."""
    return [method for method in ("GET", "POST")
            if getattr(type(handler), method.lower()) is not
            getattr(tornado.web.RequestHandler, method.lower())]


class ConfigHandler(VirtworkHandler):
    """What the panel needs to know of the server's settings: ``read_only`` (then it shows
    no action buttons)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        settings = self.virtwork.settings
        await self._answer(lambda: {"read_only": settings.read_only,
                                    "actions": [] if settings.read_only
                                    else [a.value for a in actions.Action]})


class ConnectionsHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        status = self.virtwork.hub.status()  # the feeds live on the loop: read them here

        def work() -> Json:
            rows = []
            for endpoint in self.virtwork.policy.endpoints().values():
                state, message = status.get(endpoint.alias, (StreamStatus.UNKNOWN, ""))
                kinds = [k.value for k in records.PANEL_KINDS.get(endpoint.family, ())]
                rows.append({**endpoint.to_dict(), "kinds": kinds, "status": state,
                             "message": message})
            return {"connections": rows}

        await self._answer(work)


class ResourcesHandler(VirtworkHandler):
    query = frozenset({"connection", "kind", "fresh"})

    @tornado.web.authenticated
    async def get(self) -> None:
        name = self.get_query_argument("connection", "")
        kind_text = self.get_query_argument("kind", "")
        fresh = self.get_query_argument("fresh", "") not in ("", "0", "false")

        def work() -> Json:
            if not name:
                raise InvalidInput("say which connection",
                                           hint="add ?connection=ALIAS (or an allowed URI)")
            endpoint, driver = self._driver(name)
            kinds = [records.parse_kind(kind_text)] if kind_text \
                else list(records.PANEL_KINDS.get(endpoint.family, ()))
            rows = [records.row(endpoint.alias, driver, r)
                    for kind in kinds for r in driver.list_cached(kind, fresh=fresh)]
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
                    "command": actions.command_for(driver, resource, "get")}

        await self._answer(work)


class ActionHandler(VirtworkHandler):
    @tornado.web.authenticated
    async def post(self, name: str, kind_text: str, id: str, action_text: str) -> None:
        def work() -> Json:
            _no_body(self.request.body, "an action")
            kind = records.parse_kind(kind_text)
            action = actions.parse_action(action_text)
            endpoint, driver = self._driver(name)
            resource = actions.run(driver, kind, id, action)
            return {"resource": records.row(endpoint.alias, driver, resource),
                    "action": action.value,
                    "command": actions.command_for(driver, resource, action)}

        await self._answer(work)


class ClassHandler(VirtworkHandler):
    """Every learner's workloads, with a learner column; 403 unless the server's Kubernetes
    credentials are a teacher's."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(lambda: classview.view(self.virtwork))


class ClassCleanupHandler(VirtworkHandler):
    """One learner's cleanup: GET says what it would remove (the panel names it when it
    asks first), POST removes it and answers once it is gone."""

    @tornado.web.authenticated
    async def get(self, learner: str) -> None:
        await self._answer(lambda: classview.would_remove(self.virtwork, learner))

    @tornado.web.authenticated
    async def post(self, learner: str) -> None:
        def work() -> Json:
            _no_body(self.request.body, "a cleanup")
            return classview.cleanup(self.virtwork, learner, timeout=CLEANUP_TIMEOUT)

        await self._answer(work)


class UnknownEndpointHandler(VirtworkHandler):
    """Any other path under the API (a missing id, an extra segment, a typo)."""

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler's
        await super().prepare()
        raise tornado.web.HTTPError(404, "no such endpoint: the API has config, connections, "
                                         "resources, resources/CONNECTION/KIND/ID, "
                                         "resources/CONNECTION/KIND/ID/ACTION, class, "
                                         "class/LEARNER/cleanup and events")
