"""What every magic shares: argument parsing, one-line errors, the shell's Session, the
settings a user may change (traitlets, ``%config``), and the "equivalent command" line.

The Session belongs to the magics: the four families registered on one shell by
``%load_ext jupyter_virtwork`` share one (``magics.register``), and another shell in the
same process has its own. A cell reaches it with ``session()``.

Magic bodies only parse and call the Session or a driver; no subprocess, no shell.

Errors have one channel: a failed magic raises a ``VirtworkError`` (argument mistakes an
``InvalidArguments``), which IPython shows as one line (``errors.VirtworkError``'s
``_render_traceback_``) and which fails the cell, so Run All stops and nbval, papermill and
nbclient see it. ``%config VirtworkMagics.short_errors = False`` shows the traceback.
The line is in the learner's language (``%config VirtworkMagics.language``) for the errors
whose words are in the catalogue (``error_messages``): argparse's own messages are matched
to its sentences here.

Guardrails: ``VirtworkMagics.parse`` refuses, in read-only mode, every verb that changes
something (``guard.py``); a destructive verb asks first through ``confirm_first``
(``confirm.py``).
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics
from traitlets import Bool, TraitError, Unicode, default, observe, validate

from .. import defaults, messages, readonly
from .. import error_messages as say
from ..drivers.base import Driver
from ..errors import Cancelled, InvalidArguments, InvalidInput, Said, Text, VirtworkError
from ..messages import Message
from ..models import Resource
from ..session import Session
from . import guard, journaling
from .confirm import ask, asks, question


def notebook_session() -> Session:
    """A new Session for one shell's magics; which default it picked, and which connection
    it skipped, it says on stderr."""
    made = Session()
    made.on_default = note
    made.on_skip = note
    return made


def session(shell: Any = None) -> Session:
    """The Session of the virtwork magics on ``shell`` (the running IPython's by default):
    for a cell that reaches a connection itself, ``session().driver("docker")``."""
    from IPython.core.getipython import get_ipython

    shell = shell or get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    registered = shell.magics_manager.registry.values() if shell is not None else ()
    magics = next((m for m in registered if isinstance(m, VirtworkMagics)), None)
    if magics is None:
        raise InvalidInput(say.NOT_LOADED(), hint=say.LOAD_THEM())
    return magics.session


def note(message: str) -> None:
    """A short line for the user that is not the result (which connection was picked...)."""
    print(message, file=sys.stderr)


PARSED_LINES = 256  # lines a parser remembers

# argparse's messages (Python's own, in English) and the catalogue's sentence for each.
ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], Message], ...] = (
    (re.compile(r"unrecognized arguments: (?P<words>.*)"), say.UNKNOWN_ARGUMENTS),
    (re.compile(r"the following arguments are required: (?P<names>.*)"),
     say.MISSING_ARGUMENTS),
    (re.compile(r"argument (?P<argument>\S+): invalid choice: (?P<value>.*) "
                r"\(choose from (?P<choices>.*)\)"), say.INVALID_CHOICE),
    (re.compile(r"argument (?P<argument>\S+): expected one argument"), say.EXPECTS_VALUE),
    (re.compile(r"argument (?P<argument>\S+): invalid (?P<type>\S+) value: (?P<value>.*)"),
     say.INVALID_VALUE),
)


def argparse_problem(message: str) -> Text:
    """argparse's ``message`` as a catalogue sentence (as it is when none matches)."""
    for pattern, sentence in ARGPARSE_MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            return sentence(**found.groupdict())
    return message


def _usage(line: Message, prog: str, message: str) -> Said:
    """The magic's usage mistake; one argparse has no sentence for keeps its English words
    in the learner's frame."""
    return line(prog=prog, problem=argparse_problem(message), help=prog.split()[0])


class Parser(argparse.ArgumentParser):
    """argparse that reports through InvalidArguments (one line, the channel of every other
    error) instead of exiting. An ``intermixed`` parser (a verb's, given to ``add_parser``)
    takes positionals after its options too: ``%vw check vm NAME --cpus 2 poweredOn``."""

    def __init__(self, prog: str, description: str = "", *, intermixed: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(prog=prog, description=description, add_help=True,
                         exit_on_error=False, **kwargs)
        self._parsed: dict[str, argparse.Namespace] = {}
        self._intermixed = intermixed
        self._intermixing = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        if not self._intermixed or self._intermixing:
            return super().parse_known_args(args, namespace)
        # argparse's intermixed parsing calls this method again, for options then positionals,
        # and sets a usage text of its own, which "%" (our prog's "%vw") would break.
        self._intermixing, usage = True, self.usage
        self.usage = self.format_usage().removeprefix("usage: ").rstrip().replace("%", "%%")
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing, self.usage = False, usage

    def error(self, message: str) -> NoReturn:
        raise InvalidArguments(_usage(say.USAGE, self.prog, message))

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
            raise InvalidArguments(f"{self.prog}: {exc}") from None
        try:
            parsed = self.parse_args(words)
        except argparse.ArgumentError as exc:
            raise InvalidArguments(_usage(say.USAGE_ARGUMENT, self.prog, str(exc))) from None
        if len(self._parsed) < PARSED_LINES:
            self._parsed[line] = _copy(parsed)
        return parsed

    def full_help(self) -> str:
        """The magic's whole usage: its own help, then every verb's (``%docker?``)."""
        parts = [self.format_help()]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                # dict.fromkeys: a verb with aliases is one parser, shown once
                parts.extend(v.format_help() for v in dict.fromkeys(action.choices.values()))
        return "\n".join(parts)


def _copy(args: argparse.Namespace) -> argparse.Namespace:
    """A copy a magic may change (lists too: ``action="append"`` fills them)."""
    return argparse.Namespace(**{k: list(v) if isinstance(v, list) else v
                                 for k, v in vars(args).items()})


def with_examples(verbs: argparse._SubParsersAction[Parser], examples: dict[str, str]) -> None:
    """One example line under each verb's help (``%docker run -h`` and ``%docker?``)."""
    for verb, example in examples.items():
        verbs.choices[verb].epilog = f"example: {example}"


class _HelpShown(Exception):
    pass


def with_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--show-command", action="store_true",
                        help="also print the equivalent docker/kubectl/virsh/govc command")
    return parser


def with_yes(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--yes``: a destructive verb goes ahead without asking (scripts, grading)."""
    parser.add_argument("--yes", action="store_true",
                        help="do not ask first (VirtworkMagics.confirm)")
    return parser


def with_fresh(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--fresh``: a list asks the engine even while a live table's cache could answer."""
    parser.add_argument("--fresh", action="store_true",
                        help="ask the engine, not the cache of a live table (--watch)")
    return parser


F = TypeVar("F", bound=Callable[..., Any])


def usage_from(*parsers: Callable[[], Parser]) -> Callable[[F], F]:
    """``%docker?`` shows the parsers' full usage. IPython asks an object's ``getdoc()``
    first, so the help is built when asked for, not at ``%load_ext``."""

    def attach(method: F) -> F:
        vars(method)["getdoc"] = lambda: "\n".join(p().full_help() for p in parsers)
        return method

    return attach


class VirtworkMagics(Magics):
    """Base of every magic family; ``%config VirtworkMagics.short_errors = False`` shows
    full tracebacks for every family, ``%config VirtworkMagics.language = 'zh'`` speaks
    Chinese to the learner."""

    short_errors = Bool(True, help="show an error as one line (what failed, where, what to "
                                   "do); False shows the whole traceback").tag(config=True)
    language = Unicode(help="the language of what a learner reads (%vw check's lines, "
                            "errors and hints): 'en' or 'zh' (a locale such as zh_CN works "
                            "too); "
                            "default: JupyterLab's language, else the locale ($LANG)"
                       ).tag(config=True)
    read_only = Bool(help="read-only mode: lists, gets, watches, logs and checks work, and "
                          "every verb that changes something is refused in one line; "
                          f"default: on when ${readonly.ENVIRONMENT} is 1 or true"
                     ).tag(config=True)
    confirm = Bool(True, help="destructive verbs (delete, rm, stop, cleanup) ask first, "
                              "naming what and how many, when the frontend can answer "
                              "(never in a headless run: nbval, papermill, nbclient); "
                              "--yes skips the question").tag(config=True)

    @default("read_only")
    def _read_only_default(self) -> bool:
        return readonly.from_environment()

    @default("language")
    def _language_default(self) -> str:
        return messages.from_environment()

    @validate("language")
    def _known_language(self, proposal: dict[str, Any]) -> str:
        language = messages.language_of(str(proposal["value"]))
        if language is None:
            raise TraitError(f"language {proposal['value']!r} is not one of "
                             f"{', '.join(messages.LANGUAGES)}")
        return language

    def __init__(self, shell: Any = None, session: Session | None = None,
                 **kwargs: Any) -> None:
        """``session``: the one the shell's other families use (``magics.register``); a
        family registered alone gets its own."""
        # Before the traits' configuration is read: a %config'd connection goes to it.
        self.session = session or notebook_session()
        super().__init__(shell=shell, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]

    def configure_default(self, family: str, setting: str, uri: str,
                          **options: Any) -> None:
        """Make ``uri`` (``setting``'s value) the connection ``family`` uses unless the
        notebook names another; an empty ``uri`` restores the automatic choice."""
        chosen = defaults.DefaultConnection(uri, options, f"%config {setting}") if uri \
            else None
        self.session.choose_default(family, chosen)

    def parse(self, parser: Parser, line: str) -> argparse.Namespace:
        """``line`` parsed by ``parser``; in read-only mode a verb that changes something
        is refused here, before any engine is asked."""
        args = parser.parse_line(line)
        guard.check(self.read_only, parser.prog, args.verb if "verb" in args else None)
        return args

    def confirm_first(self, args: argparse.Namespace, verb: str,
                      targets: Callable[[], Sequence[Resource]], where: str) -> None:
        """Before a destructive verb: ask (``confirm.py``), naming what ``targets``
        resolves to, unless ``--yes``, ``confirm`` is off, or no one can answer; a no
        raises ``Cancelled``. ``targets`` is called only when asking (none: no question)."""
        if self.asks_first(args) and (found := targets()):
            ask(question(verb, found, where))

    def asks_first(self, args: argparse.Namespace) -> bool:
        """Whether a destructive verb given ``args`` asks before it acts."""
        return asks(self.shell, enabled=self.confirm, yes=args.yes)

    @observe("short_errors")
    def _short_errors_changed(self, change: dict[str, Any]) -> None:
        # Also for errors raised outside a magic (a driver called in a cell).
        VirtworkError.full_traceback = not change["new"]


def reports_errors(method: F) -> F:
    """Run a magic: a failure raises one VirtworkError (IPython shows it as one line and the
    cell fails); Ctrl-C cancels the engine's work and says so, in one line."""

    @functools.wraps(method)
    def run(self: VirtworkMagics, *args: Any, **kwargs: Any) -> Any:
        line, cell = _line_and_cell(args, kwargs)
        magic = f"{'%' if cell is None else '%%'}{method.__name__} {line}".rstrip()
        try:
            try:
                with journaling.recording(magic, cell, self.session.journal):
                    return method(self, *args, **kwargs)
            except KeyboardInterrupt:
                # The drivers stop their streams when the read is interrupted (a build or
                # rollout stream closed, a vSphere task cancelled): say so, in one line.
                raise Cancelled(say.INTERRUPTED()) from None
            except UsageError as exc:  # a magic body's own check of its arguments
                raise InvalidArguments(str(exc)) from None
        except _HelpShown:
            return None
        except VirtworkError as exc:
            exc.full_traceback = not self.short_errors
            exc.shown = say.line(exc, self.language)
            raise

    return run  # type: ignore[return-value]


def _line_and_cell(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str | None]:
    """A magic method's line and cell (None for a line magic), however IPython passed them."""
    line = args[0] if args else kwargs.get("line", "")
    cell = args[1] if len(args) > 1 else kwargs.get("cell")
    return str(line), None if cell is None else str(cell)


def show_command(enabled: bool, driver: Driver, verb: str, *args: str) -> None:
    if enabled:
        print(driver.command(verb, *args))


def parse_assignments(pairs: Sequence[str], what: str) -> dict[str, str]:
    """KEY=VALUE words (``-e A=1``, ``-l app=web``) as a dict; a word without '=' is bad."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArguments(f"{what} {pair!r} is not KEY=VALUE")
        found[key] = value
    return found
