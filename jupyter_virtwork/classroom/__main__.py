"""``python -m jupyter_virtwork.classroom --port PORT --certfile CERT --keyfile KEY``: serve
the pod guard (``guard``) that the API server asks about every learner's pod."""

from __future__ import annotations

import sys

from .guard import main

if __name__ == "__main__":
    sys.exit(main())
