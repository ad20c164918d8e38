"""Which connection a family uses when the notebook names none.

The user's standard configuration, as the engines' own tools read it: DOCKER_HOST and docker
contexts, the kubeconfig's current context (KUBECONFIG or ~/.kube/config), GOVC_URL,
LIBVIRT_DEFAULT_URI, else our connections file (``userconfig``), else what libvirt itself
picks. The sandbox writes that configuration when it starts its engines; nothing here knows
of it. Only files are read, never an engine: this runs on the first magic of a notebook.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import uri as uri_module
from . import userconfig
from .errors import InvalidInput

# Where libvirtd listens when it runs on this machine (qemu:///system's socket).
LIBVIRT_SOCKETS = ("/run/libvirt/libvirt-sock", "/var/run/libvirt/libvirt-sock")
GUEST_KERNEL, GUEST_INITRD = "vmlinuz", "initrd.img"


@dataclass(frozen=True)
class DefaultConnection:
    uri: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a password
    why: str = ""  # shown on first use: "the current kube context", "$LIBVIRT_DEFAULT_URI"


def docker() -> DefaultConnection:
    if os.environ.get("DOCKER_HOST"):
        return DefaultConnection("docker://", why="$DOCKER_HOST")
    context = os.environ.get("DOCKER_CONTEXT") or _docker_config().get("currentContext")
    if context and context != "default":  # the driver reaches its endpoint, as docker does
        return DefaultConnection("docker://", why=f"the docker context {context}")
    return DefaultConnection("docker://", why="the local Docker engine")


def kubernetes() -> DefaultConnection:
    context, namespace = _current_kube_context()
    named = uri_module.k8s_uri(context or None, namespace or None)  # any name, encoded
    # Named, not left to the client: it reads KUBECONFIG once, when first imported.
    files = {"kubeconfig": os.environ["KUBECONFIG"]} if os.environ.get("KUBECONFIG") else {}
    return DefaultConnection(named, files, why="the current kube context")


def vsphere() -> DefaultConnection | None:
    if os.environ.get("GOVC_URL"):
        return DefaultConnection("vsphere://", why="$GOVC_URL")
    return _configured("vsphere")


def libvirt() -> DefaultConnection:
    if os.environ.get("LIBVIRT_DEFAULT_URI"):
        return DefaultConnection(os.environ["LIBVIRT_DEFAULT_URI"],
                                 why="$LIBVIRT_DEFAULT_URI")
    configured = _configured("libvirt")
    if configured is not None:
        return configured
    if any(os.path.exists(socket) for socket in LIBVIRT_SOCKETS):
        return DefaultConnection("qemu:///system", why="the local libvirtd with QEMU")
    return DefaultConnection("test:///default", why="libvirt's test driver (no libvirtd here)")


def for_family(family: str) -> DefaultConnection | None:
    chooser = {"docker": docker, "kubernetes": kubernetes, "vsphere": vsphere,
               "libvirt": libvirt}.get(family)
    return chooser() if chooser else None


def guest_files(directory: str | None = None) -> tuple[Path, Path]:
    """(kernel, initrd) of the tiny guest: in ``directory``, else $VIRTWORK_GUEST_DIR, else
    the connections file's ``guest.dir``."""
    where = directory or os.environ.get("VIRTWORK_GUEST_DIR") \
        or str(userconfig.section("guest").get("dir") or "")
    if not where:
        raise InvalidInput("no tiny guest configured",
                           hint="set VIRTWORK_GUEST_DIR or guest.dir in "
                                f"{userconfig.path()}, or give --kernel and --initrd")
    kernel, initrd = Path(where) / GUEST_KERNEL, Path(where) / GUEST_INITRD
    if not (kernel.is_file() and initrd.is_file()):
        raise InvalidInput(f"the tiny guest is not in {where} ({GUEST_KERNEL}, {GUEST_INITRD})",
                           hint="python -m jupyter_virtwork.sandbox up libvirt builds it")
    return kernel, initrd


def _configured(family: str) -> DefaultConnection | None:
    """The connections file's entry for ``family``, if it names a URI."""
    options = userconfig.section(family)
    uri = options.pop("uri", None)
    if not uri:
        return None
    return DefaultConnection(str(uri), options, f"set in {userconfig.shown_path()}")


def _docker_config() -> dict[str, Any]:
    """The docker CLI's config.json ($DOCKER_CONFIG, else ~/.docker); empty if unreadable."""
    folder = os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker"
    try:
        loaded = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _current_kube_context() -> tuple[str, str]:
    """(context, namespace) as kubectl picks them: the first file of KUBECONFIG (else
    ~/.kube/config) that sets current-context; ("", "") when none does."""
    try:
        import yaml
    except ImportError:
        return "", ""  # no kubernetes extra: the driver says what to install
    named = os.environ.get("KUBECONFIG")
    files = named.split(os.pathsep) if named else [str(Path.home() / ".kube" / "config")]
    configs = []
    for file in filter(None, files):
        try:
            loaded = yaml.safe_load(Path(file).read_text())
        except (OSError, yaml.YAMLError):
            continue  # kubectl skips missing files too; a broken one the driver reports
        if isinstance(loaded, dict):
            configs.append(loaded)
    current = next((str(c["current-context"]) for c in configs if c.get("current-context")), "")
    if not current:
        return "", ""
    for config in configs:
        for entry in config.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == current:
                return current, str((entry.get("context") or {}).get("namespace") or "default")
    return current, "default"
