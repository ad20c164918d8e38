"""The Virtwork side panel in a real browser, against the sandbox's real engines."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.models import Kind, WorkloadSpec
from tests.server import engines

from .conftest import ARTIFACTS, Lab

SHOW_WITHIN = 1.0  # seconds from "the engine says running" to "the row is on screen"


@pytest.fixture
def labels() -> dict[str, str]:
    return {"virtwork.test": f"ui-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def outside(docker_client: Any, labels: dict[str, str]) -> Iterator[list[Any]]:
    """Containers the test starts through docker-py; removed afterwards."""
    started: list[Any] = []
    yield started
    engines.remove_labelled(docker_client, labels)


def _group(page: Any, connection: str) -> Any:
    return page.locator(f'.jp-VirtworkPanel-group[data-connection="{connection}"]')


def _row(page: Any, connection: str, name: str) -> Any:
    return _group(page, connection).locator(f'.jp-VirtworkPanel-row[data-name="{name}"]')


def test_the_panel_shows_every_connection(page: Any) -> None:
    for connection in ("docker", "kubernetes", "vsphere", "libvirt", "proxied"):
        _group(page, connection).wait_for(timeout=20_000)
    group = _group(page, "docker")
    page.wait_for_function(
        """() => document.querySelector('[data-connection="docker"]')
                 ?.dataset.status === 'connected'""", timeout=20_000)
    assert "docker://" in group.inner_text()


def test_a_container_started_outside_appears_within_a_second(
        page: Any, docker_client: Any, labels: dict[str, str], outside: list[Any]) -> None:
    name = engines.name("vw-ui")
    outside.append(engines.run_busybox(docker_client, labels, name))
    started = time.monotonic()  # docker-py returns once the engine has started it
    row = _group(page, "docker").locator(
        f'.jp-VirtworkPanel-row[data-name="{name}"][data-state="running"]')
    row.wait_for(timeout=10_000)
    shown = time.monotonic() - started
    print(f"running row on screen {shown:.3f} s after docker-py returned")
    assert shown < SHOW_WITHIN, f"the running row took {shown:.2f} s"
    assert row.locator(".jp-VirtworkPanel-badge").inner_text() == "running"


def test_clicking_stop_stops_it_for_real(page: Any, docker_client: Any,
                                         labels: dict[str, str], outside: list[Any]) -> None:
    name = engines.name("vw-ui")
    container = engines.run_busybox(docker_client, labels, name)
    row = _row(page, "docker", name)
    row.locator('button[data-action="stop"]').click(timeout=10_000)
    dialog = page.locator(".jp-Dialog")
    assert f"Stop container {name}?" in dialog.inner_text()  # it names what
    page.keyboard.press("Enter")  # Cancel is the default: Enter keeps it running
    dialog.wait_for(state="detached", timeout=5_000)
    time.sleep(0.5)
    container.reload()
    assert container.status == "running"
    row.locator('button[data-action="stop"]').click(timeout=10_000)
    page.locator(".jp-Dialog").get_by_role("button", name="Stop").click()
    page.locator(f'.jp-VirtworkPanel-row[data-name="{name}"][data-state="stopped"]').first \
        .wait_for(timeout=15_000)
    container.reload()
    assert container.status == "exited"  # the engine's word, not the panel's
    # The answer offers the equivalent command in a notification.
    page.get_by_text(f"stop {name}: stopped").first.wait_for(timeout=5_000)


def test_delete_asks_first_then_removes_it(page: Any, docker_client: Any,
                                           labels: dict[str, str], outside: list[Any]) -> None:
    name = engines.name("vw-ui")
    engines.run_busybox(docker_client, labels, name)
    _row(page, "docker", name).locator('button[data-action="delete"]').click(timeout=10_000)
    dialog = page.locator(".jp-Dialog")
    assert f"docker rm -f {name}" in dialog.inner_text()  # the command it would run
    dialog.get_by_role("button", name="Delete").click()
    _row(page, "docker", name).wait_for(state="detached", timeout=15_000)
    assert docker_client.containers.list(all=True, filters={"name": name}) == []


def test_read_only_mode_shows_no_action_buttons(read_only_page: Any, docker_client: Any,
                                                labels: dict[str, str],
                                                outside: list[Any]) -> None:
    name = engines.name("vw-ui")
    engines.run_busybox(docker_client, labels, name)
    row = _row(read_only_page, "docker", name)
    row.wait_for(timeout=20_000)
    header = read_only_page.locator(".jp-VirtworkPanel-readOnly")
    assert header.is_visible() and header.inner_text() == "read-only"
    assert row.locator('button[data-action="copy"]').count() == 1  # reading stays
    for action in ("start", "stop", "pause", "resume", "delete"):
        assert row.locator(f'button[data-action="{action}"]').count() == 0, action


def test_filter_and_copy_the_command(page: Any, docker_client: Any,
                                     labels: dict[str, str], outside: list[Any]) -> None:
    names = [engines.name("vw-ui") for _ in range(2)]
    for name in names:
        engines.run_busybox(docker_client, labels, name)
    for name in names:
        _row(page, "docker", name).wait_for(timeout=10_000)
    search = page.locator(".jp-VirtworkPanel-filter")
    search.fill(names[0])
    _row(page, "docker", names[1]).wait_for(state="detached", timeout=5_000)
    assert _row(page, "docker", names[0]).is_visible()
    _row(page, "docker", names[0]).locator('button[data-action="copy"]').click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"docker stop {names[0]}"
    search.fill("")


def test_a_pod_and_a_vm_appear(page: Any, labels: dict[str, str]) -> None:
    k8s = engines.kubernetes()
    pod = engines.name("vw-ui")
    k8s.create(WorkloadSpec((engines.pod_manifest(pod, labels),)))
    try:
        _row(page, "kubernetes", pod).wait_for(timeout=20_000)
        _row(page, "vsphere", "DC0_H0_VM0").wait_for(timeout=20_000)  # vcsim's inventory
        vm = _row(page, "vsphere", "DC0_H0_VM0")
        assert vm.get_attribute("data-kind") == "vm"
        page.locator(f'.jp-VirtworkPanel-row[data-name="{pod}"][data-state="running"]') \
            .wait_for(timeout=30_000)
        _screenshot(page)
    finally:
        k8s.destroy(Kind.POD, pod, force=True)
        k8s.close()


def test_a_lost_engine_shows_and_recovers(page: Any, lab: Lab) -> None:
    group = _group(page, "proxied")
    group.wait_for(timeout=20_000)
    page.locator('[data-connection="proxied"][data-status="connected"]') \
        .wait_for(timeout=20_000)
    lab.proxy.cut()
    page.locator('[data-connection="proxied"][data-status="disconnected"]') \
        .wait_for(timeout=15_000)
    assert "disconnected, retrying" in group.locator(".jp-VirtworkPanel-error").inner_text()
    lab.proxy.start()
    page.locator('[data-connection="proxied"][data-status="connected"]') \
        .wait_for(timeout=15_000)


def test_command_palette_entry(page: Any) -> None:
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Virtwork")
    item = page.locator(".lm-CommandPalette-item", has_text="Show Containers, Pods and VMs")
    item.wait_for(timeout=5_000)
    item.click()
    page.locator("#jupyter-virtwork-panel").wait_for(state="visible")


def _screenshot(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#jupyter-virtwork-panel").screenshot(path=str(ARTIFACTS / "virtwork-panel.png"))
    page.screenshot(path=str(ARTIFACTS / "virtwork-lab.png"))
