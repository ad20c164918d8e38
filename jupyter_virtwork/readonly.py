"""Read-only mode, as k9s's ``readOnly``: its switch and its one-line refusal.

Lists, gets, watches, logs and checks work; a verb that would change something is refused
before any engine is asked. The magics (``VirtworkMagics.read_only``, the verbs in
``magics/guard.py``) and the server extension (``VirtworkServer.read_only``, every request
but a read) each have a setting whose default is ``VW_READONLY``. It is a guardrail
against a mistyped cell, not isolation: what a learner may touch at all is the cluster's
RBAC (``classroom/``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import ReadOnly

ENVIRONMENT = "VW_READONLY"
ON = frozenset({"1", "true", "yes", "on"})


def from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``VW_READONLY`` turns read-only mode on ("1" or "true", any case)."""
    value = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
    return value.strip().lower() in ON


def refusal(what: str, *, setting: str) -> ReadOnly:
    """The error for ``what`` (``%docker rm``, ``POST .../stop``) refused; ``setting`` is
    how its side turns read-only mode off."""
    return ReadOnly(f"read-only mode is on: {what} would change something and is refused",
                    hint=f"to allow changes, set {setting} = False "
                         f"(its default comes from {ENVIRONMENT})")
