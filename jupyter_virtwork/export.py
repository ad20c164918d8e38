"""``%vw export``: what a notebook did, as a script or a notebook anyone can replay.

``write_replay`` writes ``replay.sh`` (every action of the journal, in order, as the docker
/ kubectl / virsh / govc lines ``--show-command`` prints, under a header naming the
connections it expects) and ``artefacts/`` beside it: Dockerfiles and build contexts,
Kubernetes objects as applied, libvirt domain XML, vSphere VMs as govc flags, each named
after the magic that made it (``03-web.Dockerfile``: the third magic). ``write_notebook``
writes a clean notebook of the magics that succeeded.

With ``final`` only the actions on what exists now are kept: an object removed later (a
container run, then removed) takes its actions out of the replay.

No secret is written: the journal holds none (a container's environment and a Secret's
values are references to environment variables, ``withheld.py``), the script stops at
once when one of those is not set, and it reads the vSphere password from the environment
variables the toolkit reads.

The journal is the kernel's: what the side panel did (in the Jupyter server's process), a
widget's buttons and drivers called from Python are not in it, and the header says so.
"""

from __future__ import annotations

import json
import shlex
import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import withheld
from .errors import InvalidInput
from .journal import Command, Journal, Step, Subject
from .now import Now

SCRIPT = "replay.sh"
WIDTH = 88  # of the header's comment lines
ARTEFACTS = "artefacts"

# How each family's CLI reaches its engine, said in the script's header.
CONNECTION_NOTES = {
    "docker": "docker: without -H on a line, the engine DOCKER_HOST or the docker context "
              "names, as the toolkit picks it.",
    "kubernetes": "kubectl: the kubeconfig, context and namespace each line names.",
    "libvirt": "virsh: the URI each line names (-c).",
    "vsphere": "govc: USER@HOST as each line names (-u); the password from GOVC_PASSWORD, "
               "else VIRTWORK_VSPHERE_PASSWORD, as the toolkit reads them.",
}
# govc reads GOVC_PASSWORD itself; the toolkit also takes VIRTWORK_VSPHERE_PASSWORD.
VSPHERE_PASSWORD = ('export GOVC_PASSWORD="${GOVC_PASSWORD:-${VIRTWORK_VSPHERE_PASSWORD:?'
                    'set GOVC_PASSWORD or VIRTWORK_VSPHERE_PASSWORD to the vSphere '
                    'password}}"')
# What the journal cannot hold, said in every export.
NOT_COVERED = ("Not in it: what the side panel did (it acts in the Jupyter server, not in "
               "this notebook's kernel), what a widget's buttons did, and what Python code "
               "did through the drivers directly; only the %docker, %k8s, %vm and %vw magics "
               "are journalled.")
# docker run's own failures exit 125 to 127; any other status is the container's, which
# the magic showed as its result, not as an error.
CONTAINER_STATUS = " || [ $? -lt 125 ]"


@dataclass(frozen=True)
class Numbered:
    """A step with its place among all the magics the journal holds (from 1)."""

    number: int
    step: Step


@dataclass(frozen=True)
class Written:
    """What an export wrote, for the cell to say."""

    path: Path
    magics: int
    commands: int
    artefacts: int

    def __str__(self) -> str:
        files = f" and {_count(self.artefacts, 'artefact')}" if self.artefacts else ""
        return (f"wrote {self.path}: {_count(self.commands, 'command')} of "
                f"{_count(self.magics, 'magic')}{files}")


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


def final_state(steps: Sequence[Numbered], now: Now) -> list[Numbered]:
    """``steps`` with only the commands that made or changed what exists ``now``, after its
    last removal; an object ``now`` has as it is takes the place of its last command, and
    its other commands go. A step left without any goes, unless a replay needs it (a
    connection)."""
    order = [c for n in steps for c in n.step.commands]
    last_removal: dict[Subject, int] = {}
    last_change: dict[Subject, int] = {}
    for index, command in enumerate(order):
        last_removal.update(dict.fromkeys(command.removed, index))
        last_change.update(dict.fromkeys(command.made, index))
    kept = {i for i, c in enumerate(order)
            if any(m in now.existing and i > last_removal.get(m, -1) for m in c.made)}
    collapsed = []
    index = 0
    for numbered in steps:
        step = numbered.step
        commands: list[Command] = []
        for command in step.commands:
            rewritten = [m for m in command.made if m in now.as_now]
            if index in kept and len(rewritten) < len(command.made):
                commands.append(command)
            commands += [now.as_now[m] for m in rewritten if last_change[m] == index]
            index += 1
        if commands or (step.keep and step.succeeded):
            collapsed.append(Numbered(numbered.number, replace(step, commands=tuple(commands))))
    return collapsed


def chosen_steps(journal: Journal, *, final: bool, now: Now | None = None) -> list[Numbered]:
    """The steps an export writes; InvalidInput when there is nothing to replay. ``now``:
    what the engines hold (``now.read_back``), else the journal's word for it."""
    steps = [Numbered(i, s) for i, s in enumerate(journal.steps(), 1)]
    if not any(n.step.commands for n in steps):
        raise InvalidInput("this notebook created and changed nothing: nothing to export",
                           hint="export after %docker, %k8s or %vm magics have acted")
    if final:
        steps = final_state(steps, now or Now(frozenset(journal.alive())))
        if not any(n.step.commands for n in steps):
            raise InvalidInput("nothing this notebook created exists now",
                               hint="export without --final-state to replay all it did")
    return steps


def check_target(path: Path, *, force: bool, directory: bool) -> None:
    """A directory must be new or empty, a file new, unless ``force``."""
    if force or not path.exists() or (directory and path.is_dir() and not any(path.iterdir())):
        return
    what = "an empty directory" if directory else "a new file"
    raise InvalidInput(f"{path} exists and is not {what}",
                       hint="choose another, or add --force to write over it")


# --- replay.sh ------------------------------------------------------------------------------


def write_replay(journal: Journal, directory: Path, *, session_id: str, final: bool = False,
                 force: bool = False, now: Now | None = None) -> Written:
    """``directory``/replay.sh and ``directory``/artefacts/."""
    steps = chosen_steps(journal, final=final, now=now)
    check_target(directory, force=force, directory=True)
    width = len(str(steps[-1].number))
    artefacts = [(f"{n.number:0{width}}-{a.name}", a.text)
                 for n in steps for c in n.step.commands for a in c.artefacts]
    directory.mkdir(parents=True, exist_ok=True)
    if artefacts:
        (directory / ARTEFACTS).mkdir(exist_ok=True)
    for name, text in artefacts:
        (directory / ARTEFACTS / name).write_text(text)
    script = directory / SCRIPT
    script.write_text(replay_script(steps, session_id=session_id, final=final))
    script.chmod(0o755)
    return Written(script, len(steps), sum(len(n.step.commands) for n in steps),
                   len(artefacts))


def replay_script(steps: Sequence[Numbered], *, session_id: str, final: bool) -> str:
    commands = [c for n in steps for c in n.step.commands]
    lines = ["#!/usr/bin/env bash", *header(commands, session_id=session_id, final=final),
             "set -euo pipefail"]
    if any(c.family == "vsphere" for c in commands):
        lines.append(VSPHERE_PASSWORD)
    lines += withheld.replay_checks([r for c in commands for r in c.references])
    cwd = None
    for numbered in steps:
        step = numbered.step
        lines.append("")
        if step.cwd != cwd:
            lines.append(f"cd -- {shlex.quote(step.cwd)}")
            cwd = step.cwd
        lines.append(f"# {numbered.number}. {step.magic}")
        if not step.succeeded:
            lines.append("# (the magic failed after these actions; they had happened)")
        lines.extend(_shell(c) for c in step.commands)
    return "\n".join(lines) + "\n"


def header(commands: Sequence[Command], *, session_id: str, final: bool) -> list[str]:
    """The comment at the top: what this is, the connections it expects and how each
    family's CLI reaches them."""
    what = "the actions on what exists now (--final-state: read back from the engines, "\
        "each Kubernetes object as it is now)" if final else "every action, in order"
    families = dict.fromkeys(c.family for c in commands)
    text = [f"Replays what a notebook did through jupyter_virtwork (session {session_id}): "
            f"{what}, as the lines --show-command prints. Exported {_now()}. What it makes "
            "carries that notebook's ownership labels: its %vw cleanup removes it.", "",
            "Connections it expects (the engines the notebook used):",
            *connection_rows(commands), *(CONNECTION_NOTES[f] for f in families)]
    text += variables_paragraphs(commands, "before running it", "A Secret's values go "
                                 "through envsubst (GNU gettext), as base64.")
    if any(c.artefacts for c in commands):
        text += ["", f"{ARTEFACTS}/: what the magics worked from, by the magic's number "
                     "(Dockerfiles and build contexts, Kubernetes objects as applied, "
                     "libvirt domain XML, vSphere VMs as govc flags; a Secret's values as "
                     "${VARIABLE}, which %%k8s apply fills from the kernel's environment)."]
    text += ["", NOT_COVERED]
    return [f"# {line}".rstrip() for paragraph in text
            for line in (_wrapped(paragraph) if paragraph else [""])]


def variables_paragraphs(commands: Sequence[Command], where: str,
                         secrets_note: str = "") -> list[str]:
    """The environment variables a replay reads the withheld values from, one a row;
    ``secrets_note`` after them when a Secret's value is among them."""
    references = {r.variable: r for c in commands for r in c.references}
    if not references:
        return []
    text = ["", f"Set these environment variables {where}: the values were never written "
                "(a container's environment, a Secret's keys), and a replay reads them.", ""]
    width = max(len(name) for name in references)
    text += [f"  {name:<{width}}  {r.what}" for name, r in references.items()]
    if secrets_note and any(r.secret for r in references.values()):
        text += ["", secrets_note]
    return text


def _wrapped(paragraph: str) -> list[str]:
    if paragraph.startswith("  "):  # a row of the connections' table
        return [paragraph]
    note = paragraph in CONNECTION_NOTES.values()  # its continuation lines are indented
    return textwrap.wrap(paragraph, WIDTH, subsequent_indent="  " if note else "",
                         break_on_hyphens=False, break_long_words=False)


def connection_rows(commands: Sequence[Command]) -> list[str]:
    """``  family  uri`` for each connection ``commands`` use, in order of first use."""
    used = dict.fromkeys((c.family, c.uri) for c in commands)
    width = max(len(family) for family, _ in used)
    return [f"  {family:<{width}}  {uri}" for family, uri in used]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _shell(command: Command) -> str:
    return command.line + (CONTAINER_STATUS if command.container_status else "")


# --- a notebook ------------------------------------------------------------------------------


def write_notebook(journal: Journal, file: Path, *, session_id: str,
                   settings: Sequence[str] = (), final: bool = False,
                   force: bool = False, now: Now | None = None) -> Written:
    """A notebook of the magics that succeeded, ready to run from the top: the extension,
    ``settings`` (``%config`` lines), and each magic as typed, in its working directory."""
    # A magic as typed cannot say how an object is now: only which exist.
    existing = Now(now.existing) if now is not None else None
    steps = [n for n in chosen_steps(journal, final=final, now=existing) if n.step.succeeded]
    commands = [c for n in steps for c in n.step.commands]
    if not commands:
        raise InvalidInput("no magic of this notebook that acted succeeded",
                           hint="export replay.sh instead: it keeps what failed magics did")
    check_target(file, force=force, directory=False)
    cells = [_cell("markdown", _introduction(commands, session_id=session_id, final=final)),
             _cell("code", "%load_ext jupyter_virtwork")]
    if settings:
        cells.append(_cell("code", "\n".join(settings)))
    cwd = None
    for numbered in steps:
        if numbered.step.cwd != cwd:
            cwd = numbered.step.cwd
            cells.append(_cell("code", f"import os\n\nos.chdir({cwd!r})"))
        cells.append(_cell("code", numbered.step.source))
    notebook = {"cells": cells, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(notebook, indent=1) + "\n")
    return Written(file, len(steps), len(commands), 0)


def _introduction(commands: Sequence[Command], *, session_id: str, final: bool) -> str:
    """The notebook's first cell: what it is and the connections it expects."""
    return "\n".join([
        f"# Replay of a notebook's magics (jupyter_virtwork session {session_id})", "",
        f"The magics that succeeded{' on what exists now' if final else ''}, in order, as "
        f"they were typed. Exported {_now()}. Connections it expects (the engines the "
        "notebook used):", "", *(f"    {row}" for row in connection_rows(commands)), "",
        "A new kernel reaches them as the notebook did: through the connections its magics "
        "name, else each family's default (DOCKER_HOST, the kubeconfig's current context, "
        "GOVC_URL or the connections file, LIBVIRT_DEFAULT_URI).",
        *_indented(variables_paragraphs(commands, "in the kernel before running it",
                                        "%%k8s apply fills a Secret's ${VARIABLE} from "
                                        "them.")), "",
        NOT_COVERED])


def _indented(paragraphs: Sequence[str]) -> list[str]:
    """Rows of a table (they start with two spaces) as Markdown code lines."""
    return [f"    {p.strip()}" if p.startswith("  ") else p for p in paragraphs]


def _cell(kind: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {},
                            "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell
