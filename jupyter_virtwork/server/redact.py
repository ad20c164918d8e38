"""Secrets never leave the server: not in a response, a WebSocket message or a log line.

The drivers already keep passwords out of records and messages; this is the second fence,
for text the server did not write itself (an SDK's error text inside a message, a URI a
client typed with a password in it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"
# scheme://user:password@host -> scheme://user:***@host (in any text, encoded or not)
_URI_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*(?::|%3A)(?://|%2F%2F)[^\s/@:%]*(?::|%3A))"
                           r"[^\s/@]*?(@|%40)")
MIN_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        self._secrets = secrets

    def text(self, text: str) -> str:
        text = _URI_PASSWORD.sub(rf"\1{MASK}\2", text)
        for secret in sorted(self._secrets(), key=len, reverse=True):
            if len(secret) >= MIN_SECRET:
                text = text.replace(secret, MASK)
        return text

    def data(self, value: Any) -> Any:
        """A JSON-able value with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message through the Redactor before any handler sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("virtwork-redact")
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redactor.text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def guard_logger(logger: logging.Logger, redactor: Redactor) -> None:
    """Filter ``logger``'s handlers (filters on a logger miss its children's records)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))
