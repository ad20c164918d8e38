"""The records every layer shares: kinds, states, resources, events and specs.

Records are frozen and carry no reference to their driver, so they serialise to JSON (the
server), to widget state and to pandas. ``raw`` always holds the backend's own payload
(docker-py ``attrs``, the Kubernetes object as a dict, libvirt's domain XML, vSphere's
property set) for whoever needs more than the common columns.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import names
from .errors import InvalidInput, MissingDependency
from .sizes import GiB, MiB, format_size, parse_size

if TYPE_CHECKING:
    import pandas


class Kind(str, Enum):
    CONTAINER = "container"
    IMAGE = "image"
    POD = "pod"
    DEPLOYMENT = "deployment"
    STATEFULSET = "statefulset"
    REPLICASET = "replicaset"
    SERVICE = "service"
    EVENT = "event"  # Kubernetes events: read-only, never created by the toolkit
    VM = "vm"
    VOLUME = "volume"
    NETWORK = "network"  # a Docker network
    OBJECT = "object"  # any other Kubernetes object applied from YAML (details["kind"])

    def __str__(self) -> str:
        return self.value


class State(str, Enum):
    """One vocabulary for every engine; each driver maps its own in a ``STATE_MAP``."""

    PENDING = "pending"  # accepted, not running yet (pod scheduling, image pulling)
    CREATED = "created"  # exists, never started
    RUNNING = "running"
    PAUSED = "paused"  # frozen in memory (docker pause, libvirt suspend)
    SUSPENDED = "suspended"  # saved to disk (vSphere suspend, libvirt managed save)
    STOPPED = "stopped"  # exists, not running (exited container, shut-off VM)
    RESTARTING = "restarting"
    SUCCEEDED = "succeeded"  # finished by itself (pod phase Succeeded)
    FAILED = "failed"
    AVAILABLE = "available"  # images, volumes, deployments with all replicas ready
    PROGRESSING = "progressing"  # deployments rolling out
    DELETED = "deleted"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class StreamStatus(str, Enum):
    """How a live view follows one stream (a connection and kind), in one vocabulary for
    the widgets' status lines, the server's feeds and the side panel, whose TypeScript
    (``labextension/src``) compares these same strings."""

    CONNECTING = "connecting"  # opening, or listing: the rows may be incomplete
    CONNECTED = "connected"  # listed, and following the engine's events
    DISCONNECTED = "disconnected"  # lost the engine (or never reached it); retrying
    UNKNOWN = "unknown"  # nothing follows it yet

    def __str__(self) -> str:
        return self.value

    @classmethod
    def after(cls, event: Event) -> StreamStatus | None:
        """The status a stream is in after ``event``: a Watcher's ERROR and SYNCED change
        it, a resource's event does not (None)."""
        if event.type is EventType.ERROR:
            return cls.DISCONNECTED
        if event.type is EventType.SYNCED:
            return cls.CONNECTED
        return None


@dataclass(frozen=True)
class Resource:
    """One thing on one connection: a container, pod, VM, image..."""

    uri: str  # the connection, without credentials
    kind: Kind
    id: str
    name: str
    state: State
    labels: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # kind-specific columns
    raw: Any = field(default=None, repr=False, compare=False)

    def to_dict(self, *, with_raw: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {
            "uri": self.uri, "kind": self.kind.value, "id": self.id, "name": self.name,
            "state": self.state.value, "labels": dict(self.labels),
            "created": self.created.isoformat() if self.created else None,
            **{k: v for k, v in self.details.items()},
        }
        if with_raw:
            row["raw"] = self.raw
        return row

    def _repr_html_(self) -> str:
        return ResourceList([self])._repr_html_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython in a terminal (and ``print``): the same table as text."""
        printer.text(str(self))

    def __str__(self) -> str:
        return str(ResourceList([self]))


STATE_COLOURS = {
    State.RUNNING: "#1a7f37", State.AVAILABLE: "#1a7f37", State.SUCCEEDED: "#1a7f37",
    State.PAUSED: "#9a6700", State.SUSPENDED: "#9a6700", State.PENDING: "#9a6700",
    State.PROGRESSING: "#9a6700", State.RESTARTING: "#9a6700", State.CREATED: "#57606a",
    State.STOPPED: "#57606a", State.FAILED: "#cf222e", State.DELETED: "#8c959f",
    State.UNKNOWN: "#8c959f",
}


class ResourceList(list[Resource]):
    """A list of records that renders as a table and exports to pandas."""

    COLUMNS = ("kind", "name", "state", "id", "uri", "created")

    def columns(self) -> list[str]:
        extra: list[str] = []
        for resource in self:
            # A detail may refine a common column (a Kubernetes object's own kind): one
            # column all the same.
            extra.extend(k for k in resource.details
                         if k not in extra and k not in self.COLUMNS)
        return [*self.COLUMNS[:3], *extra, *self.COLUMNS[3:]]

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per record. The columns are always ``kind, name, state``, the records'
        own details (in the order first seen), ``id, uri, created, labels``, even for an
        empty list; times (``created``, any datetime detail) are datetime64 in UTC."""
        pandas = import_pandas()
        rows = [{**r.to_dict(), "created": r.created} for r in self]
        frame = pandas.DataFrame(rows, columns=[*self.columns(), "labels"])
        for column in frame.columns:
            if column == "created" or any(isinstance(r.details.get(column), datetime)
                                          for r in self):
                frame[column] = pandas.to_datetime(frame[column], utc=True)
        return frame

    def _repr_html_(self) -> str:
        return render_table(self, self.columns())

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython in a terminal: a plain-text table (``_repr_html_`` in a notebook)."""
        printer.text(str(self))

    def __str__(self) -> str:
        return render_text(self, self.columns())


TEXT_CELL_WIDTH = 40  # a longer cell is cut (docker's 64-hex ids, long URIs) with "…"


def render_text(resources: Iterable[Resource], columns: list[str]) -> str:
    """A plain-text table, columns padded to their widest cell (``docker ps`` style)."""
    rows = [[_text_cell(r.to_dict().get(c), c) for c in columns] for r in resources]
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    if not rows:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines)


def _text_cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    text = str(value)
    if column == "id":  # docker's short ids, as `docker ps` and `docker images` show them
        digits = text.removeprefix("sha256:")
        if len(digits) == 64 and all(c in "0123456789abcdef" for c in digits):
            return digits[:12]
    if column == "created" and "T" in text:
        return text[:19].replace("T", " ")
    return text if len(text) <= TEXT_CELL_WIDTH else text[:TEXT_CELL_WIDTH - 1] + "…"


def import_pandas() -> Any:
    """pandas, an extra: only tables exported with ``.to_dataframe()`` need it."""
    try:
        import pandas
    except ImportError as exc:
        raise MissingDependency("tables become DataFrames with pandas",
                                hint="pip install 'jupyter_virtwork[pandas]'") from exc
    return pandas


def render_table(resources: Iterable[Resource], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for resource in resources:
        values = resource.to_dict()
        cells = []
        for column in columns:
            text = html.escape("" if values.get(column) is None else str(values[column]))
            if column == "state":
                colour = STATE_COLOURS.get(resource.state, "#57606a")
                text = f'<span style="color:{colour};font-weight:600">{text}</span>'
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "".join(rows) or f'<tr><td colspan="{len(columns)}"><i>none</i></td></tr>'
    return (f'<table class="virtwork-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


class EventType(str, Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    ERROR = "ERROR"  # the stream lost its engine; ``message`` says why, ``resource`` is None
    SYNCED = "SYNCED"  # the watcher (re)listed and is live again; ``resource`` is None


@dataclass(frozen=True)
class Event:
    type: EventType
    resource: Resource | None
    message: str = ""


@dataclass(frozen=True)
class Progress:
    """One step of long work: an image layer, a push, a vSphere task, a rollout."""

    what: str  # "build", "push", "task", "rollout"
    message: str
    current: float | None = None
    total: float | None = None
    done: bool = False


# --- specs: what to create, validated before anything reaches an engine -----------------


@dataclass(frozen=True)
class ImageSpec:
    tag: str
    dockerfile: str
    context: Path | None = None  # a directory; None builds from ``files`` alone
    files: Mapping[str, bytes] = field(default_factory=dict)  # extra in-memory context files
    buildargs: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names.check_name(self.tag, names.IMAGE, "image")
        if not self.dockerfile.strip():
            raise InvalidInput("the Dockerfile is empty", hint="start it with a FROM line")
        if self.context is not None and not Path(self.context).is_dir():
            raise InvalidInput(f"build context {str(self.context)!r} is not a directory")


MIN_CONTAINER_MEMORY = 6 * MiB  # the Docker engine refuses a smaller --memory


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    name: str | None = None
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # What `docker run -p` takes, as written: "8080:80", "127.0.0.1:8080:80/udp", "80",
    # "8000-8001:80-81"; the docker driver binds them as the docker CLI does.
    ports: tuple[str, ...] = ()
    network: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # `docker run --memory`, bytes: past it the kernel's OOM killer ends the container.
    memory: int | None = None

    def __post_init__(self) -> None:
        names.check_name(self.image, names.IMAGE_REFERENCE, "image")
        if self.name is not None:
            names.check_name(self.name, names.CONTAINER, "container")
        if self.memory is not None and self.memory < MIN_CONTAINER_MEMORY:
            raise InvalidInput(f"a memory limit of {format_size(self.memory)} is too small",
                               hint=f"Docker needs at least {format_size(MIN_CONTAINER_MEMORY)}")


@dataclass(frozen=True)
class WorkloadSpec:
    """Kubernetes manifests to apply (already parsed; ``apply`` parses YAML text)."""

    manifests: tuple[Mapping[str, Any], ...]
    namespace: str | None = None


MAX_CPUS = 768  # vSphere 8's per-VM maximum; QEMU's q35 limit is higher, KVM's lower
MIN_MEMORY = 16 * MiB
MAX_MEMORY = 24 * 1024 * GiB
MAX_DISK = 62 * 1024 * GiB  # vSphere's largest virtual disk


@dataclass(frozen=True)
class VMSpec:
    """A VM as the source document describes one: name, OS, CPUs, memory, disk."""

    name: str
    cpus: int = 1
    memory: int = 512 * MiB  # bytes
    disk: int | None = None  # bytes; None: no disk (a kernel + initrd boot)
    guest_os: str = "other linux"
    kernel: Path | None = None
    initrd: Path | None = None
    cmdline: str = "console=ttyS0 panic=-1"
    image: Path | None = None  # an existing disk image to copy into the new volume
    network: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names.check_name(self.name, names.VM, "VM")
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, int) \
                or not 1 <= self.cpus <= MAX_CPUS:
            raise InvalidInput(f"{self.cpus!r} CPUs is impossible",
                               hint=f"choose a whole number from 1 to {MAX_CPUS}")
        if not MIN_MEMORY <= self.memory <= MAX_MEMORY:
            raise InvalidInput(f"memory {format_size(self.memory)} is impossible",
                               hint=f"choose from {format_size(MIN_MEMORY)} "
                                    f"to {format_size(MAX_MEMORY)}")
        if self.disk is not None and not 0 < self.disk <= MAX_DISK:
            raise InvalidInput(f"disk {format_size(self.disk)} is impossible",
                               hint=f"choose up to {format_size(MAX_DISK)}")
        if (self.kernel is None) != (self.initrd is None) and self.kernel is None:
            raise InvalidInput("an initrd needs a kernel", hint="give both, or neither")

    @classmethod
    def parse(cls, name: str, *, cpus: int | str = 1, memory: str | int = "512M",
              disk: str | int | None = None, **rest: Any) -> VMSpec:
        """Build a spec from human input: ``memory="4 GB"``, ``disk="100G"``, ``cpus="2"``."""
        try:
            cpu_count = int(cpus)
        except (TypeError, ValueError):
            raise InvalidInput(f"CPUs {cpus!r} is not a whole number",
                               hint="write --cpus 2") from None
        return cls(name, cpus=cpu_count,
                   memory=parse_size(memory, default_unit="G", what="memory"),
                   disk=None if disk is None else parse_size(disk, default_unit="G",
                                                             what="disk"),
                   **rest)


@dataclass(frozen=True)
class ContainerExit:
    """How a container's main process ended, as the engine recorded it."""

    exit_code: int
    oom_killed: bool  # the kernel's OOM killer ended it: it reached its memory limit


@dataclass(frozen=True)
class ExecResult:
    """What a command run inside a container or pod returned."""

    exit_code: int
    stdout: str
    stderr: str

    def _repr_html_(self) -> str:
        return (f"<pre>{html.escape(self.stdout)}</pre>"
                + (f'<pre style="color:#cf222e">{html.escape(self.stderr)}</pre>'
                   if self.stderr else "")
                + f"<small>exit code {self.exit_code}</small>")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """A terminal IPython: the output, then the exit code (as ``_repr_html_``)."""
        printer.text(f"{self.stdout}{self.stderr}(exit code {self.exit_code})")
