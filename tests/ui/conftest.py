"""Real-browser tests: a JupyterLab started here on 127.0.0.1, driven by Playwright in
Debian's chromium (``playwright install`` cannot download browsers on these machines).

The lab gets its own config folder (the server extension's settings: a cuttable Docker
connection besides the sandbox's engines), its own user settings (no "news?" toast over the
panel) and a fresh token. Its log goes to tests/artifacts/ui-lab.log. It serves this source
tree's built panel (``jupyter_virtwork/labextension``, from ``npm run build:prod`` or pip's
build) when there is one, ahead of the installed copy, so the tests drive the panel of the
code under test. A second lab, in read-only mode (``VW_READONLY=1``), is started only by the
tests that ask for it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ensure_up
from tests.server.proxy import DockerProxy

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BUILT_PANEL = Path(__file__).resolve().parents[2] / "jupyter_virtwork" / "labextension"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
NO_NEWS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
           {"fetchNews": "false", "checkForUpdates": False}}
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    proxy: DockerProxy


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_settings(home: Path, proxy: DockerProxy) -> dict[str, str]:
    config = home / "config"
    config.mkdir(parents=True)
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_virtwork": True}},
        "VirtworkServer": {"connections": {"proxied": proxy.uri}},
    }))
    for name, value in NO_NEWS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(value))
    (home / "root").mkdir()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}
    env.pop("VW_READONLY", None)
    if (BUILT_PANEL / "package.json").exists():  # JUPYTER_PATH comes before the installed
        panels = home / "data" / "labextensions"
        panels.mkdir(parents=True)
        (panels / "jupyter-virtwork").symlink_to(BUILT_PANEL)
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(home / "data"),
                                                           os.environ.get("JUPYTER_PATH")]))
    return env


def _wait_until_up(url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "jupyter lab exited: see tests/artifacts/ui-lab.log"
        try:
            request = urllib.request.Request(f"{url}/api/status",
                                             headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("jupyter lab did not answer in time: see tests/artifacts/ui-lab.log")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    ensure_up("docker", "images", "kubernetes", "vcsim")
    yield from _lab(tmp_path_factory.mktemp("lab"), "ui-lab.log")


@pytest.fixture
def read_only_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab whose server runs with ``VW_READONLY=1``."""
    ensure_up("docker", "images")
    yield from _lab(tmp_path_factory.mktemp("lab-read-only"), "ui-lab-read-only.log",
                    VW_READONLY="1")


def _lab(home: Path, log_name: str, **extra_env: str) -> Iterator[Lab]:
    assert os.access(CHROMIUM, os.X_OK), "install Debian's chromium: apt-get install chromium"
    proxy = DockerProxy(str(home / "docker.sock"))
    proxy.start()
    env = {**_write_settings(home, proxy), **extra_env}
    port, token = _free_port(), secrets.token_hex(16)
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / log_name).open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={home / 'root'}",
         f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, token, process)
        yield Lab(url, token, proxy)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        proxy.cut()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """JupyterLab, with the Virtwork panel open in the left area."""
    yield from _panel_page(browser, lab)


@pytest.fixture
def read_only_page(browser: Any, read_only_lab: Lab) -> Iterator[Any]:
    """The read-only lab, with the Virtwork panel open."""
    yield from _panel_page(browser, read_only_lab)


def _panel_page(browser: Any, lab: Lab) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    tab = context.new_page()
    tab.goto(f"{lab.url}/lab?token={lab.token}")
    tab.locator('.lm-TabBar-tab[data-id="jupyter-virtwork-panel"]').click(timeout=60_000)
    tab.locator("#jupyter-virtwork-panel").wait_for(state="visible")
    yield tab
    context.close()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env()
    yield client
    client.close()
