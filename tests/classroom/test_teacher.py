"""The teacher's view on the real hub: the teacher's kernel sees every learner's workloads
in one live table with a learner column, cleans up one learner's namespace, and can do
nothing else; a learner's kernel cannot see the class.

Every cell runs in a kernel of the hub's, through its user's own server; what the cluster
holds afterwards is read with the sandbox's admin credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from jupyter_virtwork.errors import NotFound
from jupyter_virtwork.models import Kind
from jupyter_virtwork.sandbox import hub_accounts
from jupyter_virtwork.sandbox.hub_client import HubClient
from tests.integration.conftest import ensure_up

from .test_isolation import Learner, admin, pod

pytestmark = pytest.mark.engines("hub", "kubernetes", "images")

FIRST, SECOND = hub_accounts.LEARNERS[:2]
TEACHER = hub_accounts.TEACHER
POD = "class-pod"


@pytest.fixture(scope="module")
def kernels(hub: HubClient) -> Iterator[dict[str, Learner]]:
    ensure_up("images", "kubernetes")
    with ExitStack() as stack:
        found = {}
        for name in (FIRST, SECOND, TEACHER):
            hub.spawn(name)
            found[name] = Learner(name, stack.enter_context(hub.kernel(name)))
            found[name].ok("%load_ext jupyter_virtwork")
        for name in (FIRST, SECOND):
            found[name].ok(pod(POD))
        yield found
    for name in (FIRST, SECOND):
        try:
            admin(name).delete(Kind.POD, POD, grace_seconds=0, wait=True)
        except NotFound:
            pass


def test_the_teachers_kernel_sees_every_learners_pods_with_a_learner_column(
        kernels: dict[str, Learner]) -> None:
    shown = kernels[TEACHER].ok(f"""table = %vw class
seen = lambda t: {{(r.details.get("learner"), r.kind.value, r.name) for r in t.rows}}
wanted = {{({FIRST!r}, "pod", {POD!r}), ({SECOND!r}, "pod", {POD!r})}}
print(table.wait_for(lambda t: wanted <= seen(t), 60), "learner" in table.columns)""")
    assert shown.stdout.split() == ["True", "True"], shown.shown


def test_a_learners_kernel_is_refused_the_class_in_one_line(kernels: dict[str, Learner]
                                                            ) -> None:
    attempt = kernels[FIRST].run("%vw class")
    assert len(attempt.error) == 1, attempt.shown
    assert "only the teacher's credentials can see the class" in attempt.error[0]


def test_the_teacher_cleans_up_one_learner_and_the_others_pods_remain(
        kernels: dict[str, Learner]) -> None:
    kernels[TEACHER].ok(f"%vw class cleanup {FIRST} --yes")
    with pytest.raises(NotFound):
        admin(FIRST).get(Kind.POD, POD)
    assert admin(SECOND).get(Kind.POD, POD).name == POD


@pytest.mark.parametrize(("kind", "api_version"), [
    ("Namespace", "v1"), ("ClusterRole", "rbac.authorization.k8s.io/v1"),
])
def test_the_teacher_cannot_make_cluster_scoped_objects(kernels: dict[str, Learner],
                                                        kind: str, api_version: str) -> None:
    attempt = kernels[TEACHER].run(f"%%k8s apply\napiVersion: {api_version}\nkind: {kind}\n"
                                   "metadata: {name: vw-teacher-escape}\n")
    assert len(attempt.error) == 1, attempt.shown
    assert "forbidden" in attempt.error[0]
