"""The tiny bootable guest: Debian's kernel plus a ~1 MB busybox initramfs.

A real VM needs something to boot, and a disk image would be hundreds of MB. Instead the
guest is a kernel taken out of Debian's ``linux-image-amd64`` package (downloaded, never
installed) and an initramfs holding only ``busybox`` and an ``/init`` script that prints
``MARKER`` on the serial console. Tests and drivers boot it with ``domain_xml`` and know
the guest really ran when the marker shows up in the console log (``wait_for_marker``).

Both files are cached under ``paths.cache_dir("guest", GUEST_VERSION)``, so a machine
downloads and builds them once; bump ``GUEST_VERSION`` whenever the recipe changes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from . import apt, paths
from .report import say
from .system import SandboxError, run

GUEST_VERSION = "v1"
MARKER = "VIRTWORK-GUEST-READY"
KERNEL_PACKAGE = "linux-image-amd64"  # Debian's metapackage: depends on the current kernel
BUSYBOX = Path("/bin/busybox")  # from busybox-static: no shared libraries to copy
# The kernel parameter that makes the guest power off after the marker instead of idling.
POWEROFF_ARG = "virtwork.poweroff"
# Ownership label on every domain the sandbox creates (DESIGN.md: libvirt <metadata>).
METADATA_NS = "https://jupyter-virtwork.invalid/xmlns/sandbox/1"

# Printed on the console once a workload's script (``workload_guest``) has ended.
WORKLOAD_DONE = "VIRTWORK-WORKLOAD-DONE"
_BOOT = f"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "{MARKER} $(uname -r)"
"""
_IDLE = "while :; do sleep 3600; done\n"
INIT_SCRIPT = (_BOOT + f'case " $(cat /proc/cmdline) " in *" {POWEROFF_ARG} "*) poweroff -f ;; '
               "esac\n" + _IDLE)


@dataclass(frozen=True)
class GuestFiles:
    """What a domain needs to boot the tiny guest, and the line it prints once up."""

    kernel: Path
    initrd: Path
    marker: str = MARKER


def _guest_dir() -> Path:
    return paths.cache_dir("guest", GUEST_VERSION)


def cached_guest() -> GuestFiles | None:
    """The guest if it was built already; cheap, for ``status``."""
    files = GuestFiles(_guest_dir() / "vmlinuz", _guest_dir() / "initrd.img")
    return files if files.kernel.is_file() and files.initrd.is_file() else None


def guest_files() -> GuestFiles:
    """The tiny guest, downloading the kernel and building the initramfs on first use."""
    files = cached_guest()
    if files is not None:
        return files
    if not BUSYBOX.is_file():
        raise SandboxError(f"guest: {BUSYBOX} is missing; install busybox-static "
                           "(`python -m jupyter_virtwork.sandbox up libvirt` does)")
    target = _guest_dir()
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Write beside the final names and rename last, so a crash never leaves half a guest
    # that cached_guest() would take for a whole one.
    _write_initrd(target / "initrd.img.part")
    _fetch_kernel(target / "vmlinuz.part")
    (target / "initrd.img.part").replace(target / "initrd.img")
    (target / "vmlinuz.part").replace(target / "vmlinuz")
    say("libvirt", f"guest built in {time.monotonic() - started:.1f} s in {target}")
    files = cached_guest()
    assert files is not None
    return files


def workload_guest(script: str) -> GuestFiles:
    """The tiny guest whose /init, once it printed the marker, runs ``script`` (busybox sh,
    output on the serial console), prints ``WORKLOAD_DONE`` and idles.

    For measuring inside a guest (a CPU loop, running out of memory) without a disk or a
    network: the script is the only way in. The initramfs is cached by the script's hash
    beside the guest's own, with the same kernel and busybox.
    """
    base = guest_files()
    digest = hashlib.sha256(script.encode()).hexdigest()[:16]
    initrd = _guest_dir() / "workloads" / f"{digest}.img"
    if not initrd.is_file():
        initrd.parent.mkdir(parents=True, exist_ok=True)
        # A private name first, renamed last: two processes building the same workload
        # at once each write their own file, and the rename is atomic.
        part = initrd.with_name(f"{digest}.{os.getpid()}.part")
        _write_initrd(part, _BOOT + script.rstrip("\n") + f'\necho "{WORKLOAD_DONE}"\n'
                      + _IDLE)
        part.replace(initrd)
    return GuestFiles(base.kernel, initrd)


def _kernel_package() -> str:
    """The versioned kernel package the metapackage points at (linux-image-6.1.0-N-amd64)."""
    output = run(["apt-cache", "depends", "--important", KERNEL_PACKAGE])
    for line in output.splitlines():
        kind, _, name = line.strip().partition(": ")
        if kind == "Depends" and name.startswith("linux-image-"):
            return name
    raise SandboxError(f"guest: no kernel package found behind {KERNEL_PACKAGE}:\n{output}")


def _fetch_kernel(dest: Path) -> None:
    """Download the kernel .deb (not installing it) and take only its vmlinuz."""
    package = _kernel_package()
    say("libvirt", f"guest: downloading {package} (kernel only, not installed)")
    with tempfile.TemporaryDirectory(prefix="virtwork-kernel-") as tmp:
        # apt drops privileges to _apt for downloads: let it write here.
        Path(tmp).chmod(0o777)
        apt.download(package, into=Path(tmp), engine="libvirt")
        debs = sorted(Path(tmp).glob("*.deb"))
        if not debs:
            raise SandboxError(f"guest: apt-get download {package} produced no .deb")
        _extract_vmlinuz(debs[0], dest)


def _extract_vmlinuz(deb: Path, dest: Path) -> None:
    # Stream the package's tar and keep one member: unpacking the whole .deb would write
    # ~400 MB of modules the guest never loads.
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            for member in archive:
                if member.isfile() and member.name.lstrip("./").startswith("boot/vmlinuz-"):
                    source = archive.extractfile(member)
                    assert source is not None
                    with open(dest, "wb") as out:
                        shutil.copyfileobj(source, out)
                    break
        proc.stdout.read()  # drain, so dpkg-deb exits cleanly rather than on SIGPIPE
    if proc.returncode != 0 or not dest.is_file():
        raise SandboxError(f"guest: no boot/vmlinuz-* in {deb.name}")


def _write_initrd(dest: Path, init_script: str = INIT_SCRIPT) -> None:
    """A gzip'd newc cpio: the kernel unpacks it as the root file system and runs /init."""
    archive = _Cpio()
    for directory in ("bin", "dev", "proc", "sys"):
        archive.add(directory, 0o040755)
    archive.add("bin/busybox", 0o100755, BUSYBOX.read_bytes())
    archive.add("bin/sh", 0o120777, b"busybox")
    # The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
    archive.add("dev/console", 0o020600, rdev=(5, 1))
    archive.add("init", 0o100755, init_script.encode())
    # mtime=0: the same inputs give the same bytes.
    dest.write_bytes(gzip.compress(archive.finish(), compresslevel=9, mtime=0))


class _Cpio:
    """A minimal writer of the "newc" cpio format the kernel reads (no root needed for
    device nodes, unlike ``mknod`` + ``cpio -o``)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._inode = 0

    def add(self, name: str, mode: int, content: bytes = b"",
            rdev: tuple[int, int] = (0, 0)) -> None:
        self._inode += 1
        encoded = name.encode() + b"\0"
        nlink = 2 if mode & 0o040000 else 1
        fields = (self._inode, mode, 0, 0, nlink, 0, len(content), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self._data += b"070701" + b"".join(b"%08X" % value for value in fields) + encoded
        self._pad()
        self._data += content
        self._pad()

    def _pad(self) -> None:
        self._data += b"\0" * (-len(self._data) % 4)

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return bytes(self._data)


def domain_xml(name: str, files: GuestFiles, console_log: Path, *, domain_type: str = "qemu",
               memory_mib: int = 128, poweroff: bool = False) -> str:
    """A libvirt domain that boots the tiny guest with its serial console in ``console_log``.

    No disk and no network: nothing of it can reach outside the machine. ``domain_type``
    is ``qemu`` (TCG, works everywhere) or ``kvm``. On reboot, crash or power-off the
    domain stops instead of looping (``panic=-1`` turns a guest panic into a reboot).
    """
    cmdline = "console=ttyS0 panic=-1" + (f" {POWEROFF_ARG}" if poweroff else "")
    return f"""<domain type='{escape(domain_type)}'>
  <name>{escape(name)}</name>
  <metadata><vw:owner xmlns:vw='{METADATA_NS}'>sandbox</vw:owner></metadata>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>{escape(str(files.kernel))}</kernel>
    <initrd>{escape(str(files.initrd))}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/></features>  <!-- without it libvirt passes -no-acpi: no power-off -->
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='{escape(str(console_log))}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
</domain>
"""


def wait_for_marker(console_log: Path, marker: str = MARKER, *, timeout: float = 60.0) -> bool:
    """True once ``marker`` appears in the console log, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if marker.encode() in console_log.read_bytes():
                return True
        except OSError:
            pass  # QEMU has not created the file yet
        time.sleep(0.2)
    return False
