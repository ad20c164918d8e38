"""Ownership labels: how everything the toolkit creates is marked as ours.

Docker and Kubernetes carry them as labels, libvirt in the domain's ``<metadata>`` under our
XML namespace, vSphere in the VM's annotation. ``%vw created`` and ``%vw cleanup`` select by
them, so they touch exactly what this notebook created and nothing else.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import uuid
from collections.abc import Mapping

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "jupyter-virtwork"
SESSION = "virtwork.io/session"
LEARNER = "virtwork.io/learner"  # a classroom learner's namespace and what sets it up
TEACHER = "virtwork.io/teacher"  # what gives a classroom teacher their view of the class
XML_NAMESPACE = "https://jupyter-virtwork.invalid/xmlns/owner/1"  # libvirt <metadata> key


def session_id_for(notebook: str | None = None) -> str:
    """A short id that is stable for one user's notebook across kernel restarts.

    Jupyter Server tells the kernel its notebook in JPY_SESSION_NAME; outside a notebook
    every process gets a fresh id. The user is part of it: thirty learners each open their
    own ``lesson1.ipynb``, and one's cleanup must never match another's work.
    """
    name = notebook or os.environ.get("JPY_SESSION_NAME")
    if name:
        user = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
        return hashlib.sha256(f"{user}\0{name}".encode()).hexdigest()[:12]
    return uuid.uuid4().hex[:12]


def ownership(session_id: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, SESSION: session_id}


def is_ours(labels: Mapping[str, str], session_id: str | None = None) -> bool:
    """Created by the toolkit (and, given ``session_id``, by that session)."""
    if labels.get(MANAGED_BY) != MANAGER:
        return False
    return session_id is None or labels.get(SESSION) == session_id
