"""govc's documented flags, read from tests/data/govc_usage.md (an excerpt of govmomi's
govc/USAGE.md; its header says where from).

There is no govc on this machine (govmomi's Debian package has no govc sources, and nothing
we can reach ships it), so each govc line the toolkit prints is checked against govc's own
documented usage instead: every flag must exist for its command.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

USAGE = Path(__file__).parents[1] / "data" / "govc_usage.md"
COMMON = ""  # the common options every command takes, listed once at the top
# "  -name=default   Help": a flag whose default is a boolean (or <nil>, an optional one)
# is written -name or -name=false; any other takes a value, -name VALUE or -name=VALUE.
_OPTION = re.compile(r"^  -(\S+?)(?:=(\S*))?(?:\s{2,}|$)")
_BOOLEAN = {None, "true", "false", "<nil>"}


@functools.cache
def documented() -> dict[str, dict[str, bool]]:
    """command -> its flags -> whether the flag is boolean; the common options under ""."""
    sections = re.split(r"^## (\S+)$", USAGE.read_text(), flags=re.MULTILINE)
    found = {COMMON: _options(sections[0])}
    found.update({name: _options(body) for name, body in zip(sections[1::2], sections[2::2],
                                                             strict=True)})
    return found


def _options(text: str) -> dict[str, bool]:
    return {m.group(1): m.group(2) in _BOOLEAN
            for m in map(_OPTION.match, text.splitlines()) if m}


def parse(words: list[str]) -> tuple[str, dict[str, str], list[str]]:
    """``govc COMMAND ...`` as (command, its flags, its arguments); a command or a flag that
    govc does not document fails the test."""
    assert words[0] == "govc", words
    command = words[1]
    assert command in documented(), f"govc has no command {command!r}: {words}"
    known = {**documented()[COMMON], **documented()[command]}
    flags: dict[str, str] = {}
    arguments: list[str] = []
    rest = iter(words[2:])
    for word in rest:
        if not word.startswith("-"):
            arguments.append(word)
            continue
        name, equals, value = word[1:].partition("=")
        assert name in known, f"govc {command} has no flag -{name}: {' '.join(words)}"
        flags[name] = value if equals else "true" if known[name] else next(rest)
    return command, flags, arguments
