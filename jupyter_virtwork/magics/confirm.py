"""Destructive verbs ask first: ``%docker rm``/``stop``/``rmi``, ``%k8s delete``, ``%vm
delete``/``stop``, ``%vw cleanup``.

The magic resolves exactly what it would act on (a name that does not exist fails here,
before the question), then asks, naming what and how many, with No as the default::

    Delete 1 pod in namespace default: web? [y/N]

Anything but ``y`` or ``yes`` (an empty answer too) cancels: nothing is changed and the
cell fails with one ``Cancelled`` line, so a cancelled step does not look done to Run All.

Only a frontend that can answer is asked: a kernel whose current request allows stdin
(JupyterLab, Notebook, VS Code). Headless runners (nbval, papermill, nbclient, nbgrader)
execute with ``allow_stdin`` off: they are scripts, and go ahead without asking, as does
a shell outside a kernel (IPython in a terminal, a test). ``--yes`` on the verb skips the
question; ``%config VirtworkMagics.confirm = False`` turns asking off.

Why ``input()`` and not an ipywidgets dialog: a kernel handles its shell channel one
message at a time, and a widget's click is a comm message on that channel, queued behind
the running cell; a cell that blocked waiting for the click would wait forever. The stdin
channel is the one the kernel reads while a cell runs (``input_request``/``input_reply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import Cancelled
from ..models import Resource

YES = frozenset({"y", "yes"})
NAMED = 10  # names a question lists before "and N more"
KIND_WORDS = {"vm": ("VM", "VMs")}


def stdin_allowed(shell: Any) -> bool:
    """Whether ``shell`` runs in a kernel whose frontend answers ``input()`` for the
    current cell (ipykernel's ``allow_stdin`` of the execute request)."""
    try:
        from ipykernel.kernelbase import Kernel
        from ipykernel.zmqshell import ZMQInteractiveShell
    except ImportError:  # no kernel in this process: nobody to ask
        return False
    if not isinstance(shell, ZMQInteractiveShell) or not isinstance(shell.kernel, Kernel):
        return False
    return bool(shell.kernel._allow_stdin)


def asks(shell: Any, *, enabled: bool, yes: bool) -> bool:
    """Whether a destructive verb asks first: asking is on, no ``--yes``, and someone can
    answer."""
    return enabled and not yes and stdin_allowed(shell)


def question(verb: str, targets: Sequence[Resource], where: str) -> str:
    """``Delete 3 pods in namespace default: a, b, c? [y/N] ``."""
    kinds = {r.kind.value for r in targets}
    if len(kinds) == 1:
        names = [r.name for r in targets]
        what = f"{len(targets)} {_word(kinds.pop(), len(targets))}"
    else:
        names = [f"{_word(r.kind.value, 1)} {r.name}" for r in targets]
        what = f"{len(targets)} resources"
    shown = ", ".join(names[:NAMED]) + (f" and {len(names) - NAMED} more"
                                        if len(names) > NAMED else "")
    return f"{verb} {what} {where}: {shown}? [y/N] "


def ask(asked: str) -> None:
    """Ask ``asked``; anything but yes raises ``Cancelled`` (nothing was changed)."""
    answer = input(asked)
    if answer.strip().lower() not in YES:
        verb = asked.split(" ", 1)[0].lower()
        raise Cancelled(f"{verb} cancelled; nothing was changed",
                        hint="answer y to go ahead, or add --yes (for scripts)")


def _word(kind: str, count: int) -> str:
    one, many = KIND_WORDS.get(kind, (kind, f"{kind}s"))
    return one if count == 1 else many
