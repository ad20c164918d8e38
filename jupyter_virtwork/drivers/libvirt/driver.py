"""The libvirt driver: QEMU/KVM, Xen and libvirt's test driver, over libvirt-python.

URIs are libvirt's own, used as spelled (``qemu:///system``, ``qemu:///session``,
``qemu+ssh://host/system``, ``xen:///system``, ``test:///default``). An explicit URI always
wins; ``default_uri()`` is what the toolkit connects to when the user names none: libvirt's
own ``LIBVIRT_DEFAULT_URI`` if set, else ``qemu:///system``.

A VM is a persistent domain whose XML comes from ``definition`` for the connection's
hypervisor, validated by libvirt against its schema at define time. Its disk is a thin
qcow2 volume in a storage pool (``volumes``), recorded with the labels in the domain's
``<metadata>`` so that delete removes exactly what create made. The serial console goes to
a log file that ``console()`` reads (``serial_console``).

The modules beside this one: ``sdk`` imports libvirt-python lazily and runs its event loop;
``connection`` opens, keeps and reopens the connection; ``records`` makes our records of
domains; ``events`` shares one connection's domain events and the labels they keep fresh;
``vm_watch`` turns them into a watch; ``resize`` changes CPUs, memory and disk size;
``commands`` writes the virsh lines. Every ``libvirtError`` is translated at the boundary by
``failures``, by its error code; nothing above this package sees one.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ... import error_messages as say
from ... import userconfig
from ...errors import AlreadyExists, InvalidInput, OperationFailed, Said, UnsupportedOperation
from ...models import Kind, Resource, ResourceList, State, VMSpec
from ...uri import Target
from ...watch import EventStream, Watcher
from ..base import BaseDriver, ErrorTable, Hypervisor, ProgressCallback, Verb, labels_match
from . import commands, definition, failures, resize, serial_console, volumes
from .connection import Connection
from .definition import DomainPlan, Volume
from .events import DomainEvents
from .records import PAUSED, SHUTOFF, VIRSH_STATES, all_stats, lookup, read_owner, record
from .records import STATE_MAP as STATE_MAP
from .sdk import import_libvirt, version_text
from .vm_watch import VmWatch

log = logging.getLogger(__name__)

DEFAULT_URI = "qemu:///system"
ROOT_SECLABEL = "+0:+0"  # static DAC: QEMU runs as root (see LibvirtDriver.__init__)
OPEN_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 30.0

Undo = list[Callable[[], None]]  # steps that remove what a failed create made


def default_uri() -> str:
    """The URI to use when the user names none: ``LIBVIRT_DEFAULT_URI``, else qemu:///system."""
    return os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI


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
        self.pool = pool or (volumes.TEST_POOL if self.hypervisor == "test"
                             else volumes.DEFAULT_POOL)
        self.domain_type = domain_type
        self.xen_mode = xen_mode
        self.seclabel = self._default_seclabel() if seclabel == "auto" else seclabel
        self.console_dir = console_dir
        self.shutdown_timeout = shutdown_timeout
        self.open_timeout = open_timeout
        self._connection = Connection(self.uri, remote=not self.local,
                                      open_timeout=open_timeout, hint=self._start_hint())
        self._events = DomainEvents()

    @property
    def local(self) -> bool:
        """Whether the hypervisor runs on this machine (its files are ours to read)."""
        return not self.target.host

    def _default_seclabel(self) -> str | None:
        system = self.hypervisor == "qemu" and self.target.path.rstrip("/") == "/system"
        return ROOT_SECLABEL if system and self.local else None

    def _start_hint(self) -> Said:
        return failures.start_hint(local=self.local, hypervisor=self.hypervisor)

    # --- connection -------------------------------------------------------------------

    def _conn(self) -> Any:
        """The shared connection, reopened if the daemon went away since."""
        return self._connection.get()

    def close(self) -> None:
        super().close()
        self._events.forget()
        self._connection.close()

    def version(self) -> str:
        """The hypervisor's version as libvirt reports it (e.g. QEMU 7.2.22)."""
        with self._boundary("reaching libvirt"):
            conn = self._conn()
            return f"{conn.getType()} {version_text(conn.getVersion())}"

    def _sdk_errors(self) -> ErrorTable:
        """libvirt-python has one exception; what it means is in its error code."""
        return failures.error_table(self.name, self.uri, self._start_hint())

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        self._check_kind(kind, "list")
        wanted = dict(labels or {})
        libvirt = import_libvirt()
        found = ResourceList()
        with self._boundary("listing VMs"):
            conn = self._conn()
            with contextlib.suppress(libvirt.libvirtError):  # no events: no cached labels
                self._events.follow(conn)
            for dom, stats in all_stats(conn):
                try:
                    vm = record(self.uri, dom, stats,
                                owner=self._events.owner(dom, read_owner))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue  # deleted while we listed
                    raise
                if labels_match(vm.labels, wanted):
                    found.append(vm)
        return found

    def get(self, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, "get")
        with self._boundary(f"finding VM {id!r}", id):
            return record(self.uri, lookup(self._conn(), id), {}, with_xml=True)

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
                                          import_libvirt().VIR_DOMAIN_DEFINE_VALIDATE)
                undo.append(lambda: _undefine(dom))
                if start:
                    dom.create()
            except BaseException:
                _roll_back(undo)
                raise
        return self.get(Kind.VM, spec.name)

    def _refuse_existing(self, conn: Any, name: str) -> None:
        libvirt = import_libvirt()
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
            disk = volumes.create(conn, volume, spec, uri=self.uri)
            undo.append(lambda: volumes.delete(conn, volume))
        console_log = self._console_log(spec.name)
        if console_log is not None and self.local:
            undo.append(lambda: serial_console.remove_log(console_log))
        return self._domain_plan(conn, spec, volume, disk, console_log)

    def _domain_plan(self, conn: Any, spec: VMSpec, volume: Volume | None, disk: str | None,
                     console_log: str | None) -> DomainPlan:
        return DomainPlan(
            name=spec.name, domain_type=self._domain_type(conn), vcpus=spec.cpus,
            memory=spec.memory, guest_os=spec.guest_os, labels=dict(spec.labels),
            kernel=str(spec.kernel) if spec.kernel else None,
            initrd=str(spec.initrd) if spec.initrd else None, cmdline=spec.cmdline,
            disk=disk, volume=volume, console_log=console_log, network=spec.network,
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

    def _console_log(self, name: str) -> str | None:
        return serial_console.log_path(name, hypervisor=self.hypervisor,
                                       uri_path=self.target.path, directory=self.console_dir)

    # --- verbs --------------------------------------------------------------------------

    def start(self, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, "start")
        with self._boundary(f"starting VM {id!r}", id):
            dom = lookup(self._conn(), id)
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
            dom = lookup(self._conn(), id)
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
            getattr(lookup(self._conn(), id), method)()
        return self.get(kind, id)

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        """Delete the VM and the volume and console log the toolkit created for it. A
        running (or paused) VM is refused unless ``force`` powers it off first."""
        self._check_kind(kind, "destroy")
        with self._boundary(f"deleting VM {id!r}", id):
            conn = self._conn()
            dom = lookup(conn, id)
            owner = read_owner(dom)
            if dom.isActive():
                if not force:
                    raise OperationFailed(
                        f"VM {id!r} is running; deleting it would pull its plug",
                        connection=self.uri, hint="stop it first, or delete it with --force")
                _ignore_not_running(dom.destroy)
            _undefine(dom)
            for volume in owner.volumes:
                volumes.delete(conn, volume)
            if owner.console_log and self.local:
                serial_console.remove_log(owner.console_log)

    # --- backend verbs ------------------------------------------------------------------

    def reconfigure(self, id: str, *, cpus: int | str | None = None,
                    memory: int | str | None = None, disk: int | str | None = None) -> Resource:
        """Change CPUs, memory (``"2G"``) and disk size (grow only): always in the persistent
        definition, and on the running VM where the hypervisor allows. The record's
        ``details`` say which changes are live and which wait for the next start."""
        if cpus is None and memory is None and disk is None:
            raise InvalidInput("nothing to reconfigure", hint="give cpus=, memory= or disk=")
        check = resize.parse_change(cpus, memory, disk)
        live: builtins.list[str] = []
        later: builtins.list[str] = []
        with self._boundary(f"reconfiguring VM {id!r}", id):
            conn = self._conn()
            dom = lookup(conn, id)
            changes: Sequence[tuple[object, str, Callable[[], bool]]] = (
                (cpus, "cpus", lambda: resize.set_cpus(dom, check.cpus)),
                (memory, "memory", lambda: resize.set_memory(dom, check.memory)),
                (disk, "disk", lambda: resize.grow_disk(conn, dom, id, check.disk,
                                                             uri=self.uri)))
            for given, what, apply in changes:
                if given is not None:
                    (live if apply() else later).append(what)
        vm = self.get(Kind.VM, id)
        return dataclasses.replace(vm, details={**vm.details, "changed_live": live,
                                                "at_next_start": later})

    def disks(self, id: str) -> builtins.list[int]:
        """The VM's disk sizes in bytes, in device order: each one's storage volume
        capacity, else the size libvirt reads from its image (a disk outside every pool)."""
        with self._boundary(f"reading the disks of VM {id!r}", id):
            conn = self._conn()
            dom = lookup(conn, id)
            return [volumes.disk_size(conn, dom, source)
                    for source in definition.disk_sources(dom.XMLDesc(0))]

    def console(self, id: str, *, wait_for: str | None = None, timeout: float = 60.0) -> str:
        """What the VM printed on its serial console so far; with ``wait_for``, wait up
        to ``timeout`` seconds for that text first (e.g. a login prompt or a marker)."""
        with self._boundary(f"reading the console of VM {id!r}", id):
            dom = lookup(self._conn(), id)
            path = read_owner(dom).console_log
            if path is None:
                return ""  # not created by the toolkit, or the test driver
            if not self.local and wait_for is None:
                raise UnsupportedOperation(self.name, "console history over a remote "
                                           "connection", connection=self.uri,
                                           hint="pass wait_for= to follow the live console, "
                                                f"or run {self.command('console', dom.name())}")
            if wait_for is None:
                return serial_console.read_log(path)
            if not self.local:
                return serial_console.follow_stream(self._conn(), dom, wait_for, timeout,
                                             uri=self.uri)
            return serial_console.wait_in_log(dom, path, wait_for, timeout, uri=self.uri)

    def render(self, spec: VMSpec) -> str:
        """The domain XML ``create(spec)`` would define, without creating anything."""
        with self._boundary(f"rendering VM {spec.name!r}", spec.name):
            conn = self._conn()
            volume = disk = None
            if spec.disk is not None or spec.image is not None:
                volume = Volume(self.pool, f"{spec.name}.qcow2")
                pool = volumes.active_pool(conn, self.pool, uri=self.uri)
                disk = f"{volumes.pool_path(pool)}/{volume.name}"
            plan = self._domain_plan(conn, spec, volume, disk, self._console_log(spec.name))
        return definition.domain_xml(plan)

    # --- watch --------------------------------------------------------------------------

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        """Lifecycle events from libvirt's event loop, re-listing after the daemon restarts."""
        self._check_kind(kind, "watch")
        wanted = dict(labels or {})
        vms = VmWatch(wanted, self._connection, self._events, self._boundary,
                      list_vms=lambda: self.list(kind, wanted))
        return self._start_watcher(kind, wanted,
                                   Watcher(vms.list_all, vms.follow, name="libvirt-vm"))

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The virsh line that does the same, e.g. ``command("pause", "web")``."""
        return commands.virsh(self.uri, verb, *args)

    def create_command(self, spec: VMSpec, *, start: bool = True) -> str:
        """The virsh lines of ``create(spec, start=start)``: the disk volume, the domain
        XML the driver defines (on standard input), and ``start`` only when it starts."""
        return commands.create_lines(self.uri, self.pool, spec, start=start,
                                     xml=self.render(spec))

    def reconfigure_command(self, id: str, *, cpus: int | str | None = None,
                            memory: int | str | None = None,
                            disk: int | str | None = None) -> str:
        """The virsh lines of ``reconfigure(id, ...)`` as the VM is now: the persistent
        definition always, the running VM where the driver changes it live too."""
        change = resize.parse_change(cpus, memory, disk)
        with self._boundary(f"reading VM {id!r}", id):
            conn = self._conn()
            return commands.reconfigure_lines(
                self.uri, conn, lookup(conn, id), change, cpus=cpus is not None,
                memory=memory is not None, disk=disk is not None)

    def destroy_command(self, id: str, *, force: bool = False) -> str:
        """The virsh lines of ``destroy(id, force=force)``: a running VM is powered off
        first (only with ``force``; without, the driver refuses, and so does this line)."""
        with self._boundary(f"reading VM {id!r}", id):
            dom = lookup(self._conn(), id)
            name, active = dom.name(), bool(dom.isActive())
        return commands.destroy_lines(self.uri, name, active=active, force=force)


# --- helpers ------------------------------------------------------------------------------


def _kvm_proven() -> bool:
    """Whether the connections file says KVM boots guests here (``libvirt.domain_type`` is
    ``kvm``, which the sandbox writes only after its probe booted one). A /dev/kvm that
    libvirt advertises can still hang guests (ENGINES.md), so nothing else counts."""
    return userconfig.section("libvirt").get("domain_type") == "kvm"


def _undefine(dom: Any) -> None:
    libvirt = import_libvirt()
    everything = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                  | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                  | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    try:
        dom.undefineFlags(everything)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
            raise
        dom.undefine()  # the test driver knows no NVRAM flag (it has no firmware)


def _wait_shut_off(dom: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dom.state()[0] == SHUTOFF:
            return True
        time.sleep(0.1)
    return bool(dom.state()[0] == SHUTOFF)


def _ignore_not_running(call: Callable[[], Any]) -> None:
    """``dom.destroy`` that tolerates the guest having powered off a moment earlier."""
    libvirt = import_libvirt()
    try:
        call()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_OPERATION_INVALID:
            raise


def _roll_back(undo: Undo) -> None:
    for step in reversed(undo):
        try:
            step()
        except Exception:  # keep undoing; the original error is raised
            log.warning("could not undo a half-created VM step", exc_info=True)
