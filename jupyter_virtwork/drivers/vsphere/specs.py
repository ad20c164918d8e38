"""What the vSphere driver sends: guest OS ids, ConfigSpecs, and labels in the annotation.

Guest OS names are what people write ("ubuntu 18.04", "Ubuntu 18.04 64-bit", "windows
server 2019", "other linux"); vSphere wants a guest id (``ubuntu64Guest``). vSphere has no
per-release id for many distributions, so a version the table does not know falls back to
the distribution's generic id; anything else is refused with the closest names (difflib).

Ownership labels live in the VM's annotation, on one line of JSON after a marker, so the
user's own notes above it survive and ``list(labels=)`` can filter exactly.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidInput
from ...models import VMSpec
from ...sizes import GiB, KiB, MiB, format_size, parse_size
from .session import sdk

# --- guest operating systems -------------------------------------------------------------

# name -> (64-bit id, 32-bit id or None). Names are lowercase, words separated by one space.
GUESTS: dict[str, tuple[str, str | None]] = {
    "ubuntu": ("ubuntu64Guest", "ubuntuGuest"),
    "debian": ("debian11_64Guest", "debian11Guest"),
    **{f"debian {n}": (f"debian{n}_64Guest", f"debian{n}Guest") for n in range(8, 14)},
    "centos": ("centos64Guest", "centosGuest"),
    "centos 6": ("centos6_64Guest", "centos6Guest"),
    "centos 7": ("centos7_64Guest", "centos7Guest"),
    "centos 8": ("centos8_64Guest", None),
    "centos 9": ("centos9_64Guest", None),
    "rhel 6": ("rhel6_64Guest", "rhel6Guest"),
    "rhel 7": ("rhel7_64Guest", "rhel7Guest"),
    "rhel 8": ("rhel8_64Guest", None),
    "rhel 9": ("rhel9_64Guest", None),
    "rocky linux": ("rockylinux_64Guest", None),
    "almalinux": ("almalinux_64Guest", None),
    "oracle linux": ("oracleLinux64Guest", "oracleLinuxGuest"),
    "amazon linux 2": ("amazonlinux2_64Guest", None),
    "fedora": ("fedora64Guest", "fedoraGuest"),
    "sles 12": ("sles12_64Guest", "sles12Guest"),
    "sles 15": ("sles15_64Guest", None),
    "opensuse": ("opensuse64Guest", "opensuseGuest"),
    "photon os": ("vmwarePhoton64Guest", None),
    "coreos": ("coreos64Guest", None),
    "flatcar": ("flatcar_64Guest", None),
    "freebsd": ("freebsd64Guest", "freebsdGuest"),
    **{f"freebsd {n}": (f"freebsd{n}_64Guest", f"freebsd{n}Guest") for n in range(11, 15)},
    "solaris 11": ("solaris11_64Guest", None),
    "windows 7": ("windows7_64Guest", "windows7Guest"),
    "windows 8": ("windows8_64Guest", "windows8Guest"),
    "windows 10": ("windows9_64Guest", "windows9Guest"),
    "windows 11": ("windows11_64Guest", None),
    "windows server 2008 r2": ("windows7Server64Guest", None),
    "windows server 2012": ("windows8Server64Guest", None),
    "windows server 2016": ("windows9Server64Guest", None),
    "windows server 2019": ("windows2019srv_64Guest", None),
    "windows server 2022": ("windows2019srvNext_64Guest", None),
    "windows server 2025": ("windows2022srvNext_64Guest", None),
    "other linux": ("otherLinux64Guest", "otherLinuxGuest"),
    "other": ("otherGuest64", "otherGuest"),
}
ALIASES = {
    "linux": "other linux", "red hat enterprise linux": "rhel", "redhat": "rhel",
    "rocky": "rocky linux", "photon": "photon os", "ubuntu server": "ubuntu",
    "ubuntu desktop": "ubuntu", "suse linux enterprise server": "sles",
    "windows 2019": "windows server 2019", "windows 2022": "windows server 2022",
    "windows 2016": "windows server 2016", "windows 2012": "windows server 2012",
}
_BITS = {"64-bit": 64, "64bit": 64, "x64": 64, "amd64": 64, "x86_64": 64, "x86-64": 64,
         "32-bit": 32, "32bit": 32, "x86": 32, "i386": 32, "i686": 32}
_FILLER = {"lts", "edition", "guest", "os"}
_VERSION = re.compile(r"^\d+(\.\d+)*$")


def guest_id(name: str) -> str:
    """The vSphere guest id for a human OS name, or a guest id given as is."""
    known = _known_ids()
    exact = {i.lower(): i for i in known}.get(name.strip().lower())
    if exact is not None:
        return exact
    words, bits = _normalise(name)
    for candidate in _candidates(words):
        ids = GUESTS.get(candidate)
        if ids is not None:
            return _pick(name, ids, bits)
    raise InvalidInput(f"unknown guest OS {name!r}", hint=_suggestions(" ".join(words)))


def _known_ids() -> list[str]:
    vim, _ = sdk()

    return list(vim.vm.GuestOsDescriptor.GuestOsIdentifier.values)


def _normalise(name: str) -> tuple[list[str], int | None]:
    """Lowercase words without punctuation, and the bitness if the name said one."""
    bits: int | None = None
    words: list[str] = []
    for word in re.sub(r"[(),/]", " ", name.lower()).split():
        if word in _BITS:
            bits = _BITS[word]
        elif word not in _FILLER:
            words.append(word)
    return words, bits


def _candidates(words: list[str]) -> list[str]:
    """``debian 12.5`` -> ``debian 12.5``, ``debian 12``, ``debian``: most specific first."""
    found: list[str] = []
    text = " ".join(words)
    for form in (text, ALIASES.get(text, text)):
        found.append(form)
        parts = form.split()
        if parts and _VERSION.match(parts[-1]):
            major = parts[-1].split(".")[0]
            found.append(" ".join([*parts[:-1], major]))
            base = " ".join(parts[:-1])
            found.extend([base, ALIASES.get(base, base)])
    return found


def _pick(name: str, ids: tuple[str, str | None], bits: int | None) -> str:
    if bits == 32:
        if ids[1] is None:
            raise InvalidInput(f"there is no 32-bit {name!r} guest in vSphere",
                               hint="drop '32-bit' to get the 64-bit guest")
        return ids[1]
    return ids[0]


def _suggestions(text: str) -> str:
    close = difflib.get_close_matches(text, [*GUESTS, *ALIASES], n=3, cutoff=0.5)
    offer = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return f"{offer}or give a vSphere guest id such as ubuntu64Guest"


# --- ownership labels in the annotation --------------------------------------------------

LABEL_MARKER = "jupyter-virtwork-labels: "


def annotation_with_labels(labels: Mapping[str, str], notes: str = "") -> str:
    """``notes`` (the user's text) followed by one marker line carrying the labels."""
    kept = [line for line in notes.splitlines() if not line.startswith(LABEL_MARKER)]
    if labels:
        kept.append(LABEL_MARKER + json.dumps(dict(sorted(labels.items())),
                                              separators=(",", ":")))
    return "\n".join(kept)


def labels_from_annotation(annotation: str | None) -> dict[str, str]:
    """The labels on the last marker line; a hand-edited, broken line means none."""
    return dict(_parsed_labels(annotation)) if annotation else {}


# A list reads every VM's annotation, and the VMs of one notebook share theirs: parse each
# text once. Pairs, not a dict, so that no record's labels are another's.
@functools.lru_cache(maxsize=1024)
def _parsed_labels(annotation: str) -> tuple[tuple[str, str], ...]:
    for line in reversed(annotation.splitlines()):
        if line.startswith(LABEL_MARKER):
            try:
                value = json.loads(line[len(LABEL_MARKER):])
            except ValueError:
                return ()
            if isinstance(value, dict):
                return tuple((str(k), str(v)) for k, v in value.items())
            return ()
    return ()


# --- ConfigSpecs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a new VM goes (managed objects) and the names the govc line shows."""

    folder: Any
    pool: Any
    datastore: str
    network: Any | None  # a vim.Network or a distributed port group; None: no NIC
    host: Any | None = None


def memory_mb(memory: int) -> int:
    """vSphere counts memory in MB and wants a multiple of 4: round up, never down."""
    return int(math.ceil(memory / MiB / 4) * 4)


def disk_kb(disk: int) -> int:
    return math.ceil(disk / KiB)


def create_spec(spec: VMSpec, guest: str, placement: Placement, annotation: str) -> Any:
    """The ConfigSpec for CreateVM_Task: CPUs, memory, SCSI + thin disk, NIC, labels."""
    vim, _ = sdk()

    devices: list[Any] = []
    if spec.disk is not None:
        devices += [scsi_controller(), new_disk(spec.disk, placement.datastore)]
    if placement.network is not None:
        devices.append(nic(placement.network))
    return vim.vm.ConfigSpec(
        name=spec.name, guestId=guest, numCPUs=spec.cpus, memoryMB=memory_mb(spec.memory),
        annotation=annotation, deviceChange=devices,
        files=vim.vm.FileInfo(vmPathName=f"[{placement.datastore}]"))


SCSI_KEY = -100  # temporary keys: negative, unique within one spec
DISK_KEY = -101
NIC_KEY = -102


def scsi_controller() -> Any:
    vim, _ = sdk()

    controller = vim.vm.device.ParaVirtualSCSIController(
        key=SCSI_KEY, busNumber=0, sharedBus=vim.vm.device.VirtualSCSIController.Sharing.noSharing)
    return vim.vm.device.VirtualDeviceSpec(
        operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=controller)


def new_disk(size: int, datastore: str, controller_key: int = SCSI_KEY, unit: int = 0) -> Any:
    """A thin-provisioned disk: it takes space only as the guest writes."""
    vim, _ = sdk()

    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        diskMode="persistent", thinProvisioned=True, fileName=f"[{datastore}]")
    disk = vim.vm.device.VirtualDisk(key=DISK_KEY, controllerKey=controller_key, unitNumber=unit,
                                     capacityInKB=disk_kb(size), capacityInBytes=size,
                                     backing=backing)
    return vim.vm.device.VirtualDeviceSpec(
        operation=vim.vm.device.VirtualDeviceSpec.Operation.add,
        fileOperation=vim.vm.device.VirtualDeviceSpec.FileOperation.create, device=disk)


def nic(network: Any) -> Any:
    """A vmxnet3 card on ``network``; distributed port groups need a port backing."""
    vim, _ = sdk()

    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        port = vim.dvs.PortConnection(portgroupKey=network.key,
                                      switchUuid=network.config.distributedVirtualSwitch.uuid)
        backing: Any = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=port)
    else:
        backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            network=network, deviceName=network.name)
    card = vim.vm.device.VirtualVmxnet3(
        key=NIC_KEY, backing=backing, addressType="generated",
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True,
                                                             allowGuestControl=True))
    return vim.vm.device.VirtualDeviceSpec(
        operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=card)


def grow_disk(disk: Any, size: int) -> Any:
    """An edit of an existing VirtualDisk to ``size`` bytes (callers refuse shrinking)."""
    vim, _ = sdk()

    disk.capacityInKB = disk_kb(size)
    disk.capacityInBytes = size
    return vim.vm.device.VirtualDeviceSpec(
        operation=vim.vm.device.VirtualDeviceSpec.Operation.edit, device=disk)


def reconfig_spec(cpus: int | None, memory: int | None, devices: list[Any]) -> Any:
    vim, _ = sdk()

    return vim.vm.ConfigSpec(deviceChange=devices, numCPUs=cpus,
                             memoryMB=None if memory is None else memory_mb(memory))


def checked_sizes(cpus: int | str | None, memory: int | str | None,
                  disk: int | str | None) -> tuple[int | None, int | None, int | None]:
    """New CPUs, memory and disk (bytes) for a reconfigure, under VMSpec's own limits."""
    try:
        new_cpus = None if cpus is None else int(cpus)
    except (TypeError, ValueError):
        raise InvalidInput(f"CPUs {cpus!r} is not a whole number") from None
    new_memory = _bytes(memory, "memory")
    new_disk = _bytes(disk, "disk")
    # VMSpec holds the limits; the placeholder name and defaults only fill its other fields.
    VMSpec("reconfigure", cpus=1 if new_cpus is None else new_cpus,
           memory=512 * MiB if new_memory is None else new_memory, disk=new_disk)
    return new_cpus, new_memory, new_disk


def _bytes(value: int | str | None, what: str) -> int | None:
    """Bytes from an int, or from a human size whose bare number means GiB."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return parse_size(value, default_unit="G", what=what)


def disk_sizes(devices: list[Any]) -> list[int]:
    return [_capacity(d) for d in _disks(devices)]


def first_disk_label(devices: list[Any]) -> str | None:
    """The label of the disk ``disk_change`` changes ("Hard disk 1"); None: it has none."""
    disks = _disks(devices)
    return str(disks[0].deviceInfo.label) if disks else None


def _disks(devices: list[Any]) -> list[Any]:
    vim, _ = sdk()

    return [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]


def _capacity(disk: Any) -> int:
    return int(disk.capacityInBytes or (disk.capacityInKB or 0) * KiB)


def disk_change(vm_name: str, devices: list[Any], size: int, vm_path: str) -> list[Any]:
    """Device edits that give the VM a first disk of ``size`` bytes: grow the existing
    one (never shrink: the guest's filesystem would be cut), or add one."""
    disks = _disks(devices)
    if disks:
        current = _capacity(disks[0])
        if size < current:
            raise InvalidInput(f"the disk of VM {vm_name!r} is {format_size(current)}; "
                               "disks only grow", hint=f"give {format_size(current)} or more")
        return [] if size == current else [grow_disk(disks[0], size)]
    datastore = vm_path[1:vm_path.index("]")] if vm_path.startswith("[") else ""
    controller = _scsi_controller(devices)
    if controller is None:
        return [scsi_controller(), new_disk(size, datastore)]
    return [new_disk(size, datastore, controller_key=controller.key,
                     unit=_free_unit(devices, controller.key))]


def _scsi_controller(devices: list[Any]) -> Any | None:
    vim, _ = sdk()

    return next((d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)),
                None)


def _free_unit(devices: list[Any], controller_key: int) -> int:
    used = {d.unitNumber for d in devices if getattr(d, "controllerKey", None) == controller_key}
    return next(u for u in range(16) if u != 7 and u not in used)  # 7: the controller itself


def check_snapshot_name(name: str) -> str:
    """vSphere takes any text up to 80 characters; one line, so it lists cleanly."""
    if not name.strip() or len(name) > 80 or "\n" in name:
        raise InvalidInput(f"snapshot name {name!r} is not valid",
                           hint="use one line of text, up to 80 characters")
    return name


def govc_size(size: int) -> str:
    """govc's size flags read GB/MB/KB as binary units: 107374182400 -> '100GB'."""
    for unit, scale in (("GB", GiB), ("MB", MiB), ("KB", KiB)):
        if size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{math.ceil(size / KiB)}KB"
