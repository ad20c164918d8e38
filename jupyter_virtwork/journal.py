"""What a notebook did, in order: each magic that ran, and the engine commands it carried out.

A ``Step`` is one magic (its line and cell as typed, whether it succeeded); its
``Command``s are the actions it completed, each as the CLI line ``--show-command`` prints
for it, on which connection, what it made or changed and what it removed (``Subject``s),
and the artefacts that describe it (a Dockerfile, a Kubernetes object as applied, a domain
XML, a vSphere VM as govc flags). The Session keeps one ``Journal``; ``%vw export`` writes it
out (``export.py``).

Everything here is plain data, made when the action happens: a Dockerfile's build context
as it was then, a Kubernetes object as the server answered the apply. No value of a
container's environment or of a Secret is kept: each is a reference to an environment
variable (``withheld.py``), in the lines, the artefacts and the magics as typed alike.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .drivers.base import Cluster, ContainerEngine, Driver, Hypervisor
from .errors import UnsupportedOperation
from .models import ImageSpec, Kind, Resource
from .uri import k8s_uri
from .uri import parse as parse_uri
from .withheld import Reference, without_values


@dataclass(frozen=True)
class Subject:
    """One object on one engine: a container, an image tag, a Kubernetes object
    (``kind`` lower-case, ``name`` as NAMESPACE/NAME when namespaced), a VM."""

    where: str  # the engine: the connection's URI; for Kubernetes its context's
    kind: str
    name: str


@dataclass(frozen=True)
class Artefact:
    """A file of the export beside replay.sh: ``name`` has no directory."""

    name: str
    text: str


@dataclass(frozen=True)
class Command:
    """One action a magic completed, as the CLI does it."""

    uri: str  # the connection
    family: str
    verb: str  # "build", "push", "run", "apply", "scale", "create", "config", "cleanup"...
    line: str  # exactly what --show-command prints (lines of shell, here-documents)
    made: tuple[Subject, ...] = ()  # created or changed
    removed: tuple[Subject, ...] = ()
    artefacts: tuple[Artefact, ...] = ()
    # A foreground `docker run`: its exit status is the container's, which the magic took
    # as a result, not a failure.
    container_status: bool = False
    # The environment variables its line reads the values it withheld from (withheld.py).
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class Step:
    """One magic as typed: ``%docker run ...``, or ``%%k8s apply`` with its cell."""

    magic: str
    cell: str | None
    cwd: str  # relative paths of the magic (a build context) are relative to it
    succeeded: bool
    commands: tuple[Command, ...] = ()
    # A step that acts on no engine but that a replay needs (%vw connect, use-context).
    keep: bool = False

    @property
    def source(self) -> str:
        """The cell's text in a notebook."""
        return self.magic if self.cell is None else f"{self.magic}\n{self.cell}"


class Journal:
    """The steps of one Session, in the order they ran (thread-safe)."""

    def __init__(self) -> None:
        self._steps: list[Step] = []
        self._lock = threading.Lock()

    def record(self, step: Step) -> None:
        with self._lock:
            self._steps.append(step)

    def steps(self) -> list[Step]:
        with self._lock:
            return list(self._steps)

    def alive(self) -> dict[Subject, Command]:
        """What the recorded commands made and did not remove since, each with the last
        command that made or changed it."""
        found: dict[Subject, Command] = {}
        for step in self.steps():
            for command in step.commands:
                for gone in command.removed:
                    found.pop(gone, None)
                found.update(dict.fromkeys(command.made, command))
        return found


# --- subjects --------------------------------------------------------------------------


def where(uri: str) -> str:
    """The engine behind a connection URI: a Kubernetes connection's namespace is left
    out (two namespaces of a context are one cluster; a subject names its namespace)."""
    target = parse_uri(uri)
    return k8s_uri(target.context) if target.family == "kubernetes" else target.uri


def image_name(reference: str) -> str:
    """An image reference as the engine stores a tag: ``name`` means ``name:latest``."""
    last = reference.rpartition("/")[2]
    return reference if ":" in last or "@" in last else f"{reference}:latest"


def subject(uri: str, kind: str, name: str, namespace: str | None = None) -> Subject:
    """A subject of ``uri``; an image by its full tag; a namespaced Kubernetes object as
    NAMESPACE/NAME."""
    if kind == Kind.IMAGE.value:
        name = image_name(name)
    return Subject(where(uri), kind.lower(), f"{namespace}/{name}" if namespace else name)


def subjects_of(resource: Resource) -> list[Subject]:
    """The subjects a listed record stands for: an image for each of its tags, a Kubernetes
    object by its own kind and namespace."""
    raw = resource.raw if isinstance(resource.raw, Mapping) else {}
    if resource.kind is Kind.IMAGE:
        return [subject(resource.uri, "image", tag) for tag in raw.get("RepoTags") or []
                if tag != "<none>:<none>"]
    if parse_uri(resource.uri).family == "kubernetes":
        metadata = raw.get("metadata") or {}
        return [subject(resource.uri, str(raw.get("kind") or resource.kind.value),
                        resource.name, metadata.get("namespace"))]
    return [subject(resource.uri, resource.kind.value, resource.name)]


# --- artefacts -------------------------------------------------------------------------


def dockerfile_artefacts(spec: ImageSpec, stem: str) -> tuple[Artefact, ...]:
    """The Dockerfile of a build and a description of its context: the directory, the
    ``.dockerignore`` rules, and each file sent (size, sha256) as it was at the build, so
    a replay can tell whether the context changed since."""
    from .drivers.docker import build as docker_build  # the .dockerignore rules are docker-py's

    lines = [f"# The build context of {spec.tag}"]
    if spec.context is None:
        lines.append("none: the Dockerfile alone (a %%dockerfile cell without a context)")
    else:
        root = os.path.abspath(spec.context)
        patterns = docker_build.dockerignore(root)
        lines += [f"directory: {root}",
                  f".dockerignore: {', '.join(patterns) if patterns else '(none)'}",
                  "files sent (bytes, sha256, path):"]
        for name in docker_build.context_files(root, patterns):
            path = os.path.join(root, name)
            if os.path.isfile(path) and name != ".dockerignore":
                lines.append(f"  {os.path.getsize(path):>10}  {_sha256(path)}  {name}")
    return (Artefact(f"{stem}.Dockerfile", spec.dockerfile),
            Artefact(f"{stem}.context.txt", "\n".join(lines) + "\n"))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_artefact(applied: Mapping[str, Any], stem: str,
                      references: Sequence[Reference] = ()) -> Artefact:
    """A Kubernetes object as the server applied it, as clean YAML: without ``status`` and
    the fields the server owns (uid, resourceVersion, managedFields...), and a Secret's
    values as the references the cell gave them (``withheld.py``)."""
    import yaml

    from .drivers.kubernetes.manifest_text import SERVER_FIELDS

    clean = {k: v for k, v in without_values(applied, references).items() if k != "status"}
    metadata = {k: v for k, v in (clean.get("metadata") or {}).items()
                if k not in SERVER_FIELDS and v is not None}
    clean["metadata"] = metadata
    return Artefact(f"{stem}.yaml", yaml.safe_dump(_without_nulls(clean), sort_keys=False))


def _without_nulls(value: Any) -> Any:
    """The client's ``to_dict`` writes every unset field as null; YAML as written has none."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def stem(*words: str) -> str:
    """A file name's stem from words (a kind, a name): safe on every file system."""
    text = "-".join(w for w in words if w)
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text).strip(".") or "_"


# --- removal lines -----------------------------------------------------------------------


def removal_line(driver: Driver, made: Subject) -> str:
    """The CLI line that removes ``made`` as ``%vw cleanup`` does, on ``driver`` (the
    connection that made it): a container with its anonymous volumes, an image tag, a
    Kubernetes object (one its owner took along already is no error), a VM with its disks
    (powered off first)."""
    if isinstance(driver, ContainerEngine):
        if made.kind == Kind.IMAGE.value:
            return driver.command("rmi", "-f", made.name)
        return driver.command("rm", "-f", "-v", made.name)
    if isinstance(driver, Cluster):
        namespace, _, name = made.name.rpartition("/")
        elsewhere = [f"--namespace={namespace}"] if namespace and \
            namespace != driver.namespace else []
        return driver.command("delete", f"{made.kind}/{name}", "--ignore-not-found",
                              *elsewhere)
    if isinstance(driver, Hypervisor):
        return driver.destroy_command(made.name, force=True)
    raise UnsupportedOperation(driver.name, "removal line", connection=driver.uri)
