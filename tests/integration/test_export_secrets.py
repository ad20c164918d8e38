"""``%vw export`` never writes a secret, and its replay still makes it: a notebook runs a
container with ``-e TOKEN=...`` and applies a Secret; the export (replay.sh, --final-state
and the notebook) holds neither value, and neither does the journal. After ``%vw cleanup``,
replay.sh run with the variables set (real docker, kubectl and envsubst) makes the container
and the Secret with their values again.

``--final-state`` asks the engines: a Deployment scaled with the driver directly (outside
the journal) is exported at its present scale, and a container removed with the driver
directly is left out.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.withheld import secret_variable

from .conftest import ensure_up, ipython_shell, restart_session
from .equivalence import fresh
from .manifests import BUSYBOX, Container, as_yaml, deployment, httpd

SLEEPER = "sh -c 'trap \"exit 0\" TERM; sleep 600 & wait'"


@dataclass(frozen=True)
class Book:
    shell: Any
    tmp: Path
    names: dict[str, str]
    values: dict[str, str]  # variable -> the secret value the notebook typed

    def exported(self, *words: str) -> Path:
        target = self.tmp / fresh("out")
        self.shell.run_line_magic("vw", f"export {target} {' '.join(words)}".strip())
        return target


def _manifests(names: dict[str, str], password: str) -> str:
    """A Secret (its text ours: the value's quoting is what the export must withhold) and a
    Deployment."""
    secret = (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {names['secret']}}}\n"
              f"stringData: {{password: {json.dumps(password)}}}\n")
    web = deployment(names["deployment"], Container("web", pull="IfNotPresent", command=httpd()))
    return f"{secret}---\n{as_yaml(web)}"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Book]:
    ensure_up("docker", "images", "kubernetes")
    shell = ipython_shell()
    restart_session(shell)  # a journal of this notebook's own
    names = {k: fresh(f"vw-sec-{k[:3]}") for k in ("container", "gone", "secret",
                                                    "deployment")}
    token, password = fresh("token-value"), fresh("pass word \"quoted\"")
    found = Book(shell, tmp_path_factory.mktemp("secrets"), names, {
        "TOKEN": token, secret_variable(names["secret"], "password"): password})
    try:
        shell.run_line_magic("docker", f"run -d --name {names['container']} --network none "
                                       f"-e TOKEN={token} {BUSYBOX} {SLEEPER}")
        shell.run_line_magic("docker", f"run -d --name {names['gone']} --network none "
                                       f"{BUSYBOX} {SLEEPER}")
        shell.run_cell_magic("k8s", "apply", _manifests(names, password))
        yield found
    finally:
        shell.run_line_magic("vw", "cleanup --yes")


def _texts(*roots: Path) -> str:
    return "\n".join(p.read_text() for root in roots
                     for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file())


def _secret_value(name: str) -> str:
    done = subprocess.run(["kubectl", "get", "secret", name, "-o", "json"],
                          capture_output=True, text=True, check=True)
    return base64.b64decode(json.loads(done.stdout)["data"]["password"]).decode()


def _container_env(name: str) -> list[str]:
    done = subprocess.run(["docker", "inspect", name], capture_output=True, text=True,
                          check=True)
    return list(json.loads(done.stdout)[0]["Config"]["Env"])


def test_no_value_is_exported_and_the_replay_makes_them(book: Book) -> None:
    replay, notebook = book.exported(), book.tmp / f"{fresh('replay')}.ipynb"
    book.shell.run_line_magic("vw", f"export --notebook {notebook}")
    final = book.exported("--final-state")
    written = _texts(replay, final, notebook)
    journal = repr(session().journal.steps())
    for value in book.values.values():
        encoded = base64.b64encode(value.encode()).decode()
        for found in (written, journal):
            assert value not in found and encoded not in found
    script = (replay / "replay.sh").read_text()
    for variable in book.values:
        assert f': "${{{variable}?set {variable}: ' in script
    book.shell.run_line_magic("vw", "cleanup --yes")
    without = subprocess.run(["bash", str(replay / "replay.sh")], capture_output=True,
                             text=True, env=dict(os.environ), timeout=300, check=False)
    assert without.returncode != 0 and "set TOKEN" in without.stderr
    stopped = subprocess.run(["docker", "inspect", book.names["container"]],
                             capture_output=True, check=False)
    assert stopped.returncode != 0  # it stopped before acting
    done = subprocess.run(["bash", str(replay / "replay.sh")], capture_output=True,
                          text=True, env={**os.environ, **book.values}, timeout=300,
                          check=False)
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"TOKEN={book.values['TOKEN']}" in _container_env(book.names["container"])
        variable = secret_variable(book.names["secret"], "password")
        assert _secret_value(book.names["secret"]) == book.values[variable]
    finally:
        book.shell.run_line_magic("vw", "cleanup --yes")


def test_final_state_follows_the_engines(book: Book) -> None:
    """Changed outside the journal, through the session's typed drivers."""
    names = book.names
    book.shell.run_line_magic("vw", "cleanup --yes")  # the earlier test's replay, if any
    book.shell.run_line_magic("docker", f"run -d --name {names['container']} --network none "
                                        f"-e TOKEN=x {BUSYBOX} {SLEEPER}")
    book.shell.run_line_magic("docker", f"run -d --name {names['gone']} --network none "
                                        f"{BUSYBOX} {SLEEPER}")
    book.shell.run_cell_magic("k8s", "apply", _manifests(names, "p"))
    session().cluster("kubernetes").scale(Kind.DEPLOYMENT, names["deployment"], 2)
    session().container_engine("docker").destroy(Kind.CONTAINER, names["gone"], force=True)
    full, final = book.exported(), book.exported("--final-state")
    assert names["gone"] in (full / "replay.sh").read_text()
    assert names["gone"] not in (final / "replay.sh").read_text()
    assert set(_replicas(full, names["deployment"])) == {1}  # the journal's (each apply)
    assert _replicas(final, names["deployment"]) == [2]
    done = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f",
                           str(next((final / "artefacts").glob("*deployment*.yaml")))],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _replicas(export: Path, deployment: str) -> list[int]:
    """The replicas of ``deployment`` in each of the export's manifests of it."""
    found = []
    for path in sorted((export / "artefacts").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document.get("kind") == "Deployment" and \
                    document["metadata"]["name"] == deployment:
                found.append(document["spec"]["replicas"])
    return found
