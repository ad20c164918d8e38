"""The vSphere driver (``vsphere://user@host[:port]``, vCenter or ESXi) over pyVmomi.

Records come from the PropertyCollector: one RetrievePropertiesEx over a ContainerView lists
every VM (``props``); a VM's ``id`` is its managed object id (``vm-42``), and every
verb also takes its name. Ownership labels live in the VM's annotation
(``specs``). Tasks report progress and are cancelled when the caller is interrupted
(``tasks``). Connection, password and TLS are ``session``'s job. Every
pyVmomi exception is translated by ``_sdk_errors``; nothing above this module sees one.

Power verbs: ``start`` powers on; ``stop`` shuts the guest down (``force=True``, the
magics' ``--force``, powers off);
``pause`` suspends (State.SUSPENDED: vSphere saves the VM's memory to disk; it has no
in-memory pause); ``resume`` powers a suspended VM on again; ``reset`` is a hard reset.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import re
import shlex
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    Cancelled,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    OperationTimeout,
    Said,
    TLSVerificationFailed,
    VirtworkError,
    first_line,
)
from ...models import Event, EventType, Kind, Progress, Resource, ResourceList, State, VMSpec
from ...sizes import MiB
from ...uri import Target
from ...watch import Emit, EventStream, Stopper, Watcher
from ..base import BaseDriver, ErrorTable, Hypervisor, SdkFailure, Verb, labels_match
from . import placement, snapshots, specs, tasks
from .props import (
    LEAVE,
    Change,
    UpdateFeed,
    as_dict,
    filter_spec,
    object_spec,
    retrieve,
    vm_view,
)
from .session import DEFAULT_TIMEOUT, Session, sdk, settings
from .snapshots import Snapshot
from .tasks import ProgressCallback, TaskInterrupted

STATE_MAP: dict[str, State] = {
    "poweredOn": State.RUNNING,
    "poweredOff": State.STOPPED,
    "suspended": State.SUSPENDED,
}
POWER = "runtime.powerState"
# vCenter ids look like vm-42, ESXi's like 42; anything else can only be a name.
MOID = re.compile(r"^(vm-)?\d+$")
DOING = {"start": "starting", "stop": "stopping", "pause": "suspending",
         "resume": "resuming", "reset": "resetting"}
TASK_TIMEOUT = 600.0
SHUTDOWN_TIMEOUT = 120.0


class VSphereDriver(BaseDriver, Hypervisor):
    name: ClassVar[str] = "vsphere"
    capabilities: ClassVar[frozenset[Verb]] = frozenset(Verb)
    kinds: ClassVar[tuple[Kind, ...]] = (Kind.VM,)
    serial_console: ClassVar[bool] = False  # a VM's console is the vSphere client's
    state_words: ClassVar[Mapping[str, State]] = STATE_MAP
    definition_suffix: ClassVar[str] = "govc"

    def __init__(self, target: Target, *, password: str | None = None,
                 cafile: str | None = None, insecure: bool | None = None,
                 timeout: float = DEFAULT_TIMEOUT, datacenter: str | None = None,
                 cluster: str | None = None, datastore: str | None = None,
                 task_timeout: float = TASK_TIMEOUT) -> None:
        super().__init__(target)
        self.settings = settings(target, cafile=cafile, insecure=insecure, timeout=timeout)
        self._session = Session(self.settings, password)
        self.placement = {"datacenter": datacenter, "cluster": cluster, "datastore": datastore}
        self.task_timeout = task_timeout

    @classmethod
    def from_env(cls, **options: Any) -> VSphereDriver:
        """A driver for govc's GOVC_URL (and GOVC_USERNAME, GOVC_PASSWORD...)."""
        return cls(Target(uri="vsphere://", family="vsphere", scheme="vsphere"), **options)

    @property
    def uri(self) -> str:
        return self.target.uri if self.target.host else f"vsphere://{self.settings.display}"

    # --- connection -------------------------------------------------------------------

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(service_content)`` on the live login (logging in again once if expired)."""
        return self._session.call(fn)

    def about(self) -> dict[str, str]:
        """The server's product, version and API type (VirtualCenter or HostAgent)."""
        with self._boundary("reaching vSphere"):
            info = self._call(lambda content: content.about)
        return {"name": str(info.fullName), "version": str(info.version),
                "api_type": str(info.apiType), "api_version": str(info.apiVersion)}

    def close(self) -> None:
        super().close()
        self._session.close()

    # --- the error boundary -----------------------------------------------------------

    # A fault's own text may hold what ``scrub`` masks in ours: a full traceback shows ours.
    _sdk_cause_shown: ClassVar[bool] = False

    def _sdk_errors(self) -> ErrorTable:
        """pyVmomi's faults, TLS, socket and HTTP errors."""
        vim, vmodl = sdk()
        return (
            (vmodl.MethodFault, lambda failed: self._fault(failed, vim, vmodl)),
            # decided by type, never by its text
            (ssl.SSLCertVerificationError, lambda failed: TLSVerificationFailed(
                f"{failed.doing}: the certificate of {self.settings.host}:"
                f"{self.settings.port} is not trusted ({failed.error.verify_message})",
                connection=self.uri,
                hint="pass cafile= with the server's CA certificate (or set "
                     "GOVC_TLS_CA_CERTS), or insecure=True for this one connection")),
            ((OSError, _http_errors()), self._unreachable),
            # pyVim's "is down or is not a VIM server" is a bare Exception, nothing more.
            (Exception, lambda failed: self._unreachable(failed)
             if type(failed.error) is Exception else None),
        )

    def _unreachable(self, failed: SdkFailure) -> EngineUnavailable:
        why: Said | str = say.NO_ANSWER_WITHIN(seconds=self.settings.timeout) \
            if isinstance(failed.error, TimeoutError) \
            else self._session.scrub(first_line(failed.error))
        return EngineUnavailable(
            say.VSPHERE_UNREACHABLE(doing=failed.doing, host=self.settings.host,
                                    port=self.settings.port, why=why),
            connection=self.uri, hint=say.START_VCSIM())

    def _fault(self, failed: SdkFailure, vim: Any, vmodl: Any) -> VirtworkError:
        """One VirtworkError for a vmodl fault; messages carry no secret (scrubbed)."""
        exc, doing, name = failed.error, failed.doing, failed.name
        text = self._session.scrub(_fault_text(exc))
        where = {"connection": self.uri}
        if isinstance(exc, vim.fault.InvalidLogin):
            return AuthenticationFailed(
                f"{doing}: vSphere refused the login of {self.settings.user}", **where,
                hint="check the password (password=, VIRTWORK_VSPHERE_PASSWORD or GOVC_PASSWORD)")
        if isinstance(exc, vim.fault.NotAuthenticated | vim.fault.NoPermission):
            return AuthenticationFailed(f"{doing}: not allowed ({text})", **where,
                                        hint="log in as a user with the rights for it")
        if isinstance(exc, vim.fault.DuplicateName | vim.fault.AlreadyExists):
            return AlreadyExists(say.EXISTS_DOING(doing=doing, name=name or "the name"), **where,
                                 hint=say.RENAME_OR_REMOVE())
        if isinstance(exc, vmodl.fault.ManagedObjectNotFound):
            return NotFound(say.GONE(doing=doing, name=name or "the object"), **where)
        if isinstance(exc, vim.fault.InvalidPowerState):
            return OperationFailed(f"{doing}: the VM is {exc.existingState}", **where)
        if isinstance(exc, vim.fault.TaskInProgress):
            return OperationFailed(f"{doing}: another task is running on it", **where,
                                   hint="wait for it to finish, then try again")
        if isinstance(exc, vim.fault.ToolsUnavailable):
            return OperationFailed(f"{doing}: VMware Tools do not run in the guest", **where,
                                   hint="use --force to power it off instead")
        if isinstance(exc, vmodl.fault.RequestCanceled):
            return Cancelled(f"{doing} was cancelled", **where)
        if isinstance(exc, vmodl.fault.InvalidArgument | vim.fault.InvalidDeviceSpec
                      | vim.fault.InvalidName | vim.fault.InvalidDatastore):
            return InvalidInput(f"{doing}: vSphere refused it ({text})", **where)
        return OperationFailed(f"{doing} failed: {text}", **where)

    # --- records and lookups ----------------------------------------------------------

    def _record(self, props: dict[str, Any]) -> Resource:
        """The record of one VM's properties (``as_dict``'s). ``props`` becomes its ``raw``,
        not copied (a list makes 1000 of them): a caller that keeps changing its dict passes
        a copy."""
        get = props.get
        memory_mb = get("config.hardware.memoryMB")
        return Resource(
            uri=self.uri, kind=Kind.VM, id=str(props["_moid"]), name=str(get("name", "")),
            state=STATE_MAP.get(str(get(POWER)), State.UNKNOWN),
            labels=specs.labels_from_annotation(get("config.annotation")),
            details={"cpus": get("config.hardware.numCPU"),
                     "memory": None if memory_mb is None else int(memory_mb) * MiB,
                     "guest_id": get("config.guestId")},
            raw=props)

    def _view(self) -> Any:
        """The listing's ContainerView, made once per login (its cost is not per list)."""
        return self._session.cached("vm-view", vm_view)

    def _lookup(self, content: Any, id: str) -> tuple[Any, dict[str, Any]]:
        """(managed object, record properties) of the VM with id or name ``id``."""
        vim, vmodl = sdk()
        collector = content.propertyCollector
        if MOID.match(id):
            vm = vim.VirtualMachine(id, content.rootFolder._stub)
            with contextlib.suppress(vmodl.fault.ManagedObjectNotFound):
                found = retrieve(collector, object_spec([vm]))
                if found:
                    return vm, as_dict(found[0])
        named = [c.obj for c in retrieve(collector, filter_spec(self._view(), ["name"]))
                 if c.propSet and c.propSet[0].val == id]
        if len(named) > 1:
            raise InvalidInput(f"{len(named)} VMs are named {id!r}", connection=self.uri,
                               hint="give the id instead: " + ", ".join(v._moId for v in named))
        found = retrieve(collector, object_spec(named)) if named else []
        if not found:
            raise NotFound(say.NO_VM(name=id), connection=self.uri, hint=say.LIST_VMS())
        return named[0], as_dict(found[0])

    def _read(self, vm: Any, path: str) -> Any:
        """One property of one VM, as pyVmomi objects (None when unset)."""
        def read(content: Any) -> Any:
            found = retrieve(content.propertyCollector, object_spec([vm], [path]))
            return found[0].propSet[0].val if found and found[0].propSet else None
        return self._call(read)

    # --- the contract -----------------------------------------------------------------

    def list(self, kind: Kind, labels: Mapping[str, str] | None = None) -> ResourceList:
        """Every VM, in one RetrievePropertiesEx; ``labels`` must all match."""
        self._check_kind(kind, "list")
        wanted = dict(labels or {})

        def fetch(content: Any) -> builtins.list[Any]:
            return retrieve(content.propertyCollector, filter_spec(self._view()))

        with self._boundary("listing VMs"):
            records = (self._record(as_dict(c)) for c in self._call(fetch))
            return ResourceList(r for r in records if labels_match(r.labels, wanted))

    def get(self, kind: Kind, id: str) -> Resource:
        self._check_kind(kind, "get")
        with self._boundary(f"finding VM {id!r}", id):
            _, props = self._call(lambda content: self._lookup(content, id))
        return self._record(props)

    def create(self, spec: Any, *, start: bool = False,
               on_progress: ProgressCallback | None = None,
               stopper: Stopper | None = None) -> Resource:
        """Create ``spec``: checked, placed, labelled; nothing is left behind when it fails
        or the caller interrupts it. Then, only when ``start``, power it on (a VM that
        fails to start stays, stopped)."""
        if not isinstance(spec, VMSpec):
            raise InvalidInput(f"the vsphere driver creates VMs from a VMSpec, "
                               f"not {type(spec).__name__}")
        guest = specs.guest_id(spec.guest_os)
        annotation = specs.annotation_with_labels(spec.labels)
        doing = f"creating VM {spec.name!r}"

        def submit(content: Any) -> Any:
            if any(c.propSet and c.propSet[0].val == spec.name for c in retrieve(
                    content.propertyCollector, filter_spec(self._view(), ["name"]))):
                raise AlreadyExists(say.VM_EXISTS_DOING(doing=doing, name=spec.name),
                                    connection=self.uri, hint=say.RENAME_OR_DESTROY())
            where = placement.find(content, network=spec.network, **self.placement)
            config = specs.create_spec(spec, guest, where, annotation)
            return where.folder.CreateVM_Task(config=config, pool=where.pool)

        with self._boundary(doing, spec.name):
            vm = self._run_task(submit, doing, on_progress, stopper, undo=self._undo_create)
        if start:
            return self.start(Kind.VM, str(vm._moId), on_progress=on_progress, stopper=stopper)
        return self.get(Kind.VM, str(vm._moId))

    def _undo_create(self, vm: Any) -> None:
        """Remove a VM whose creation finished after the caller gave up on it."""
        self._run_task(lambda _: vm.Destroy_Task(), "removing the interrupted VM", None, None)

    def _run_task(self, submit: Callable[[Any], Any], doing: str,
                  on_progress: ProgressCallback | None, stopper: Stopper | None,
                  undo: Callable[[Any], None] | None = None) -> Any:
        """Submit a task and wait for it; on interruption cancel it (or ``undo`` what it
        did, if it finished anyway) and raise Cancelled."""
        if stopper is not None and stopper.stopped:
            raise Cancelled(f"{doing} was cancelled before it started", connection=self.uri)
        task = self._call(submit)
        try:
            return self._call(lambda content: tasks.wait(
                task, doing, content.propertyCollector, on_progress=on_progress, stopper=stopper,
                timeout=self.task_timeout))
        except TaskInterrupted as stop:
            if stop.succeeded and undo is not None:
                undo(stop.result)
                raise Cancelled(f"{doing} was interrupted; what it made was removed",
                                connection=self.uri) from None
            outcome = "it had finished already" if stop.succeeded else "the task was cancelled"
            raise Cancelled(f"{doing} was interrupted ({outcome})", connection=self.uri) from None

    # --- power ------------------------------------------------------------------------

    def start(self, kind: Kind, id: str, *, on_progress: ProgressCallback | None = None,
              stopper: Stopper | None = None) -> Resource:
        def decide(state: str, name: str) -> str | None:
            return None if state == "poweredOn" else "PowerOnVM_Task"
        return self._power(kind, id, "start", decide, on_progress, stopper)

    def pause(self, kind: Kind, id: str, *, on_progress: ProgressCallback | None = None,
              stopper: Stopper | None = None) -> Resource:
        """Suspend: vSphere saves the memory to disk (State.SUSPENDED)."""
        def decide(state: str, name: str) -> str | None:
            if state == "poweredOff":
                raise OperationFailed(f"VM {name!r} is stopped: there is nothing to suspend",
                                      connection=self.uri, hint="start it first")
            return None if state == "suspended" else "SuspendVM_Task"
        return self._power(kind, id, "pause", decide, on_progress, stopper)

    def resume(self, kind: Kind, id: str, *, on_progress: ProgressCallback | None = None,
               stopper: Stopper | None = None) -> Resource:
        def decide(state: str, name: str) -> str | None:
            if state == "poweredOff":
                raise OperationFailed(f"VM {name!r} is stopped, not suspended",
                                      connection=self.uri, hint="start it instead")
            return None if state == "poweredOn" else "PowerOnVM_Task"
        return self._power(kind, id, "resume", decide, on_progress, stopper)

    def reset(self, kind: Kind, id: str, *, on_progress: ProgressCallback | None = None,
              stopper: Stopper | None = None) -> Resource:
        """A hard reset, like pressing the reset button."""
        def decide(state: str, name: str) -> str | None:
            if state != "poweredOn":
                raise OperationFailed(f"VM {name!r} is not running: there is nothing to reset",
                                      connection=self.uri, hint="start it instead")
            return "ResetVM_Task"
        return self._power(kind, id, "reset", decide, on_progress, stopper)

    def stop(self, kind: Kind, id: str, *, force: bool = False,
             timeout: float = SHUTDOWN_TIMEOUT, on_progress: ProgressCallback | None = None,
             stopper: Stopper | None = None) -> Resource:
        """Shut the guest down (it needs VMware Tools) within ``timeout``; ``force`` powers
        the VM off instead, like pulling the plug, and also stops a suspended VM."""
        def decide(state: str, name: str) -> str | None:
            if state == "poweredOff":
                return None
            if force:
                return "PowerOffVM_Task"
            if state == "suspended":
                raise OperationFailed(f"VM {name!r} is suspended: its guest cannot shut down",
                                      connection=self.uri, hint="use --force to power it off")
            return "ShutdownGuest"
        return self._power(kind, id, "stop", decide, on_progress, stopper, timeout)

    def _shutdown_guest(self, vm: Any, doing: str, timeout: float,
                        on_progress: ProgressCallback | None, stopper: Stopper | None) -> None:
        """ShutdownGuest returns at once; wait (bounded) until the VM is powered off."""
        self._call(lambda _: vm.ShutdownGuest())
        deadline = time.monotonic() + timeout
        while str(self._read(vm, POWER)) != "poweredOff":
            if on_progress is not None:
                on_progress(Progress("task", f"{doing}: waiting for the guest to shut down"))
            if time.monotonic() > deadline:
                raise OperationTimeout(f"{doing}: the guest did not shut down in {timeout:g} s",
                                       connection=self.uri, hint="use --force to power it off")
            if stopper is not None and stopper.wait(0.5):
                raise Cancelled(f"{doing}: stopped waiting for the guest", connection=self.uri)
            if stopper is None:
                time.sleep(0.5)
        if on_progress is not None:
            on_progress(Progress("task", f"{doing}: done", 100.0, 100.0, done=True))

    def _power(self, kind: Kind, id: str, verb: str, decide: Callable[[str, str], str | None],
               on_progress: ProgressCallback | None, stopper: Stopper | None,
               timeout: float = SHUTDOWN_TIMEOUT) -> Resource:
        """Call the power method ``decide(power_state, name)`` names (None: already there)."""
        self._check_kind(kind, verb)
        doing = f"{DOING[verb]} VM {id!r}"
        with self._boundary(doing, id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            method = decide(str(props.get(POWER)), str(props.get("name")))
            if method == "ShutdownGuest":  # not a task: it returns before the guest is down
                self._shutdown_guest(vm, doing, timeout, on_progress, stopper)
            elif method is not None:
                self._run_task(lambda _: getattr(vm, method)(), doing, on_progress, stopper)
        return self.get(Kind.VM, str(vm._moId))

    def destroy(self, kind: Kind, id: str, *, force: bool = False,
                on_progress: ProgressCallback | None = None,
                stopper: Stopper | None = None) -> None:
        """Delete the VM and its disks. A running or suspended VM needs ``force`` (it is
        powered off first): deleting a running machine by accident loses its work."""
        self._check_kind(kind, "destroy")
        doing = f"deleting VM {id!r}"
        with self._boundary(doing, id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            state = str(props.get(POWER))
            if state != "poweredOff":
                if not force:
                    raise OperationFailed(
                        f"{doing}: it is {STATE_MAP.get(state, State.UNKNOWN)}",
                        connection=self.uri,
                        hint="stop it first, or delete it with --force (it powers it "
                             "off first)")
                self._run_task(lambda _: vm.PowerOffVM_Task(), doing, on_progress, stopper)
            self._run_task(lambda _: vm.Destroy_Task(), doing, on_progress, stopper)

    # --- configuration ------------------------------------------------------------------

    def reconfigure(self, id: str, *, cpus: int | str | None = None,
                    memory: int | str | None = None, disk: int | str | None = None,
                    on_progress: ProgressCallback | None = None,
                    stopper: Stopper | None = None) -> Resource:
        """Change CPUs, memory (bytes or "4 GB") and the first disk's size (it only grows;
        a VM without a disk gets one)."""
        new_cpus, new_memory, new_disk = specs.checked_sizes(cpus, memory, disk)
        doing = f"reconfiguring VM {id!r}"
        with self._boundary(doing, id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            devices = [] if new_disk is None else self._disk_change(vm, str(props["name"]),
                                                                    new_disk)
            spec = specs.reconfig_spec(new_cpus, new_memory, devices)
            self._run_task(lambda _: vm.ReconfigVM_Task(spec=spec), doing, on_progress, stopper)
        return self.get(Kind.VM, str(vm._moId))

    def _disk_change(self, vm: Any, name: str, size: int) -> builtins.list[Any]:
        devices = self._read(vm, "config.hardware.device") or []
        vm_path = str(self._read(vm, "config.files.vmPathName") or "")
        return specs.disk_change(name, devices, size, vm_path)

    def disks(self, id: str) -> builtins.list[int]:
        """The VM's disk sizes in bytes, in device order."""
        with self._boundary(f"reading the disks of VM {id!r}", id):
            vm, _ = self._call(lambda content: self._lookup(content, id))
            return specs.disk_sizes(self._read(vm, "config.hardware.device") or [])

    def console(self, id: str, *, wait_for: str | None = None, timeout: float = 60.0) -> str:
        """vSphere shows a VM's console in its own client; there is no serial log to read."""
        raise self._unsupported("console")

    def render(self, spec: VMSpec) -> None:
        """A VM's definition is the config spec ``create`` sends, which has no text form:
        ``create_command`` is what a dry run shows."""
        return None

    # --- snapshots ----------------------------------------------------------------------

    def snapshot(self, id: str, name: str, *, description: str = "", memory: bool = False,
                 on_progress: ProgressCallback | None = None,
                 stopper: Stopper | None = None) -> Snapshot:
        """Take a snapshot; ``memory`` also saves a running VM's memory."""
        specs.check_snapshot_name(name)
        doing = f"taking snapshot {name!r} of VM {id!r}"
        with self._boundary(doing, id):
            vm, _ = self._call(lambda content: self._lookup(content, id))
            made = self._run_task(lambda _: vm.CreateSnapshot_Task(
                name=name, description=description, memory=memory, quiesce=False),
                doing, on_progress, stopper)
        return next(s for s in self.snapshots(str(vm._moId)) if s.id == made._moId)

    def snapshots(self, id: str) -> builtins.list[Snapshot]:
        with self._boundary(f"listing the snapshots of VM {id!r}", id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            return snapshots.flatten(str(props["name"]), self._read(vm, "snapshot"))

    def revert(self, id: str, snapshot: str, *, on_progress: ProgressCallback | None = None,
               stopper: Stopper | None = None) -> Resource:
        """Go back to ``snapshot`` (a name or id); vSphere restores its power state too."""
        doing = f"reverting VM {id!r} to snapshot {snapshot!r}"
        with self._boundary(doing, id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            moref = snapshots.find(str(props["name"]), self._read(vm, "snapshot"),
                                           snapshot)
            self._run_task(lambda _: moref.RevertToSnapshot_Task(), doing, on_progress, stopper)
        return self.get(Kind.VM, str(vm._moId))

    def remove_snapshot(self, id: str, snapshot: str, *, children: bool = False,
                        on_progress: ProgressCallback | None = None,
                        stopper: Stopper | None = None) -> None:
        doing = f"removing snapshot {snapshot!r} of VM {id!r}"
        with self._boundary(doing, id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            moref = snapshots.find(str(props["name"]), self._read(vm, "snapshot"),
                                           snapshot)
            self._run_task(lambda _: moref.RemoveSnapshot_Task(removeChildren=children),
                           doing, on_progress, stopper)

    # --- watch ------------------------------------------------------------------------

    def watch(self, kind: Kind, labels: Mapping[str, str] | None = None) -> EventStream:
        """ADDED / MODIFIED / DELETED from WaitForUpdatesEx on a collector of its own."""
        self._check_kind(kind, "watch")
        follower = _VMFollower(self, dict(labels or {}))
        return self._start_watcher(kind, follower.labels, Watcher(
            follower.list_all, follower.follow, name="vsphere-vm"))

    # --- teaching -----------------------------------------------------------------------

    def command(self, verb: str, *args: str) -> str:
        """The govc line that does the same, e.g. ``command("start", "my-vm")``."""
        words = GOVC.get(verb, [verb])
        return shlex.join(["govc", words[0], *self._govc_flags(), *words[1:], *args])

    def create_command(self, spec: VMSpec, *, start: bool = False) -> str:
        """``govc vm.create`` with the spec's CPUs, memory, disk, guest and labels; it
        powers the VM on (govc's default) when ``start``, as ``%vm create`` then does."""
        flags = [*([] if start else ["-on=false"]), "-c", str(spec.cpus),
                 "-m", str(specs.memory_mb(spec.memory)),
                 "-g", specs.guest_id(spec.guest_os)]
        if spec.disk is not None:
            flags += ["-disk", specs.govc_size(spec.disk)]
        if spec.network:
            flags += ["-net", spec.network]
        for option, flag in (("datastore", "-ds"), ("cluster", "-pool"), ("datacenter", "-dc")):
            if self.placement[option]:
                flags += [flag, str(self.placement[option])]
        if spec.labels:
            flags += ["-annotation", specs.annotation_with_labels(spec.labels)]
        return shlex.join(["govc", "vm.create", *self._govc_flags(), *flags, spec.name])

    def reconfigure_command(self, id: str, *, cpus: int | str | None = None,
                            memory: int | str | None = None,
                            disk: int | str | None = None) -> str:
        """The govc lines of ``reconfigure(id, ...)``: ``vm.change -c -m``, and for the disk
        ``vm.disk.change`` of the first disk (by its label) or ``vm.disk.create``."""
        new_cpus, new_memory, new_disk = specs.checked_sizes(cpus, memory, disk)
        with self._boundary(f"reading VM {id!r}", id):
            vm, props = self._call(lambda content: self._lookup(content, id))
            devices = (self._read(vm, "config.hardware.device") or []) if new_disk else []
        name = str(props["name"])
        lines = []
        if new_cpus is not None or new_memory is not None:
            lines.append(self.command("vm.change", "-vm", name,
                                      *([] if new_cpus is None else ["-c", str(new_cpus)]),
                                      *([] if new_memory is None else
                                        ["-m", str(specs.memory_mb(new_memory))])))
        if new_disk is not None:
            label = specs.first_disk_label(devices)
            size = specs.govc_size(new_disk)
            lines.append(self.command("vm.disk.change", "-vm", name, "-disk.label", label,
                                      "-size", size) if label else
                         self.command("vm.disk.create", "-vm", name, "-name",
                                      f"{name}/{name}", "-size", size))
        return " && ".join(lines)

    def destroy_command(self, id: str, *, force: bool = False) -> str:
        """``govc vm.destroy``: it powers the VM off first, as ``destroy(force=True)``."""
        return self.command("destroy", id)

    def _govc_flags(self) -> builtins.list[str]:
        """Where to connect, as govc's own flags; never the password."""
        found = self.settings
        flags = ["-u", f"{found.user}@{found.host}:{found.port}"]
        if found.insecure:
            flags.append("-k")
        elif found.cafile:
            flags += ["-tls-ca-certs", found.cafile]
        return flags


GOVC: dict[str, list[str]] = {
    "list": ["find", "/", "-type", "m"], "get": ["vm.info"], "create": ["vm.create", "-on=false"],
    "start": ["vm.power", "-on"], "stop": ["vm.power", "-s"], "poweroff": ["vm.power", "-off"],
    "pause": ["vm.power", "-suspend"], "resume": ["vm.power", "-on"],
    "reset": ["vm.power", "-reset"], "force-stop": ["vm.power", "-off"],
    "reconfigure": ["vm.change", "-vm"],
    "destroy": ["vm.destroy"], "snapshot": ["snapshot.create", "-vm"],
    "snapshots": ["snapshot.tree", "-vm"], "revert": ["snapshot.revert", "-vm"],
    "remove_snapshot": ["snapshot.remove", "-vm"], "watch": ["events", "-f"],
    "about": ["about"], "console": ["vm.console"],
}


class _VMFollower:
    """The Watcher's list and follow for VMs, sharing one UpdateFeed: its first answer is
    the list, and the follow continues from that very version (no gap between them)."""

    def __init__(self, driver: VSphereDriver, labels: dict[str, str]) -> None:
        self.driver = driver
        self.labels = labels
        self.feed: UpdateFeed | None = None
        self.props: dict[str, dict[str, Any]] = {}  # moid -> last known properties

    def list_all(self) -> tuple[list[Resource], str | None]:
        self._close()

        def open_feed(content: Any) -> tuple[UpdateFeed, list[Change], str]:
            feed = UpdateFeed(content)
            try:
                return (feed, *feed.open())
            except BaseException:
                feed.close()
                raise

        with self.driver._boundary("watching VMs"):
            self.feed, changes, version = self.driver._call(open_feed)
        self.props = {c.moid: {"_moid": c.moid, **c.props} for c in changes if c.kind != LEAVE}
        # The records' raw are copies: self.props changes as events arrive.
        records = (self.driver._record(dict(p)) for p in self.props.values())
        return [r for r in records if labels_match(r.labels, self.labels)], version

    def follow(self, since: str | None, emit: Emit, stopper: Stopper) -> None:
        feed = self.feed
        if feed is None:
            return
        stopper.on_stop(feed.interrupt)
        version = since or ""
        try:
            while not stopper.stopped:
                with self.driver._boundary("watching VMs"):
                    version = self.driver._call(functools.partial(
                        _wait, feed, version, functools.partial(self._emit, emit=emit)))
        except Cancelled:
            if not stopper.stopped:
                raise
        finally:
            stopper.forget(feed.interrupt)
            if stopper.stopped:
                self._close()

    def _emit(self, changes: list[Change], emit: Emit) -> None:
        for change in changes:
            if change.kind == LEAVE:
                gone = self.props.pop(change.moid, None)
                if gone is not None:
                    emit(Event(EventType.DELETED, self.driver._record(gone)))
                continue
            props = self.props.setdefault(change.moid, {"_moid": change.moid})
            props.update(change.props)
            record = self.driver._record(dict(props))
            # Out of the label selection (or moved out of it): gone, as far as we are concerned.
            kind = EventType.MODIFIED if labels_match(record.labels, self.labels) \
                else EventType.DELETED
            emit(Event(kind, record))

    def _close(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()


def _wait(feed: UpdateFeed, version: str, on_changes: Callable[[list[Change]], None],
          content: Any) -> str:
    """One long poll of ``feed`` (``content`` is Session.call's argument, not needed)."""
    return feed.wait(version, on_changes)


def _http_errors() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def _fault_text(exc: Any) -> str:
    """A fault's own message; vcsim and older servers often leave ``msg`` empty."""
    messages = [str(m.message) for m in getattr(exc, "faultMessage", None) or [] if m.message]
    text = str(getattr(exc, "msg", "") or "") or "; ".join(messages)
    return first_line(text) if text else type(exc).__name__.rpartition(".")[2]

