"""libvirt-python itself: imported lazily, set up once per process, and its errors read.

Set-up silences libvirt's default error printer (errors are raised anyway, and a notebook
should show one line) and runs its default event loop in one daemon thread, registered
before the driver opens its first connection: watches, keepalive and the
connection-closed callback all need it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...errors import MissingDependency, first_line
from ..base import missing_sdk

log = logging.getLogger(__name__)

_SETUP_LOCK = threading.Lock()
_SETUP_DONE = False


def import_libvirt() -> Any:
    """libvirt-python, set up once per process: quiet errors, the default event loop."""
    try:
        import libvirt
    except ModuleNotFoundError as exc:
        raise missing_sdk("libvirt") from exc
    except ImportError as exc:  # libvirt-python is there, libvirt's own library is not
        raise MissingDependency(f"the libvirt backend needs libvirt's library ({first_line(exc)})",
                                hint="install libvirt's client library "
                                     "(Debian: apt-get install libvirt0)") from exc
    global _SETUP_DONE
    if not _SETUP_DONE:
        with _SETUP_LOCK:
            if not _SETUP_DONE:
                _set_up(libvirt)
                _SETUP_DONE = True
    return libvirt


def _set_up(libvirt: Any) -> None:
    # libvirt prints every error to stderr on top of raising it: a notebook shows ours.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    # Must precede opening connections: only connections opened after it get events,
    # keepalive and close callbacks.
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=_run_event_loop, args=(libvirt,), name="virtwork-libvirt-events",
                     daemon=True).start()


def _run_event_loop(libvirt: Any) -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:  # one bad callback must not end every watch
            log.debug("libvirt event loop iteration failed", exc_info=True)
            time.sleep(0.1)


def codes(libvirt: Any, *names: str) -> set[int]:
    """The error codes ``VIR_ERR_<name>`` of ``names``."""
    return {getattr(libvirt, f"VIR_ERR_{name}") for name in names}


def message(exc: Any) -> str:
    """A libvirtError's message on one line."""
    text = str(exc.get_error_message() or exc).strip()
    return " ".join(text.split()) or type(exc).__name__  # schema errors span lines


def version_text(number: int) -> str:
    """libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"
