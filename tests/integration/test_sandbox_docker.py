"""The sandbox's dockerd, local registry and base images, driven through the docker SDK.

Nothing here reaches outside this machine: containers run with ``network_mode="none"``, images
come from ``localbase/*`` or the registry on 127.0.0.1:5000, and nothing is pulled from Docker
Hub. ``down docker`` is never run here: other work shares this dockerd.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.sandbox import docker as docker_engine
from jupyter_virtwork.sandbox import images, process, registry

pytestmark = pytest.mark.engines("docker", "registry", "images")

BUSYBOX = images.BUSYBOX_IMAGE


def _cli(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def sandbox() -> None:
    # Fast when already up (~0.5 s); the first time on a machine it installs and debootstraps.
    proc = _cli("up", "docker", "registry", "images")
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture
def client(sandbox: None) -> Iterator[Any]:
    import docker

    api = docker.DockerClient(base_url=docker_engine.BASE_URL, timeout=60)
    yield api
    api.close()


def test_ping_through_the_sdk(client: Any) -> None:
    assert client.ping() is True
    assert client.version()["Version"].startswith("20.10")


def test_busybox_runs_without_pulling(client: Any) -> None:
    import docker.errors

    client.images.get(BUSYBOX)  # present locally, so containers.run has nothing to pull
    out = client.containers.run(BUSYBOX, ["sh", "-c", "echo hello from $(busybox | head -1)"],
                                network_mode="none", remove=True)
    assert out.decode().startswith("hello from BusyBox v1.35")
    # The low-level API never pulls: a missing image is an error, not a trip to Docker Hub.
    with pytest.raises(docker.errors.ImageNotFound):
        client.api.create_container("localbase/not-there:0", ["true"])


def test_negative_oom_score_adj_runs_through_the_wrapper(client: Any) -> None:
    # Plain runc fails here on a negative oom_score_adj (no CAP_SYS_RESOURCE); the kubelet's
    # pause container asks for -998. The sandbox's runtime wrapper clamps it to 0.
    assert client.info()["DefaultRuntime"] == docker_engine.RUNTIME
    out = client.containers.run(BUSYBOX, ["cat", "/proc/self/oom_score_adj"],
                                network_mode="none", remove=True, oom_score_adj=-998)
    assert out.decode().strip() == "0"


def test_debian_base_runs(client: Any) -> None:
    out = client.containers.run(images.DEBIAN_IMAGE, ["cat", "/etc/debian_version"],
                                network_mode="none", remove=True)
    assert out.decode().startswith("12.")


def _manifest_digest(repo: str, tag: str) -> str:
    request = urllib.request.Request(
        f"http://{registry.ADDRESS}/v2/{repo}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return str(resp.headers["Docker-Content-Digest"])


def test_push_to_local_registry_and_pull_back(client: Any) -> None:
    repo = f"virtwork-test/busybox-{uuid.uuid4().hex[:8]}"
    ref = f"{registry.ADDRESS}/{repo}"
    image = client.images.get(BUSYBOX)
    assert image.tag(ref, tag="t1")
    try:
        progress = list(client.images.push(ref, tag="t1", stream=True, decode=True))
        assert not [p for p in progress if "error" in p], progress
        client.images.remove(f"{ref}:t1")  # the pull below must come from the registry
        pulled = client.images.pull(ref, tag="t1")
        assert pulled.id == image.id
    finally:
        client.images.remove(f"{ref}:t1", force=True)
    # deletes are enabled in our registry config (tutorials show garbage collection)
    digest = _manifest_digest(repo, "t1")
    request = urllib.request.Request(
        f"http://{registry.ADDRESS}/v2/{repo}/manifests/{digest}", method="DELETE")
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 202


def test_status_json_lists_the_three_ready(sandbox: None) -> None:
    proc = _cli("status", "--json", "docker", "registry", "images", timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = {s["name"]: s for s in json.loads(proc.stdout)}
    assert {n: found[n]["ready"] for n in ("docker", "registry", "images")} == {
        "docker": True, "registry": True, "images": True}
    assert found["docker"]["extra"] == {"base_url": "unix:///var/run/docker.sock"}
    assert found["registry"]["extra"] == {"address": "127.0.0.1:5000"}
    assert sorted(found["images"]["extra"]["images"]) == sorted(images.IMAGES)


def test_registry_down_then_up(sandbox: None) -> None:
    if process.running_pid(registry.DAEMON) is None:
        pytest.skip("the registry answering on 127.0.0.1:5000 is not the sandbox's")
    assert _cli("down", "registry", timeout=60).returncode == 0
    try:
        assert not registry.answers()
        assert not registry.RegistryEngine().status().ready
    finally:
        proc = _cli("up", "registry", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert registry.answers()
    assert registry.RegistryEngine().status().ready
