"""jupyter_virtwork: drive real containers and VMs from notebooks.

``%load_ext jupyter_virtwork`` registers the magics and imports no engine SDK; a background
thread then imports them all, so the first magic of each engine is quick.
"""

from __future__ import annotations

import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("jupyter_virtwork")  # labextension/package.json's, via the build
except PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"
WARM_AFTER = 0.2  # seconds between %load_ext and the SDK warm-up


def load_ipython_extension(ipython: Any) -> None:
    from .magics import register

    register(ipython)  # with a new Session: a reload starts afresh, as a new kernel does
    threading.Thread(target=_warm_sdks, name="virtwork-warm-sdks", daemon=True).start()


def unload_ipython_extension(ipython: Any) -> None:
    from .magics.base import session

    session(ipython).close()


def _warm_sdks() -> None:
    """Import every engine's SDK now, while the user types the next cell, not on first use.

    One family at a time, the quick ones first: each import holds the SDK import lock
    (registry.import_sdk), and a first ``%docker`` waits for the import under way only.
    Not the Kubernetes client's typed API classes (~250 pydantic models, 0.5 s or more):
    lists, gets and watches do without them."""
    import time

    from .registry import SDKS, driver_class, import_sdk

    time.sleep(WARM_AFTER)  # let the %load_ext cell finish first: the imports hold the GIL
    for family in ("docker", "libvirt", "vsphere", "kubernetes"):
        if family in SDKS:
            try:
                import_sdk(family)
                driver_class(family)  # the driver's own module too
            except Exception:  # noqa: BLE001 - warming is an optimisation; the real call reports
                pass


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """jupyter_server loads the REST and event handlers from this module (lazily: nothing
    of jupyter_server is imported here)."""
    return [{"module": "jupyter_virtwork.server.extension"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The built side panel, for ``jupyter labextension develop`` and shared-data."""
    return [{"src": "labextension", "dest": "jupyter-virtwork"}]
