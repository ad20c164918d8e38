"""The learners' Python: a virtual environment every class account can run.

The sandbox's own interpreter may live where a learner cannot reach it (a pyenv under
/root, which is 0700), so the single-user servers run from a venv of Debian's python3
under the state dir: JupyterHub's single-user server at the hub's own version, JupyterLab,
and the toolkit with its Kubernetes extra, as a class's shared environment would be. The
venv is made once; its packages are installed again only when that list changes. The
toolkit's code is copied in on every ``up`` (without the sandbox, which a learner never
runs), so learners run the checkout that started the hub.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from importlib.metadata import requires, version
from pathlib import Path

from . import apt, paths
from .report import say
from .system import SandboxError, run

PACKAGES = ("python3", "python3-venv")
PYTHON = "/usr/bin/python3"
PACKAGE = Path(__file__).resolve().parents[1]  # jupyter_virtwork/
EXTRAS = ("kubernetes",)  # the engines a learner's kernel reaches (the class's cluster)


def env_dir() -> Path:
    return paths.state_dir("hub", "learner-env")


def singleuser() -> Path:
    """The command the spawner runs as each learner."""
    return env_dir() / "bin" / "jupyterhub-singleuser"


def requirements() -> list[str]:
    """What the venv holds: the hub's single-user server, JupyterLab, and the toolkit's own
    dependencies with its Kubernetes extra, as the installed toolkit declares them."""
    wanted = [f"jupyterhub=={version('jupyterhub')}", "jupyterlab"]
    for line in requires("jupyter_virtwork") or []:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if not marker.strip() or (extra and extra[1] in EXTRAS):
            wanted.append(requirement.strip())
    return sorted(set(wanted))


def ensure(engine: str) -> None:
    """The venv with its packages, then the toolkit's code copied in."""
    apt.install(PACKAGES, engine=engine)
    env = env_dir()
    if not (env / "bin" / "python").exists():
        say(engine, f"making the learners' Python environment in {env}")
        run([PYTHON, "-m", "venv", str(env)], timeout=300)
    wanted = "\n".join(requirements()) + "\n"
    marker = env / "virtwork-requirements.txt"
    if not marker.exists() or marker.read_text() != wanted:
        say(engine, "installing the learners' packages (JupyterLab, the toolkit's)")
        run([str(env / "bin" / "pip"), "install", "--quiet", *requirements()], timeout=1800)
        readable_by_all(env)  # whatever root's umask was
        marker.write_text(wanted)
    _copy_toolkit(env)


def _copy_toolkit(env: Path) -> None:
    target = _site_packages(env) / PACKAGE.name
    partial = target.with_name(f".{PACKAGE.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(PACKAGE, partial,
                    ignore=shutil.ignore_patterns("__pycache__", "sandbox", "*.pyc"))
    readable_by_all(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def code_digest() -> str:
    """A digest of the toolkit's Python code as this checkout has it: what the hub, its pod
    guard and the learners' servers run."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def readable_by_all(root: Path) -> None:
    """Every directory under ``root`` 0755, every file readable (and runnable where it is
    runnable) by all: learners run this environment, root only writes it."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        wanted = mode | (0o555 if path.is_dir() or mode & 0o100 else 0o444)
        if wanted != mode:
            os.chmod(path, wanted)


def _site_packages(env: Path) -> Path:
    answer = subprocess.run(
        [str(env / "bin" / "python"), "-c",
         "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, timeout=60, check=False)
    if answer.returncode != 0:
        raise SandboxError(f"hub: the learners' Python in {env} does not run: "
                           f"{answer.stderr.strip()[:300]}; delete {env} and run `up hub`")
    return Path(answer.stdout.strip())
