"""The teacher's view in the panel's API, on the real cluster: ``GET class`` and
``class/LEARNER/cleanup`` with the server's Kubernetes credentials a teacher's, as the hook
makes them, or a learner's.

The class is this test's own (``tests.classroom.teaching``): two learners, each with a pod
their notebook made (the ownership and session labels) and one made by hand (no labels);
the teacher's credentials are made after both spaces. The server reads its credentials
from ``KUBECONFIG`` on every request, as a teacher's or a learner's server would have it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.labels import ownership
from jupyter_virtwork.models import Kind
from tests.classroom.teaching import Class, admin, made_class, pod

pytestmark = pytest.mark.engines("kubernetes", "images", "hub")

TEACHER = "vw-panel-teacher"
ADA, BOB = "vw-panel-ada", "vw-panel-bob"
TEMPLATE = "virtwork-panel-{username}"
TEACHERS_NAMESPACE = "virtwork-panel-teachers"
BY_NOTEBOOK = {ADA: "ada-notes", BOB: "bob-notes"}


@pytest.fixture(scope="module")
def the_class(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    with made_class(tmp_path_factory.mktemp("panel-class"), teacher=TEACHER,
                    template=TEMPLATE, teachers_namespace=TEACHERS_NAMESPACE) as made:
        for learner, session in BY_NOTEBOOK.items():
            own = made.learner(learner)
            short = learner.removeprefix("vw-panel-")
            own.apply([pod(f"{short}-notebook")], labels=ownership(session))
            own.apply([pod(f"{short}-by-hand")])
        made.teacher()
        yield made


@pytest.fixture
def as_teacher(the_class: Class, _users_configuration: None,
               monkeypatch: pytest.MonkeyPatch) -> Class:
    monkeypatch.setenv("KUBECONFIG", str(the_class.kubeconfigs[TEACHER]))
    return the_class


async def test_the_teacher_sees_every_learners_workloads_with_a_learner_column(
        api: Any, as_teacher: Class) -> None:
    code, body = await api("class")
    assert code == 200, body
    mine = {(r["learner"], r["namespace"], r["kind"], r["name"]) for r in body["rows"]
            if r["learner"] in BY_NOTEBOOK}
    assert mine == {(learner, as_teacher.namespace_of(learner), "pod", f"{short}-{how}")
                    for learner in BY_NOTEBOOK for short in [learner.removeprefix("vw-panel-")]
                    for how in ("notebook", "by-hand")}
    learners = {e["learner"]: e for e in body["learners"]}
    assert {learners[name]["namespace"] for name in BY_NOTEBOOK} \
        == {as_teacher.namespace_of(name) for name in BY_NOTEBOOK}
    assert learners[ADA]["command"] == f"%vw class cleanup {ADA} --yes"
    assert not learners[ADA]["error"]


async def test_a_learners_credentials_get_a_one_line_403(
        api: Any, the_class: Class, _users_configuration: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(the_class.kubeconfigs[ADA]))
    for path in (("class",), ("class", BOB, "cleanup")):
        code, body = await api(*path)
        assert code == 403, body
        assert body["code"] == "AuthenticationFailed"
        assert "only the teacher's credentials can see the class" in body["message"]
        assert "\n" not in body["message"]
    code, body = await api("class", BOB, "cleanup", method="POST")
    assert code == 403, body
    assert admin(the_class.namespace_of(BOB)).get(Kind.POD, "bob-notebook")  # still there


async def test_a_cleanup_is_refused_in_read_only_mode(api: Any, as_teacher: Class,
                                                      jp_serverapp: Any) -> None:
    jp_serverapp.web_app.settings["virtwork"].settings.read_only = True
    code, body = await api("class", BOB, "cleanup", method="POST")
    assert (code, body["code"]) == (403, "ReadOnly"), body
    code, body = await api("class")  # reading the class is not a change
    assert code == 200, body
    assert admin(as_teacher.namespace_of(BOB)).get(Kind.POD, "bob-notebook")


async def test_an_unknown_learner_is_a_404(api: Any, as_teacher: Class) -> None:
    code, body = await api("class", "nobody-here", "cleanup", method="POST")
    assert (code, body["code"]) == (404, "NotFound"), body
    assert "'nobody-here' is not a learner of the class" in body["message"]


async def test_the_teacher_cleans_up_only_that_learners_notebook_made_pods(
        api: Any, as_teacher: Class) -> None:
    code, body = await api("class", ADA, "cleanup")  # what would go, removing nothing
    assert code == 200, body
    assert [(r["kind"], r["name"], r["learner"]) for r in body["resources"]] \
        == [("Pod", "ada-notebook", ADA)]  # any owned object: its Kubernetes kind
    ada = admin(as_teacher.namespace_of(ADA))
    assert ada.get(Kind.POD, "ada-notebook")
    code, body = await api("class", ADA, "cleanup", method="POST")
    assert code == 200, body
    assert [r["name"] for r in body["removed"]] == ["ada-notebook"]
    assert body["command"] == f"%vw class cleanup {ADA} --yes"
    with pytest.raises(NotFound):
        ada.get(Kind.POD, "ada-notebook")
    assert ada.get(Kind.POD, "ada-by-hand")  # not a notebook's: stays
    bob = admin(as_teacher.namespace_of(BOB))
    assert {bob.get(Kind.POD, name).name for name in ("bob-notebook", "bob-by-hand")} \
        == {"bob-notebook", "bob-by-hand"}
