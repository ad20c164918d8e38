"""What the equivalence tests share: run a magic with ``--show-command``, take the lines it
printed, and run them with the real CLI (through bash: a line may hold ``&&`` and a
here-document) on another name.

The product never runs a CLI; these tests do, to show the printed lines are true.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from typing import Any

import pytest

CLIS = ("docker ", "kubectl ", "virsh ", "govc ")


def fresh(prefix: str) -> str:
    """A name no other line or object holds, so replacing it in a line is safe."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def commands_in(out: str) -> list[str]:
    """The CLI lines in a magic's output, each with its here-document, if any."""
    found: list[str] = []
    lines = iter(out.splitlines())
    for line in lines:
        if not line.startswith(CLIS):
            continue
        marker = re.search(r"<<'(\w+)'", line)
        if marker:
            body = []
            for more in lines:
                body.append(more)
                if more == marker.group(1):
                    break
            line = "\n".join([line, *body])
        found.append(line)
    return found


def shown(ip: Any, capsys: pytest.CaptureFixture[str], magic: str, line: str,
          cell: str | None = None) -> tuple[str, Any]:
    """Run ``%magic line --show-command``: (its CLI lines, one script, and its result)."""
    capsys.readouterr()
    # Right after the verb: after the image, it would be the container's command.
    verb, _, rest = line.partition(" ")
    words = f"--show-command {line}" if line.startswith("-") \
        else f"{verb} --show-command {rest}".strip()
    result = ip.run_cell_magic(magic, words, cell) if cell is not None \
        else ip.run_line_magic(magic, words)
    out, err = capsys.readouterr()
    printed = commands_in(out)
    assert printed, f"%{magic} {words} printed no command (stdout {out!r}, stderr {err!r})"
    assert not err.startswith("error"), f"%{magic} {words} failed: {err}"
    return "\n".join(printed), result


def run_cli(line: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run printed lines as a learner would paste them into bash; each must succeed."""
    done = subprocess.run(["bash", "-e", "-c", line], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env}, check=False)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}: {done.stderr[-2000:]}"
    return done
