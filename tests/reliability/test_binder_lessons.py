"""Lessons 03 and 04 run top to bottom as mybinder.org would run them: no Docker daemon, no
Kubernetes cluster, libvirt's in-process test driver (``binder/start`` sets
LIBVIRT_DEFAULT_URI) and the vCenter simulator that ``binder/start`` launches, found through
the connections file its start writes.

mybinder.org itself is out of this machine's reach: the kernel here gets the environment
``binder/start`` exports, with DOCKER_HOST and KUBECONFIG pointing at nothing (Binder has no
daemon and no cluster), and meets the sandbox's own vcsim. ``tests/unit/test_binder.py``
checks the image plan that installs the rest.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ..integration.conftest import ensure_up
from .test_tutorials import assert_expected_failures

ROOT = Path(__file__).parents[2]
LESSONS = [ROOT / "notebooks" / "03-vmware.ipynb", ROOT / "notebooks" / "04-xen.ipynb"]


def _binder_exports() -> dict[str, str]:
    """The variables binder/start exports that reach the kernel (not its state folders:
    those only move the sandbox's files into a home directory on Binder)."""
    found = re.findall(r'^export (\w+)="([^"]*)"', (ROOT / "binder" / "start").read_text(),
                       flags=re.MULTILINE)
    return {name: value for name, value in found if not name.endswith("_DIR")}


def _printed(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_vm_lesson_runs_in_binders_environment(path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    ensure_up("vcsim")
    exports = _binder_exports()
    assert exports == {"LIBVIRT_DEFAULT_URI": "test:///default"}, exports
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    notebook = nbformat.read(path, as_version=4)
    # A failure outside a tagged cell raises CellExecutionError naming the cell.
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    assert_expected_failures(path, notebook)
    printed = "\n".join(_printed(cell) for cell in notebook.cells if cell.cell_type == "code")
    if path.name.startswith("04"):  # really on the test driver, which boots nothing
        assert "VMs run on test:///default" in printed, printed[:2000]
        assert "the VM is defined with 2 CPUs and 4 GiB" in printed, printed[-2000:]
    else:  # really on the simulator, to the end of the lesson's lifecycle
        assert "vCenter" in printed and "stopped" in printed, printed[:2000]
