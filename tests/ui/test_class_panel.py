"""The panel's "Class" section in a real browser: a lab whose Kubernetes credentials are a
teacher's (as the hook makes them) shows every learner's pods with a learner column and
cleans up one learner, asking first; a lab with a learner's credentials shows no section.

The class is this module's own (``tests.classroom.teaching``), made on the real cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.labels import ownership
from jupyter_virtwork.models import Kind
from tests.classroom.teaching import Class, admin, made_class, pod

from .conftest import _lab, _panel_page

pytestmark = pytest.mark.engines("kubernetes", "images", "hub")

TEACHER = "vw-ui-teacher"
ADA = "vw-ui-ada"
TEMPLATE = "virtwork-ui-{username}"
TEACHERS_NAMESPACE = "virtwork-ui-teachers"
SHOWN_WITHIN = 30_000  # ms: the lab loads, then the panel asks the server for the class


@pytest.fixture(scope="module")
def the_class(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    with made_class(tmp_path_factory.mktemp("ui-class"), teacher=TEACHER, template=TEMPLATE,
                    teachers_namespace=TEACHERS_NAMESPACE) as made:
        ada = made.learner(ADA)
        ada.apply([pod("ada-notebook")], labels=ownership("ada-notes"))
        ada.apply([pod("ada-by-hand")])
        made.teacher()
        yield made


def _page_as(browser: Any, folder: Any, who: str, the_class: Class) -> Iterator[Any]:
    for lab in _lab(folder, f"ui-lab-{who}.log", KUBECONFIG=str(the_class.kubeconfigs[who])):
        yield from _panel_page(browser, lab)


@pytest.fixture
def teacher_page(browser: Any, the_class: Class,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _page_as(browser, tmp_path_factory.mktemp("lab-teacher"), TEACHER, the_class)


@pytest.fixture
def learner_page(browser: Any, the_class: Class,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _page_as(browser, tmp_path_factory.mktemp("lab-learner"), ADA, the_class)


def _class_row(page: Any, name: str) -> Any:
    return page.locator(f'.jp-VirtworkPanel-classRow[data-learner="{ADA}"][data-name="{name}"]')


def test_the_teacher_sees_the_class_with_a_learner_column_and_cleans_up_one_learner(
        teacher_page: Any, the_class: Class) -> None:
    page = teacher_page
    section = page.locator('.jp-VirtworkPanel-class[data-section="class"]')
    section.wait_for(timeout=SHOWN_WITHIN)
    headers = section.locator("th").all_inner_texts()
    assert headers[0].lower() == "learner", headers
    for name in ("ada-notebook", "ada-by-hand"):
        row = _class_row(page, name)
        row.wait_for(timeout=SHOWN_WITHIN)
        assert row.locator("td").first.inner_text() == ADA

    learner = section.locator(f'.jp-VirtworkPanel-learner[data-learner="{ADA}"]')
    assert the_class.namespace_of(ADA) in learner.inner_text()
    learner.locator('button[data-action="cleanup"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    assert f"Remove 1 resource made by {ADA}'s notebooks?" in dialog.inner_text()
    assert "Pod ada-notebook" in dialog.inner_text()  # it names what
    page.keyboard.press("Enter")  # Cancel is the default: Enter keeps the work
    dialog.wait_for(state="detached", timeout=5_000)
    time.sleep(0.5)
    ada = admin(the_class.namespace_of(ADA))
    assert ada.get(Kind.POD, "ada-notebook")

    learner.locator('button[data-action="cleanup"]').click()
    page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()
    _class_row(page, "ada-notebook").wait_for(state="detached", timeout=60_000)
    with pytest.raises(NotFound):
        ada.get(Kind.POD, "ada-notebook")
    assert _class_row(page, "ada-by-hand").is_visible()  # not a notebook's: stays


def test_a_learner_sees_no_class_section(learner_page: Any) -> None:
    page = learner_page
    page.locator('.jp-VirtworkPanel-group[data-connection="kubernetes"]').wait_for(
        timeout=SHOWN_WITHIN)
    page.wait_for_load_state("networkidle")
    time.sleep(2)  # the class was asked for when the panel started: its 403 is in by now
    assert page.locator(".jp-VirtworkPanel-class").count() == 0
