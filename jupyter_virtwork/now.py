"""What the engines hold now of what a notebook's journal made, for ``%vw export
--final-state``: the journal says what was made and removed through the magics, but an
object may have been changed or removed since by other means (the side panel, a driver
called from Python, kubectl).

``read_back`` asks each connection's typed driver for what carries the notebook's labels
(``owned``) and answers which of the journal's objects exist, and for each Kubernetes
object the apply of it as it is now (a deployment scaled outside the journal is replayed
at its present scale). A connection that does not answer is taken at the journal's word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import withheld
from .drivers.base import Cluster, Driver
from .errors import VirtworkError
from .journal import Command, Journal, Subject, manifest_artefact, stem, subjects_of
from .models import Resource


@dataclass(frozen=True)
class Now:
    """Which objects the journal made exist now, and the line that makes each Kubernetes
    object as it is now (in place of the journal's lines for it)."""

    existing: frozenset[Subject]
    as_now: Mapping[Subject, Command] = field(default_factory=dict)


def read_back(journal: Journal, drivers: Iterable[Driver],
              labels: Mapping[str, str]) -> Now:
    alive = journal.alive()
    by_uri = {d.uri: d for d in drivers}
    existing: set[Subject] = set()
    as_now: dict[Subject, Command] = {}
    for uri in dict.fromkeys(c.uri for c in alive.values()):
        mine = {s for s, c in alive.items() if c.uri == uri}
        driver = by_uri.get(uri)
        found = _owned(driver, labels) if driver is not None else None
        if found is None:
            existing |= mine
            continue
        for made in mine & found.keys():
            existing.add(made)
            if isinstance(driver, Cluster):
                as_now[made] = applied_now(driver, made, found[made], alive[made])
    return Now(frozenset(existing), as_now)


def _owned(driver: Driver, labels: Mapping[str, str]) -> dict[Subject, Resource] | None:
    """What ``driver``'s engine holds with ``labels``, by subject; None when it does not
    answer."""
    try:
        return {s: r for r in driver.owned(labels) for s in subjects_of(r)}
    except VirtworkError:
        return None


def applied_now(driver: Cluster, made: Subject, resource: Resource,
                last: Command) -> Command:
    """The apply of a Kubernetes object as the engine holds it now (clean, its Secret values
    as the references ``last``, its journal's last line, gave them)."""
    name = stem(str(resource.raw.get("kind") or resource.kind.value).lower(), resource.name)
    artefact = manifest_artefact(resource.raw, name, last.references)
    references = withheld.manifests(artefact.text).references
    text = withheld.for_envsubst(artefact.text) if references else artefact.text
    line = withheld.through_envsubst(driver.apply_command(text), references)
    return Command(last.uri, last.family, "apply", line, made=(made,), artefacts=(artefact,),
                   references=references)
