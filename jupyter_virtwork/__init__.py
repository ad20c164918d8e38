"""jupyter_virtwork: drive real containers and VMs from notebooks.

``%load_ext jupyter_virtwork`` registers the magics and imports no engine SDK; the
Kubernetes client, the slowest to import, is warmed in the background so the first
``%k8s`` is quick.
"""

from __future__ import annotations

import threading
from typing import Any

__version__ = "0.1.0"

_warming: threading.Thread | None = None


def load_ipython_extension(ipython: Any) -> None:
    global _warming
    from .magics import ALL

    for magics in ALL:
        ipython.register_magics(magics)
    _warming = threading.Thread(target=_warm_kubernetes, name="virtwork-warm-k8s", daemon=True)
    _warming.start()


def wait_for_warm_imports(timeout: float = 30.0) -> None:
    """Let the background import finish before anything imports another SDK: the Kubernetes
    client and docker-py both import ``requests``, and two threads importing it at once
    hand one of them a half-initialised module ("cannot import name 'parse_dict_header'
    from partially initialized module 'requests.utils'")."""
    thread = _warming
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics.base import reset_session

    reset_session()


def _warm_kubernetes() -> None:
    """Import the client and build its API classes now (about 1.4 s), not on first use."""
    try:
        from kubernetes import client, dynamic  # noqa: F401 - imported to be warm

        for api in ("CoreV1Api", "AppsV1Api", "VersionApi"):  # lazy attributes: touch them
            getattr(client, api)
    except Exception:  # noqa: BLE001 - warming is an optimisation; the real call reports
        pass


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """jupyter_server loads the REST and event handlers from this module (lazily: nothing
    of jupyter_server is imported here)."""
    return [{"module": "jupyter_virtwork.server.extension"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The built side panel, for ``jupyter labextension develop`` and shared-data."""
    return [{"src": "labextension", "dest": "jupyter-virtwork"}]
