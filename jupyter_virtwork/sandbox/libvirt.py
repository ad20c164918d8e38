"""libvirt with QEMU (``qemu:///system``), its ``virtwork`` storage pool and the tiny guest.

Debian's packages give libvirtd, QEMU and the drivers; nothing starts them (no systemd),
so ``start`` runs ``virtlogd`` and ``libvirtd`` as pid-file daemons. A libvirtd that was
already answering before ``up`` is used as it is and never stopped. ``test:///default``
(libvirt's in-process fake hypervisor) needs no daemon at all, only libvirt-python.

KVM: this machine kind has a ``/dev/kvm`` that libvirt happily advertises but that hangs
stock guests (PVM-only host), so whether KVM works is found out by booting the tiny guest
with ``type='kvm'`` once; the verdict is cached in the state dir and shown by ``status``.
"""

from __future__ import annotations

import contextlib
import grp
import importlib.util
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from . import apt, guest, paths, process, user_config
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, pip_install, which

URI = "qemu:///system"
TEST_URI = "test:///default"
POOL = "virtwork"
PACKAGES = (
    "libvirt-daemon-system", "libvirt-daemon-driver-qemu", "libvirt-clients",
    "qemu-system-x86", "qemu-utils", "dnsmasq-base",
    "libvirt-dev", "pkg-config",  # to compile libvirt-python
    "cpio", "busybox-static",  # the tiny guest
    # Xen work can only be checked here as XML (virt-xml-validate) and by the clear error
    # that xen:///system gives without a Xen hypervisor: both need these.
    "libvirt-daemon-driver-xen", "libxml2-utils",
)
START_TIMEOUT = 30.0
# A KVM guest prints its marker in ~1 s; TCG needs ~9 s. 20 s tolerates a busy machine
# without spending long on a KVM that hangs; the probe runs once per machine.
KVM_PROBE_TIMEOUT = 20.0
KVM_PROBE_DOMAIN = "virtwork-kvm-probe"


def _libvirt() -> Any:
    """The libvirt-python module, with its default error printer silenced.

    libvirt prints every error to stderr on top of raising it; ``status --json`` must
    stay clean, and the raised ``libvirtError`` already carries the message.
    """
    import libvirt  # untyped: pyproject.toml tells mypy to ignore its missing stubs

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


def _version(number: int) -> str:
    """libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release."""
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"


def _kvm_file() -> Path:
    return paths.state_dir("libvirt", "kvm.json")


def _kvm_verdict() -> dict[str, Any]:
    try:
        verdict: dict[str, Any] = json.loads(_kvm_file().read_text())
        return verdict
    except (OSError, ValueError):
        return {"kvm": False, "reason": "not probed yet (`up libvirt` probes once)"}


def write_user_config() -> None:
    """What the toolkit reads instead of the sandbox: qemu:///system needs no entry (the
    default where libvirtd listens); the KVM verdict and the tiny guest's directory do."""
    files = guest.guest_files()
    user_config.write_connections("libvirt", {
        "libvirt": {"domain_type": "kvm" if _kvm_verdict().get("kvm") else "qemu"},
        "guest": {"dir": str(files.kernel.parent)}})


class LibvirtEngine(Engine):
    name = "libvirt"

    def install(self) -> None:
        apt.install(PACKAGES, engine=self.name)
        if importlib.util.find_spec("libvirt") is None:
            pip_install(["libvirt-python"], engine=self.name)  # compiles, ~16 s
            importlib.invalidate_caches()
        guest.guest_files()

    def start(self) -> None:
        if process.running_pid("libvirtd") is None and self._answers():
            say(self.name, f"using the libvirtd already answering on {URI}")
        else:
            self._start_daemons()
        conn = _libvirt().open(URI)
        try:
            self._ensure_pool(conn)
            if not _kvm_file().exists():
                self._probe_kvm(conn)
        finally:
            conn.close()
        write_user_config()

    def _start_daemons(self) -> None:
        _kvm_device_like_udev()
        for daemon in ("virtlogd", "libvirtd"):
            program = which(daemon, f"/usr/sbin/{daemon}")
            if program is None:
                raise SandboxError(f"libvirt: {daemon} is missing; run `up libvirt`")
            say(self.name, f"starting {daemon}")
            # Foreground mode (no --daemon): the pid file must name the process that runs.
            process.start_daemon(daemon, [program])
        process.wait_until(self._answers, timeout=START_TIMEOUT, what=f"libvirtd on {URI}",
                           daemon="libvirtd")

    def _answers(self) -> bool:
        try:
            _libvirt().open(URI).close()
        except Exception:  # noqa: BLE001 - no module, no socket, no daemon: all mean "no"
            return False
        return True

    def _ensure_pool(self, conn: Any) -> None:
        """The project's dir pool for qcow2 volumes: defined, built, active, autostarted."""
        libvirt = _libvirt()
        try:
            pool = conn.storagePoolLookupByName(POOL)
        except libvirt.libvirtError:
            target = paths.state_dir("libvirt", "pool")
            say(self.name, f"defining storage pool {POOL} in {target}")
            pool = conn.storagePoolDefineXML(
                f"<pool type='dir'><name>{POOL}</name>"
                f"<target><path>{target}</path></target></pool>", 0)
        if not pool.isActive():
            pool.build(0)  # (re)creates the directory if someone removed it; harmless if not
            pool.create(0)
        if not pool.autostart():
            pool.setAutostart(1)

    def _probe_kvm(self, conn: Any) -> None:
        """Boot the guest once with type='kvm'; KVM is usable only if it reaches the marker."""
        say(self.name, f"probing KVM: booting the tiny guest (up to {KVM_PROBE_TIMEOUT:.0f} s)")
        started = time.monotonic()
        usable, reason = self._boot_kvm(conn)
        verdict = {"kvm": usable, "reason": reason, "probed_at": time.time(),
                   "seconds": round(time.monotonic() - started, 1)}
        _kvm_file().write_text(json.dumps(verdict) + "\n")
        say(self.name, f"KVM {'usable' if usable else 'not usable'}: {reason}")

    def _boot_kvm(self, conn: Any) -> tuple[bool, str]:
        if not Path("/dev/kvm").exists():
            return False, "no /dev/kvm"
        libvirt = _libvirt()
        files = guest.guest_files()
        log = paths.state_dir("libvirt", "kvm-probe-console.log")
        log.unlink(missing_ok=True)
        _destroy_leftover(conn, KVM_PROBE_DOMAIN)
        xml = guest.domain_xml(KVM_PROBE_DOMAIN, files, log, domain_type="kvm", poweroff=True)
        started = time.monotonic()
        try:
            # Transient: destroying it removes it, so a probe leaves nothing defined.
            conn.createXML(xml, 0)
        except libvirt.libvirtError as exc:
            return False, f"libvirt refused a type='kvm' domain: {exc.get_error_message()}"
        try:
            booted = guest.wait_for_marker(log, files.marker, timeout=KVM_PROBE_TIMEOUT)
        finally:
            _destroy_leftover(conn, KVM_PROBE_DOMAIN)
        if booted:
            return True, f"the guest booted with type='kvm' in {time.monotonic() - started:.1f} s"
        return False, (f"/dev/kvm exists but the guest printed nothing in "
                       f"{KVM_PROBE_TIMEOUT:.0f} s with type='kvm' (a PVM-only host?); "
                       "use type='qemu'")

    def stop(self) -> None:
        # Only our daemons; QEMU processes of running domains outlive libvirtd by design,
        # and the domains, pool and volumes stay defined for the next `up`.
        for daemon in ("libvirtd", "virtlogd"):
            if process.stop_daemon(daemon):
                say(self.name, f"stopped {daemon}")

    def status(self) -> EngineStatus:
        files = guest.cached_guest()
        verdict = _kvm_verdict()
        extra: dict[str, Any] = {
            "uri": URI, "test_uri": TEST_URI, "pool": POOL,
            "guest_kernel": str(files.kernel) if files else "",
            "guest_initrd": str(files.initrd) if files else "",
            "guest_marker": guest.MARKER,
            "kvm": bool(verdict.get("kvm")), "kvm_reason": str(verdict.get("reason", "")),
            "started_by_us": process.running_pid("libvirtd") is not None,
        }
        try:
            conn = _libvirt().open(URI)
            try:
                version = _version(conn.getLibVersion())
                extra["qemu_version"] = _version(conn.getVersion())
                extra["pool_active"] = _pool_active(conn)
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - status never raises: say why instead
            return EngineStatus(self.name, False, URI, detail=_why_not(exc), extra=extra)
        return EngineStatus(self.name, True, URI, version=version, extra=extra)


def _kvm_device_like_udev() -> None:
    """Give /dev/kvm the group and mode udev gives it on Debian (root:kvm 0660).

    Without udev it stays root-only (0600). libvirtd then judges KVM unusable for its QEMU
    user (libvirt-qemu, in group kvm) while its QEMU capability probe finds KVM enabled;
    that mismatch invalidates the capability cache on every call, so each getCapabilities
    or defineXML re-runs the QEMU probes (~8 s each, 40 s for the first domain). KVM still
    does not boot guests here; this only makes libvirt's view of it consistent.
    """
    device = Path("/dev/kvm")
    try:
        kvm_gid = grp.getgrnam("kvm").gr_gid
        info = device.stat()
    except (KeyError, OSError):
        return  # no kvm group or no /dev/kvm: nothing for libvirt to disagree about
    if info.st_gid == 0 and stat.S_IMODE(info.st_mode) == 0o600:
        os.chown(device, -1, kvm_gid)
        device.chmod(0o660)


def _pool_active(conn: Any) -> bool:
    try:
        return bool(conn.storagePoolLookupByName(POOL).isActive())
    except Exception:  # noqa: BLE001 - a missing pool is a status fact, not an error
        return False


def _why_not(exc: Exception) -> str:
    if isinstance(exc, ImportError):
        return "libvirt-python is not installed (`up libvirt` installs it)"
    return f"{URI} does not answer (`up libvirt` starts it): {exc}"


def _destroy_leftover(conn: Any, name: str) -> None:
    """Destroy (and so remove, it is transient) a probe domain if it still runs."""
    # Already gone is fine: the guest powered itself off, or it never started.
    with contextlib.suppress(_libvirt().libvirtError):
        conn.lookupByName(name).destroy()
