"""jupyter_virtwork: drive real containers and VMs from notebooks.

``%load_ext jupyter_virtwork`` registers the magics and imports no engine SDK; the
Kubernetes client, the slowest to import, is warmed in the background so the first
``%k8s`` is quick.
"""

from __future__ import annotations

import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("jupyter_virtwork")  # labextension/package.json's, via the build
except PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"


def load_ipython_extension(ipython: Any) -> None:
    from .magics import ALL

    for magics in ALL:
        ipython.register_magics(magics)
    threading.Thread(target=_warm_kubernetes, name="virtwork-warm-k8s", daemon=True).start()


def unload_ipython_extension(ipython: Any) -> None:
    from .magics.base import reset_session

    reset_session()


def _warm_kubernetes() -> None:
    """Import the client and build its API classes now (about 1.4 s), not on first use."""
    try:
        from .registry import import_sdk

        import_sdk("kubernetes")  # under the SDK import lock: a first %docker may be racing
        from kubernetes import client

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
