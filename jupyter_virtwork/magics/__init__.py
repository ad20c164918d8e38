"""IPython magics: ``%docker``/``%%dockerfile``, ``%k8s``/``%%k8s``, ``%vm``, ``%vw``.

One module per command family; ``base.py`` holds parsing, one-line errors and the Session.
"""

from __future__ import annotations

from typing import Any

from ..session import Session
from .base import notebook_session
from .docker import DockerMagics
from .k8s import K8sMagics
from .vm import VMMagics
from .vw import VWMagics

ALL = (DockerMagics, K8sMagics, VMMagics, VWMagics)


def register(shell: Any) -> Session:
    """Register every family on ``shell``, sharing one new Session; returns it."""
    shared = notebook_session()
    for family in ALL:
        shell.register_magics(family(shell, shared))
    return shared
