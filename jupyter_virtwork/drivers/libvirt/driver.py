"""The libvirt driver: QEMU/KVM, Xen and libvirt's test driver, over libvirt-python.

URIs are libvirt's own, used as spelled (``qemu:///system``, ``qemu:///session``,
``qemu+ssh://host/system``, ``xen:///system``, ``test:///default``). An explicit URI always
wins; ``default_uri()`` is what the toolkit connects to when the user names none: libvirt's
own ``LIBVIRT_DEFAULT_URI`` if set, else ``qemu:///system``.

A VM is a persistent domain whose XML comes from ``definition`` for the connection's
hypervisor, validated by libvirt against its schema at define time. Its disk is a thin
qcow2 volume in a storage pool (``virtwork``; the test driver's ``default-pool``), recorded
with the labels in the domain's ``<metadata>`` so that delete removes exactly what create
made. The serial console goes to a log file that ``console()`` reads.

libvirt-python is imported lazily. Its default error printer is silenced (errors are raised
anyway, and a notebook should show one line), and its default event loop runs in one daemon
thread per process, registered before this driver opens its first connection: watches,
keepalive and the connection-closed callback all need it. Every ``libvirtError`` is
translated by ``_sdk_errors``, by its error code; nothing above this module sees one.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import os
import queue
import re
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ... import error_messages as say
from ... import userconfig
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    EngineUnavailable,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationFailed,
    OperationTimeout,
    Said,
    UnsupportedOperation,
    VirtworkError,
    first_line,
)
from ...labels import XML_NAMESPACE
from ...models import Event, EventType, Kind, Resource, ResourceList, State, VMSpec
from ...sizes import format_size
from ...uri import Target
from ...watch import Emit, EventStream, Stopper, Watcher
from ..base import (
    BaseDriver,
    ErrorTable,
    Hypervisor,
    ProgressCallback,
    SdkFailure,
    Verb,
    heredoc,
    missing_sdk,
)
from . import definition
from .definition import DomainPlan, Owner, Volume

log = logging.getLogger(__name__)

DEFAULT_URI = "qemu:///system"
DEFAULT_POOL = "virtwork"  # the sandbox's dir pool for qcow2 volumes
TEST_POOL = "default-pool"  # the pool libvirt's test driver comes with
ROOT_SECLABEL = "+0:+0"  # static DAC: QEMU runs as root (see LibvirtDriver.__init__)
OPEN_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 30.0
KEEPALIVE = (5, 3)  # seconds between probes, unanswered probes: a dead peer in ~20 s

# virDomainState -> State (literal values: the SDK is not imported at module import).
STATE_MAP: dict[int, State] = {
    0: State.UNKNOWN,  # VIR_DOMAIN_NOSTATE
    1: State.RUNNING,  # VIR_DOMAIN_RUNNING
    2: State.RUNNING,  # VIR_DOMAIN_BLOCKED: running, waiting on a resource
    3: State.PAUSED,  # VIR_DOMAIN_PAUSED
    4: State.RUNNING,  # VIR_DOMAIN_SHUTDOWN: still running while it shuts down
    5: State.STOPPED,  # VIR_DOMAIN_SHUTOFF
    6: State.FAILED,  # VIR_DOMAIN_CRASHED
    7: State.SUSPENDED,  # VIR_DOMAIN_PMSUSPENDED
}
# virsh's words for those states (`virsh domstate`).
VIRSH_STATES: dict[str, State] = {
    "running": State.RUNNING, "idle": State.RUNNING, "paused": State.PAUSED,
    "in shutdown": State.RUNNING, "shut off": State.STOPPED, "crashed": State.FAILED,
    "pmsuspended": State.SUSPENDED,
}
SHUTOFF = 5
METADATA_CHANGED = -1  # our own code, beside libvirt's lifecycle events, in a watch's inbox
PAUSED = 3
SHUTOFF_REASONS: dict[int, State] = {5: State.SUSPENDED, 6: State.FAILED}  # SAVED, FAILED

Undo = list[Callable[[], None]]  # steps that remove what a failed create made

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def default_uri() -> str:
    """The URI to use when the user names none: ``LIBVIRT_DEFAULT_URI``, else qemu:///system."""
    return os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI


def state_of(state: int, reason: int) -> State:
    if state == SHUTOFF and reason in SHUTOFF_REASONS:
        return SHUTOFF_REASONS[reason]
    return STATE_MAP.get(state, State.UNKNOWN)


class LibvirtDriver(BaseDriver, Hypervisor):
    name: ClassVar[str] = "libvirt"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(Verb)
    kinds: ClassVar[tuple[Kind, ...]] = (Kind.VM,)
    serial_console: ClassVar[bool] = True
    state_words: ClassVar[Mapping[str, State]] = VIRSH_STATES
    definition_suffix: ClassVar[str] = "xml"

    def __init__(self, target: Target, *, pool: str | None = None,
                 domain_type: str | None = None, xen_mode: str = "hvm",
                 seclabel: str | None = "auto", console_dir: str | None = None,
                 shutdown_timeout: float = SHUTDOWN_TIMEOUT,
                 open_timeout: float = OPEN_TIMEOUT) -> None:
        """``domain_type``: ``qemu`` (TCG) or ``kvm`` on qemu:// connections; by default
        ``kvm`` only where the connections file says KVM boots guests, else ``qemu``.
        ``xen_mode``: ``hvm`` or ``pv`` on xen://. ``seclabel``: a static DAC label for
        QEMU; ``auto`` is ``+0:+0`` on the local qemu:///system, where QEMU must read
        kernels and images that only root can (the sandbox guest lives under /root).
        ``console_dir``: where console logs go on the libvirt host.
        """
        super().__init__(target)
        if domain_type not in (None, "qemu", "kvm"):
            raise InvalidInput(f"domain type {domain_type!r} is not qemu or kvm")
        if xen_mode not in definition.XEN_MODES:
            raise InvalidInput(f"Xen mode {xen_mode!r} is not pv or hvm")
        self.hypervisor = target.scheme.partition("+")[0]  # qemu, xen, test, ...
        self.pool = pool or (TEST_POOL if self.hypervisor == "test" else DEFAULT_POOL)
        self.domain_type = domain_type
        self.xen_mode = xen_mode
        self.seclabel = self._default_seclabel() if seclabel == "auto" else seclabel
        self.console_dir = console_dir
        self.shutdown_timeout = shutdown_timeout
        self.open_timeout = open_timeout
        self._connection: Any = None
        self._lock = threading.Lock()
        self._close_listeners: list[Callable[[], None]] = []
        self._events = _DomainEvents()

    @property
    def local(self) -> bool:
        """Whether the hypervisor runs on this machine (its files are ours to read)."""
        return not self.target.host

    def _default_seclabel(self) -> str | None:
        system = self.hypervisor == "qemu" and self.target.path.rstrip("/") == "/system"
        return ROOT_SECLABEL if system and self.local else None

    # --- connection -------------------------------------------------------------------

    def _conn(self) -> Any:
        """The shared connection, reopened if the daemon went away since."""
        with self._lock:
            conn = self._connection
            if conn is not None and _alive(conn):
                return conn
            self._connection = self._open()
        if conn is not None:  # dead: make sure its late close event wakes no new watch
            with contextlib.suppress(Exception):
                conn.unregisterCloseCallback()
            with contextlib.suppress(Exception):
                conn.close()
        return self._connection

    def _open(self) -> Any:
        libvirt = _import_libvirt()
        conn = self._open_bounded(libvirt)
        if not self.local:
            with contextlib.suppress(libvirt.libvirtError):
                conn.setKeepAlive(*KEEPALIVE)
        with contextlib.suppress(libvirt.libvirtError):  # local test:/// has no close event
            conn.registerCloseCallback(self._closed, None)
        return conn

    def _open_bounded(self, libvirt: Any) -> Any:
        """``libvirt.open`` in a helper thread: qemu+ssh can hang on a silent host."""
        outcome: dict[str, Any] = {}
        abandoned = threading.Event()

        def opener() -> None:
            try:
                outcome["conn"] = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                outcome["error"] = exc
            if abandoned.is_set() and "conn" in outcome:
                outcome["conn"].close()  # the caller gave up on us: leave nothing open

        thread = threading.Thread(target=opener, name="virtwork-libvirt-open", daemon=True)
        thread.start()
        thread.join(self.open_timeout)
        if thread.is_alive():
            abandoned.set()
            raise EngineUnavailable(say.LIBVIRT_SLOW(seconds=self.open_timeout),
                                    connection=self.uri, hint=self._start_hint())
        if "error" in outcome:
            raise self._open_error(libvirt, outcome["error"]) from outcome["error"]
        return outcome["conn"]

    def _open_error(self, libvirt: Any, exc: Any) -> VirtworkError:
        message = _message(exc)
        if exc.get_error_domain() == libvirt.VIR_FROM_LIBXL:
            return EngineUnavailable(say.NO_XEN(detail=message), connection=self.uri,
                                     hint=say.OTHER_HYPERVISOR())
        if exc.get_error_code() in _codes(libvirt, "AUTH_FAILED", "AUTH_CANCELLED",
                                          "AUTH_UNAVAILABLE"):
            return AuthenticationFailed(f"libvirt refused the login: {message}",
                                        connection=self.uri)
        return EngineUnavailable(say.LIBVIRT_UNREACHABLE(detail=message), connection=self.uri,
                                 hint=self._start_hint())

    def _start_hint(self) -> Said:
        if self.local and self.hypervisor == "qemu":
            return say.START_LIBVIRT()
        return say.CHECK_LIBVIRTD()

    def _closed(self, _conn: Any, reason: int, _opaque: Any) -> None:
        """libvirt's close callback (event loop thread): the daemon or the link died."""
        log.info("libvirt connection %s closed (reason %s)", self.uri, reason)
        for listener in list(self._close_listeners):
            listener()

    def close(self) -> None:
        super().close()
        self._events.forget()
        with self._lock:
            conn, self._connection = self._connection, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.unregisterCloseCallback()
            with contextlib.suppress(Exception):
                conn.close()

    def version(self) -> str:
        """The hypervisor's version as libvirt reports it (e.g. QEMU 7.2.22)."""
        with self._boundary("reaching libvirt"):
            conn = self._conn()
            return f"{conn.getType()} {_version(conn.getVersion())}"

    # --- the error boundary -----------------------------------------------------------

    def _sdk_errors(self) -> ErrorTable:
        """libvirt-python has one exception; what it means is in its error code."""
        libvirt = _import_libvirt()
        return ((libvirt.libvirtError, self._translate),)

    def _translate(self, failed: SdkFailure) -> VirtworkError:
        libvirt, exc, doing, name = _import_libvirt(), failed.error, failed.doing, failed.name
        code, message = exc.get_error_code(), _message(exc)
        where = {"connection": self.uri}
        if code == libvirt.VIR_ERR_NO_DOMAIN:
            return NotFound(say.NO_VM(name=name), **where, hint=say.LIST_VMS())
        if code in _codes(libvirt, "NO_STORAGE_VOL", "NO_STORAGE_POOL", "NO_NETWORK"):
            return NotFound(f"{doing} failed: {message}", **where)
        if code in _codes(libvirt, "DOM_EXIST", "STORAGE_VOL_EXIST") or (
                code == libvirt.VIR_ERR_OPERATION_FAILED and "already exists" in message):
            return AlreadyExists(say.EXISTS_FAILED(doing=doing, detail=message), **where,
                                 hint=say.RENAME_OR_DELETE())
        if code in _codes(libvirt, "XML_ERROR", "XML_DETAIL", "XML_INVALID_SCHEMA",
                          "CONFIG_UNSUPPORTED", "INVALID_ARG"):
            return InvalidInput(f"{doing}: libvirt rejected it: {message}", **where)
        if exc.get_error_domain() in (libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE) or \
                code in _codes(libvirt, "NO_CONNECT", "INVALID_CONN"):
            return EngineUnavailable(say.LIBVIRT_SILENT(doing=doing, detail=message), **where,
                                     hint=self._start_hint())
        if code in _codes(libvirt, "AUTH_FAILED", "AUTH_CANCELLED", "AUTH_UNAVAILABLE"):
            return AuthenticationFailed(f"{doing} failed: {message}", **where)
        if code in _codes(libvirt, "OPERATION_TIMEOUT", "AGENT_UNRESPONSIVE"):
            return OperationTimeout(say.LIBVIRT_TIMED_OUT(doing=doing, detail=message),
                                    **where)
        if code in _codes(libvirt, "NO_SUPPORT", "OPERATION_UNSUPPORTED"):
            verb = re.sub(r" '[^']*'$", "", doing)  # the verb, without the VM's name
            return UnsupportedOperation(self.name, verb, **where, hint=message)
        return OperationFailed(f"{doing} failed: {message}", **where)

    # --- records ----------------------------------------------------------------------

    def _record(self, dom: Any, stats: Mapping[str, Any], *, with_xml: bool = False,
                owner: Owner | None = None) -> Resource:
        """A VM record from ``getAllDomainStats`` output, asking the domain for what the
        hypervisor's stats lack (the test driver reports the state only).

        Labels are read for every record, one small metadata call each: a list record
        without them would differ from the same VM's record in a watch event. ``raw`` is
        the stats, plus the domain XML when ``with_xml`` (``get``; lists skip the XML).
        ``owner``: the metadata already read by the caller, not asked for again."""
        if "state.state" in stats:
            state = state_of(int(stats["state.state"]), int(stats.get("state.reason", 0)))
        else:
            state = state_of(*dom.state())
        cpus, memory_kib = stats.get("vcpu.current"), stats.get("balloon.current")
        if cpus is None or memory_kib is None:
            info = dom.info()  # [state, max KiB, current KiB, vcpus, cpu time]
            cpus, memory_kib = info[3], info[2]
        owner = self._owner(dom) if owner is None else owner
        raw: dict[str, Any] = {"stats": dict(stats)}
        if with_xml:
            raw["xml"] = dom.XMLDesc(0)
        return Resource(
            uri=self.uri, kind=Kind.VM, id=dom.UUIDString(), name=dom.name(), state=state,
            labels=owner.labels,
            details={"cpus": int(cpus), "memory": int(memory_kib) * 1024,
                     "os": owner.guest_os},
            raw=raw)

    def _owner(self, dom: Any) -> Owner:
        """What our ``<metadata>`` element says; an empty Owner for domains not ours."""
        libvirt = _import_libvirt()
        try:
            text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, XML_NAMESPACE, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                return Owner()
            raise
        return definition.parse_owner(text)

    def _all_stats(self, conn: Any) -> list[tuple[Any, dict[str, Any]]]:
        """Every domain with state, vCPUs and memory in one call where the driver can."""
        libvirt = _import_libvirt()
        wanted = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
                  | libvirt.VIR_DOMAIN_STATS_BALLOON)
        try:
            # NOWAIT: a domain busy in a job (starting, migrating) must not stall the list.
            rows: list[tuple[Any, dict[str, Any]]] = conn.getAllDomainStats(
                wanted, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
            return rows
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in _codes(libvirt, "NO_SUPPORT", "INVALID_ARG",
                                                  "OPERATION_UNSUPPORTED"):
                raise
        return [(dom, {}) for dom in conn.listAllDomains(0)]

    def _lookup(self, conn: Any, id: str) -> Any:
        """A domain by name or UUID (the id of our records)."""
        libvirt = _import_libvirt()
        try:
            return conn.lookupByName(id)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN or not _UUID.match(id):
                raise
        return conn.lookupByUUIDString(id)

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        self._check_kind(kind, "list")
        wanted = dict(labels or {})
        libvirt = _import_libvirt()
        found = ResourceList()
        with self._boundary("listing VMs"):
            conn = self._conn()
            with contextlib.suppress(libvirt.libvirtError):  # no events: no cached labels
                self._events.follow(conn)
            for dom, stats in self._all_stats(conn):
                try:
                    record = self._record(dom, stats, owner=self._events.owner(dom, self._owner))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue  # deleted while we listed
                    raise
                if self._matches(record.labels, wanted):
                    found.append(record)
        return found

    def get(self, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, "get")
        with self._boundary(f"finding VM {id!r}", id):
            return self._record(self._lookup(self._conn(), id), {}, with_xml=True)

    def create(self, spec: Any, *, start: bool = True,
               on_progress: ProgressCallback | None = None) -> Resource:
        """Define a VM and (unless ``start`` is false) start it; a disk volume or definition
        left by a failed later step is removed before the error is raised. ``on_progress``
        hears nothing: libvirt defines, and starts, in one call each."""
        if not isinstance(spec, VMSpec):
            raise InvalidInput(f"the libvirt driver cannot create {type(spec).__name__}",
                               hint="give a VMSpec")
        undo: Undo = []
        with self._boundary(f"creating VM {spec.name!r}", spec.name):
            conn = self._conn()
            self._refuse_existing(conn, spec.name)
            try:
                plan = self._plan(conn, spec, undo)
                dom = conn.defineXMLFlags(definition.domain_xml(plan),
                                          _import_libvirt().VIR_DOMAIN_DEFINE_VALIDATE)
                undo.append(lambda: self._undefine(dom))
                if start:
                    dom.create()
            except BaseException:
                _roll_back(undo)
                raise
        return self.get(Kind.VM, spec.name)

    def _refuse_existing(self, conn: Any, name: str) -> None:
        libvirt = _import_libvirt()
        try:
            conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return
            raise
        raise AlreadyExists(say.VM_EXISTS(name=name), connection=self.uri,
                            hint=say.RENAME_OR_DELETE())

    def _plan(self, conn: Any, spec: VMSpec, undo: Undo) -> DomainPlan:
        """The domain for ``spec``, creating its disk volume (undone by ``undo``)."""
        volume, disk = None, None
        if spec.disk is not None or spec.image is not None:
            volume = Volume(self.pool, f"{spec.name}.qcow2")
            disk = self._create_volume(conn, volume, spec)
            undo.append(lambda: self._delete_volume(conn, volume))
        console = self._console_path(spec.name)
        if console is not None and self.local:
            undo.append(lambda: _remove_file(console))
        return self._domain_plan(conn, spec, volume, disk, console)

    def _domain_plan(self, conn: Any, spec: VMSpec, volume: Volume | None, disk: str | None,
                     console: str | None) -> DomainPlan:
        return DomainPlan(
            name=spec.name, domain_type=self._domain_type(conn), vcpus=spec.cpus,
            memory=spec.memory, guest_os=spec.guest_os, labels=dict(spec.labels),
            kernel=str(spec.kernel) if spec.kernel else None,
            initrd=str(spec.initrd) if spec.initrd else None, cmdline=spec.cmdline,
            disk=disk, volume=volume, console_log=console, network=spec.network,
            xen_mode=self.xen_mode, seclabel=self.seclabel if self.hypervisor == "qemu"
            else None)

    def _domain_type(self, conn: Any) -> str:
        if self.hypervisor == "test":
            return "test"
        if self.hypervisor in ("xen", "libxl"):
            return "xen"
        if self.hypervisor != "qemu":
            raise UnsupportedOperation(self.name, f"creating VMs on {self.hypervisor}://",
                                       connection=self.uri,
                                       hint="use qemu://, xen:// or test://")
        return self.domain_type or ("kvm" if self.local and _kvm_proven() else "qemu")

    def _console_path(self, name: str) -> str | None:
        """Where the hypervisor writes the serial console (None: the test driver, which
        runs nothing that could print)."""
        if self.hypervisor == "test":
            return None
        if self.console_dir:
            directory = self.console_dir
        elif self.hypervisor == "qemu" and self.target.path.rstrip("/") == "/session":
            cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            directory = f"{cache}/libvirt/qemu/log"
        else:  # next to the hypervisor's own logs; qemu and libxl run as root here
            directory = f"/var/log/libvirt/{'libxl' if self.hypervisor != 'qemu' else 'qemu'}"
        return f"{directory}/{name}-console.log"

    # --- volumes ------------------------------------------------------------------------

    def _pool(self, conn: Any) -> Any:
        libvirt = _import_libvirt()
        try:
            pool = conn.storagePoolLookupByName(self.pool)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                raise
            raise NotFound(f"storage pool {self.pool!r} does not exist", connection=self.uri,
                           hint="python -m jupyter_virtwork.sandbox up libvirt creates "
                                f"'{DEFAULT_POOL}', or pass pool=NAME") from exc
        if not pool.isActive():
            raise OperationFailed(f"storage pool {self.pool!r} is not active",
                                  connection=self.uri, hint=f"virsh pool-start {self.pool}")
        return pool

    def _create_volume(self, conn: Any, volume: Volume, spec: VMSpec) -> str:
        """A thin qcow2 volume (over ``spec.image`` as its backing file, if given); its path."""
        pool = self._pool(conn)
        capacity = f"<capacity unit='bytes'>{spec.disk}</capacity>" if spec.disk else ""
        backing = ""
        if spec.image is not None:
            image_format = "qcow2" if spec.image.suffix in (".qcow2", ".qcow") else "raw"
            backing = (f"<backingStore><path>{_xml_text(str(spec.image))}</path>"
                       f"<format type='{image_format}'/></backingStore>")
        created = pool.createXML(
            f"<volume><name>{volume.name}</name>{capacity}"
            f"<target><format type='qcow2'/></target>{backing}</volume>", 0)
        return str(created.path())

    def _delete_volume(self, conn: Any, volume: Volume) -> None:
        libvirt = _import_libvirt()
        try:
            pool = conn.storagePoolLookupByName(volume.pool)
            pool.storageVolLookupByName(volume.name).delete(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in _codes(libvirt, "NO_STORAGE_VOL", "NO_STORAGE_POOL"):
                raise

    def _owned_volume(self, conn: Any, owner: Owner, name: str) -> Any:
        if not owner.volumes:
            raise InvalidInput(f"VM {name!r} has no disk created by the toolkit",
                               connection=self.uri, hint="resize its disks with virsh")
        volume = owner.volumes[0]
        return conn.storagePoolLookupByName(volume.pool).storageVolLookupByName(volume.name)

    # --- verbs --------------------------------------------------------------------------

    def start(self, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, "start")
        with self._boundary(f"starting VM {id!r}", id):
            dom = self._lookup(self._conn(), id)
            if not dom.isActive():  # already running: nothing to do, like docker start
                dom.create()
        return self.get(kind, id)

    def stop(self, kind: Kind, id: str, *, force: bool = False,
             timeout: float | None = None) -> Resource:
        """Graceful ACPI shutdown; destroyed (powered off) if still running after
        ``timeout`` seconds (default: the driver's ``shutdown_timeout``), or at once with
        ``force`` (the vSphere driver's meaning of force, too)."""
        self._check_kind(kind, "stop")
        wait = 0.0 if force else self.shutdown_timeout if timeout is None else timeout
        with self._boundary(f"stopping VM {id!r}", id):
            dom = self._lookup(self._conn(), id)
            if dom.isActive():
                if dom.state()[0] == PAUSED:
                    dom.resume()  # a frozen guest cannot see the power button
                dom.shutdown()
                if not _wait_shut_off(dom, wait):
                    log.info("VM %s ignored ACPI shutdown for %.0f s; powering it off", id, wait)
                    _ignore_not_running(dom.destroy)
        return self.get(kind, id)

    def pause(self, kind: Kind, id: str) -> Resource:
        return self._domain_verb(kind, id, Verb.PAUSE, "suspend")

    def resume(self, kind: Kind, id: str) -> Resource:
        return self._domain_verb(kind, id, Verb.RESUME, "resume")

    def _domain_verb(self, kind: Kind, id: str, verb: Verb, method: str) -> Resource:
        self._check_kind(kind, str(verb))
        with self._boundary(f"{verb} VM {id!r}", id):
            getattr(self._lookup(self._conn(), id), method)()
        return self.get(kind, id)

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        """Delete the VM and the volume and console log the toolkit created for it. A
        running (or paused) VM is refused unless ``force`` powers it off first."""
        self._check_kind(kind, "destroy")
        with self._boundary(f"deleting VM {id!r}", id):
            conn = self._conn()
            dom = self._lookup(conn, id)
            owner = self._owner(dom)
            if dom.isActive():
                if not force:
                    raise OperationFailed(
                        f"VM {id!r} is running; deleting it would pull its plug",
                        connection=self.uri, hint="stop it first, or delete it with --force")
                _ignore_not_running(dom.destroy)
            self._undefine(dom)
            for volume in owner.volumes:
                self._delete_volume(conn, volume)
            if owner.console_log and self.local:
                _remove_file(owner.console_log)

    def _undefine(self, dom: Any) -> None:
        libvirt = _import_libvirt()
        everything = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                      | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                      | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        try:
            dom.undefineFlags(everything)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                raise
            dom.undefine()  # the test driver knows no NVRAM flag (it has no firmware)

    # --- backend verbs ------------------------------------------------------------------

    def reconfigure(self, id: str, *, cpus: int | str | None = None,
                    memory: int | str | None = None, disk: int | str | None = None) -> Resource:
        """Change CPUs, memory (``"2G"``) and disk size (grow only): always in the persistent
        definition, and on the running VM where the hypervisor allows. The record's
        ``details`` say which changes are live and which wait for the next start."""
        if cpus is None and memory is None and disk is None:
            raise InvalidInput("nothing to reconfigure", hint="give cpus=, memory= or disk=")
        # VMSpec's rules (and human sizes) apply to a change as they do to a new VM.
        check = VMSpec.parse("reconfigure", cpus=cpus if cpus is not None else 1,
                             memory=memory if memory is not None else "512M", disk=disk)
        live: list[str] = []
        later: list[str] = []
        with self._boundary(f"reconfiguring VM {id!r}", id):
            conn = self._conn()
            dom = self._lookup(conn, id)
            changes: Sequence[tuple[object, str, Callable[[], bool]]] = (
                (cpus, "cpus", lambda: self._set_cpus(dom, check.cpus)),
                (memory, "memory", lambda: self._set_memory(dom, check.memory)),
                (disk, "disk", lambda: self._set_disk(conn, dom, id, check.disk)))
            for given, what, apply in changes:
                if given is not None:
                    (live if apply() else later).append(what)
        record = self.get(Kind.VM, id)
        return dataclasses.replace(record, details={**record.details, "changed_live": live,
                                                    "at_next_start": later})

    def _set_cpus(self, dom: Any, count: int) -> bool:
        """Persistent vCPU count (raising the maximum if needed); live if it can be."""
        libvirt = _import_libvirt()
        config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if count > dom.vcpusFlags(config | libvirt.VIR_DOMAIN_VCPU_MAXIMUM):
            dom.setVcpusFlags(count, config | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
        dom.setVcpusFlags(count, config)
        return bool(dom.isActive()) and _try_live(
            lambda: dom.setVcpusFlags(count, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def _set_memory(self, dom: Any, size: int) -> bool:
        """Persistent memory (maximum and current); live through the balloon when the new
        size fits under the running maximum."""
        libvirt = _import_libvirt()
        kib = -(-size // 1024)
        config = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        dom.setMemoryFlags(kib, config | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
        dom.setMemoryFlags(kib, config)
        if not dom.isActive() or kib > dom.info()[1]:
            return False
        return _try_live(lambda: dom.setMemoryFlags(kib, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def _set_disk(self, conn: Any, dom: Any, name: str, size: int | None) -> bool:
        """Grow the toolkit's volume; through QEMU (``blockResize``) while it runs."""
        libvirt = _import_libvirt()
        assert size is not None  # reconfigure passes a parsed, given size
        volume = self._owned_volume(conn, self._owner(dom), name)
        capacity = int(volume.info()[1])
        if size < capacity:
            raise InvalidInput(f"disk {format_size(size)} is smaller than the current "
                               f"{format_size(capacity)}", connection=self.uri,
                               hint="disks only grow: shrinking would cut off data")
        if size == capacity:
            return bool(dom.isActive())
        if dom.isActive():  # through QEMU: the guest sees the new size at once
            dom.blockResize(volume.path(), size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            return True
        volume.resize(size, 0)
        return False

    def disks(self, id: str) -> builtins.list[int]:
        """The VM's disk sizes in bytes, in device order: each one's storage volume
        capacity, else the size libvirt reads from its image (a disk outside every pool)."""
        with self._boundary(f"reading the disks of VM {id!r}", id):
            conn = self._conn()
            dom = self._lookup(conn, id)
            return [self._disk_size(conn, dom, source)
                    for source in definition.disk_sources(dom.XMLDesc(0))]

    def _disk_size(self, conn: Any, dom: Any, source: definition.DiskSource) -> int:
        libvirt = _import_libvirt()
        if source.path is None:
            volume = conn.storagePoolLookupByName(source.pool).storageVolLookupByName(
                source.volume)
            return int(volume.info()[1])
        try:
            return int(conn.storageVolLookupByPath(source.path).info()[1])
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                raise
        return int(dom.blockInfo(source.path)[0])

    def console(self, id: str, *, wait_for: str | None = None, timeout: float = 60.0) -> str:
        """What the VM printed on its serial console so far; with ``wait_for``, wait up
        to ``timeout`` seconds for that text first (e.g. a login prompt or a marker)."""
        with self._boundary(f"reading the console of VM {id!r}", id):
            dom = self._lookup(self._conn(), id)
            path = self._owner(dom).console_log
            if path is None:
                return ""  # not created by the toolkit, or the test driver
            if not self.local and wait_for is None:
                raise UnsupportedOperation(self.name, "console history over a remote "
                                           "connection", connection=self.uri,
                                           hint="pass wait_for= to follow the live console, "
                                                f"or run {self.command('console', dom.name())}")
            if wait_for is None:
                return _read_text(path)
            if not self.local:
                return self._follow_console(dom, wait_for, timeout)
            return self._wait_console(dom, Path(path), wait_for, timeout)

    def _wait_console(self, dom: Any, path: Path, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = _read_text(str(path))
            if marker in text:
                return text
            if time.monotonic() > deadline or not dom.isActive():
                raise self._no_marker(dom, marker, timeout, text)
            time.sleep(0.2)

    def _follow_console(self, dom: Any, marker: str, timeout: float) -> str:
        """The console log is a file on the remote host: follow the serial console through
        libvirt's console stream instead (``virsh console``'s channel), from now on, until
        ``marker`` shows. What the guest printed before this call is not in the stream."""
        libvirt = _import_libvirt()
        stream = self._conn().newStream(libvirt.VIR_STREAM_NONBLOCK)
        dom.openConsole(None, stream, 0)
        received = b""
        deadline = time.monotonic() + timeout
        try:
            while marker.encode() not in received:
                chunk = stream.recv(4096)
                if chunk == -2:  # nothing yet (non-blocking)
                    if time.monotonic() > deadline or not dom.isActive():
                        raise self._no_marker(dom, marker, timeout,
                                              received.decode(errors="replace"))
                    time.sleep(0.1)
                elif not chunk:  # the console closed: the VM stopped
                    raise self._no_marker(dom, marker, timeout,
                                          received.decode(errors="replace"))
                else:
                    received += chunk
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
        return received.decode(errors="replace")

    def _no_marker(self, dom: Any, marker: str, timeout: float, text: str) -> OperationTimeout:
        lines = text.strip().splitlines()
        last = f"last console line: {lines[-1][:120]!r}" if lines else "the console is empty"
        why = "within" if dom.isActive() else "before it stopped, in"
        return OperationTimeout(f"VM {dom.name()!r} did not print {marker!r} {why} "
                                f"{timeout:.0f} s", connection=self.uri, hint=last)

    def render(self, spec: VMSpec) -> str:
        """The domain XML ``create(spec)`` would define, without creating anything."""
        with self._boundary(f"rendering VM {spec.name!r}", spec.name):
            conn = self._conn()
            volume = disk = None
            if spec.disk is not None or spec.image is not None:
                volume = Volume(self.pool, f"{spec.name}.qcow2")
                disk = f"{_pool_path(self._pool(conn))}/{volume.name}"
            plan = self._domain_plan(conn, spec, volume, disk, self._console_path(spec.name))
        return definition.domain_xml(plan)

    # --- watch --------------------------------------------------------------------------

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        """Lifecycle events from libvirt's event loop, re-listing after the daemon restarts."""
        self._check_kind(kind, "watch")
        wanted = dict(labels or {})
        listed: dict[str, Resource] = {}  # the last listing, for the catch-up after it

        def list_all() -> tuple[ResourceList, str | None]:
            found = self.list(kind, wanted)
            listed.clear()
            listed.update((r.id, r) for r in found)
            return found, None

        def follow(since: str | None, emit: Emit, stopper: Stopper) -> None:
            self._follow(wanted, emit, stopper, listed)

        return self._start_watcher(kind, wanted, Watcher(list_all, follow, name="libvirt-vm"))

    def _follow(self, wanted: Mapping[str, str], emit: Emit, stopper: Stopper,
                listed: Mapping[str, Resource]) -> None:
        """Block until stopped, turning lifecycle callbacks into Events; raise when the
        connection closes so the Watcher reconnects and re-lists."""
        inbox: queue.Queue[tuple[int, str, str] | None] = queue.Queue()

        def on_event(event: int, dom: Any) -> None:
            # Event loop thread: only note it; lookups happen in the watcher thread.
            inbox.put((event, dom.UUIDString(), dom.name()))

        def wake() -> None:
            inbox.put(None)

        with self._boundary("watching VMs"):
            self._events.follow(self._conn())
        unlisten = self._events.listen(on_event)
        self._close_listeners.append(wake)
        stopper.on_stop(wake)
        try:
            self._catch_up(wanted, emit, listed)
            self._pump(inbox, wanted, emit, stopper)
        finally:
            stopper.forget(wake)
            self._close_listeners.remove(wake)
            unlisten()

    def _catch_up(self, wanted: Mapping[str, str], emit: Emit,
                  listed: Mapping[str, Resource]) -> None:
        """A change between the listing and the listener's start came as no event (a slow
        list on a busy host left a table showing a VM paused that had been resumed): list
        once more, now that events are queued, and emit what differs."""
        now = {r.id: r for r in self.list(Kind.VM, wanted)}
        for key, old in listed.items():
            if key not in now:
                emit(Event(EventType.DELETED, old))
        for key, new in now.items():
            if listed.get(key) != new:
                emit(Event(EventType.MODIFIED if key in listed else EventType.ADDED, new))

    def _pump(self, inbox: queue.Queue[tuple[int, str, str] | None],
              wanted: Mapping[str, str], emit: Emit, stopper: Stopper) -> None:
        while not stopper.stopped:
            item = inbox.get()
            if item is None:
                if stopper.stopped:
                    return
                raise EngineUnavailable("the libvirt connection closed", connection=self.uri)
            event = self._event(*item, wanted)
            if event is not None:
                emit(event)

    def _event(self, code: int, uuid: str, name: str,
               wanted: Mapping[str, str]) -> Event | None:
        gone = Event(EventType.DELETED, Resource(self.uri, Kind.VM, uuid, name, State.DELETED))
        if code == 1:  # VIR_DOMAIN_EVENT_UNDEFINED
            return gone
        try:
            with self._boundary(f"finding VM {uuid!r}", uuid):
                dom = self._lookup(self._conn(), uuid)
                owner = self._owner(dom)
                if not self._matches(owner.labels, wanted):
                    # Another VM's event (one metadata call, not a whole record), or this
                    # one's labels changed out of the selection: gone, for this watch.
                    return gone
                record = self._record(dom, {}, owner=owner)
        except NotFound:
            return gone  # a transient domain that stopped, or deleted meanwhile
        return Event(EventType.ADDED if code == 0 else EventType.MODIFIED, record)

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The virsh line that does the same, e.g. ``command("pause", "web")``."""
        words = {"list": ["list", "--all"], "get": ["dominfo"], "stop": ["shutdown"],
                 "pause": ["suspend"], "destroy": ["undefine", "--remove-all-storage"],
                 "force-stop": ["destroy"], "xml": ["dumpxml"],
                 "reconfigure": ["edit"]}.get(verb, [verb])
        return shlex.join(["virsh", "-c", self.uri, *words, *args])

    def create_command(self, spec: VMSpec, *, start: bool = True) -> str:
        """The virsh lines of ``create(spec, start=start)``: the disk volume, the domain
        XML the driver defines (on standard input), and ``start`` only when it starts."""
        lines = []
        if spec.disk is not None or spec.image is not None:
            backing = [] if spec.image is None else [
                "--backing-vol", str(spec.image), "--backing-vol-format",
                "qcow2" if spec.image.suffix in (".qcow2", ".qcow") else "raw"]
            lines.append(self.command("vol-create-as", self.pool, f"{spec.name}.qcow2",
                                      f"{spec.disk or 0}B", "--format", "qcow2", *backing))
        lines.append(self.command("define", "/dev/stdin", "--validate"))
        then = f" && {self.command('start', spec.name)}" if start else ""
        return heredoc(" && ".join(lines), self.render(spec), then=then)

    def reconfigure_command(self, id: str, *, cpus: int | str | None = None,
                            memory: int | str | None = None,
                            disk: int | str | None = None) -> str:
        """The virsh lines of ``reconfigure(id, ...)`` as the VM is now: the persistent
        definition always, the running VM where the driver changes it live too."""
        check = VMSpec.parse("reconfigure", cpus=cpus if cpus is not None else 1,
                             memory=memory if memory is not None else "512M", disk=disk)
        libvirt = _import_libvirt()
        lines = []
        with self._boundary(f"reading VM {id!r}", id):
            conn = self._conn()
            dom = self._lookup(conn, id)
            name, active = dom.name(), bool(dom.isActive())
            if cpus is not None:
                maximum = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG
                                         | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
                count = str(check.cpus)
                if check.cpus > maximum:
                    lines.append(self.command("setvcpus", name, count, "--config", "--maximum"))
                lines.append(self.command("setvcpus", name, count, "--config"))
                if active:
                    lines.append(self.command("setvcpus", name, count, "--live"))
            if memory is not None:
                kib = f"{-(-check.memory // 1024)}KiB"
                lines.append(self.command("setmaxmem", name, kib, "--config"))
                lines.append(self.command("setmem", name, kib, "--config"))
                if active and -(-check.memory // 1024) <= dom.info()[1]:
                    lines.append(self.command("setmem", name, kib, "--live"))
            if disk is not None:
                volume = self._owned_volume(conn, self._owner(dom), name)
                size = f"{check.disk}B"
                lines.append(self.command("blockresize", name, volume.path(), size) if active
                             else self.command("vol-resize", volume.name(), size, "--pool",
                                               volume.storagePoolLookupByVolume().name()))
        return " && ".join(lines)

    def destroy_command(self, id: str, *, force: bool = False) -> str:
        """The virsh lines of ``destroy(id, force=force)``: a running VM is powered off
        first (only with ``force``; without, the driver refuses, and so does this line)."""
        with self._boundary(f"reading VM {id!r}", id):
            dom = self._lookup(self._conn(), id)
            name, active = dom.name(), bool(dom.isActive())
        undefine = self.command("destroy", name)
        return f"{self.command('force-stop', name)} && {undefine}" if force and active \
            else undefine


# --- helpers ------------------------------------------------------------------------------

_SETUP_LOCK = threading.Lock()
_SETUP_DONE = False


def _import_libvirt() -> Any:
    """libvirt-python, set up once per process: quiet errors, the default event loop."""
    try:
        import libvirt
    except ModuleNotFoundError as exc:
        raise missing_sdk("libvirt") from exc
    except ImportError as exc:  # libvirt-python is there, libvirt's own library is not
        raise MissingDependency(f"the libvirt backend needs libvirt's library ({first_line(exc)})",
                                hint="install libvirt's client library "
                                     "(Debian: apt-get install libvirt0)") from exc
    global _SETUP_DONE
    if not _SETUP_DONE:
        with _SETUP_LOCK:
            if not _SETUP_DONE:
                _set_up(libvirt)
                _SETUP_DONE = True
    return libvirt


def _set_up(libvirt: Any) -> None:
    # libvirt prints every error to stderr on top of raising it: a notebook shows ours.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    # Must precede opening connections: only connections opened after it get events,
    # keepalive and close callbacks.
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=_run_event_loop, args=(libvirt,), name="virtwork-libvirt-events",
                     daemon=True).start()


def _run_event_loop(libvirt: Any) -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:  # one bad callback must not end every watch
            log.debug("libvirt event loop iteration failed", exc_info=True)
            time.sleep(0.1)


def _codes(libvirt: Any, *names: str) -> set[int]:
    return {getattr(libvirt, f"VIR_ERR_{name}") for name in names}


def _message(exc: Any) -> str:
    text = str(exc.get_error_message() or exc).strip()
    return " ".join(text.split()) or type(exc).__name__  # schema errors span lines


def _alive(conn: Any) -> bool:
    try:
        return bool(conn.isAlive())
    except Exception:  # noqa: BLE001 - a broken handle is simply not alive
        return False


def _version(number: int) -> str:
    """libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"


class _DomainEvents:
    """One connection's domain events, registered once and handed to every listener:
    libvirt refuses a second registration of an event on one connection ("event callback
    already tracked": two live tables on one connection broke the second).

    It also keeps each domain's ``<metadata>`` (labels, guest OS) by UUID for lists:
    libvirt has no bulk call that returns it, and one ``metadata`` RPC per domain made a
    list of 20 domains 1.4x the raw stats call. The metadata-change and lifecycle
    (defined, undefined) events keep it right; it is forgotten with the connection, and
    not kept at all where the connection has no metadata-change event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registering = threading.Lock()  # two registrations at once would collide
        self._conn: Any = None  # the connection whose events these are
        self._callbacks: list[int] = []
        self._listeners: list[Callable[[int, Any], None]] = []
        self._owners: dict[str, Owner] | None = None  # None: no metadata events, no cache
        self._changes = 0  # events seen: a read that raced one is not kept

    def follow(self, conn: Any) -> None:
        """Receive ``conn``'s events (one RPC each, once); raises libvirtError where
        ``conn`` has no lifecycle events."""
        with self._registering:
            if self._conn is conn:
                return
            self.forget()
            libvirt = _import_libvirt()
            callbacks = [conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None)]
            with contextlib.suppress(libvirt.libvirtError):  # drivers without it: no cache
                callbacks.append(conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, self._metadata, None))
            with self._lock:
                self._conn, self._callbacks = conn, callbacks
                self._owners = {} if len(callbacks) == 2 else None

    def forget(self) -> None:
        with self._lock:
            conn, callbacks, self._conn, self._callbacks = self._conn, self._callbacks, None, []
            self._owners = None
            self._changes += 1
        for callback in callbacks:
            with contextlib.suppress(Exception):
                conn.domainEventDeregisterAny(callback)

    def listen(self, listener: Callable[[int, Any], None]) -> Callable[[], None]:
        """Call ``listener(event, dom)`` in the event loop thread for every lifecycle event
        (``METADATA_CHANGED`` for a metadata change) until the returned call."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return stop

    def owner(self, dom: Any, read: Callable[[Any], Owner]) -> Owner:
        """``dom``'s owner from the cache, else ``read`` (kept unless an event came)."""
        uuid = dom.UUIDString()  # no RPC: the domain object holds it
        with self._lock:
            owners, changes = self._owners, self._changes
            known = owners.get(uuid) if owners is not None else None
        if known is not None:
            return known
        owner = read(dom)
        with self._lock:
            if owners is not None and owners is self._owners and changes == self._changes:
                owners[uuid] = owner
        return owner

    def _lifecycle(self, _conn: Any, dom: Any, event: int, _detail: int, _opaque: Any) -> None:
        self._dispatch(event, dom)

    def _metadata(self, _conn: Any, dom: Any, _type: int, _ns: Any, _opaque: Any) -> None:
        self._dispatch(METADATA_CHANGED, dom)

    def _dispatch(self, event: int, dom: Any) -> None:
        """The event loop thread: no calls into libvirt here, only note it."""
        with self._lock:
            # DEFINED: a new definition may carry new metadata; UNDEFINED: gone.
            if self._owners is not None and event in (0, 1, METADATA_CHANGED):
                self._owners.pop(dom.UUIDString(), None)
                self._changes += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event, dom)


def _kvm_proven() -> bool:
    """Whether the connections file says KVM boots guests here (``libvirt.domain_type`` is
    ``kvm``, which the sandbox writes only after its probe booted one). A /dev/kvm that
    libvirt advertises can still hang guests (ENGINES.md), so nothing else counts."""
    return userconfig.section("libvirt").get("domain_type") == "kvm"


def _wait_shut_off(dom: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dom.state()[0] == SHUTOFF:
            return True
        time.sleep(0.1)
    return bool(dom.state()[0] == SHUTOFF)


def _ignore_not_running(call: Callable[[], Any]) -> None:
    """``dom.destroy`` that tolerates the guest having powered off a moment earlier."""
    libvirt = _import_libvirt()
    try:
        call()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
            raise


def _try_live(call: Callable[[], Any]) -> bool:
    """Apply a change to the running VM; False when the hypervisor or guest refuses it
    (it still applies at the next start, from the persistent definition)."""
    libvirt = _import_libvirt()
    try:
        call()
    except libvirt.libvirtError as exc:
        log.info("live change refused, it applies at the next start: %s", _message(exc))
        return False
    return True


def _roll_back(undo: Undo) -> None:
    for step in reversed(undo):
        try:
            step()
        except Exception:  # keep undoing; the original error is raised
            log.warning("could not undo a half-created VM step", exc_info=True)


def _pool_path(pool: Any) -> str:
    import xml.etree.ElementTree as ET

    path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path")
    return path or f"({pool.name()})"


def _read_text(path: str) -> str:
    try:
        return Path(path).read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""  # the hypervisor has not opened it yet


def _remove_file(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _xml_text(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)
