"""The teacher's view of the class for the panel: every learner's workloads, one learner's
cleanup (``classroom.roster`` does the work, as for ``%vw class``).

It acts with the server's own Kubernetes credentials: its first Kubernetes connection (the
default one, the current kube context, comes first). Only a teacher's may list the learners'
namespaces; anyone else's are refused by ``roster.learners`` in one line (403
AuthenticationFailed), and the panel then shows no "Class" section. A server with no
Kubernetes connection answers 404 NotFound.

Each learner namespace is read through a sibling of that connection (its kubeconfig, in the
learner's namespace), kept in the server's Session.
"""

from __future__ import annotations

import functools
from typing import Any

from ..classroom import roster
from ..drivers.base import Cluster
from ..errors import NotFound, VirtworkError
from ..models import Resource, ResourceList
from ..session import sibling_of
from .app import Backend

Json = dict[str, Any]
VIEW_COMMAND = "%vw class"


def _teacher(backend: Backend) -> tuple[Cluster, roster.InNamespace]:
    """The server's Kubernetes connection, and how to reach another namespace with it."""
    endpoint = next((e for e in backend.policy.endpoints().values()
                     if e.family == "kubernetes"), None)
    if endpoint is None:
        raise NotFound("the server has no Kubernetes connection, so no class to show",
                       hint="run the server with the teacher's kubeconfig (KUBECONFIG)")
    _, driver = backend.driver(endpoint.alias)
    assert isinstance(driver, Cluster)  # the kubernetes family's driver is one
    return driver, functools.partial(sibling_of, backend.session, driver)


def _row(learner: str, namespace: str, resource: Resource) -> Json:
    return {**resource.to_dict(), "learner": learner, "namespace": namespace}


def _cleanup_command(learner: str) -> str:
    return f"{VIEW_COMMAND} cleanup {learner} --yes"


def view(backend: Backend) -> Json:
    """Every learner (with their namespace, even an empty one) and each one's pods and
    deployments as rows with a ``learner`` column. A namespace the credentials cannot read
    (a learner's space made for another class's teachers) is that learner's ``error``,
    not the whole view's."""
    cluster, in_namespace = _teacher(backend)
    learners: list[Json] = []
    rows: list[Json] = []
    for learner, namespace in roster.learners(cluster).items():
        entry = {"learner": learner, "namespace": namespace,
                 "command": _cleanup_command(learner), "error": ""}
        try:
            space = in_namespace(namespace)
            rows += [_row(learner, namespace, r)
                     for kind in roster.KINDS for r in space.list(kind)]
        except VirtworkError as exc:
            entry["error"] = exc.one_line()
        learners.append(entry)
    return {"learners": learners, "rows": rows, "command": VIEW_COMMAND}


def _learner(backend: Backend, learner: str) -> Cluster:
    cluster, in_namespace = _teacher(backend)
    return roster.learner_space(cluster, learner, in_namespace)


def _answer(learner: str, space: Cluster, key: str, found: ResourceList) -> Json:
    return {"learner": learner, "namespace": space.namespace, "command": _cleanup_command(learner),
            key: [_row(learner, space.namespace, r) for r in found]}


def would_remove(backend: Backend, learner: str) -> Json:
    """What a cleanup of ``learner`` would remove: the panel names it before asking."""
    space = _learner(backend, learner)
    return _answer(learner, space, "resources", roster.made_by_notebooks(space))


def cleanup(backend: Backend, learner: str, timeout: float) -> Json:
    """Remove what ``learner``'s notebooks made in their namespace (``roster.cleanup``)."""
    space = _learner(backend, learner)
    return _answer(learner, space, "removed", roster.cleanup(space, learner, timeout=timeout))
