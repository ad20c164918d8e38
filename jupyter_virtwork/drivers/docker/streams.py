"""A container's output as the engine sends it: log lines read from its byte chunks as they
arrive, and one command's exit code and output (``docker exec``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ...models import ExecResult


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text of ``chunks``, one line at a time (without its newline), as it arrives."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")
    if pending:
        yield pending.decode(errors="replace")


def exec_in(api: Any, id: str, argv: Sequence[str]) -> ExecResult:
    """Run ``argv`` in the container ``id`` through the client ``api`` (one without a read
    timeout: the command takes as long as it takes) and collect what it wrote."""
    exec_id = api.exec_create(id, list(argv), stdout=True, stderr=True)["Id"]
    out, err = api.exec_start(exec_id, demux=True)
    code = api.exec_inspect(exec_id)["ExitCode"]
    return ExecResult(int(code or 0), (out or b"").decode(errors="replace"),
                      (err or b"").decode(errors="replace"))
