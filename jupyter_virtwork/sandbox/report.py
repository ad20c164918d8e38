"""Progress lines for long sandbox steps, on stderr so ``status --json`` stays clean."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def say(engine: str, message: str) -> None:
    elapsed = time.monotonic() - _START
    print(f"[{elapsed:6.1f}s] {engine}: {message}", file=sys.stderr, flush=True)
