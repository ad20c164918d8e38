"""How a magic tells the Session's journal what it did (see ``journal.py``).

``recording`` wraps a whole magic (``reports_errors`` does it) and writes its step when it
ends; inside, ``shown`` prints a command line when ``--show-command`` asks and returns it,
``did`` notes an action completed with that line, and ``keep`` marks a magic that a replay
needs although it acts on no engine (``%vw connect``). The step keeps the magic as typed
but for the values ``withheld.py`` takes out. Every magic runs on the kernel's main
thread; the pending step is per thread all the same.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..drivers.base import Driver
from ..journal import Artefact, Command, Journal, Step, Subject
from ..withheld import Reference, magic_line, manifests


@dataclass
class _Pending:
    commands: list[Command] = field(default_factory=list)
    keep: bool = False


class _Calls(threading.local):
    def __init__(self) -> None:
        self.pending: _Pending | None = None


_calls = _Calls()


@contextlib.contextmanager
def recording(magic: str, cell: str | None, journal: Journal) -> Iterator[None]:
    """Run one magic (``magic``: its line with ``%`` or ``%%``), then record it: its
    completed actions even when a later one failed (they happened), and a kept magic only
    when it succeeded."""
    outer, pending = _calls.pending, _Pending()
    _calls.pending = pending
    cwd = os.getcwd()
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        _calls.pending = outer
        if pending.commands or (pending.keep and succeeded):
            journal.record(Step(magic_line(magic).text, _cell(magic, cell), cwd, succeeded,
                                tuple(pending.commands), keep=pending.keep))


def _cell(magic: str, cell: str | None) -> str | None:
    """A cell as the journal keeps it: a ``%%k8s`` cell's Secret values withheld."""
    return manifests(cell).text if cell is not None and magic.startswith("%%k8s") else cell


def shown(show: bool, line: str) -> str:
    """``line``, printed first when ``--show-command`` asked for it."""
    if show:
        print(line)
    return line


def did(driver: Driver, verb: str, line: str, *, made: Iterable[Subject] = (),
        removed: Iterable[Subject] = (), artefacts: Iterable[Artefact] = (),
        container_status: bool = False, references: Iterable[Reference] = ()) -> None:
    """Note an action the running magic has completed on ``driver``, done by ``line``
    (which holds no secret: ``references`` name the variables it reads them from)."""
    if _calls.pending is not None:
        _calls.pending.commands.append(Command(
            driver.uri, driver.target.family, verb, line, tuple(made), tuple(removed),
            tuple(artefacts), container_status, tuple(references)))


def keep() -> None:
    """The running magic matters to a replay although it acts on no engine."""
    if _calls.pending is not None:
        _calls.pending.keep = True
