"""Domain XML for libvirt, rendered from a ``DomainPlan``: pure, no SDK import.

One plan renders for the hypervisor behind the connection:

    qemu / kvm   QEMU full virtualisation (``type='qemu'`` is TCG emulation, ``'kvm'`` needs a
                 working /dev/kvm), virtio disk, serial console on a pty with a log file
    xen (pv)     a paravirtualised guest: ``<type>xen</type>``, a kernel or a bootloader,
                 ``xvda`` on the Xen bus, the Xen console
    xen (hvm)    a fully virtualised guest on Xen: hvmloader, emulated IDE disk, serial
    test         libvirt's in-process test driver (the same devices as QEMU; it stores them)

Ownership travels in ``<metadata>`` under ``labels.XML_NAMESPACE``: one ``owner`` element
holding the labels, the guest OS as the user named it, the volume the toolkit created for
the disk (so delete removes exactly that) and the console log. Known OS names are also
written as libosinfo's element, which virt-manager and virt-install read.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from ...labels import XML_NAMESPACE

OSINFO_NAMESPACE = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
DOMAIN_TYPES = ("qemu", "kvm", "xen", "test")
XEN_MODES = ("pv", "hvm")
# Xen PV guests without a kernel of their own boot through a bootloader in dom0.
XEN_PV_BOOTLOADER = "/usr/lib/xen/bin/pygrub"
XEN_HVM_LOADER = "/usr/lib/xen/boot/hvmloader"


@dataclass(frozen=True)
class Volume:
    """A storage volume the toolkit created for a domain (and removes with it)."""

    pool: str
    name: str


@dataclass(frozen=True)
class DomainPlan:
    """Everything the XML needs, already validated (``VMSpec``) and resolved (paths)."""

    name: str
    domain_type: str  # one of DOMAIN_TYPES
    vcpus: int
    memory: int  # bytes
    guest_os: str = "other linux"
    labels: Mapping[str, str] = field(default_factory=dict)
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    disk: str | None = None  # the disk's path on the libvirt host
    disk_format: str = "qcow2"
    volume: Volume | None = None  # the toolkit-owned volume behind ``disk``
    console_log: str | None = None  # where the serial console is written on the host
    network: str | None = None  # a libvirt network name
    xen_mode: str = "hvm"  # "pv" or "hvm"; only for domain_type "xen"
    seclabel: str | None = None  # a static DAC label such as "+0:+0"

    @property
    def xen_pv(self) -> bool:
        return self.domain_type == "xen" and self.xen_mode == "pv"


@dataclass(frozen=True)
class Owner:
    """What ``<metadata>`` says about a domain we created."""

    labels: dict[str, str] = field(default_factory=dict)
    guest_os: str = ""
    volumes: tuple[Volume, ...] = ()
    console_log: str | None = None


# --- rendering ----------------------------------------------------------------------------


def domain_xml(plan: DomainPlan) -> str:
    """The ``<domain>`` document for ``plan``."""
    if plan.domain_type not in DOMAIN_TYPES:
        raise ValueError(f"domain type {plan.domain_type!r} is not one of {DOMAIN_TYPES}")
    if plan.xen_mode not in XEN_MODES:
        raise ValueError(f"Xen mode {plan.xen_mode!r} is not one of {XEN_MODES}")
    root = ET.Element("domain", type=plan.domain_type)
    _text(root, "name", plan.name)
    root.append(metadata(plan))
    _text(root, "memory", str(-(-plan.memory // 1024)), unit="KiB")  # round up to KiB
    _text(root, "vcpu", str(plan.vcpus), placement="static")
    if plan.xen_pv and not plan.kernel:
        _text(root, "bootloader", XEN_PV_BOOTLOADER)  # PV guests cannot boot a disk alone
    root.append(_os(plan))
    features = ET.SubElement(root, "features")
    # ACPI lets a graceful shutdown reach the guest (without it QEMU gets -no-acpi).
    for feature in ("acpi", "apic") if not plan.xen_pv else ():
        ET.SubElement(features, feature)
    if plan.domain_type == "kvm":
        ET.SubElement(root, "cpu", mode="host-passthrough")
    _text(root, "on_poweroff", "destroy")
    _text(root, "on_reboot", "restart")
    _text(root, "on_crash", "destroy")
    root.append(_devices(plan))
    if plan.seclabel:
        label = ET.SubElement(root, "seclabel", type="static", model="dac", relabel="no")
        _text(label, "label", plan.seclabel)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def metadata(plan: DomainPlan) -> ET.Element:
    """``<metadata>`` with our owner element and, for known OS names, libosinfo's."""
    element = ET.Element("metadata")
    # Literal prefixed tags with their xmlns on the element itself: libvirt keeps each
    # metadata child as a separate document, so the namespace must be declared on it.
    owner = ET.SubElement(element, "vw:owner", {"xmlns:vw": XML_NAMESPACE,
                                                "os": plan.guest_os})
    for key, value in sorted(plan.labels.items()):
        _text(owner, "vw:label", value, name=key)
    if plan.volume is not None:
        ET.SubElement(owner, "vw:volume", pool=plan.volume.pool, name=plan.volume.name)
    if plan.console_log:
        _text(owner, "vw:console", plan.console_log)
    os_id = osinfo_id(plan.guest_os)
    if os_id is not None:
        osinfo = ET.SubElement(element, "libosinfo:libosinfo",
                               {"xmlns:libosinfo": OSINFO_NAMESPACE})
        ET.SubElement(osinfo, "libosinfo:os", id=os_id)
    return element


def _os(plan: DomainPlan) -> ET.Element:
    element = ET.Element("os")
    if plan.xen_pv:
        _text(element, "type", "xen", arch="x86_64", machine="xenpv")
    elif plan.domain_type == "xen":
        _text(element, "type", "hvm", arch="x86_64", machine="xenfv")
        _text(element, "loader", XEN_HVM_LOADER, type="rom")
    else:
        _text(element, "type", "hvm", arch="x86_64")
    if plan.kernel:
        _text(element, "kernel", plan.kernel)
        if plan.initrd:
            _text(element, "initrd", plan.initrd)
        _text(element, "cmdline", _cmdline(plan))
    elif not plan.xen_pv:
        ET.SubElement(element, "boot", dev="hd")
    return element


def _cmdline(plan: DomainPlan) -> str:
    """The kernel command line, with the console the hypervisor gives this guest."""
    console = "console=hvc0" if plan.xen_pv else "console=ttyS0"
    words = plan.cmdline.split()
    if plan.xen_pv:
        words = [w for w in words if not w.startswith("console=ttyS")]
    return " ".join(words if any(w.startswith("console=") for w in words)
                    else [console, *words])


def _devices(plan: DomainPlan) -> ET.Element:
    devices = ET.Element("devices")
    if plan.disk:
        devices.append(_disk(plan))
    if plan.network:
        interface = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(interface, "source", network=plan.network)
        if plan.domain_type != "xen":
            ET.SubElement(interface, "model", type="virtio")
    devices.extend(_console(plan))
    if plan.domain_type in ("qemu", "kvm"):
        # A balloon lets memory shrink on a running guest (reconfigure, live).
        ET.SubElement(devices, "memballoon", model="virtio")
    return devices


def _disk(plan: DomainPlan) -> ET.Element:
    disk = ET.Element("disk", type="file", device="disk")
    # Xen's qdisk backend is QEMU too: name='qemu' is right for qcow2 on every hypervisor.
    ET.SubElement(disk, "driver", name="qemu", type=plan.disk_format)
    ET.SubElement(disk, "source", file=plan.disk or "")
    if plan.xen_pv:
        ET.SubElement(disk, "target", dev="xvda", bus="xen")
    elif plan.domain_type == "xen":
        ET.SubElement(disk, "target", dev="hda", bus="ide")  # no PV drivers needed to boot
    else:
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
    return disk


def _console(plan: DomainPlan) -> list[ET.Element]:
    """The guest's console, written to ``console_log`` so a cell can show it booting.

    QEMU: a pty (``virsh console`` still works) whose output virtlogd also writes to the
    log. Xen: the log file is the console itself (libxl has no pty logging).
    """
    if plan.domain_type == "xen":
        kind = "console" if plan.xen_pv else "serial"
        element = ET.Element(kind, type="file" if plan.console_log else "pty")
        if plan.console_log:
            ET.SubElement(element, "source", path=plan.console_log)
        ET.SubElement(element, "target", {"type": "xen", "port": "0"} if plan.xen_pv
                      else {"port": "0"})
        return [element]
    serial = ET.Element("serial", type="pty")
    if plan.console_log:
        ET.SubElement(serial, "log", file=plan.console_log, append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.Element("console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    return [serial, console]


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


# --- reading ------------------------------------------------------------------------------


def parse_owner(text: str) -> Owner:
    """Our ``owner`` element, as ``virDomainGetMetadata`` returns it (prefixes stripped)."""
    owner = _parse_owner(text)
    return dataclasses.replace(owner, labels=dict(owner.labels))  # the caller's own labels


# A list reads every domain's metadata, the same text list after list: parsing it was a
# sixth of the driver's list time (benchmarks/bench_libvirt.py).
@functools.lru_cache(maxsize=4096)
def _parse_owner(text: str) -> Owner:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return Owner()  # someone else's hand-edited metadata: no labels, not ours
    labels = {str(child.get("name")): child.text or ""
              for child in root if _local(child.tag) == "label" and child.get("name")}
    volumes = tuple(Volume(str(child.get("pool")), str(child.get("name")))
                    for child in root
                    if _local(child.tag) == "volume" and child.get("pool") and child.get("name"))
    console = next((child.text for child in root if _local(child.tag) == "console"), None)
    return Owner(labels, root.get("os", ""), volumes, console or None)


@dataclass(frozen=True)
class DiskSource:
    """Where one of a domain's disks lives: a file or block device, or a pool's volume."""

    path: str | None = None
    pool: str | None = None
    volume: str | None = None


def disk_sources(domain: str) -> list[DiskSource]:
    """The sources of a domain's disks (not its CD-ROMs), in device order; a disk with no
    source (an empty drive) is left out."""
    found = []
    for disk in ET.fromstring(domain).iterfind("devices/disk[@device='disk']"):
        source = disk.find("source")
        if source is None:
            continue
        path = source.get("file") or source.get("dev")
        if path or (source.get("pool") and source.get("volume")):
            found.append(DiskSource(path, source.get("pool"), source.get("volume")))
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


# --- guest OS names -------------------------------------------------------------------------

# "ubuntu 18.04" -> libosinfo's id. Families whose ids follow one pattern; the rest of
# libosinfo's database is not needed to define a domain, so unknown names stay unknown.
_OSINFO_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^ubuntu[ -]?(\d{2}\.\d{2})$"), "http://ubuntu.com/ubuntu/{0}"),
    (re.compile(r"^debian[ -]?(\d{1,2})$"), "http://debian.org/debian/{0}"),
    (re.compile(r"^fedora[ -]?(\d{1,2})$"), "http://fedoraproject.org/fedora/{0}"),
    (re.compile(r"^centos[ -]?(\d)$"), "http://centos.org/centos/{0}.0"),
    (re.compile(r"^(?:rhel|red hat enterprise linux)[ -]?(\d\.\d+)$"),
     "http://redhat.com/rhel/{0}"),
    (re.compile(r"^alpine[ -]?(3\.\d+)$"), "http://alpinelinux.org/alpinelinux/{0}"),
    (re.compile(r"^windows[ -]?(10|11)$"), "http://microsoft.com/win/{0}"),
)


def osinfo_id(guest_os: str) -> str | None:
    """libosinfo's id for a guest OS name, or None when the name is not one we know."""
    name = " ".join(guest_os.lower().split())
    for pattern, template in _OSINFO_PATTERNS:
        match = pattern.match(name)
        if match:
            return template.format(*match.groups())
    return None
