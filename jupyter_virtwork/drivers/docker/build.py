"""Image builds and pushes for the Docker driver: the build context, and reading the
engine's JSON progress streams into ``Progress`` records and one-line errors.

Kept apart from the driver because it is pure data handling, cheap to test and to read;
only the context's ``.dockerignore`` rules come from docker-py (imported when a context
directory is packed), so they are docker's own.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import BuildError, InvalidInput, OperationFailed
from ...models import ImageSpec, Progress

ProgressCallback = Callable[[Progress], None]

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]+)$")
_LAYER = re.compile(r"^ ---> ([0-9a-f]+)$")
_REMOVED = re.compile(r"^Removing intermediate container ([0-9a-f]+)$")
# Colour and cursor codes (the legacy builder wraps a RUN step's stderr in red): a cell
# shows text, so they go.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
                   r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, links
                   r"|[ -/]*[0-~])")  # the short ones: charsets, keypad modes


@dataclass
class Made:
    """What one build created on the engine, read from its stream: the image of each step
    it ran (not those found in the cache, nor a FROM's base) and its containers still
    there. A failed build leaves those images behind as dangling, unlabelled layers: they
    are its own, and removed by these ids."""

    images: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    _fresh: bool = False  # the step being read makes a new layer

    def read(self, line: str) -> None:
        if match := _STEP.match(line):
            self._fresh = not _FROM.match(match.group(3))
        elif line == " ---> Using cache":
            self._fresh = False
        elif match := _RUNNING_IN.match(line):
            self.containers.append(match.group(1))
        elif match := _REMOVED.match(line):
            with contextlib.suppress(ValueError):
                self.containers.remove(match.group(1))
        elif (match := _LAYER.match(line)) and self._fresh:
            self.images.append(match.group(1))
            self._fresh = False


def plain(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$",
                   re.IGNORECASE)


def base_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile starts FROM, without ``scratch`` and earlier stage names."""
    stages: set[str] = set()
    images: list[str] = []
    for line in _logical_lines(dockerfile):
        match = _FROM.match(line)
        if match is None:
            continue
        image, stage = match.group(1), match.group(2)
        if image.lower() != "scratch" and image not in stages and image not in images:
            images.append(image)
        if stage:
            stages.add(stage)
    if not images and not stages and "scratch" not in dockerfile.lower():
        raise InvalidInput("the Dockerfile has no FROM line",
                           hint="start it with FROM localbase/busybox:1.35 (a local image)")
    return images


def count_steps(dockerfile: str) -> int:
    """How many instructions the user wrote (the engine adds LABEL steps of its own)."""
    return sum(1 for line in _logical_lines(dockerfile) if line.strip())


def _logical_lines(dockerfile: str) -> Iterable[str]:
    """Lines with backslash continuations joined and comments dropped."""
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.rstrip()
        if not pending and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def context_tar(spec: ImageSpec) -> io.BytesIO:
    """The build context as an in-memory tar: the context directory (if any) less what its
    ``.dockerignore`` leaves out, the in-memory files, and the Dockerfile text itself under
    a name no context file will clash with.

    As docker-py's ``utils.build.tar`` does, the ``.dockerignore`` sent lists that
    Dockerfile too: the engine then keeps it out of ``COPY .``."""
    buffer = io.BytesIO()
    patterns: list[str] = []
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if spec.context is not None:
            root = os.path.abspath(spec.context)
            patterns = dockerignore(root)
            for name in context_files(root, patterns):
                if name != ".dockerignore":
                    tar.add(os.path.join(root, name), arcname=name, recursive=False)
        sent_ignore = "\n".join([*(patterns or [".dockerignore"]), DOCKERFILE_NAME])
        for name, data in {**spec.files, ".dockerignore": sent_ignore.encode(),
                           DOCKERFILE_NAME: spec.dockerfile.encode()}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


DOCKERFILE_NAME = ".virtwork.Dockerfile"


NEVER_SENT = frozenset({".git", ".ipynb_checkpoints"})  # at any depth, .dockerignore or not


def context_files(root: str, patterns: list[str]) -> list[str]:
    """The paths under ``root`` that go into the build context, relative and sorted: what
    the ``.dockerignore`` ``patterns`` leave, by docker's own rules (docker-py's
    ``exclude_paths``: ``*``, ``**``, ``!`` exceptions), as ``docker build`` sends them."""
    from docker.utils.build import exclude_paths

    kept = exclude_paths(root, list(patterns), dockerfile=DOCKERFILE_NAME)  # it appends
    return sorted(name for name in kept if not NEVER_SENT.intersection(Path(name).parts))


def dockerignore(root: str) -> list[str]:
    """The patterns of ``root/.dockerignore``, read as docker-py's ``build`` reads them
    (blank lines and ``#`` comments dropped)."""
    try:
        with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as file:
            lines = [line.strip() for line in file.read().splitlines()]
    except FileNotFoundError:
        return []
    return [line for line in lines if line and not line.startswith("#")]


def read_build(chunks: Iterable[Mapping[str, Any]], on_progress: ProgressCallback | None,
               tag: str, connection: str, steps: int, made: Made | None = None) -> str:
    """Follow a build stream to its end; the image id, or BuildError with the log (its
    text without terminal codes). ``made`` hears what the build created.

    Steps are numbered out of the ``steps`` the user wrote: the legacy builder counts the
    LABEL steps it appends for our ownership labels too, which would confuse a learner
    ("step 3/5" of a three-line Dockerfile)."""
    log: list[str] = []
    step: str | None = None
    image_id = ""
    made = made if made is not None else Made()
    for chunk in chunks:
        if "error" in chunk:
            detail = plain(str(chunk.get("errorDetail", {}).get("message")
                               or chunk["error"])).strip()
            raise BuildError(f"building {tag} failed at {step or 'the start'}: {detail}",
                             log="".join(log), step=step, connection=connection,
                             hint="fix that step of the Dockerfile and build again")
        text = plain(str(chunk.get("stream", "")))
        if text:
            log.append(text)
            for line in text.splitlines():
                made.read(line.rstrip())
            match = _STEP.match(text.strip())
            if match and int(match.group(1)) <= steps:
                number = int(match.group(1))
                step = f"step {number}/{steps} ({match.group(3)})"
                if on_progress:
                    on_progress(Progress("build", match.group(3), number, steps))
            elif match:
                step = "labelling the image"
                if on_progress:
                    on_progress(Progress("build", step))
            elif on_progress and text.strip():
                on_progress(Progress("build", text.strip()))
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("ID"):
            image_id = str(aux["ID"])
    if not image_id:
        raise BuildError(f"building {tag} ended without an image", log="".join(log),
                         step=step, connection=connection)
    if on_progress:
        on_progress(Progress("build", f"built {tag}", done=True))
    return image_id


def read_push(chunks: Iterable[Mapping[str, Any]], on_progress: ProgressCallback | None,
              reference: str, connection: str) -> str:
    """Follow a push stream; the pushed digest, or OperationFailed naming the registry."""
    digest = ""
    for chunk in chunks:
        if "error" in chunk:
            detail = str(chunk.get("errorDetail", {}).get("message") or chunk["error"])
            raise OperationFailed(f"pushing {reference} failed: {detail.strip()}",
                                  connection=connection,
                                  hint="check that the registry runs and the name starts "
                                       "with its host:port")
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            digest = str(aux["Digest"])
        if on_progress and chunk.get("status"):
            counts = chunk.get("progressDetail") or {}
            layer = f"{chunk['id']}: " if chunk.get("id") else ""
            on_progress(Progress("push", f"{layer}{chunk['status']}",
                                 counts.get("current"), counts.get("total")))
    if on_progress:
        on_progress(Progress("push", f"pushed {reference} {digest}".strip(), done=True))
    return digest
