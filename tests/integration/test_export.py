"""``%vw export`` on the real engines: a notebook's session builds, pushes and runs a
container (and runs and removes another), applies and scales a Deployment, creates and
reconfigures a libvirt VM on qemu:///system and a vSphere VM on vcsim. The engines are
snapshotted, the session exported, ``%vw cleanup --yes`` run, and the export replayed: the
engines end as they were (names, images, replicas, CPUs, memory, disks, power states,
labels).

replay.sh runs with the real docker, kubectl and virsh. There is no govc on this machine
(govmomi's Debian package has no govc sources, and nothing we can reach ships it), so on
the replay's PATH a stand-in ``govc`` only writes down its arguments: a test double for a
missing CLI, not for an SDK. Each govc line is then checked against govc's documented usage
(``govc_usage``), and the VM it encodes against what the driver had made, read back from
vcsim with pyvmomi. The vSphere steps themselves are replayed by the exported notebook,
which nbclient runs in a new kernel: it ends in the same state on every engine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_virtwork import defaults, userconfig
from jupyter_virtwork.drivers.vsphere.specs import labels_from_annotation
from jupyter_virtwork.errors import VirtworkError
from jupyter_virtwork.labels import SESSION, ownership, session_id_for
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind
from jupyter_virtwork.session import Session
from jupyter_virtwork.sizes import GiB, KiB, MiB

from . import govc_usage
from .conftest import ensure_up, ipython_shell, restart_session
from .equivalence import commands_in, fresh
from .manifests import BUSYBOX, Container, as_yaml, deployment, httpd

QEMU = "qemu:///system"
POOL = "virtwork"  # the libvirt driver's storage pool
SLEEPER = "sh -c 'trap \"exit 0\" TERM; sleep 600 & wait'"
GREETING = "hi"  # a value of a container's environment: never written, read at replay


@dataclass
class Notebook:
    """What the session of the test's notebook did, and what it left behind."""

    shell: Any
    tmp: Path
    names: dict[str, str]
    shown: list[str] = field(default_factory=list)  # what --show-command printed
    before: dict[str, Any] = field(default_factory=dict)

    def run(self, line: str, cell: str | None = None) -> Any:
        """``%magic ...`` (``%%magic`` with a cell), collecting what it prints."""
        magic, _, rest = line.partition(" ")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = self.shell.run_cell_magic(magic, rest, cell) if cell is not None \
                else self.shell.run_line_magic(magic, rest)
        self.shown += commands_in(out.getvalue())
        return result


def _dockerfile_context(tmp: Path) -> Path:
    context = tmp / "site"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY index.html /www/\n"
                                        'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n')
    (context / "index.html").write_text("<p>replayed</p>\n")
    (context / "notes.md").write_text("left out of the context\n")
    (context / ".dockerignore").write_text("*.md\n")
    return context


def _deployment(name: str) -> str:
    return as_yaml(deployment(name, Container("web", pull="IfNotPresent", command=httpd()),
                              labels={"tier": "web"}))


def _act(book: Notebook) -> None:
    """The notebook: every line with --show-command, so the lines can be compared."""
    n = book.names
    book.run(f"docker build --show-command -t {n['image']} {_dockerfile_context(book.tmp)}")
    book.run(f"docker push --show-command {n['image']}")
    book.run(f"docker run --show-command -d --name {n['container']} --network none "
             f"-l tier=web -e GREETING={GREETING} 127.0.0.1:5000/{n['image']} {SLEEPER}")
    book.run(f"docker run --show-command -d --name {n['gone']} --network none {BUSYBOX} "
             f"{SLEEPER}")
    book.run(f"docker rm --show-command -f {n['gone']}")
    book.run("k8s apply --show-command", _deployment(n["deployment"]))
    book.run(f"k8s scale --show-command --replicas=2 deployment/{n['deployment']} --wait")
    book.run(f"vm create --show-command {n['vm']} --on {QEMU} --cpus 1 --memory 128M "
             "--disk 64M --no-start")
    book.run(f"vm config --show-command {n['vm']} --on {QEMU} --cpus 2 --memory 192M "
             "--disk 96M")
    book.run(f"vm start --show-command {n['vm']} --on {QEMU}")
    book.run(f"vm create --show-command {n['vsphere']} --on vsphere --cpus 1 --memory 256M "
             "--disk 1G --os 'ubuntu 18.04' --no-start")
    book.run(f"vm config --show-command {n['vsphere']} --on vsphere --cpus 2 --memory 512M")
    book.run(f"vm start --show-command {n['vsphere']} --on vsphere")


@pytest.fixture(scope="module")
def reader() -> Iterator[Session]:
    """A Session of its own that only reads the engines (each family's default)."""
    found = Session(default=defaults.for_family)
    yield found
    found.close()


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory, reader: Session) -> Iterator[Notebook]:
    ensure_up("docker", "registry", "images", "kubernetes", "libvirt", "vcsim")
    shell = ipython_shell()
    restart_session(shell)  # a journal of this notebook's own: earlier modules used the shell too
    tmp = tmp_path_factory.mktemp("export")
    names = {key: fresh(f"vw-exp-{key[:3]}") for key in
             ("image", "container", "gone", "deployment", "vm", "vsphere")}
    found = Notebook(shell, tmp, names)
    try:
        with pytest.raises(VirtworkError, match="created and changed nothing"):
            shell.run_line_magic("vw", f"export {tmp / 'empty'}")
        _act(found)
        found.before = snapshot(reader, session().id)
        yield found
    finally:
        shell.run_line_magic("vw", "cleanup --yes")


# --- the engines' state --------------------------------------------------------------------


def snapshot(reader: Session, session_id: str) -> dict[str, Any]:
    """What carries ``session_id``'s labels on every engine, its labels with the session
    id written as SESSION (two sessions' objects compare equal)."""
    labels = ownership(session_id)

    def mine(found: Any) -> dict[str, str]:
        return {k: SESSION if v == session_id else v for k, v in dict(found).items()}

    docker: Any = reader.driver("docker")
    kube: Any = reader.driver("kubernetes")
    libvirt: Any = reader.driver("libvirt")
    vsphere: Any = reader.driver("vsphere")
    return {
        "containers": {r.name: (r.details["image"], r.state.value, mine(r.labels))
                       for r in docker.list(Kind.CONTAINER, labels)},
        "images": {tuple(sorted(r.raw["RepoTags"])): mine(r.labels)
                   for r in docker.list(Kind.IMAGE, labels)},
        "deployments": {r.name: (r.raw["spec"]["replicas"], r.details["image"],
                                 mine(r.labels),
                                 mine(r.raw["spec"]["template"]["metadata"]["labels"]))
                        for r in kube.list(Kind.DEPLOYMENT, labels)},
        "libvirt": {r.name: (r.details["cpus"], r.details["memory"], r.state.value,
                             mine(r.labels), _volume(r.name))
                    for r in libvirt.list(Kind.VM, labels)},
        "vsphere": {r.name: _vsphere_view(vsphere, r, mine(r.labels))
                    for r in vsphere.list(Kind.VM, labels)},
    }


def _vsphere_view(driver: Any, vm: Any, labels: dict[str, str]) -> dict[str, Any]:
    return {"cpus": vm.raw["config.hardware.numCPU"],
            "memory_mb": vm.raw["config.hardware.memoryMB"], "guest": vm.raw["config.guestId"],
            "power": vm.raw["runtime.powerState"], "labels": labels,
            "disks": driver.disks(vm.name)}


def _volume(name: str) -> int | None:
    """The capacity of a libvirt VM's disk volume, in bytes."""
    import libvirt

    conn = libvirt.open(QEMU)
    try:
        return int(conn.storagePoolLookupByName(POOL).storageVolLookupByName(
            f"{name}.qcow2").info()[1])
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def _empty(found: dict[str, Any]) -> bool:
    return not any(found.values())


def _clean_up(reader: Session, session_id: str) -> None:
    """Remove what a session other than the shell's made (the notebook run by nbclient)."""
    other = Session(session_id, default=defaults.for_family)
    try:
        for family in ("kubernetes", "docker", "libvirt", "vsphere"):
            other.driver(family)
        other.cleanup()
    finally:
        other.close()
    assert _empty(snapshot(reader, session_id))


# --- replay.sh -----------------------------------------------------------------------------


def _export(book: Notebook, *words: str) -> Path:
    target = book.tmp / fresh("out")
    book.shell.run_line_magic("vw", f"export {target} {' '.join(words)}".strip())
    return target


@dataclass(frozen=True)
class Exports:
    replay: Path  # the directory of replay.sh
    final: Path  # the same with --final-state
    notebook: Path


@pytest.fixture(scope="module")
def exports(book: Notebook, reader: Session) -> Exports:
    """The session exported three ways, then %vw cleanup --yes: nothing of it is left."""
    notebook = book.tmp / f"{fresh('replay')}.ipynb"
    book.shell.run_line_magic("vw", f"export --notebook {notebook}")
    found = Exports(_export(book), _export(book, "--final-state"), notebook)
    book.shell.run_line_magic("vw", "cleanup --yes")
    assert _empty(snapshot(reader, session().id))
    return found


@pytest.fixture(scope="module")
def exported(exports: Exports) -> Path:
    return exports.replay


def test_the_script_holds_the_lines_the_magics_showed(book: Notebook, exported: Path) -> None:
    script = (exported / "replay.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in script
    header = script.split("set -euo pipefail")[0]
    for connection in ("docker://", "k8s://", QEMU, "vsphere://"):
        assert f"  {connection}" in header, connection
    assert len(book.shown) == 15  # push (a tag first) and scale --wait print two lines
    journalled = _withheld(book.shown)
    for line in journalled:
        assert line in script, line
    # In order: each shown line after the one before.
    places = [script.index(line) for line in journalled]
    assert places == sorted(places)
    assert ': "${GREETING?set GREETING: the environment of docker run (-e GREETING)}"' \
        in script


def _withheld(shown: list[str]) -> list[str]:
    """The shown lines as the journal keeps them: the environment's values withheld
    (docker reads GREETING from the replay's environment)."""
    return [line.replace(f"GREETING={GREETING}", "GREETING") for line in shown]


def test_no_secret_is_written(exports: Exports) -> None:
    secrets = [str(userconfig.section("vsphere").get("password") or "")]
    kubeconfig = Path(os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config")
    users = yaml.safe_load(kubeconfig.read_text()).get("users") or []
    secrets += [str(u["user"].get("token") or "") for u in users]
    secrets = [s for s in secrets if len(s) >= 8]
    assert secrets  # the sandbox's vcsim password and cluster token at least
    for path in [*exports.replay.rglob("*"), *exports.final.rglob("*"), exports.notebook]:
        if path.is_file():
            text = path.read_text()
            assert not [s for s in secrets if s in text], path


def test_every_manifest_and_domain_is_accepted(exported: Path) -> None:
    manifests = sorted((exported / "artefacts").glob("*.yaml"))
    domains = sorted((exported / "artefacts").glob("*.xml"))
    assert len(manifests) == 1 and len(domains) == 1
    for manifest in manifests:
        done = subprocess.run(["kubectl", "apply", "--dry-run=server", "-f", str(manifest)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert "created (server dry run)" in done.stdout
    for domain in domains:
        done = subprocess.run(["virt-xml-validate", str(domain), "domain"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    # Each named by its magic's number, then what it describes.
    files = [p.name for p in sorted((exported / "artefacts").iterdir())]
    assert [f.split("-", 1)[0] for f in files] == ["01", "01", "06", "08", "11"], files
    context = next((exported / "artefacts").glob("*.context.txt")).read_text()
    assert "index.html" in context and "notes.md" not in context
    assert files[0].endswith(".Dockerfile") and files[4].endswith(".govc")
    assert " -disk 1GB " in (exported / "artefacts" / files[4]).read_text()


def test_the_replay_ends_in_the_same_state(book: Notebook, reader: Session,
                                           exported: Path) -> None:
    bin_dir = book.tmp / fresh("bin")
    bin_dir.mkdir()
    calls = bin_dir / "calls.jsonl"
    stand_in = bin_dir / "govc"
    stand_in.write_text(f"#!{sys.executable}\nimport json, sys\n"
                        f"with open({str(calls)!r}, 'a') as f:\n"
                        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "GOVC_PASSWORD": "read-by-govc-not-by-the-stand-in", "GREETING": GREETING}
    try:
        done = subprocess.run(["bash", str(exported / "replay.sh")], capture_output=True,
                              text=True, env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        after = snapshot(reader, session().id)
        expected = {k: v for k, v in book.before.items() if k != "vsphere"}
        assert {k: v for k, v in after.items() if k != "vsphere"} == expected
        assert after["vsphere"] == {}  # the stand-in made nothing
        govc = [json.loads(line) for line in calls.read_text().splitlines()]
        assert _vsphere_from(govc) == book.before["vsphere"]
    finally:
        book.shell.run_line_magic("vw", "cleanup --yes")
    assert _empty(snapshot(reader, session().id))


def _vsphere_from(calls: list[list[str]]) -> dict[str, Any]:
    """The vSphere VMs the govc lines make, as snapshot shows them; every flag must be one
    govc documents for its command, and the connection flags name no password."""
    made: dict[str, dict[str, Any]] = {}
    for words in calls:
        command, flags, arguments = govc_usage.parse(["govc", *words])
        assert "@" in flags["u"] and ":" not in flags["u"].split("@")[0], flags["u"]
        if command == "vm.create":
            [name] = arguments
            on = flags.get("on", "true") == "true"  # govc's default: power it on
            made[name] = {"cpus": int(flags.get("c", "1")),
                          "memory_mb": int(flags.get("m", "1024")), "guest": flags["g"],
                          "power": "poweredOn" if on else "poweredOff",
                          "labels": {k: SESSION if k == SESSION else v for k, v in
                                     labels_from_annotation(flags["annotation"]).items()},
                          "disks": [_govc_bytes(flags["disk"])]}
        elif command == "vm.change":
            vm = made[flags["vm"]]
            vm["cpus"] = int(flags.get("c", vm["cpus"]))
            vm["memory_mb"] = int(flags.get("m", vm["memory_mb"]))
        elif command == "vm.power":
            for name in arguments:
                made[name]["power"] = "poweredOn" if "on" in flags else "poweredOff"
        else:
            raise AssertionError(f"unexpected govc {command}")
    return made


def _govc_bytes(text: str) -> int:
    number, unit = text[:-2], text[-2:]
    return int(number) * {"KB": KiB, "MB": MiB, "GB": GiB}[unit]


def test_final_state_leaves_out_what_was_removed(book: Notebook, exports: Exports) -> None:
    """And writes each Kubernetes object as the engine held it at the export: the
    Deployment's apply at its scale then, in place of the journal's apply and scale."""
    full = (exports.replay / "replay.sh").read_text()
    final = (exports.final / "replay.sh").read_text()
    gone = book.names["gone"]
    assert f"--name {gone}" in full and f"rm -v -f {gone}" in full
    assert gone not in final
    kept = [line for line in _withheld(book.shown)
            if gone not in line and not line.startswith("kubectl")]
    places = [final.index(line) for line in kept]
    assert places == sorted(places)
    assert "scale --replicas=2" not in final
    [manifest] = (exports.final / "artefacts").glob("*.yaml")
    assert yaml.safe_load(manifest.read_text())["spec"]["replicas"] == 2


def test_an_export_says_no_to_a_directory_in_use(book: Notebook) -> None:
    used = book.tmp / fresh("used")
    used.mkdir()
    (used / "mine.txt").write_text("keep me")
    with pytest.raises(VirtworkError, match="exists and is not an empty directory") as err:
        book.shell.run_line_magic("vw", f"export {used}")
    assert "--force" in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in used.iterdir()) == ["mine.txt"]


# --- the notebook --------------------------------------------------------------------------


def test_the_notebook_ends_in_the_same_state(book: Notebook, reader: Session,
                                             exports: Exports) -> None:
    """Run by nbclient in a new kernel, after the cleanup: its session is another (its id
    comes from JPY_SESSION_NAME, as in Jupyter), the state the same."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(exports.notebook, as_version=4)
    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert sources[0] == "%load_ext jupyter_virtwork"
    assert f"%docker rm --show-command -f {book.names['gone']}" in sources
    name = f"export-replay-{uuid.uuid4().hex}"
    replayed = session_id_for(name)
    assert _empty(snapshot(reader, session().id))
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(book.tmp)}}).execute(
            env={**os.environ, "JPY_SESSION_NAME": name, "GREETING": GREETING})
        assert snapshot(reader, replayed) == book.before
    finally:
        _clean_up(reader, replayed)
