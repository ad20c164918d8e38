"""A VM's serial console: the log file the hypervisor writes it to, read as it is or until
a marker shows (a login prompt, a line a lesson waits for).

On a local connection the log is a file of this machine. On a remote one it is a file of
the remote host, so waiting follows libvirt's console stream instead (``virsh console``'s
channel), which carries only what the guest prints from then on.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from ...errors import OperationTimeout
from .sdk import import_libvirt


def log_path(name: str, *, hypervisor: str, uri_path: str, directory: str | None) -> str | None:
    """Where the hypervisor writes VM ``name``'s serial console (None: the test driver,
    which runs nothing that could print); ``directory`` overrides the hypervisor's."""
    if hypervisor == "test":
        return None
    return f"{directory or _log_directory(hypervisor, uri_path)}/{name}-console.log"


def _log_directory(hypervisor: str, uri_path: str) -> str:
    if hypervisor == "qemu" and uri_path.rstrip("/") == "/session":
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return f"{cache}/libvirt/qemu/log"
    # next to the hypervisor's own logs; qemu and libxl run as root here
    return f"/var/log/libvirt/{'libxl' if hypervisor != 'qemu' else 'qemu'}"


def read_log(path: str) -> str:
    """The console log so far; empty before the hypervisor opened it."""
    try:
        return Path(path).read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""  # the hypervisor has not opened it yet


def remove_log(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def wait_in_log(dom: Any, path: str, marker: str, timeout: float, *, uri: str) -> str:
    """The local console log once ``marker`` shows in it; OperationTimeout when it does
    not within ``timeout`` seconds, or the VM stops first."""
    deadline = time.monotonic() + timeout
    while True:
        text = read_log(path)
        if marker in text:
            return text
        if time.monotonic() > deadline or not dom.isActive():
            raise _no_marker(dom, marker, timeout, text, uri=uri)
        time.sleep(0.2)


def follow_stream(conn: Any, dom: Any, marker: str, timeout: float, *, uri: str) -> str:
    """What the serial console prints from now on, through libvirt's console stream,
    until ``marker`` shows (what the guest printed before this call is not in the stream);
    OperationTimeout as for ``wait_in_log``."""
    libvirt = import_libvirt()
    stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
    dom.openConsole(None, stream, 0)
    received = b""
    deadline = time.monotonic() + timeout
    try:
        while marker.encode() not in received:
            chunk = stream.recv(4096)
            if chunk == -2:  # nothing yet (non-blocking)
                if time.monotonic() > deadline or not dom.isActive():
                    raise _no_marker(dom, marker, timeout, received.decode(errors="replace"),
                                     uri=uri)
                time.sleep(0.1)
            elif not chunk:  # the console closed: the VM stopped
                raise _no_marker(dom, marker, timeout, received.decode(errors="replace"),
                                 uri=uri)
            else:
                received += chunk
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
    return received.decode(errors="replace")


def _no_marker(dom: Any, marker: str, timeout: float, text: str, *,
               uri: str) -> OperationTimeout:
    lines = text.strip().splitlines()
    last = f"last console line: {lines[-1][:120]!r}" if lines else "the console is empty"
    why = "within" if dom.isActive() else "before it stopped, in"
    return OperationTimeout(f"VM {dom.name()!r} did not print {marker!r} {why} "
                            f"{timeout:.0f} s", connection=uri, hint=last)
