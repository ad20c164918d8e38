"""vSphere for the sandbox: govmomi's simulator (vcsim) in vCenter and ESXi modes.

Debian packages govmomi's ``simulator`` Go library but no vcsim command, so ``install``
builds the small main package shipped beside this module (``vcsim/main.go``) offline, once
per machine: the binary is cached under a hash of main.go and the Go/govmomi versions, so a
change to either rebuilds it.

``start`` runs two daemons on loopback, each serving https with its own fresh self-signed
certificate (the simulator's built-in one is Go's public test certificate, a 1024-bit RSA
key that OpenSSL 3 rejects and whose private key is in the Go source). The certificate is
exported next to the credentials so clients verify TLS for real with ``cafile=``:

- ``vcsim``     https://127.0.0.1:8989/sdk, vCenter: 1 datacenter, 1 cluster of 3 hosts,
  1 standalone host, 4 VMs, 1 datastore;
- ``vcsim-esx`` https://127.0.0.1:8990/sdk, a standalone ESXi host with 2 VMs.

The login is generated once per sandbox (state dir, 0600) and reaches the daemon through
that file, never argv; ``status`` names the file, never the password.
``start_instance`` starts further instances, e.g. the 1000-VM benchmark inventory.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import apt, paths, process, user_config
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, pip_install, run

NAME = "vcsim"
ESX_NAME = "vcsim-esx"
HOST = "127.0.0.1"
PORT = 8989
ESX_PORT = 8990
USERNAME = "virtwork@vsphere.local"
PACKAGES = ("golang-go", "golang-github-vmware-govmomi-dev")
SOURCE = Path(__file__).with_name("vcsim") / "main.go"
# The simulator's VMs run nothing; should container backing ever be touched, use the
# sandbox's local image instead of pulling busybox from Docker Hub (no internet here).
BUSYBOX = "localbase/busybox:1.35"
START_TIMEOUT = 120.0  # the 1000-VM inventory takes a few seconds to create


@dataclass(frozen=True)
class Inventory:
    """Object counts of a vCenter-mode inventory (vcsim's -dc/-cluster/-ch/-host/-vm/-ds).

    VMs are per resource pool: each cluster and each standalone host has one.
    """

    datacenters: int = 1
    clusters: int = 1
    cluster_hosts: int = 3
    standalone_hosts: int = 1
    vms: int = 2
    datastores: int = 1

    def args(self) -> list[str]:
        return ["-dc", str(self.datacenters), "-cluster", str(self.clusters),
                "-ch", str(self.cluster_hosts), "-host", str(self.standalone_hosts),
                "-vm", str(self.vms), "-ds", str(self.datastores)]


DEFAULT_INVENTORY = Inventory()
# benchmarks: 4 clusters x 250 VMs = 1000 VMs (ENGINES.md: -dc 1 -cluster 4 -ch 5 -host 0 -vm 250)
BENCHMARK_INVENTORY = Inventory(clusters=4, cluster_hosts=5, standalone_hosts=0, vms=250)


@dataclass(frozen=True)
class Instance:
    """One running simulator and what a client needs to reach it (no password)."""

    name: str
    port: int
    esx: bool

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/sdk"

    @property
    def cafile(self) -> Path:
        return paths.state_dir(NAME, f"{self.name}.pem")


# --- build ---------------------------------------------------------------------------------

def _package_versions() -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Package}=${Version};", *PACKAGES],
                          capture_output=True, text=True, check=False)
    return proc.stdout


def binary_path() -> Path:
    """Where the binary for this main.go and these Go/govmomi versions is (or will be)."""
    digest = hashlib.sha256(SOURCE.read_bytes() + _package_versions().encode()).hexdigest()
    return paths.cache_dir(NAME, digest[:16], "vcsim")


def build() -> Path:
    """``go build`` offline against Debian's Go sources; a no-op when cached."""
    binary = binary_path()
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    say(NAME, "building the simulator from govmomi's Go sources (~35 s, once per machine)")
    env = {"GOPATH": f"{paths.cache_dir(NAME, 'gopath')}:/usr/share/gocode",
           "GOCACHE": str(paths.cache_dir(NAME, "gocache")),
           "GO111MODULE": "off", "GOPROXY": "off", "GOFLAGS": ""}
    partial = binary.with_name(f".vcsim-{os.getpid()}")
    # Built beside the target and renamed: a concurrent `up` never runs half a binary.
    run(["go", "build", "-o", str(partial), "."], cwd=SOURCE.parent, env=env,
        log=paths.cache_dir(NAME, "build.log"), timeout=1800)
    partial.replace(binary)
    return binary


# --- credentials ---------------------------------------------------------------------------

def credentials_file() -> Path:
    return paths.state_dir(NAME, "credentials.json")


def _ensure_credentials() -> Path:
    """Generate the sandbox's login once; later starts reuse it so clients keep working."""
    path = credentials_file()
    try:
        if json.loads(path.read_text()).get("password"):
            return path
    except (OSError, ValueError):
        pass
    login = {"username": USERNAME, "password": secrets.token_urlsafe(24)}
    return paths.private_file(path, json.dumps(login) + "\n")


def credentials() -> tuple[str, str]:
    """(username, password) for tests and drivers; callers must not print the password."""
    login = json.loads(credentials_file().read_text())
    return str(login["username"]), str(login["password"])


def _username() -> str:
    try:
        return str(json.loads(credentials_file().read_text())["username"])
    except (OSError, ValueError, KeyError):
        return ""


# --- instances -----------------------------------------------------------------------------

def ssl_context(instance: Instance) -> ssl.SSLContext:
    """A verifying context that trusts exactly this instance's certificate."""
    return ssl.create_default_context(cafile=str(instance.cafile))


def start_instance(name: str, port: int, *, esx: bool = False,
                   inventory: Inventory = DEFAULT_INVENTORY) -> Instance:
    """Start (or find running) simulator ``name`` on 127.0.0.1:``port``; wait for a login.

    Names start with "vcsim" so that ``stop`` finds every instance by its pid file.
    ``inventory`` applies to vCenter mode; ESXi mode has one host, one datastore, 2 VMs.
    """
    if not name.startswith(NAME):
        raise ValueError(f"vcsim instance names start with {NAME!r}: {name!r}")
    instance = Instance(name, port, esx)
    if process.running_pid(name) is None:
        _launch(instance, inventory)
    process.wait_until(lambda: _can_log_in(instance), timeout=START_TIMEOUT,
                       what=f"{name} login on {instance.url}", daemon=name)
    return instance


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _launch(instance: Instance, inventory: Inventory) -> None:
    # Someone else's server on our port: say so plainly rather than show the daemon's panic.
    if not _port_free(instance.port):
        raise SandboxError(f"{instance.name}: {HOST}:{instance.port} is in use by a process "
                           "the sandbox did not start; stop it or free the port")
    # The daemon writes its certificate once it listens; a stale one would pass for ready.
    instance.cafile.unlink(missing_ok=True)
    # Datastore directories go to TMPDIR; ours, so a killed daemon's leftovers are found.
    tmp = paths.state_dir(NAME, "datastores", instance.name)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [str(build()), "-listen", f"{HOST}:{instance.port}",
           "-credentials", str(_ensure_credentials()), "-cert-out", str(instance.cafile)]
    cmd += ["-esx"] if instance.esx else inventory.args()
    env = {"TMPDIR": str(tmp), "VCSIM_BUSYBOX": BUSYBOX}
    say(NAME, f"starting {instance.name} on {instance.url}")
    process.start_daemon(instance.name, cmd, env=env)


def _can_log_in(instance: Instance) -> bool:
    """The readiness probe: a real pyvmomi login over verified TLS."""
    if not instance.cafile.exists():
        return False
    from pyVim.connect import Disconnect, SmartConnect

    user, password = credentials()
    # pyVim.connect has no annotations; the two calls are checked by the tests instead.
    si = SmartConnect(  # type: ignore[no-untyped-call]
        host=HOST, port=instance.port, user=user, pwd=password,
        sslContext=ssl_context(instance), httpConnectionTimeout=5)
    Disconnect(si)  # type: ignore[no-untyped-call]
    return True


def stop_instance(name: str) -> bool:
    stopped = process.stop_daemon(name)
    shutil.rmtree(paths.state_dir(NAME, "datastores", name), ignore_errors=True)
    return stopped


_ABOUT_REQUEST = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soapenv:Body><RetrieveServiceContent xmlns="urn:vim25">'
    b'<_this type="ServiceInstance">ServiceInstance</_this>'
    b"</RetrieveServiceContent></soapenv:Body></soapenv:Envelope>"
)


def about(instance: Instance, timeout: float = 2.0) -> dict[str, str]:
    """ServiceContent.about in one unauthenticated SOAP call (no pyvmomi import: cheap)."""
    request = urllib.request.Request(instance.url, data=_ABOUT_REQUEST, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:vim25/6.5"})
    with urllib.request.urlopen(request, timeout=timeout,
                                context=ssl_context(instance)) as response:
        body = response.read()
    node = ET.fromstring(body).find(".//{urn:vim25}about")
    if node is None:
        raise SandboxError(f"{instance.url}: no ServiceContent.about in the answer")
    return {child.tag.rpartition("}")[2]: child.text or "" for child in node}


def _instances() -> list[str]:
    """Names of every simulator whose pid file we wrote (default ones and benchmarks)."""
    return sorted(p.stem for p in paths.run_dir().glob(f"{NAME}*.pid"))


# --- the engine ----------------------------------------------------------------------------

VCENTER = Instance(NAME, PORT, esx=False)
ESXI = Instance(ESX_NAME, ESX_PORT, esx=True)


class VcsimEngine(Engine):
    name = NAME

    def install(self) -> None:
        apt.install(PACKAGES, engine=NAME)
        build()
        _ensure_pyvmomi()

    def start(self) -> None:
        _ensure_pyvmomi()
        started = time.monotonic()
        start_instance(VCENTER.name, VCENTER.port)
        start_instance(ESXI.name, ESXI.port, esx=True)
        say(NAME, f"vCenter and ESXi simulators answer logins ({time.monotonic() - started:.1f} s)")
        write_user_config()

    def stop(self) -> None:
        for name in _instances():
            stop_instance(name)

    def status(self) -> EngineStatus:
        try:
            return _status()
        except Exception as exc:  # noqa: BLE001 - status never raises, it reports
            return EngineStatus(NAME, False, VCENTER.url, detail=f"status failed: {exc}")


def write_user_config() -> None:
    """The toolkit's default vSphere connection, where a user's own would be."""
    username, password = credentials()
    user_config.write_connections(NAME, {"vsphere": {
        "uri": f"vsphere://{username}@{HOST}:{PORT}", "password": password,
        "cafile": str(VCENTER.cafile)}})


def _ensure_pyvmomi() -> None:
    try:
        import pyVmomi  # noqa: F401
    except ImportError:
        pip_install(["pyvmomi>=8"], engine=NAME)


def _status() -> EngineStatus:
    extra: dict[str, Any] = {"url": VCENTER.url, "username": _username(),
                             "credentials_file": str(credentials_file())}
    if process.running_pid(ESXI.name) is not None:
        extra["esx_url"] = ESXI.url
        extra["esx_cafile"] = str(ESXI.cafile)
    if process.running_pid(VCENTER.name) is None:
        return EngineStatus(NAME, False, VCENTER.url, detail="not running", extra=extra)
    extra["cafile"] = str(VCENTER.cafile)
    try:
        facts = about(VCENTER)
    except (OSError, ValueError, ET.ParseError, SandboxError) as exc:
        return EngineStatus(NAME, False, VCENTER.url, detail=f"not answering: {exc}",
                            extra=extra)
    extra["product"] = facts.get("fullName", "")
    return EngineStatus(NAME, True, VCENTER.url, version=facts.get("version", ""), extra=extra)
