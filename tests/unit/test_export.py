"""``%vw export`` on journals written here by hand: which actions a replay keeps, what
replay.sh and the notebook say, and the one-line refusals. The replays themselves run on the
real engines in tests/integration/test_export.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from jupyter_virtwork import export, registry
from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.journal import Artefact, Command, Journal, Step, Subject, manifest_artefact
from jupyter_virtwork.magics import journaling

DOCKER = "docker://"


def _container(name: str) -> Subject:
    return Subject(DOCKER, "container", name)


def _step(magic: str, *commands: Command, succeeded: bool = True, cwd: str = "/work",
          keep: bool = False, cell: str | None = None) -> Step:
    return Step(magic, cell, cwd, succeeded, commands, keep=keep)


def _run(name: str) -> Command:
    return Command(DOCKER, "docker", "run", f"docker run -d --name {name} img",
                   made=(_container(name),))


def _rm(name: str) -> Command:
    return Command(DOCKER, "docker", "rm", f"docker rm -v {name}", removed=(_container(name),))


def _journal(*steps: Step) -> Journal:
    journal = Journal()
    for step in steps:
        journal.record(step)
    return journal


def _lines(journal: Journal, *, final: bool) -> list[str]:
    return [c.line for n in export.chosen_steps(journal, final=final) for c in n.step.commands]


def test_final_state_keeps_only_the_actions_on_what_exists_now() -> None:
    journal = _journal(
        _step("%docker run -d --name a img", _run("a")),
        _step("%docker run -d --name b img", _run("b")),
        _step("%docker stop a", Command(DOCKER, "docker", "stop", "docker stop a",
                                        made=(_container("a"),))),
        _step("%docker rm a", _rm("a")),
        _step("%vw connect docker:// --as d", keep=True),
        _step("%docker run -d --name a img", _run("a")),  # a new one of the same name
    )
    assert set(journal.alive()) == {_container("a"), _container("b")}
    assert _lines(journal, final=False) == [
        "docker run -d --name a img", "docker run -d --name b img", "docker stop a",
        "docker rm -v a", "docker run -d --name a img"]
    collapsed = export.chosen_steps(journal, final=True)
    assert [n.number for n in collapsed] == [2, 5, 6]  # numbers stay those of the notebook
    assert _lines(journal, final=True) == ["docker run -d --name b img",
                                           "docker run -d --name a img"]


def test_an_export_of_nothing_says_so_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="created and changed nothing"):
        export.write_replay(_journal(_step("%vw connect docker://", keep=True)), tmp_path,
                            session_id="s")
    gone = _journal(_step("%docker run -d --name a img", _run("a")),
                    _step("%docker rm a", _rm("a")))
    with pytest.raises(InvalidInput, match="nothing this notebook created exists now") as err:
        export.write_replay(gone, tmp_path / "out", session_id="s", final=True)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_directory_that_is_not_empty_needs_force(tmp_path: Path) -> None:
    journal = _journal(_step("%docker run -d --name a img", _run("a")))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="exists and is not an empty directory"):
        export.write_replay(journal, tmp_path, session_id="s")
    assert not (tmp_path / export.SCRIPT).exists()
    export.write_replay(journal, tmp_path, session_id="s", force=True)
    assert (tmp_path / export.SCRIPT).is_file() and (tmp_path / "notes.txt").is_file()
    notebook = tmp_path / "replay.ipynb"
    notebook.write_text("{}")
    with pytest.raises(InvalidInput, match="exists and is not a new file"):
        export.write_notebook(journal, notebook, session_id="s")
    export.write_notebook(journal, notebook, session_id="s", force=True)


def test_the_script_says_where_it_runs_and_keeps_the_lines(tmp_path: Path) -> None:
    heredoc = "kubectl apply --server-side -f - <<'EOF'\nkind: ConfigMap\nEOF"
    journal = _journal(
        _step("%%dockerfile -t web", Command(
            DOCKER, "docker", "build", "docker build -t web - <<'EOF'\nFROM x\nEOF",
            made=(Subject(DOCKER, "image", "web:latest"),),
            artefacts=(Artefact("web.Dockerfile", "FROM x\n"),)), cell="FROM x"),
        _step("%docker run --name t img false", Command(
            DOCKER, "docker", "run", "docker run --name t img false",
            made=(_container("t"),), container_status=True), cwd="/elsewhere"),
        _step("%%k8s apply", Command("k8s://ctx/ns", "kubernetes", "apply", heredoc),
              Command("vsphere://u@h", "vsphere", "create", "govc vm.create -u u@h vm1"),
              succeeded=False, cell="kind: ConfigMap"),
    )
    written = export.write_replay(journal, tmp_path / "out", session_id="abc")
    script = (tmp_path / "out" / export.SCRIPT).read_text()
    assert str(written) == f"wrote {tmp_path / 'out' / 'replay.sh'}: 4 commands of 3 " \
                           "magics and 1 artefact"
    assert script.startswith("#!/usr/bin/env bash\n# Replays what a notebook did through "
                             "jupyter_virtwork (session abc)")
    for connection in ("docker    docker://", "kubernetes  k8s://ctx/ns",
                       "vsphere     vsphere://u@h"):
        assert connection.split()[1] in script
    assert "set -euo pipefail\n" + export.VSPHERE_PASSWORD in script
    assert "\ncd -- /work\n# 1. %%dockerfile -t web\ndocker build -t web - <<'EOF'\nFROM x\nEOF" \
        in script
    assert "\n\ncd -- /elsewhere\n# 2. %docker run --name t img false\n" \
           "docker run --name t img false || [ $? -lt 125 ]" in script
    assert "\n\ncd -- /work\n# 3. %%k8s apply\n# (the magic failed after these actions; " \
           f"they had happened)\n{heredoc}\ngovc vm.create -u u@h vm1\n" in script
    assert (tmp_path / "out" / "artefacts" / "1-web.Dockerfile").read_text() == "FROM x\n"
    assert subprocess.run(["bash", "-n", str(written.path)], check=False).returncode == 0


def test_the_script_reads_the_vsphere_password_from_the_toolkits_variables(
        tmp_path: Path) -> None:
    """The script's own password line, run by bash: GOVC_PASSWORD first, then
    VIRTWORK_VSPHERE_PASSWORD, else one line saying what to set."""
    line = export.VSPHERE_PASSWORD + '\necho "$GOVC_PASSWORD"'
    env = {"PATH": "/usr/bin:/bin"}
    run = lambda **more: subprocess.run(["bash", "-euc", line], env={**env, **more},  # noqa: E731
                                        capture_output=True, text=True, check=False)
    assert run(GOVC_PASSWORD="a", VIRTWORK_VSPHERE_PASSWORD="b").stdout == "a\n"
    assert run(VIRTWORK_VSPHERE_PASSWORD="b").stdout == "b\n"
    missing = run()
    assert missing.returncode != 0 and "set GOVC_PASSWORD or VIRTWORK_VSPHERE_PASSWORD" \
        in missing.stderr


def test_the_notebook_holds_the_magics_that_succeeded(tmp_path: Path) -> None:
    journal = _journal(
        _step("%vw connect qemu:///system --as lab", keep=True),
        _step("%%k8s apply", Command("k8s://", "kubernetes", "apply", "kubectl apply"),
              cell="kind: ConfigMap\n"),
        _step("%docker run --name t img", _run("t"), succeeded=False),
        _step("%docker run -d --name a img", _run("a"), cwd="/there"),
    )
    file = tmp_path / "sub" / "replay.ipynb"
    written = export.write_notebook(journal, file, session_id="abc",
                                    settings=["%config DockerMagics.registry = 'r:5000'"])
    notebook = json.loads(file.read_text())
    sources = [c["source"] for c in notebook["cells"]]
    assert sources[1:] == ["%load_ext jupyter_virtwork",
                           "%config DockerMagics.registry = 'r:5000'",
                           "import os\n\nos.chdir('/work')",
                           "%vw connect qemu:///system --as lab",
                           "%%k8s apply\nkind: ConfigMap\n",
                           "import os\n\nos.chdir('/there')",
                           "%docker run -d --name a img"]
    assert notebook["cells"][0]["cell_type"] == "markdown" and "abc" in sources[0]
    assert all(c["outputs"] == [] for c in notebook["cells"] if c["cell_type"] == "code")
    assert (written.magics, written.commands) == (3, 2)
    nbformat.validate(nbformat.reads(file.read_text(), as_version=4))


def test_a_notebook_needs_a_magic_that_acted_and_succeeded(tmp_path: Path) -> None:
    journal = _journal(_step("%vw connect docker://", keep=True),
                       _step("%docker rm a b", _rm("a"), succeeded=False))
    with pytest.raises(InvalidInput, match="no magic of this notebook that acted succeeded"):
        export.write_notebook(journal, tmp_path / "x.ipynb", session_id="s")
    assert export.write_replay(journal, tmp_path / "out", session_id="s").commands == 1


def test_a_kubernetes_object_as_applied_is_clean_yaml() -> None:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": 1,
                            "resourceVersion": "9", "creationTimestamp": "2024-01-01T00:00:00Z",
                            "managedFields": [{"manager": "x"}], "labels": {"a": "b"},
                            "annotations": None},
               "spec": {"replicas": 2, "paused": None}, "status": {"replicas": 0}}
    artefact = manifest_artefact(applied, "deployment-web")
    assert artefact.name == "deployment-web.yaml"
    assert artefact.text == ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                             "  namespace: ns\n  labels:\n    a: b\nspec:\n  replicas: 2\n")


def test_a_magic_records_its_actions_and_a_kept_magic_only_when_it_succeeds() -> None:
    journal = Journal()
    driver = registry.connect(DOCKER)  # opens nothing: journaling reads its URI and family
    with journaling.recording("%docker run img", None, journal):
        assert journaling.shown(False, "docker run img") == "docker run img"
        journaling.did(driver, "run", "docker run img", made=[_container("x")])
    with pytest.raises(RuntimeError), journaling.recording("%docker rm x y", None,
                                                           journal):
        journaling.did(driver, "rm", "docker rm x", removed=[_container("x")])
        raise RuntimeError("y is not there")
    with pytest.raises(RuntimeError), journaling.recording("%vw connect docker://", None,
                                                           journal):
        journaling.keep()
        raise RuntimeError("refused")
    with journaling.recording("%docker ps", None, journal):
        journaling.shown(False, "docker ps")
    steps = journal.steps()
    assert [(s.magic, s.succeeded, [c.line for c in s.commands]) for s in steps] == [
        ("%docker run img", True, ["docker run img"]),
        ("%docker rm x y", False, ["docker rm x"])]
    journaling.did(driver, "run", "outside any magic")  # nothing to add it to: ignored
    assert len(journal.steps()) == 2
