"""What every magic shares: argument parsing, one-line errors, the notebook's Session, and
the "equivalent command" line.

Magic bodies only parse and call the Session or a driver; no subprocess, no shell.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics
from traitlets import Bool

from ..errors import Cancelled, VirtworkError
from ..session import Session

_session: Session | None = None
_session_lock = threading.Lock()


def session() -> Session:
    """The kernel's one Session (connections, ownership labels), made on first use."""
    global _session
    with _session_lock:
        if _session is None:
            _session = Session()
            _session.on_default = note
            _session.on_skip = note
        return _session


def reset_session() -> None:
    """Close every connection and forget them (extension unload, tests)."""
    global _session
    with _session_lock:
        old, _session = _session, None
    if old is not None:
        old.close()


def note(message: str) -> None:
    """A short line for the user that is not the result (which connection was picked...)."""
    print(message, file=sys.stderr)


PARSED_LINES = 256  # lines a parser remembers


class Parser(argparse.ArgumentParser):
    """argparse that reports through IPython's UsageError (one line) instead of exiting."""

    def __init__(self, prog: str, description: str = "", **kwargs: Any) -> None:
        super().__init__(prog=prog, description=description, add_help=True,
                         exit_on_error=False, **kwargs)
        self._parsed: dict[str, argparse.Namespace] = {}

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog.split()[0]}?)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # -h/--help printed the help already; end the magic without a traceback.
        raise _HelpShown()

    def parse_line(self, line: str) -> argparse.Namespace:
        """``line`` parsed; a line parsed before is answered from a memo (a copy: argparse
        takes ~50 us a line, 5% of a list call)."""
        known = self._parsed.get(line)
        if known is not None:
            return _copy(known)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{self.prog}: {exc}") from None
        try:
            parsed = self.parse_args(words)
        except argparse.ArgumentError as exc:
            raise UsageError(f"{self.prog}: {exc}") from None
        if len(self._parsed) < PARSED_LINES:
            self._parsed[line] = _copy(parsed)
        return parsed


def _copy(args: argparse.Namespace) -> argparse.Namespace:
    """A copy a magic may change (lists too: ``action="append"`` fills them)."""
    return argparse.Namespace(**{k: list(v) if isinstance(v, list) else v
                                 for k, v in vars(args).items()})


class _HelpShown(Exception):
    pass


def with_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--show-command", action="store_true",
                        help="also print the equivalent docker/kubectl/virsh/govc command")
    return parser


def with_fresh(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--fresh``: a list asks the engine even while a live table's cache could answer."""
    parser.add_argument("--fresh", action="store_true",
                        help="ask the engine, not the cache of a live table (--watch)")
    return parser


F = TypeVar("F", bound=Callable[..., Any])


class VirtworkMagics(Magics):
    """Base of every magic family; ``%config VirtworkMagics.short_errors = False`` shows
    full tracebacks for every family."""

    short_errors = Bool(True, help="show a VirtworkError as one line, without the "
                                   "traceback").tag(config=True)


def reports_errors(method: F) -> F:
    """Run a magic: VirtworkErrors become one red line, Ctrl-C says what was cancelled."""

    @functools.wraps(method)
    def run(self: VirtworkMagics, *args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return method(self, *args, **kwargs)
            except KeyboardInterrupt:
                # The drivers stop their streams when the read is interrupted (a build or
                # rollout stream closed, a vSphere task cancelled): say so, in one line.
                raise Cancelled("interrupted; the backend work was cancelled where the "
                                "engine allows") from None
        except _HelpShown:
            return None
        except VirtworkError as exc:
            if not self.short_errors:
                raise
            print(f"error: {exc}", file=sys.stderr)
            return None

    return run  # type: ignore[return-value]


def show_command(enabled: bool, driver: Any, verb: str, *args: str) -> None:
    if enabled:
        print(driver.command(verb, *args))


def parse_assignments(pairs: Sequence[str], what: str) -> dict[str, str]:
    """KEY=VALUE words (``-e A=1``, ``-l app=web``) as a dict; a word without '=' is bad."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} {pair!r} is not KEY=VALUE")
        found[key] = value
    return found
