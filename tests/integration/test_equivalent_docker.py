"""Every ``%docker`` / ``%%dockerfile`` verb's ``--show-command`` line does what the magic
does: the magic acts on one fresh name, the printed line (that name replaced by another)
runs with the real docker CLI, and the two objects are compared on the engine: image,
command, env, ports, labels, network, state; for images their configuration and layers.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import ensure_up, ipython_shell
from .equivalence import fresh, run_cli, shown

BUSYBOX = "localbase/busybox:1.35"
REGISTRY = "127.0.0.1:5000"
SLEEPER = "sh -c 'trap \"exit 0\" TERM; sleep 300 & wait'"


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("docker", "registry", "images")
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")  # the CLI's objects carry our labels too


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    client = docker.APIClient(version="auto")
    yield client
    client.close()


def _container(api: Any, name: str) -> dict[str, Any]:
    """What a container is, apart from its name and ids."""
    attrs = api.inspect_container(name)
    config, host = attrs["Config"], attrs["HostConfig"]
    return {"image": config["Image"], "cmd": config["Cmd"], "env": sorted(config["Env"]),
            "labels": config["Labels"], "exposed": config.get("ExposedPorts"),
            "bindings": host["PortBindings"], "network": host["NetworkMode"],
            "status": attrs["State"]["Status"], "exit": attrs["State"]["ExitCode"]}


def _image(api: Any, reference: str) -> dict[str, Any]:
    attrs = api.inspect_image(reference)
    config = attrs["Config"]
    return {key: config.get(key) for key in ("Cmd", "Entrypoint", "Env", "Labels",
                                             "WorkingDir", "ExposedPorts")} | {
        "layers": len(attrs["RootFS"]["Layers"])}


def test_run_detached(ip: Any, api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq"), fresh("vw-eq")
    line, _ = shown(ip, capsys, "docker",
                    f"run -d --name {ours} -e GREETING=hello -e 'SPACED=a b' -e EMPTY= "
                    f"-p 127.0.0.1::80 -p 53/udp -p 127.0.0.1::8000-8001 -l tier=web "
                    f"--network bridge {BUSYBOX} {SLEEPER}")
    run_cli(line.replace(ours, theirs))
    assert _container(api, ours) == _container(api, theirs)


def test_run_in_the_foreground(ip: Any, api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq"), fresh("vw-eq")
    line, _ = shown(ip, capsys, "docker", f"run --name {ours} --network none {BUSYBOX} "
                                          "sh -c 'echo out; exit 3'")
    assert run_cli(line.replace(ours, theirs) + " || true").stdout == "out\n"
    mine = _container(api, ours)
    assert mine == _container(api, theirs) and (mine["status"], mine["exit"]) == ("exited", 3)


def test_dockerfile_cell(ip: Any, api: Any, capsys: pytest.CaptureFixture[str],
                         tmp_path: Path) -> None:
    ours, theirs = fresh("vw-eq-image"), fresh("vw-eq-image")
    cell = (f"FROM {BUSYBOX}\nENV STAGE=cell\nRUN echo built > /built.txt\nWORKDIR /srv\n"
            "EXPOSE 8080\nLABEL role=demo\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n")
    line, _ = shown(ip, capsys, "dockerfile", f"-t {ours}:1", cell)
    run_cli(line.replace(ours, theirs))
    assert _image(api, f"{ours}:1") == _image(api, f"{theirs}:1")
    (tmp_path / "page.html").write_text("<h1>hi</h1>\n")
    line, _ = shown(ip, capsys, "dockerfile", f"-t {ours}:2 {tmp_path}",
                    f"FROM {BUSYBOX}\nCOPY page.html /www/\n")
    run_cli(line.replace(ours, theirs))
    assert _image(api, f"{ours}:2") == _image(api, f"{theirs}:2")


@pytest.mark.parametrize("own_file", [False, True])
def test_build_a_directory(ip: Any, api: Any, capsys: pytest.CaptureFixture[str],
                           tmp_path: Path, own_file: bool) -> None:
    ours, theirs = fresh("vw-eq-image"), fresh("vw-eq-image")
    dockerfile = tmp_path / ("other.Dockerfile" if own_file else "Dockerfile")
    dockerfile.write_text(f"FROM {BUSYBOX}\nCOPY page.html /www/index.html\nENV A=1\n")
    (tmp_path / "page.html").write_text("<h1>hello</h1>\n")
    flags = f"-f {dockerfile} " if own_file else ""
    line, _ = shown(ip, capsys, "docker", f"build -t {ours} {flags}{tmp_path}")
    run_cli(line.replace(ours, theirs))
    assert _image(api, ours) == _image(api, theirs)


def _pushed_digest(name: str) -> str:
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{name}/manifests/latest", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.headers["Docker-Content-Digest"])


def test_push(ip: Any, api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq-push"), fresh("vw-eq-push")
    for name in (ours, theirs):
        api.tag(BUSYBOX, name, "latest")
    try:
        line, _ = shown(ip, capsys, "docker", f"push {ours}")
        assert line.splitlines()[0].startswith("docker tag ")  # no registry: ours is added
        run_cli(line.replace(ours, theirs))
        assert _pushed_digest(ours) == _pushed_digest(theirs)
    finally:
        for name in (ours, theirs):
            for reference in (name, f"{REGISTRY}/{name}"):
                api.remove_image(reference)


VERBS = [("stop -t 1", "exited"), ("start", "running"), ("restart", "running"),
         ("pause", "paused"), ("unpause", "running"), ("stop", "exited"), ("rm", None),
         ("rm -f", None)]


def test_container_verbs(ip: Any, api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq"), fresh("vw-eq")
    for name in (ours, theirs):
        ip.run_line_magic("docker", f"run -d --network none --name {name} {BUSYBOX} {SLEEPER}")
    for verb, status in VERBS:
        if verb == "rm -f":  # rm -f removes a running container: make new ones
            for name in (ours, theirs):
                ip.run_line_magic("docker", f"run -d --network none --name {name} {BUSYBOX} "
                                            f"{SLEEPER}")
        line, _ = shown(ip, capsys, "docker", f"{verb} {ours}")
        run_cli(line.replace(ours, theirs))
        if status is None:
            assert not api.containers(all=True, filters={"name": f"^/({ours}|{theirs})$"})
        else:
            assert _container(api, ours) == _container(api, theirs), verb
            assert _container(api, ours)["status"] == status, verb


def test_exec_and_logs(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ours, theirs = fresh("vw-eq"), fresh("vw-eq")
    for name in (ours, theirs):
        ip.run_line_magic("docker", f"run -d --network none -e WHO={name} --name {name} "
                                    f"{BUSYBOX} sh -c 'echo one; echo two; sleep 300'")
    line, result = shown(ip, capsys, "docker", f"exec {ours} sh -c 'echo $WHO; ls /'")
    assert run_cli(line.replace(ours, theirs)).stdout == result.stdout.replace(ours, theirs)
    for flags in ("--tail 1", ""):
        capsys.readouterr()
        ip.run_line_magic("docker", f"logs {flags} {ours} --show-command")
        printed = capsys.readouterr().out.splitlines()
        assert run_cli(printed[0].replace(ours, theirs)).stdout.splitlines() == printed[1:]
    for name in (ours, theirs):
        ip.run_line_magic("docker", f"rm -f {name}")


def test_listing_lines(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """ps, ps -a and images: the CLI lists what the magic listed (our objects, at least:
    other engineers' may come and go between the two)."""
    running, stopped = fresh("vw-eq"), fresh("vw-eq")
    ip.run_line_magic("docker", f"run -d --network none --name {running} {BUSYBOX} {SLEEPER}")
    ip.run_line_magic("docker", f"run --network none --name {stopped} {BUSYBOX} true")
    for verb, wanted in (("ps", {running}), ("ps -a", {running, stopped})):
        line, rows = shown(ip, capsys, "docker", verb)
        names = {row.split()[-1] for row in run_cli(line).stdout.splitlines()[1:]}
        mine = {r.name for r in rows}
        assert wanted <= mine and wanted <= names and {running, stopped} - wanted - names \
            == {running, stopped} - wanted - mine
    line, images = shown(ip, capsys, "docker", "images")
    listed = {" ".join(row.split()[:2]).replace(" ", ":")
              for row in run_cli(line).stdout.splitlines()[1:]}
    assert BUSYBOX in listed and BUSYBOX in {tag for r in images
                                             for tag in r.details["tags"].split(", ")}
    json.dumps([r.to_dict() for r in images])  # the records stay plain data
