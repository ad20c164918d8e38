"""The kubectl lines that do what the driver does, for a learner to read and run: each on
the connection's own kubeconfig, context and namespace.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ...models import Resource
from ..base import heredoc
from .manifest_text import FIELD_MANAGER

# The driver's verbs by kubectl's names for them.
KUBECTL_VERBS = {"list": ["get"], "destroy": ["delete"], "create": ["apply", "-f"]}


@dataclass(frozen=True)
class Kubectl:
    """kubectl's flags for one connection, the same on every line (the namespace as the
    driver resolves it)."""

    kubeconfig: str | None
    context: str | None
    namespace: str

    def command(self, verb: str, *args: str) -> str:
        """The kubectl line that does the same on this connection."""
        return self.line([*KUBECTL_VERBS.get(verb, [verb]), *args])

    def resource_command(self, verb: str, resource: Resource) -> str:
        """kubectl names an object by its kind: ``pod/web-1``."""
        return self.command(verb, f"{resource.kind.value}/{resource.name}")

    def line(self, words: Sequence[str], *, namespaced: bool = True) -> str:
        kubeconfig = ["--kubeconfig", self.kubeconfig] if self.kubeconfig else []
        context = ["--context", self.context] if self.context \
            and self.context != "in-cluster" else []
        namespace = ["-n", self.namespace] if namespaced else []
        return shlex.join(["kubectl", *kubeconfig, *context, *namespace, *words])

    def apply_command(self, stamped: list[dict[str, Any]], *, dry_run: bool, verb: str,
                      namespaced: Callable[[Mapping[str, Any]], bool]) -> str:
        """``kubectl apply`` (or ``diff``) of the ``stamped`` manifests on standard input:
        a server-side apply by our field manager. ``namespaced`` tells whether the
        server keeps a manifest's kind in a namespace."""
        elsewhere = bool({m["metadata"].get("namespace") for m in stamped}
                         - {None, self.namespace})
        if elsewhere:
            # kubectl refuses an object of another namespace under -n: each names its own,
            # where the driver puts it (its own, else this connection's).
            for manifest in stamped:
                if namespaced(manifest):
                    manifest["metadata"].setdefault("namespace", self.namespace)
        line = self.line([verb, "--server-side", f"--field-manager={FIELD_MANAGER}",
                          "--force-conflicts", *(["--dry-run=server"] if dry_run else []),
                          "-f", "-"], namespaced=not elsewhere)
        return heredoc(line, yaml.safe_dump_all(stamped, sort_keys=False))
