"""Every error the toolkit raises on purpose, in one tree.

A ``VirtworkError`` is meant to be read as one line in a notebook: what failed, on which
connection, and what to do about it. Drivers translate their SDK's exceptions into this tree
once, at the driver boundary (``raise NotFound(...) from exc``); nothing above the drivers
sees an SDK exception.

    VirtworkError
    ├── InvalidInput            bad spec, name, size, YAML, Dockerfile, flag value
    │   └── InvalidArguments    a magic's words cannot be parsed (unknown flag, missing name)
    ├── MissingDependency       an optional SDK or system library is not installed
    ├── EngineUnavailable       the engine is down, unreachable or did not answer in time
    │   └── TLSVerificationFailed   the server's certificate is not trusted
    ├── AuthenticationFailed    wrong or missing credentials
    ├── ReadOnly                read-only mode is on: a verb that changes something is refused
    ├── NotFound                no such resource
    ├── AlreadyExists           a resource with that name exists
    ├── UnsupportedOperation    this driver cannot do that verb
    ├── OperationFailed         the engine refused or failed the request
    │   ├── BuildError          an image build failed (carries the log and the failing step)
    │   └── CleanupIncomplete   a cleanup left objects behind (one line per object and why)
    ├── OperationTimeout        the engine accepted the request but it did not finish in time
    ├── Cancelled               the user interrupted the work and the backend work was stopped,
    │                           or answered no to a destructive verb's question
    └── CheckFailed             a learner's check (%vw check) found another state than asked;
                                an AssertionError too, shown as one ✘ line

In IPython and Jupyter a raised ``VirtworkError`` shows as that one line, through IPython's
``_render_traceback_`` hook, and still fails the cell (Run All stops; nbval, papermill and
nbclient record an ``error`` output). ``full_traceback = True`` (on the class, or on one
error) gives IPython's whole traceback instead; ``%config VirtworkMagics.short_errors =
False`` sets it.

An error a learner meets in the course says its words by id: its ``message`` (and ``hint``)
may be a ``Said``, a sentence of the catalogue (``error_messages``) with its values. The
error keeps the English as ``message`` and ``str(err)``, so logs and the server's JSON read
as before; ``message_id``, ``hint_id`` and ``params`` name the sentences, and the magics
render the line IPython shows in the learner's language (``shown``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Phrase(Protocol):
    """A sentence of the learner's catalogue (``messages.Message``): a stable id and a
    ``str.format`` template in each language."""

    @property
    def id(self) -> str: ...

    def format(self, language: str, **values: object) -> str: ...


@dataclass(frozen=True)
class Said:
    """A catalogue sentence with its values: what an error says, in any language. A value
    that is itself ``Said`` (a kind of object, a detail) speaks the same language."""

    phrase: Phrase
    values: Mapping[str, object] = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        return self.phrase.format(language, **{
            key: value.text(language) if isinstance(value, Said) else value
            for key, value in self.values.items()})


Text = str | Said  # what an error says: plain English, or a catalogue sentence


def _english(text: Text | None) -> str | None:
    return text.text() if isinstance(text, Said) else text


class VirtworkError(Exception):
    """Root of the tree. ``str(err)`` is the one line a notebook shows.

    ``connection`` names where it happened (an alias or a credential-free URI);
    ``hint`` says what to do.
    """

    def __init__(self, message: Text, *, connection: str | None = None,
                 hint: Text | None = None) -> None:
        self.said = message if isinstance(message, Said) else None
        self.hint_said = hint if isinstance(hint, Said) else None
        self.message = _english(message) or ""
        self.connection = connection
        self.hint = _english(hint)
        super().__init__(self.one_line())

    full_traceback: bool = False
    """IPython shows the whole traceback instead of the one line (an instance may set its
    own)."""
    shown: str | None = None
    """The line IPython shows, when it is not ``str(err)``: the magics set it to the line in
    the learner's language."""

    @property
    def message_id(self) -> str | None:
        """The catalogue id of what this error says (None: it speaks English only)."""
        return self.said.phrase.id if self.said else None

    @property
    def hint_id(self) -> str | None:
        return self.hint_said.phrase.id if self.hint_said else None

    @property
    def params(self) -> Mapping[str, object]:
        """The values of the message's and the hint's sentences."""
        return {**(self.hint_said.values if self.hint_said else {}),
                **(self.said.values if self.said else {})}

    def one_line(self) -> str:
        where = f" on {self.connection}" if self.connection else ""
        todo = f": {self.hint}" if self.hint else ""
        return f"{self.message}{where}{todo}".replace("\n", " ")

    @property
    def _render_traceback_(self) -> Callable[[], list[str]]:
        """IPython's hook: the lines it shows instead of a traceback. Absent (IPython then
        renders the usual traceback) when ``full_traceback`` is set."""
        if self.full_traceback:
            raise AttributeError("_render_traceback_")
        return self._one_line_traceback

    def _one_line_traceback(self) -> list[str]:
        return [f"{type(self).__name__}: {self.shown or self}"]


class InvalidInput(VirtworkError, ValueError):
    """The input cannot be used as given; nothing was sent to an engine."""


class InvalidArguments(InvalidInput):
    """A magic's arguments cannot be parsed (an unknown flag, a missing name); the message
    names the magic and points at its help (``%docker?``)."""


class MissingDependency(VirtworkError, ImportError):
    """An optional SDK or system library is missing; ``hint`` is the install command."""


class EngineUnavailable(VirtworkError, ConnectionError):
    """The engine did not answer (down, unreachable, or slower than the bounded wait)."""


class TLSVerificationFailed(EngineUnavailable):
    """The server's certificate could not be verified; ``hint`` says how to trust it."""


class AuthenticationFailed(VirtworkError, PermissionError):
    """The engine refused the credentials."""


class ReadOnly(VirtworkError, PermissionError):
    """Read-only mode is on (``VW_READONLY=1``, a ``read_only`` setting): a verb that would
    change something is refused before any engine is asked; ``hint`` says how to turn it
    off."""


class NotFound(VirtworkError, LookupError):
    """No such resource on that connection."""


class AlreadyExists(VirtworkError):
    """A resource with that name already exists on that connection."""


class UnsupportedOperation(VirtworkError, NotImplementedError):
    """The driver cannot perform that verb; the message names driver and verb."""

    def __init__(self, driver: str, verb: str, *, connection: str | None = None,
                 hint: str | None = None) -> None:
        self.driver = driver
        self.verb = verb
        super().__init__(f"the {driver} driver does not support '{verb}'",
                         connection=connection, hint=hint)


class OperationFailed(VirtworkError):
    """The engine received the request and refused or failed it."""


class BuildError(OperationFailed):
    """An image build failed. ``log`` is the build output, ``step`` the failing step."""

    def __init__(self, message: str, *, log: str = "", step: str | None = None,
                 connection: str | None = None, hint: str | None = None) -> None:
        self.log = log
        self.step = step
        super().__init__(message, connection=connection, hint=hint)


class CleanupIncomplete(OperationFailed):
    """A cleanup could not remove everything. The first line says how much it removed and
    what to do; then ``left`` follows, one line per object left: what it is and why."""

    def __init__(self, message: str, left: list[str], *, hint: str | None = None) -> None:
        self.left = list(left)
        super().__init__(message, hint=hint)

    def one_line(self) -> str:
        return "\n".join([super().one_line(), *(f"  {line}" for line in self.left)])


class OperationTimeout(VirtworkError, TimeoutError):
    """Accepted by the engine, but not finished within the wait the caller allowed."""


class Cancelled(VirtworkError):
    """Interrupted by the user; the backend work was cancelled where the engine allows. Also
    a destructive verb's question answered with anything but yes: nothing was changed, and
    the cell fails, so that a cancelled step does not look done to Run All."""


class CheckFailed(VirtworkError, AssertionError):
    """``%vw check`` found the engine in another state than the exercise asks for.

    An ``AssertionError``, as graders (nbgrader, pytest) expect of a failed test; ``message``
    says what is wrong, ``hint`` what to try, and ``shown`` is the whole line, already in the
    learner's language, that IPython shows (``✘ ...``) instead of a traceback."""

    def __init__(self, message: str, *, hint: str, shown: str,
                 connection: str | None = None) -> None:
        self.shown = shown
        super().__init__(message, connection=connection, hint=hint)

    def one_line(self) -> str:
        return self.shown or super().one_line()

    def _one_line_traceback(self) -> list[str]:
        return [self.one_line()]


def first_line(value: object) -> str:
    """The first line of an SDK exception's text (its type's name if it has none): what a
    driver puts in its own one-line message."""
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
