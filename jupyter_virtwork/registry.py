"""``connect(uri)``: the driver for a URI, from a literal table imported lazily.

The table names modules as strings (libcloud's provider table, without its import cost):
connecting to ``docker://`` imports the docker driver and docker-py, nothing else.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import uri as uri_module
from .drivers.base import Driver
from .errors import MissingDependency

if TYPE_CHECKING:
    # mypy holds each driver to its whole family: one missing a method is abstract, and an
    # abstract class is refused here.
    from .drivers.base import Cluster, ContainerEngine, Hypervisor
    from .drivers.docker.driver import DockerDriver
    from .drivers.kubernetes.driver import KubernetesDriver
    from .drivers.libvirt.driver import LibvirtDriver
    from .drivers.vsphere.driver import VSphereDriver

    _docker: type[ContainerEngine] = DockerDriver
    _kubernetes: type[Cluster] = KubernetesDriver
    _libvirt: type[Hypervisor] = LibvirtDriver
    _vsphere: type[Hypervisor] = VSphereDriver

DRIVERS: dict[str, str] = {
    "docker": "jupyter_virtwork.drivers.docker.driver:DockerDriver",
    "kubernetes": "jupyter_virtwork.drivers.kubernetes.driver:KubernetesDriver",
    "vsphere": "jupyter_virtwork.drivers.vsphere.driver:VSphereDriver",
    "libvirt": "jupyter_virtwork.drivers.libvirt.driver:LibvirtDriver",
}


# The modules each family's SDK imports on first use. Two threads importing them at once (a
# kernel's %load_ext warm-up and its first %docker; a server's request threads) can hand one
# of them a half-initialised module through a circular import inside requests ("cannot
# import name 'parse_dict_header' from partially initialized module"). Every first import
# goes through ``import_sdk``, under one lock.
SDKS: dict[str, tuple[str, ...]] = {
    "docker": ("requests", "docker"),
    "kubernetes": ("kubernetes.client", "kubernetes.config", "kubernetes.dynamic"),
    "vsphere": ("pyVmomi", "pyVim.connect"),
    "libvirt": ("libvirt",),
}
_IMPORT_LOCK = threading.RLock()


def import_sdk(family: str) -> ImportError | None:
    """Import ``family``'s SDK now, once; the ImportError when it cannot be (the driver
    reports it on use, as MissingDependency).

    An import that fails or is interrupted (Ctrl-C during a first ``%docker``) leaves
    nothing half-made behind: see ``_forget_orphans``."""
    with _IMPORT_LOCK:
        for name in SDKS.get(family, ()):
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except ImportError as exc:
                _forget_orphans(before)
                return exc
            except BaseException:
                _forget_orphans(before)
                raise
    return None


def _forget_orphans(before: set[str]) -> None:
    """Forget the modules a failed import loaded inside a package it could not finish.

    Python drops a module whose code raised, not the submodules it had finished: importing
    the package again then finds them in ``sys.modules`` and never sets them as its
    attributes. docker-py came back without ``docker.errors``, and every failing ``%docker``
    printed an AttributeError traceback instead of its one line. Extension modules stay:
    some cannot be initialised twice, and they are never half-made."""
    for name in [n for n in sys.modules if n not in before]:
        module = sys.modules.get(name)
        if isinstance(getattr(module, "__loader__", None),
                      importlib.machinery.ExtensionFileLoader):
            continue
        parent = name.rpartition(".")[0]
        while parent and parent in sys.modules:
            parent = parent.rpartition(".")[0]
        if parent:  # an enclosing package is not in sys.modules: it failed
            sys.modules.pop(name, None)


def driver_class(family: str) -> type[Driver]:
    module_name, _, class_name = DRIVERS[family].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise MissingDependency(f"the {family} driver is not available ({exc})",
                                hint="pip install 'jupyter_virtwork'") from exc
    driver: type[Driver] = getattr(module, class_name)
    return driver


def connect(uri: str, **options: Any) -> Driver:
    """Open a driver for ``uri``. ``options`` go to the driver (timeouts, TLS choices)."""
    target = uri_module.parse(uri)
    make: Callable[..., Driver] = driver_class(target.family)
    return make(target, **options)
