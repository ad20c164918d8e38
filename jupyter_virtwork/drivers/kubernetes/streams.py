"""Reading the API server's long answers (logs, watches) as they come: line by line, and
stopped from another thread.

Both take the raw urllib3 response a call made with ``_preload_content=False`` returns.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any


def interrupt(response: Any) -> None:
    """Wake a thread blocked reading ``response`` from another thread.

    ``response.close()`` cannot: on a TLS socket it waits for the reader's lock, so it
    returns only when the server next sends something (a watch may be silent for a minute).
    Shutting the socket down ends the blocked read at once; the reader then closes it.
    """
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is None:
        response.close()
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def lines(response: Any) -> Iterator[str]:
    """The response's body, one line at a time (without its newline), as it arrives."""
    pending = b""
    for chunk in response.stream(4096, decode_content=False):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")
