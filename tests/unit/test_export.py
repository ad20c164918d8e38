"""``%vw export`` on journals written here by hand: which actions a replay keeps, what
replay.sh and the notebook say, and the one-line refusals. The replays themselves run on the
real engines in tests/integration/test_export.py."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from jupyter_virtwork import export, registry, withheld
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


# --- values withheld (withheld.py) ----------------------------------------------------------

SECRET = """apiVersion: v1
kind: Secret
metadata: {name: db-creds}
stringData: {password: "hunter2 \\"quoted\\"\\nline"}
data: {token: c2VjcmV0LXRva2Vu}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cost}
data: {price: "$5"}
"""


def test_a_docker_line_keeps_the_names_of_its_environment_only() -> None:
    kept = withheld.magic_line("%docker run -d -e A=1 --env B=two -eC=3 --env=D=4 -e E "
                               "--name web img")
    assert kept.text == "%docker run -d -e A --env B -eC --env=D -e E --name web img"
    assert [r.variable for r in kept.references] == ["A", "B", "C", "D", "E"]
    assert withheld.magic_line("%k8s scale -e=x").text == "%k8s scale -e=x"


def test_a_secret_becomes_references_filled_from_the_environment() -> None:
    kept = withheld.manifests(SECRET)
    assert "hunter2" not in kept.text and "c2VjcmV0" not in kept.text
    assert "$5" in kept.text  # a ConfigMap is not a secret
    assert [(r.variable, r.secret, r.key) for r in kept.references] == [
        ("DB_CREDS_TOKEN", "db-creds", "token"), ("DB_CREDS_PASSWORD", "db-creds", "password")]
    filled = withheld.filled(kept.text, {"DB_CREDS_TOKEN": "t", "DB_CREDS_PASSWORD": "p"})
    secret = next(yaml.safe_load_all(filled))
    assert secret["stringData"] == {"token": "t", "password": "p"}
    assert withheld.manifests(kept.text).text == kept.text  # references are kept as they are
    with pytest.raises(InvalidInput, match="DB_CREDS_TOKEN is not set"):
        withheld.filled(kept.text, {})
    assert withheld.filled(SECRET, {}) == SECRET  # values as written need nothing


def test_replay_sh_fills_a_secret_through_envsubst(tmp_path: Path) -> None:
    """The script's own lines, run by bash, with a stand-in kubectl that prints what it
    reads: the value arrives whole (quotes, a new line), and an unset variable stops it."""
    kept = withheld.manifests(SECRET)
    heredoc = f"kubectl apply -f - <<'EOF'\n{withheld.for_envsubst(kept.text)}EOF"
    script = "\n".join(["set -euo pipefail", *withheld.replay_checks(kept.references),
                        withheld.through_envsubst(heredoc, kept.references)])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text("#!/bin/sh\ncat\n")
    (bin_dir / "kubectl").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "DB_CREDS_TOKEN": "t$x",
           "DB_CREDS_PASSWORD": 'hunter2 "quoted"\nline'}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    secret, config = yaml.safe_load_all(done.stdout)
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "token": "t$x", "password": 'hunter2 "quoted"\nline'}
    assert config["data"] == {"price": "$5"}
    del env["DB_CREDS_TOKEN"]
    missing = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                             text=True, check=False)
    assert missing.returncode != 0 and "set DB_CREDS_TOKEN: Secret db-creds" in missing.stderr
    assert missing.stdout == ""


def test_the_journal_never_holds_a_value() -> None:
    journal = Journal()
    driver = registry.connect(DOCKER)
    with journaling.recording("%docker run -e PASSWORD=hunter2 img", None, journal):
        journaling.did(driver, "run", "docker run -e PASSWORD img")
    with journaling.recording("%%k8s apply", SECRET, journal):
        journaling.did(driver, "apply", "kubectl apply")
    assert "hunter2" not in repr(journal.steps()) and "c2VjcmV0" not in repr(journal.steps())
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"},
               "data": {"password": "aHVudGVyMg=="}}
    artefact = manifest_artefact(applied, "secret", [withheld.Reference(
        "MINE", "", secret="db-creds", key="password")])
    assert "aHVudGVy" not in artefact.text and "password: ${MINE}" in artefact.text


def test_the_header_lists_the_variables_and_what_it_does_not_cover(tmp_path: Path) -> None:
    reference = withheld.Reference("GREETING", "the environment of docker run (-e GREETING)")
    journal = _journal(_step("%docker run -e GREETING img", Command(
        DOCKER, "docker", "run", "docker run -e GREETING img", made=(_container("a"),),
        references=(reference,))))
    script = export.write_replay(journal, tmp_path / "out", session_id="s").path.read_text()
    assert "#   GREETING  the environment of docker run (-e GREETING)" in script
    assert ': "${GREETING?set GREETING: the environment of docker run (-e GREETING)}"' \
        in script
    assert "# Not in it: what the side panel did" in script


def test_final_state_follows_the_engines_answer() -> None:
    """An object the engine no longer has goes; one it has as changed is written as it is
    now, in place of its last command."""
    deployment = Subject("k8s://ctx", "deployment", "ns/web")
    apply = Command("k8s://ctx/ns", "kubernetes", "apply", "kubectl apply web",
                    made=(deployment,))
    scale = Command("k8s://ctx/ns", "kubernetes", "scale", "kubectl scale web",
                    made=(deployment,))
    journal = _journal(_step("%docker run -d --name a img", _run("a")),
                       _step("%%k8s apply", apply), _step("%k8s scale", scale),
                       _step("%docker run -d --name b img", _run("b")))
    as_now = Command("k8s://ctx/ns", "kubernetes", "apply", "kubectl apply web as now",
                     made=(deployment,))
    now = export.Now(frozenset({deployment, _container("b")}), {deployment: as_now})
    steps = export.chosen_steps(journal, final=True, now=now)
    assert [(n.number, [c.line for c in n.step.commands]) for n in steps] == [
        (3, ["kubectl apply web as now"]), (4, ["docker run -d --name b img"])]
