"""Read-only mode for the magics: the verbs that only read, and the refusal of the rest.

The list names what is allowed, so a verb added later is refused in read-only mode until
someone decides it only reads. Every other verb of a magic (``create``, ``run``,
``apply``, ``delete``, ``rm``, ``stop``, ``start``, ``scale``, ``build``, ``push``,
``exec``, ``cleanup``...) and ``%%dockerfile`` change something; ``exec`` too, since a
command in a container can change anything; ``--dry-run`` and ``--diff`` do not make a verb
a read (one rule, no exceptions to remember). ``VirtworkMagics.parse`` calls ``check`` after
parsing a line, before any engine is asked; a live table (``--watch``) then offers no
action buttons either.
"""

from __future__ import annotations

from .. import readonly

READS: dict[str, frozenset[str]] = {
    "%docker": frozenset({"ps", "images", "logs", "inspect"}),
    "%k8s": frozenset({"get", "logs", "use-context"}),
    "%vm": frozenset({"ls", "console"}),
    # export writes files here, not on an engine; connect only opens a connection; class
    # is the teacher's table (its cleanup is checked as "class cleanup", a change)
    "%vw": frozenset({"connect", "connections", "status", "unwatch", "created", "check",
                      "export", "class"}),
}

SETTING = "%config VirtworkMagics.read_only"


def changes(prog: str, verb: str | None) -> bool:
    """Whether ``prog verb`` (``%docker rm``; a magic without verbs: None) changes
    something."""
    return verb not in READS.get(prog, frozenset())


def check(read_only: bool, prog: str, verb: str | None) -> None:
    """Raise ``ReadOnly`` when read-only mode is on and ``prog verb`` changes something."""
    if read_only and changes(prog, verb):
        raise readonly.refusal(f"{prog} {verb or ''}".rstrip(), setting=SETTING)
