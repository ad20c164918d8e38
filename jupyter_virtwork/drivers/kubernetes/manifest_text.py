"""Kubernetes manifests as text: parsing YAML cells, stamping ownership labels, diffs.

Pure data handling (no SDK), so ``%%k8s apply`` can reject a bad cell before the cluster is
asked anything.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import Any

import yaml

from ...errors import InvalidInput
from ...names import K8S, check_name

# The field manager of our server-side applies: the managedFields entry that says an object
# was applied through this toolkit, and with which apiVersion.
FIELD_MANAGER = "jupyter-virtwork"
# Workload kinds whose pods come from spec.template: their pods get our labels too, so
# "what this notebook created" finds the pods of a Deployment it applied.
TEMPLATED = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job"}
# Fields the server owns; a diff that showed them would be noise.
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp",
                 "managedFields", "selfLink")


def parse(text: str) -> list[dict[str, Any]]:
    """Every non-empty document of a YAML cell, each checked to be an object we can apply."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"the YAML is malformed{where}: {problem}",
                           hint="fix the indentation or quoting there") from None
    if not documents:
        raise InvalidInput("the YAML holds no object", hint="write a manifest with "
                           "apiVersion, kind and metadata.name")
    return [check_manifest(d, i + 1) for i, d in enumerate(documents)]


def check_manifest(document: Any, number: int = 1) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInput(f"YAML document {number} is not a mapping",
                           hint="each document must be an object with apiVersion and kind")
    missing = [f for f in ("apiVersion", "kind") if not document.get(f)]
    name = (document.get("metadata") or {}).get("name")
    if missing or not name:
        fields = [*missing, *([] if name else ["metadata.name"])]
        raise InvalidInput(f"YAML document {number} lacks {', '.join(fields)}",
                           hint="every object needs apiVersion, kind and metadata.name")
    check_name(str(name), K8S, str(document["kind"]))
    return document


def after_definitions(manifests: list[dict[str, Any]], namespace: str | None) -> set[int]:
    """The documents (by index) that the server can only take once others of the same cell
    are applied: objects in a Namespace the cell creates, custom resources whose CRD the
    cell defines. They cannot be dry-run beforehand, and are applied after the rest."""
    namespaces = {m["metadata"]["name"] for m in manifests
                  if m.get("kind") == "Namespace" and m.get("apiVersion") == "v1"}
    defined = {(str((m.get("spec") or {}).get("group")),
                str(((m.get("spec") or {}).get("names") or {}).get("kind")))
               for m in manifests if m.get("kind") == "CustomResourceDefinition"}
    later = set()
    for index, manifest in enumerate(manifests):
        group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
        inside = manifest["metadata"].get("namespace") or namespace
        if (group, str(manifest.get("kind"))) in defined or (
                inside in namespaces and manifest.get("kind") != "Namespace"):
            later.add(index)
    return later


def stamped(manifest: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """What apply sends of ``manifest``: a copy carrying ``labels``, its ports' protocols
    written out."""
    return with_protocols(with_labels(manifest, labels))


def with_protocols(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with ``protocol: TCP`` written out on every port list.

    Server-side apply before Kubernetes 1.21 rejects a port without ``protocol`` ("associative
    list with keys has an element that omits key field"), although the API defaults it to TCP;
    kubectl's client-side apply never met this. Writing the default out is what the server
    would store anyway.
    """
    filled = copy.deepcopy(dict(manifest))
    spec = filled.get("spec") or {}
    for port in spec.get("ports") or [] if filled.get("kind") == "Service" else []:
        port.setdefault("protocol", "TCP")
    pod_spec = spec if filled.get("kind") == "Pod" else \
        ((spec.get("template") or {}).get("spec") or {})
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    return filled


def with_labels(manifest: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``manifest`` carrying ``labels`` (and its pod template too)."""
    stamped = copy.deepcopy(dict(manifest))
    metadata = stamped.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    spec = stamped.get("spec") if isinstance(stamped.get("spec"), dict) else None
    if stamped.get("kind") == "CronJob" and spec is not None:
        # Its Jobs and their pods are ours too: they carry the labels of jobTemplate.
        job = spec.setdefault("jobTemplate", {})
        _stamp(job, labels)
        _stamp(job.setdefault("spec", {}).setdefault("template", {}), labels)
    elif stamped.get("kind") in TEMPLATED:
        _stamp(stamped.setdefault("spec", {}).setdefault("template", {}), labels)
    return stamped


def _stamp(template: dict[str, Any], labels: Mapping[str, str]) -> None:
    metadata = template.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}


def comparable(document: Mapping[str, Any] | None) -> str:
    """YAML of ``document`` without status and server-owned fields, for diffs."""
    if not document:
        return ""
    clean = copy.deepcopy(dict(document))
    clean.pop("status", None)
    metadata = clean.get("metadata") or {}
    for field in SERVER_FIELDS:
        metadata.pop(field, None)
    annotations = metadata.get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        metadata.pop("annotations", None)
    return yaml.safe_dump(clean, sort_keys=True)


def diff(name: str, live: Mapping[str, Any] | None, planned: Mapping[str, Any]) -> str:
    """A unified diff from the live object to what applying would leave."""
    lines = difflib.unified_diff(comparable(live).splitlines(keepends=True),
                                 comparable(planned).splitlines(keepends=True),
                                 fromfile=f"live/{name}", tofile=f"applied/{name}")
    return "".join(lines)
