"""The teacher's view of the class: every learner's workloads, and one learner's cleanup.

The class is the namespaces our hook made for learners (they carry the learner label).
Only a teacher's credentials (``teachers``) may list namespaces; a learner's are refused in
one line. Each learner namespace is then read on its own, through the RoleBinding that
lets the teacher do there what its learner may: a teacher's credentials never read
workloads cluster-wide.

A learner's cleanup removes what the learner's notebooks made there (our ownership label
and a notebook's session label), owners first, and returns once it is gone: never what the
hook made (the ServiceAccount, the quota, the kubeconfig Secret), which carries no session.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..drivers.base import Cluster, ProgressCallback
from ..errors import AuthenticationFailed, NotFound
from ..labels import MANAGED_BY, MANAGER, SESSION, ownership
from ..models import Kind, Resource, ResourceList
from ..session import cleanup_incomplete
from . import space

KINDS = (Kind.POD, Kind.DEPLOYMENT)  # the workloads the table shows
InNamespace = Callable[[str], Cluster]  # the same connection, working in another namespace
ClassSource = tuple[Cluster, Kind, None]


def learners(cluster: Cluster) -> dict[str, str]:
    """Each learner of the class and their namespace, in the order of the namespaces."""
    try:
        found = cluster.namespaces({MANAGED_BY: MANAGER})
    except AuthenticationFailed:
        raise AuthenticationFailed(
            "only the teacher's credentials can see the class: these may not list "
            "namespaces", connection=cluster.uri,
            hint="run %vw class in the teacher's server") from None
    return space.learners_in(found)


def sources(cluster: Cluster, in_namespace: InNamespace
            ) -> tuple[list[ClassSource], list[str]]:
    """What a live table of the class watches (each learner namespace's pods and
    deployments), and the learner of each."""
    found = learners(cluster)
    if not found:
        raise NotFound("no learner has a namespace yet", connection=cluster.uri,
                       hint="a learner's namespace is made when their server first starts")
    watched: list[ClassSource] = []
    names: list[str] = []
    for learner, namespace in found.items():
        driver = in_namespace(namespace)
        watched += [(driver, kind, None) for kind in KINDS]
        names += [learner] * len(KINDS)
    return watched, names


def learner_space(cluster: Cluster, learner: str, in_namespace: InNamespace) -> Cluster:
    """The connection to ``learner``'s namespace."""
    found = learners(cluster)
    if learner not in found:
        raise NotFound(f"{learner!r} is not a learner of the class", connection=cluster.uri,
                       hint=f"the learners: {', '.join(found) or 'none yet'}")
    return in_namespace(found[learner])


def made_by_notebooks(space_of_learner: Cluster) -> ResourceList:
    """What the learner's notebooks made in their namespace: what a cleanup removes."""
    return ResourceList(r for r in space_of_learner.owned_in_namespace({MANAGED_BY: MANAGER})
                        if r.labels.get(SESSION))


def cleanup(space_of_learner: Cluster, learner: str, *, timeout: float,
            on_progress: ProgressCallback | None = None) -> ResourceList:
    """Remove ``made_by_notebooks``, notebook by notebook (a session's label at a time),
    within ``timeout`` seconds in all; what was removed, else CleanupIncomplete naming
    each object left and why. Only in the learner's namespace: a session label is
    whatever a notebook wrote (ids differ per user and notebook, but anyone can write
    any label), so the namespace is what bounds a cleanup of one learner's work."""
    deadline = time.monotonic() + timeout
    sessions = sorted({str(r.labels[SESSION]) for r in made_by_notebooks(space_of_learner)})
    removed = ResourceList()
    left: list[tuple[Resource, str]] = []
    for session_id in sessions:
        removal = space_of_learner.remove_owned_in_namespace(
            ownership(session_id), deadline=deadline, on_progress=on_progress)
        removed.extend(removal.removed)
        left.extend(removal.left)
    if left:
        raise cleanup_incomplete(removed, left, again=f"%vw class cleanup {learner} --yes")
    return removed
