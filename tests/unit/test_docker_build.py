"""Reading a legacy build stream: what the build made, and its text without colour codes.

The stream below is the one dockerd 20.10 sends for a failing four-step Dockerfile whose
second step was in the cache; the integration tests run real builds."""

from __future__ import annotations

import pytest

from jupyter_virtwork.drivers.docker import build
from jupyter_virtwork.errors import BuildError

STREAM = [
    {"stream": "Step 1/5 : FROM localbase/busybox:1.35"}, {"stream": "\n"},
    {"stream": " ---> 0a1b2c3d4e5f\n"},
    {"stream": "Step 2/5 : RUN echo cached"}, {"stream": "\n"},
    {"stream": " ---> Using cache\n"}, {"stream": " ---> 1111aaaa2222\n"},
    {"stream": "Step 3/5 : COPY x /x"}, {"stream": "\n"}, {"stream": " ---> 3333bbbb4444\n"},
    {"stream": "Step 4/5 : RUN echo new"}, {"stream": "\n"},
    {"stream": " ---> Running in 5555cccc6666\n"}, {"stream": "new\n"},
    {"stream": "Removing intermediate container 5555cccc6666\n"},
    {"stream": " ---> 7777dddd8888\n"},
    {"stream": "Step 5/5 : RUN echo oops >&2 && exit 3"}, {"stream": "\n"},
    {"stream": " ---> Running in 9999eeee0000\n"},
    {"stream": "\x1b[91moops\n\x1b[0m"},
    {"error": "The command '/bin/sh -c echo oops >&2 && exit 3' returned a non-zero code: 3",
     "errorDetail": {"code": 3, "message": "The command '/bin/sh -c echo oops >&2 && exit 3' "
                                           "returned a non-zero code: 3"}},
]


def test_a_failed_build_names_what_it_made_and_its_log_is_plain_text() -> None:
    made = build.Made()
    with pytest.raises(BuildError) as caught:
        build.read_build(STREAM, None, "bad:1", "docker://", 5, made)
    # Not the FROM's base nor the cached layer: those were there before the build.
    assert made.images == ["3333bbbb4444", "7777dddd8888"]
    assert made.containers == ["9999eeee0000"]  # the failing step's, not yet removed
    assert "oops\n" in caught.value.log and "\x1b" not in caught.value.log
    assert "step 5/5" in str(caught.value)


def test_plain_removes_colour_and_cursor_codes() -> None:
    assert build.plain("\x1b[91merror\x1b[0m \x1b[2Kdone\x1b(B") == "error done"
