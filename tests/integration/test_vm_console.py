"""``%vm console NAME [--wait-for TEXT]`` on a real QEMU guest: the sandbox's tiny Linux,
booted under TCG on ``qemu:///system``, prints its marker on the serial console some seconds
after ``%vm create``; the magic waits for it, or says in one line that it never came."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.errors import VirtworkError
from jupyter_virtwork.models import State
from jupyter_virtwork.sandbox import guest

from .conftest import ensure_up, ipython_shell

QEMU = "qemu:///system"


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("libvirt")
    yield ipython_shell()


@pytest.fixture
def vm(ip: Any) -> Iterator[str]:
    """A tiny guest just created (still booting: its marker comes seconds later)."""
    name = f"vw-console-{uuid.uuid4().hex[:6]}"
    created = ip.run_line_magic("vm", f"create {name} --on {QEMU} --tiny-guest --memory 128M")
    assert created is not None and created.state is State.RUNNING
    yield name
    ip.run_line_magic("vm", f"delete {name} --on {QEMU} --force")
    assert name not in {r.name for r in ip.run_line_magic("vm", f"ls --on {QEMU}")}


def test_console_waits_for_the_guests_marker(ip: Any, vm: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert ip.run_line_magic("vm", f"console {vm} --on {QEMU}") is None
    early = capsys.readouterr().out
    assert guest.MARKER not in early  # just created: TCG takes seconds to boot Linux
    ip.run_line_magic("vm", f"console {vm} --on {QEMU} --wait-for {guest.MARKER}")
    out = capsys.readouterr()
    assert guest.MARKER in out.out and out.err == ""
    # What was printed is the guest's own console log, as libvirt's QEMU wrote it.
    with Path(f"/var/log/libvirt/qemu/{vm}-console.log").open(newline="",
                                                           errors="replace") as handle:
        log = handle.read()
    assert out.out.rstrip() in log.rstrip() and log.startswith(early)


def test_text_that_never_comes_is_one_line_with_the_last_console_line(
        ip: Any, vm: str, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("vm", f"console {vm} --on {QEMU} --wait-for {guest.MARKER}")
    with pytest.raises(VirtworkError) as caught:  # the cell fails, in one line
        ip.run_line_magic("vm", f"console {vm} --on {QEMU} --wait-for NEVER-PRINTED "
                                "--timeout 2")
    (err,) = caught.value._render_traceback_()
    assert f"VM '{vm}' did not print 'NEVER-PRINTED'" in err and "last console line" in err
