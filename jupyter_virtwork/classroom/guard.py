"""Which pods a learner may run: a validating admission webhook for learners' namespaces.

A Role confines a learner to their namespace, but a pod is a process on a node: a
privileged container, a hostPath volume or the host's network namespace hands its author
the node, and with it every other learner's namespace. Kubernetes 1.20 has no Pod Security
admission, and PodSecurityPolicy would have to cover every pod of the cluster; this webhook
covers only the namespaces that carry our learner label (``webhook_configuration``), and
the API server refuses, in one line, a Pod or a workload whose pod template

- is privileged, adds Linux capabilities, unmasks /proc or allows privilege escalation;
- uses the host's network, PID or IPC namespace, or a host port;
- mounts any volume but configMap, secret, emptyDir, persistentVolumeClaim, projected and
  downwardAPI (no hostPath, no network file systems).

The API server calls it over HTTPS (``serve``, its certificate signed by the CA whose
bundle the configuration names) and refuses learners' pods while it does not answer
(``failurePolicy: Fail``). ``python -m jupyter_virtwork.classroom`` runs it; the sandbox's
hub runs it as one of its managed services.
"""

from __future__ import annotations

import argparse
import json
import ssl
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..labels import LEARNER, MANAGED_BY, MANAGER

NAME = "learner-pods.virtwork.io"
PATH = "/validate"
SAFE_VOLUMES = {"configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected",
                "downwardAPI"}
# Kinds whose pods come from a template, and where that template is.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"), "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"), "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


def refusals(obj: Mapping[str, Any]) -> list[str]:
    """Why a learner may not run ``obj`` (a Pod or a workload); [] if they may."""
    spec = _dig(obj, TEMPLATES.get(str(obj.get("kind")), ()))
    if not isinstance(spec, Mapping):
        return []
    found = [f"host {what}" for what, key in (("network", "hostNetwork"), ("PIDs", "hostPID"),
                                               ("IPC", "hostIPC")) if spec.get(key)]
    for volume in spec.get("volumes") or []:
        kinds = sorted(set(volume) - {"name"} - SAFE_VOLUMES)
        if kinds:
            found.append(f"a {kinds[0]} volume ({volume.get('name')})")
    for container in _containers(spec):
        found += _container_refusals(container)
    return found


def _container_refusals(container: Mapping[str, Any]) -> list[str]:
    name = container.get("name")
    context = container.get("securityContext") or {}
    found = []
    if context.get("privileged"):
        found.append(f"a privileged container ({name})")
    if context.get("allowPrivilegeEscalation"):
        found.append(f"privilege escalation ({name})")
    if (context.get("capabilities") or {}).get("add"):
        found.append(f"added capabilities ({name})")
    if context.get("procMount") not in (None, "Default"):
        found.append(f"an unmasked /proc ({name})")
    if any(port.get("hostPort") for port in container.get("ports") or []):
        found.append(f"a host port ({name})")
    return found


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _dig(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    found: Any = obj if path else None
    for key in path:
        found = found.get(key) if isinstance(found, Mapping) else None
    return found


def answer(review: Mapping[str, Any]) -> dict[str, Any]:
    """The AdmissionReview that answers ``review``: allowed, or refused saying why."""
    request = review.get("request") or {}
    why = refusals(request.get("object") or {})
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": not why}
    if why:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": (
            f"a learner's pod may not use {', '.join(why)} in namespace "
            f"{request.get('namespace')}")}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": response}


def webhook_configuration(url: str, ca_bundle: str) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration that sends learners' pods and workloads to
    ``url`` (``ca_bundle``: the base64 PEM of the CA that signed its certificate)."""
    rules = [{"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
              "resources": resources, "scope": "Namespaced"}
             for group, resources in (("", ["pods"]),
                                      ("apps", ["deployments", "replicasets", "statefulsets",
                                                "daemonsets"]),
                                      ("batch", ["jobs", "cronjobs"]))]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": {MANAGED_BY: MANAGER}},
        "webhooks": [{
            "name": NAME, "rules": rules, "failurePolicy": "Fail", "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
            "clientConfig": {"url": url, "caBundle": ca_bundle},
            "namespaceSelector": {"matchExpressions": [{"key": LEARNER,
                                                        "operator": "Exists"}]},
        }],
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path.split("?")[0] != PATH:
            self.send_error(404)
            return
        try:
            review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        except ValueError:
            self.send_error(400, "not an AdmissionReview")
            return
        body = json.dumps(answer(review)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(host: str, port: int, certfile: str, keyfile: str) -> None:
    server = ThreadingHTTPServer((host, port), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_virtwork.classroom",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certfile", required=True)
    parser.add_argument("--keyfile", required=True)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.certfile, args.keyfile)
    return 0
