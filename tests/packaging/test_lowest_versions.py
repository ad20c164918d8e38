"""The declared minimums are true: the unit tests pass on the lowest version of every
direct dependency of ``jupyter_virtwork[all]`` (uv's ``--resolution lowest-direct``), and
each of the sandbox's engines answers through the lowest SDKs.

The venv is cached in ~/.cache/jupyter-virtwork under pyproject.toml's hash, so only a
changed pyproject.toml pays for a new one (a first run downloads from PyPI and compiles
libvirt-python: about two minutes); the unit tests run in it every time.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.integration.conftest import ensure_up

from . import venvs

CACHE = Path.home() / ".cache" / "jupyter-virtwork"
STATUS_PROBE = """
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "jupyter_virtwork")
with capture_output(display=False) as shown:
    ip.run_cell("everything = %vw status")
print(shown.stdout + shown.stderr)
print("LISTED", len(ip.user_ns["everything"]))
"""
TEST_TOOLS = ("pytest",)  # what tests/unit needs beyond the package (test_binder skips
#                           its repo2docker plan when repo2docker is absent)


def requirements() -> list[Requirement]:
    """The core dependencies, every engine's extra, and the unit tests' tools, as declared."""
    project = tomllib.loads((venvs.ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]

    def expand(lines: list[str]) -> list[Requirement]:
        found = []
        for line in lines:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "jupyter-virtwork":
                for extra in sorted(requirement.extras):
                    found.extend(expand(extras[extra]))
            else:
                found.append(requirement)
        return found

    tools = [r for r in expand(extras["test"]) if r.name in TEST_TOOLS]
    return [*expand(project["dependencies"]), *expand(extras["all"]), *tools]


@pytest.fixture(scope="module")
def lowest_python() -> Iterator[Path]:
    key = hashlib.sha256((venvs.ROOT / "pyproject.toml").read_bytes()
                         + sys.version.encode()).hexdigest()[:16]
    venv = CACHE / f"lowest-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    # Held while the tests use the venv: another checkout's run waits rather than make the
    # same venv at once, or replace it (a different pyproject.toml) under these tests.
    with open(CACHE / "lowest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "complete").exists():
            for old in CACHE.glob("lowest-*"):  # other pyproject.tomls': keep one venv
                shutil.rmtree(old)
            python = venvs.make(venv)
            venvs.run(python, "-m", "pip", "install", "-q", "uv")
            venvs.run(python, "-m", "uv", "pip", "install", "-q", "--python", python,
                      "--resolution", "lowest-direct", *map(str, requirements()))
            (venv / "complete").write_text("installed\n")
        yield venv / "bin" / "python"


def test_the_lowest_versions_installed_are_the_declared_minimums(lowest_python: Path) -> None:
    """A declared minimum that cannot be installed (another dependency asks more) is a lie:
    raise it to what is installed."""
    frozen = venvs.run(lowest_python, "-m", "uv", "pip", "freeze", "--python",
                       lowest_python).stdout
    installed = {canonicalize_name(name): Version(version) for name, version in
                 re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", frozen, re.MULTILINE)}
    wrong = []
    for requirement in requirements():
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        if not floors:
            continue
        have = installed[canonicalize_name(requirement.name)]
        if have.release[:len(floors[0].release)] != floors[0].release:
            wrong.append(f"{requirement} installed {have}")
    assert not wrong, "the lowest resolution installed other versions: " + "; ".join(wrong)


def test_the_unit_tests_pass_on_the_lowest_versions(lowest_python: Path, tmp_path: Path) -> None:
    env = venvs.isolated_env(lowest_python.parent.parent, tmp_path)
    env["PYTHONPATH"] = str(venvs.ROOT)  # this checkout, on the venv's dependencies
    done = venvs.run(lowest_python, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
                     env=env, cwd=venvs.ROOT, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]


@pytest.mark.engines("docker", "kubernetes", "vcsim", "libvirt")
def test_every_engine_answers_through_the_lowest_sdks(lowest_python: Path,
                                                      tmp_path: Path) -> None:
    """The unit tests reach no engine: ``%vw status`` lists each of the sandbox's engines
    through docker, kubernetes, pyvmomi and libvirt-python at their lowest versions."""
    ensure_up("docker", "kubernetes", "vcsim", "libvirt")
    env = venvs.isolated_env(lowest_python.parent.parent, tmp_path)
    env["PYTHONPATH"] = str(venvs.ROOT)
    out = venvs.run(lowest_python, "-c", STATUS_PROBE, env=env, cwd=tmp_path, timeout=300).stdout
    # Each family's default connection opened, and none was skipped or failed.
    for family in ("docker", "kubernetes", "libvirt", "vsphere"):
        assert re.search(rf"^using \S+ \(.*\) for {family}$", out, re.MULTILINE), out
    assert not re.search(r"^(skipped|error)", out, re.MULTILINE), out
    assert re.search(r"^LISTED [1-9]", out, re.MULTILINE), out  # vcsim's VMs at least
