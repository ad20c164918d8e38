"""The mybinder.org plan, checked offline: repo2docker prints the Dockerfile it would build
from binder/ (no container engine needed) and it must install what the VM notebooks need."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BINDER = ROOT / "binder"


def test_binder_files() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    for script in ("postBuild", "start"):
        assert os.access(BINDER / script, os.X_OK), f"binder/{script} is not executable"
    post_build = (BINDER / "postBuild").read_text()
    assert "pip install" in post_build and "'.[lab]'" in post_build  # the package + lab panel
    assert "vcsim.build()" in post_build
    start = (BINDER / "start").read_text()
    assert 'exec "$@"' in start  # repo2docker's start scripts must hand over to Jupyter
    assert "LIBVIRT_DEFAULT_URI=\"test:///default\"" in start
    apt = {line.strip() for line in (BINDER / "apt.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")}
    assert {"libvirt-dev", "pkg-config", "golang-go", "golang-github-vmware-govmomi-dev"} <= apt


def test_repo2docker_plan() -> None:
    command = shutil.which("repo2docker")
    if command is None:
        pytest.skip("repo2docker is not installed (pip install jupyter-repo2docker)")
    done = subprocess.run([command, "--no-build", "--debug", "--no-run", str(ROOT)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                                     f"{os.environ.get('PATH', '')}"})
    plan = done.stdout + done.stderr
    assert done.returncode == 0, plan[-2000:]
    assert "Building conda environment for python=3.11" in plan  # from runtime.txt
    apt_line = next(line for line in plan.splitlines() if "apt-get install --yes" in line
                    and "libvirt-dev" in line)
    for package in ("golang-go", "golang-github-vmware-govmomi-dev", "pkg-config"):
        assert package in apt_line
    assert "./binder/postBuild" in plan
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in plan


def _exports(script: Path) -> dict[str, str]:
    """The variables a start script exports (``export NAME="value"``), $HOME expanded."""
    found = re.findall(r'^export (\w+)="([^"]*)"', script.read_text(), flags=re.MULTILINE)
    return {name: value.replace("$HOME", str(Path.home())) for name, value in found}


def _code(notebook: str) -> str:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_binder_start_gives_lessons_03_and_04_their_engines(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What 03 and 04 ask for by default is what binder/start sets up: 04 the libvirt
    connection (LIBVIRT_DEFAULT_URI, the test driver), 03 the vsphere one (the connections
    file vcsim's start writes), both by name, as the notebooks ask."""
    from jupyter_virtwork import defaults
    from jupyter_virtwork.sandbox import vcsim

    assert 'session().driver("libvirt")' in _code("04-xen.ipynb")
    assert 'session().driver("vsphere")' in _code("03-vmware.ipynb")
    start = BINDER / "start"
    assert "python -m jupyter_virtwork.sandbox up vcsim" in start.read_text()
    for name, value in _exports(start).items():
        monkeypatch.setenv(name, value)
    assert defaults.libvirt().uri == "test:///default"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("VIRTWORK_STATE_DIR", str(tmp_path / "state"))
    vcsim.credentials_file().parent.mkdir(parents=True)
    vcsim.credentials_file().write_text('{"username": "virtwork@vsphere.local", '
                                        '"password": "not-a-secret"}')
    vcsim.write_user_config()  # what `sandbox up vcsim` ends with (VcsimEngine.start)
    found = defaults.vsphere()
    assert found is not None and found.uri == vcsim.VCENTER.url.replace(
        "https://", f"vsphere://{vcsim.USERNAME}@").removesuffix("/sdk")
