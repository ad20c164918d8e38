"""An engine whose SDK is not installed is one line naming the extra; the rest keeps working.

Each case runs in a fresh interpreter where the family's SDK cannot be imported: its
modules are set to None in ``sys.modules``, which makes ``import`` raise the same
ModuleNotFoundError an absent package raises. That stands in for four more virtual
environments (minutes of installs each); tests/packaging/test_wheel.py shows the real case,
a wheel installed without the libvirt extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output
ip = start_ipython()
ip.run_line_magic("load_ext", "jupyter_virtwork")
for cell in {cells!r}:
    with capture_output(display=False) as shown:
        ip.run_cell(cell)
    print("RESULT", json.dumps([cell, (shown.stdout + shown.stderr).splitlines()]))
"""


def _run(blocked: tuple[str, ...], *cells: str) -> dict[str, list[str]]:
    """What each cell shows as text (stdout and stderr), by cell."""
    code = PROBE.format(blocked=blocked, cells=cells)
    # A password in the environment: a vSphere connection must fail on its SDK, not ask.
    env = {**os.environ, "VIRTWORK_VSPHERE_PASSWORD": "unused"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env=env)
    # (IPython 8.0 writes a terminal title before the first line: take what follows RESULT.)
    return dict(json.loads(line.partition("RESULT ")[2]) for line in out.stdout.splitlines()
                if "RESULT " in line)


def _extra_line(family: str, package: str) -> str:
    """The one line a cell that failed for it shows."""
    return (f"MissingDependency: the {family} backend needs {package}: "
            f"pip install 'jupyter_virtwork[{family}]'")


@pytest.mark.parametrize(("family", "package", "blocked", "cell"), [
    ("docker", "docker", ("docker",), "%docker ps"),
    ("kubernetes", "kubernetes", ("kubernetes",), "%k8s get pods"),
    ("vsphere", "pyvmomi", ("pyVmomi", "pyVim"), "%vm ls --on vsphere://user@127.0.0.1:1"),
    ("libvirt", "libvirt-python", ("libvirt",), "%vm ls --on test:///default"),
])
def test_a_missing_sdk_is_one_line_naming_the_extra(
        family: str, package: str, blocked: tuple[str, ...], cell: str) -> None:
    # libvirt's test driver runs in-process: the working engine needs no daemon.
    other = "%vm ls --on test:///default" if family != "libvirt" else "%vw connections"
    shown = _run(blocked, cell, other)
    # Besides it, at most the "using <default connection>" note of a first use (stderr).
    assert _extra_line(family, package) in shown[cell]
    assert [line for line in shown[cell]
            if line != _extra_line(family, package) and not line.startswith("using ")] == []
    assert not any("Error" in line for line in shown[other])


def test_without_pandas_a_dataframe_is_one_line_and_tables_still_show() -> None:
    shown = _run(("pandas",), "%vw connections", "vms = %vm ls --on test:///default",
                 "frame = vms.to_dataframe()", "html = vms._repr_html_()")
    missing = "tables become DataFrames with pandas: pip install 'jupyter_virtwork[pandas]'"
    assert shown["%vw connections"] == [f"MissingDependency: {missing}"]
    assert not any("Error" in line for line in shown["vms = %vm ls --on test:///default"])
    assert shown["frame = vms.to_dataframe()"][-1] == f"MissingDependency: {missing}"
    assert shown["html = vms._repr_html_()"] == []
