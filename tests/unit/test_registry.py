"""The driver registry is lazy: a connection imports its own SDK and no other."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from jupyter_virtwork import registry
from jupyter_virtwork.drivers.base import Cluster, ContainerEngine, Driver, Hypervisor
from jupyter_virtwork.errors import InvalidInput

SDKS = ("docker", "kubernetes", "pyVmomi", "libvirt", "ipywidgets", "jsonschema")


def _imported_after(code: str) -> set[str]:
    """The SDK modules a fresh interpreter holds after running ``code``."""
    probe = (f"{code}\nimport json, sys\n"
             f"print('SDKS', json.dumps([m for m in {SDKS!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    # What follows the marker: IPython 8.0 writes a terminal title on the same line.
    return set(json.loads(out.strip().splitlines()[-1].partition("SDKS ")[2]))


@pytest.mark.parametrize("uri", ["docker://", "k8s://", "vsphere://u@h", "test:///default"])
def test_connecting_imports_no_sdk_until_the_first_call(uri: str) -> None:
    assert _imported_after(f"from jupyter_virtwork.registry import connect\n"
                           f"connect({uri!r})") == set()


def test_a_call_imports_that_family_s_sdk_and_no_other() -> None:
    # libvirt's test driver runs in-process: a real call without any daemon.
    assert _imported_after("from jupyter_virtwork.registry import connect\n"
                           "from jupyter_virtwork.models import Kind\n"
                           "connect('test:///default').list(Kind.VM)") == {"libvirt"}


def test_loading_the_extension_imports_the_sdks_in_the_background_only() -> None:
    # The one stand-in: threading's start, not an SDK. The warm-up thread would import the
    # SDKs a moment later; holding it back shows what %load_ext itself imports.
    code = ("import threading\n"
            "from unittest import mock\n"
            "from IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\n"
            "with mock.patch('threading.Thread.start'):  # the warm-up held back\n"
            "    ip.run_line_magic('load_ext', 'jupyter_virtwork')\n")
    assert _imported_after(code) == set()
    # The warm-up imports every engine's SDK on purpose, the widgets not.
    code = ("import threading\n"
            "from IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\n"
            "ip.run_line_magic('load_ext', 'jupyter_virtwork')\n"
            "for t in threading.enumerate():\n"
            "    if t.name == 'virtwork-warm-sdks':\n"
            "        t.join()\n")
    assert _imported_after(code) == {"docker", "kubernetes", "pyVmomi", "libvirt"}


@pytest.mark.parametrize(("family", "kind"), [
    ("docker", ContainerEngine), ("kubernetes", Cluster), ("vsphere", Hypervisor),
    ("libvirt", Hypervisor)])
def test_every_family_has_a_whole_driver_of_its_kind(family: str, kind: type[Driver]) -> None:
    driver = registry.driver_class(family)
    assert issubclass(driver, kind)
    assert not inspect.isabstract(driver)  # every method of its kind is there


def test_unknown_scheme() -> None:
    with pytest.raises(InvalidInput):
        registry.connect("carrier-pigeon://coop")
