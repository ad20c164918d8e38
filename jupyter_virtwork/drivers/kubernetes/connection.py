"""One connection to a cluster: the client built from its own kubeconfig context, its
namespace, and the calls by path that answer raw JSON.

One ApiClient per connection (never the client's global default), with urllib3 retries off
so that a cluster that is down fails in bounded time; the dynamic client (for apply) is
built on it when first needed. Every call runs inside the driver's error boundary, which the
driver hands over: the client's errors become ours there, saying what was being done.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ...uri import Target
from ..base import Boundary, missing_sdk


def import_kubernetes() -> tuple[Any, Any]:
    """The client's ``client`` and ``config`` modules; without the client, the one-line
    MissingDependency."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise missing_sdk("kubernetes") from exc
    return client, config


def selector(labels: Mapping[str, str] | None) -> str | None:
    """A label selector of ``labels``' equalities (None for none)."""
    return ",".join(f"{k}={v}" for k, v in labels.items()) if labels else None


class Connection:
    """The clients of one ``k8s://<context>/<namespace>``, made at its first call."""

    def __init__(self, target: Target, *, kubeconfig: str | None, timeout: float,
                 insecure: bool, boundary: Boundary) -> None:
        self.target = target
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self.insecure = insecure
        self.boundary = boundary
        self._lock = threading.Lock()
        self._api_client: Any = None
        self._dynamic_client: Any = None
        self._namespace: str | None = target.namespace

    @property
    def uri(self) -> str:
        return self.target.uri

    def client(self) -> Any:
        with self._lock:
            if self._api_client is None:
                self._api_client = self._new_client()
            return self._api_client

    def _new_client(self) -> Any:
        client, config = import_kubernetes()
        configuration = client.Configuration()
        with self.boundary("reading the kubeconfig"):
            if self.target.context == "in-cluster":
                config.load_incluster_config(client_configuration=configuration)
                self._namespace = self._namespace or _in_cluster_namespace()
            else:
                config.load_kube_config(config_file=self.kubeconfig,
                                        context=self.target.context,
                                        client_configuration=configuration,
                                        persist_config=False)
                self._namespace = self._namespace or self._context_namespace(config)
        configuration.retries = False  # urllib3 would retry a refused connection 3 times
        if self.insecure:
            configuration.verify_ssl = False
        return client.ApiClient(configuration)

    def _context_namespace(self, config: Any) -> str:
        contexts, active = config.list_kube_config_contexts(config_file=self.kubeconfig)
        chosen = next((c for c in contexts if c["name"] == self.target.context), active)
        return str((chosen or {}).get("context", {}).get("namespace") or "default")

    @property
    def namespace(self) -> str:
        """The namespace this connection works in: the URI's, else its context's (which
        connects, to read the kubeconfig)."""
        self.client()
        return self.known_namespace

    @property
    def known_namespace(self) -> str:
        """The namespace as far as known without connecting (for an error's message)."""
        return self._namespace or "default"

    def get(self, path: str, query: list[tuple[str, Any]], timeout: Any,
            **path_params: str) -> Any:
        """GET ``path`` as JSON: the urllib3 response, like a typed call's
        ``_preload_content=False``, without the typed API classes. Lists and watches need
        none of their models, and building ``CoreV1Api`` (~250 pydantic models) took 0.5 to
        2 s of a fresh kernel's first ``%k8s get``."""
        from kubernetes.client.exceptions import ApiException

        api_client = self.client()
        request = api_client.param_serialize(
            "GET", path, path_params=path_params, query_params=query,
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = api_client.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def request(self, method: str, path: str, query: Sequence[tuple[str, str]] = (),
                body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One call by path (any resource type, as discovery names it), its JSON answer.
        An error status raises the client's ApiException: callers run in the boundary."""
        from kubernetes.client.exceptions import ApiException

        client = self.client()
        request = client.param_serialize(
            method, path, query_params=list(query), body=body, auth_settings=["BearerToken"],
            header_params={"Accept": "application/json", "Content-Type": "application/json"})
        response = client.call_api(*request, _request_timeout=self.timeout)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        answer: dict[str, Any] = json.loads(response.data)
        return answer

    def dynamic(self) -> Any:
        client = self.client()  # first: a missing client is the one-line MissingDependency
        from kubernetes.dynamic import DynamicClient

        with self._lock:
            if self._dynamic_client is None:
                with self.boundary("discovering the cluster's API"):
                    self._dynamic_client = DynamicClient(client)  # type: ignore[no-untyped-call]
            return self._dynamic_client

    def close(self) -> None:
        """Release the clients; the next call connects again."""
        with self._lock:
            client, self._api_client, self._dynamic_client = self._api_client, None, None
        if client is not None:
            client.close()


def _in_cluster_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path) as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"
