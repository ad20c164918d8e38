"""A teacher's credentials as the hook makes them (``LearnerSpaces.prepare_teacher``), on the
real cluster, driven through ``%vw class`` in this process's IPython.

The class is this test's own (``teaching.Class``), so that the hub's class is left as it
is. One learner's space is made before the teacher's credentials and one after:
both must let the teacher in. Each learner's pod is applied with that learner's own
kubeconfig, labelled as a learner's notebook labels it; Bob's second pod comes from a
notebook of the same path as Ada's (the same session id). The pod guard the learners' pods
pass is the hub's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork import uri
from jupyter_virtwork.classroom import roster, space
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.kubernetes.owned import ApiResource
from jupyter_virtwork.errors import AuthenticationFailed, NotFound
from jupyter_virtwork.labels import SESSION, TEACHER, ownership
from jupyter_virtwork.models import Kind, ResourceList
from tests.integration.conftest import ipython_shell

from .teaching import RBAC, Class, admin, made_class, pod

pytestmark = pytest.mark.engines("kubernetes", "images", "hub")

TEACHER_NAME = "vw-test-teacher"
ADA, BOB = "vw-test-ada", "vw-test-bob"  # Ada's space is made before the teacher's, Bob's after
TEMPLATE = "virtwork-test-{username}"
TEACHERS_NAMESPACE = "virtwork-test-teachers"


@pytest.fixture(scope="module")
def the_class(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    with made_class(tmp_path_factory.mktemp("class"), teacher=TEACHER_NAME,
                    template=TEMPLATE, teachers_namespace=TEACHERS_NAMESPACE) as made:
        made.learner(ADA).apply([pod("ada-1"), pod("ada-2")], labels=ownership("ada-notes"))
        made.teacher()
        made.teacher()  # a second spawn changes nothing
        bob = made.learner(BOB)
        bob.apply([pod("bob-1")], labels=ownership("bob-notes"))
        bob.apply([pod("bob-2")], labels=ownership("ada-notes"))
        yield made


@pytest.fixture
def ip(the_class: Class) -> Iterator[Any]:
    """This process's IPython, its Kubernetes connection the teacher's (``as_learner`` to
    switch)."""
    shell = ipython_shell()
    shell.run_line_magic("vw", f"connect k8s:// --kubeconfig {the_class.kubeconfigs[TEACHER_NAME]}"
                               " --as class")
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


def test_the_teacher_sees_every_learners_pods_with_a_learner_column(ip: Any) -> None:
    rows = ip.run_line_magic("vw", "class")
    assert isinstance(rows, ResourceList)  # no front end here: the rows, not a live table
    mine = {(r.details["learner"], r.kind, r.name) for r in rows
            if r.details["learner"] in (ADA, BOB)}
    assert mine == {(ADA, Kind.POD, "ada-1"), (ADA, Kind.POD, "ada-2"),
                    (BOB, Kind.POD, "bob-1"), (BOB, Kind.POD, "bob-2")}


def test_a_learner_namespace_made_after_the_teacher_lets_the_teacher_in(the_class: Class
                                                                        ) -> None:
    api = ApiResource(RBAC, "RoleBinding", "rolebindings", True)
    for name in (ADA, BOB):
        found = admin().objects(api, {TEACHER: TEACHER_NAME},
                                space.namespace_for(name, TEMPLATE))
        assert [b["subjects"] for b in found] == [[{
            "kind": "ServiceAccount", "name": TEACHER_NAME, "namespace": TEACHERS_NAMESPACE}]]


def test_a_learners_credentials_cannot_see_the_class(the_class: Class, ip: Any,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    ip.run_line_magic("vw", f"connect k8s:// --kubeconfig {the_class.kubeconfigs[ADA]} "
                            "--as ada")
    capsys.readouterr()
    error = ip.run_cell("%vw class").error_in_exec
    assert isinstance(error, AuthenticationFailed), error
    (message,) = error._render_traceback_()
    assert capsys.readouterr().out.splitlines()[-1] == message  # what IPython showed
    assert "only the teacher's credentials can see the class" in message


def test_the_teacher_cleans_up_one_learner_and_only_what_their_notebooks_made(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ada = space.namespace_for(ADA, TEMPLATE)
    listed = ip.run_line_magic("vw", f"class cleanup {ADA}")  # without --yes: what would go
    assert sorted(r.name for r in listed) == ["ada-1", "ada-2"]
    assert "2 resources of vw-test-ada would be removed" in capsys.readouterr().out
    removed = ip.run_line_magic("vw", f"class cleanup {ADA} --yes")
    assert sorted(r.name for r in removed) == ["ada-1", "ada-2"]
    for name in ("ada-1", "ada-2"):
        with pytest.raises(NotFound):
            admin(ada).get(Kind.POD, name)
    bobs = admin(space.namespace_for(BOB, TEMPLATE))
    assert [bobs.get(Kind.POD, name).labels[SESSION] for name in ("bob-1", "bob-2")] \
        == ["bob-notes", "ada-notes"]  # the same notebook's as Ada's pods: not touched
    accounts = admin(ada).objects(ApiResource("v1", "ServiceAccount", "serviceaccounts", True),
                                  space.labels_for(ADA), ada)
    assert len(accounts) == 1  # what the hook made stays


def test_the_teacher_cannot_make_cluster_scoped_objects_nor_read_other_namespaces(
        the_class: Class) -> None:
    teacher = KubernetesDriver(uri.parse(uri.k8s_uri()),
                               kubeconfig=str(the_class.kubeconfigs[TEACHER_NAME]))
    for kind, version in (("Namespace", "v1"), ("ClusterRole", RBAC)):
        with pytest.raises(AuthenticationFailed, match="forbidden"):
            teacher.apply([{"apiVersion": version, "kind": kind,
                            "metadata": {"name": "vw-teacher-escape"}}])
    elsewhere = KubernetesDriver(uri.parse(uri.k8s_uri(None, "kube-system")),
                                 kubeconfig=str(the_class.kubeconfigs[TEACHER_NAME]))
    with pytest.raises(AuthenticationFailed, match='in the namespace "kube-system"'):
        elsewhere.list(Kind.POD)
    with pytest.raises(AuthenticationFailed, match="at the cluster scope"):
        teacher.objects(ApiResource("v1", "Pod", "pods", True))  # no pod cluster-wide


def test_a_cleanup_with_wider_credentials_still_stays_in_the_learners_namespace(
        the_class: Class) -> None:
    """The cluster's admin (who may list every namespace's pods) cleaning up Bob's space:
    Ada's pod of a notebook of the same path stays."""
    ada, bob = (admin(space.namespace_for(name, TEMPLATE)) for name in (ADA, BOB))
    ada.apply([pod("ada-3")], labels=ownership("bob-notes"))
    removed = roster.cleanup(bob, BOB, timeout=120)
    assert sorted(r.name for r in removed) == ["bob-1", "bob-2"]
    assert ada.get(Kind.POD, "ada-3").labels[SESSION] == "bob-notes"
