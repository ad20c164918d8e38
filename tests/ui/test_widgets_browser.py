"""The StatusTable's ES module in a real browser: rows appear and go with real containers,
a page reload gets the whole table back (the resync), a click selects a row and the
ControlPanel acts on it, and close() leaves the static table in the output."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.server import engines

from .conftest import ARTIFACTS, Lab

NOTEBOOK = "widgets.ipynb"


def _cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


def _put_notebook(lab: Lab, labels: dict[str, str]) -> None:
    setup = ("from jupyter_virtwork.registry import connect\n"
             "from jupyter_virtwork.models import Kind\n"
             "from jupyter_virtwork.widgets import StatusTable\n"
             f"table = StatusTable([(connect('docker://'), Kind.CONTAINER, {labels!r})],"
             " title='browser table')\n"
             "table")
    cells = [_cell(setup), _cell("table"), _cell("table.close()")]
    content = {"cells": cells, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    request = urllib.request.Request(
        f"{lab.url}/api/contents/{NOTEBOOK}", method="PUT",
        data=json.dumps({"type": "notebook", "content": content}).encode(),
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def labels() -> dict[str, str]:
    return {"virtwork.test": f"ui-widgets-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def notebook_page(browser: Any, lab: Lab, labels: dict[str, str]) -> Iterator[Any]:
    _put_notebook(lab, labels)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
    tab.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    tab.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    yield tab
    context.close()


def _run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def _row(area: Any, container: Any) -> Any:
    return area.locator(f'.vw-table tr[data-key$="|container|{container.id}"]')


def test_the_live_table_in_the_browser(notebook_page: Any, docker_client: Any,
                                       labels: dict[str, str]) -> None:
    page = notebook_page
    try:
        _run_cell(page, 0)
        page.locator(".vw-table .vw-status .vw-live").wait_for(timeout=30_000)
        first = engines.run_busybox(docker_client, labels, engines.name("vw-ui-a"))
        _row(page, first).get_by_text("running").wait_for(timeout=10_000)
        second = engines.run_busybox(docker_client, labels, engines.name("vw-ui-b"))
        _row(page, second).get_by_text("running").wait_for(timeout=10_000)
        names = page.locator(".vw-table tbody tr td:nth-child(2)").all_inner_texts()
        assert names == sorted([first.name, second.name])

        second.remove(force=True)
        _row(page, second).wait_for(state="detached", timeout=10_000)

        page.keyboard.press("Control+s")  # saved live: the output is the widget's view
        page.locator(".jp-mod-dirty").wait_for(state="detached", timeout=10_000)
        page.reload()  # a new front end: it asks the kernel for the whole table
        _row(page, first).get_by_text("running").wait_for(timeout=60_000)

        # Jupyter keeps no display id across a reload, so close() could not replace the
        # restored output: show the table again in this session, as a user would.
        _run_cell(page, 1)
        output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea")
        _row(output, first).click()
        output.locator(".vw-table tr.vw-selected").wait_for(timeout=10_000)
        output.get_by_text(f"{first.name} (running)").wait_for(timeout=10_000)
        output.locator("button.jupyter-button", has_text="pause").click()
        output.get_by_text(f"paused {first.name}").wait_for(timeout=15_000)
        first.reload()
        assert first.status == "paused"  # the engine's word
        page.screenshot(path=str(ARTIFACTS / "virtwork-widgets-live.png"))

        _run_cell(page, 2)
        output.locator(".virtwork-snapshot table.virtwork-table").wait_for(timeout=30_000)
        assert output.locator(".vw-table").count() == 0
        assert first.name in output.locator(".virtwork-snapshot").inner_text()
    finally:
        page.screenshot(path=str(ARTIFACTS / "virtwork-widgets.png"))
        engines.remove_labelled(docker_client, labels)
