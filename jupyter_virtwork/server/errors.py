"""VirtworkError -> HTTP status and a JSON body ``{code, message}``: the one place.

``code`` is the error's class name (``NotFound``), so a client can tell an engine that
refused credentials (AuthenticationFailed, 403) from a URI the admin refused
(RefusedConnection, 403) or a change refused in read-only mode (ReadOnly, 403). The table
runs from specific to general: the first match wins.
Errors that tornado raises before a handler's code runs (a method the endpoint lacks, a URL
that is not UTF-8, a path that is no endpoint) get the same shape, from ``http_body``.
"""

from __future__ import annotations

from http.client import responses
from typing import Any

from ..errors import (
    AlreadyExists,
    AuthenticationFailed,
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationTimeout,
    ReadOnly,
    UnsupportedOperation,
    VirtworkError,
)
from .config import RefusedConnection

STATUS: tuple[tuple[type[VirtworkError], int], ...] = (
    (InvalidInput, 400),
    (RefusedConnection, 403),
    (ReadOnly, 403),  # the server's read-only mode
    (AuthenticationFailed, 403),  # the engine refused; 401 would mean Jupyter's own login
    (NotFound, 404),
    (AlreadyExists, 409),
    (UnsupportedOperation, 501),
    (MissingDependency, 501),  # this server lacks the engine's SDK: the message names the extra
    (OperationTimeout, 504),
    (EngineUnavailable, 503),  # TLSVerificationFailed too: the engine cannot be used
)


def http_status(error: VirtworkError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def body(error: VirtworkError) -> dict[str, Any]:
    """The JSON body; ``message`` is the notebook's one line (what, where, what to do)."""
    return {"code": type(error).__name__, "message": error.one_line()}


def http_body(status: int, message: str = "") -> dict[str, Any]:
    """``{code, message}`` for a plain HTTP error: ``code`` is the status's reason phrase in
    one word (``MethodNotAllowed``); ``message`` one line, the phrase if none is given."""
    reason = responses.get(status, "HTTP Error")
    return {"code": reason.title().replace(" ", "").replace("-", ""),
            "message": " ".join((message or reason).split())}
