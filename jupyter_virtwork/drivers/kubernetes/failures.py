"""What goes wrong talking to a cluster, as our errors: the driver's table of the client's
exceptions, and the API server's answers by HTTP status (a quota, the classroom's rules or a
missing permission each with what to do about it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    TLSVerificationFailed,
    VirtworkError,
    first_line,
)
from ..base import ErrorTable, SdkFailure

# The API server's words for a namespace's ResourceQuota and LimitRange refusing a pod, and
# our classroom's admission webhook (classroom/guard.py) refusing a learner's pod.
QUOTA_REFUSALS = ("exceeded quota", "usage per Container", "usage per Pod",
                  "usage per PersistentVolumeClaim")
CLASSROOM_REFUSAL = "a learner's pod may not use"


def error_table(uri: str, namespace: Callable[[], str]) -> ErrorTable:
    """The client's API and kubeconfig errors, urllib3's and the socket's, on the connection
    ``uri``; ``namespace`` names the namespace a 404 was looked for in, when it comes."""
    import urllib3
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic.exceptions import DynamicApiError

    return (
        ((ApiException, DynamicApiError), lambda failed: api_error(failed, uri, namespace())),
        (ConfigException, lambda failed: InvalidInput(
            f"{failed.doing}: {first_line(failed.error)}", connection=uri,
            hint="check the context name (%k8s use-context) and KUBECONFIG")),
        (urllib3.exceptions.SSLError, lambda failed: TLSVerificationFailed(
            f"{failed.doing}: the API server's certificate is not trusted",
            connection=uri,
            hint="put its CA in the kubeconfig, or connect with insecure=True for this "
                 "one connection")),
        ((urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError),
         lambda failed: EngineUnavailable(
             say.KUBERNETES_SILENT(doing=failed.doing), connection=uri,
             hint=say.START_KUBERNETES())),
    )


def api_error(failed: SdkFailure, uri: str, namespace: str) -> VirtworkError:
    """The API server's answer, by its HTTP status."""
    doing, name = failed.doing, failed.name
    status = int(getattr(failed.error, "status", 0) or 0)
    message = status_message(failed.error)
    if status == 404:
        return NotFound(say.NOT_IN_NAMESPACE(doing=doing, name=name or "object",
                                             namespace=namespace), connection=uri)
    if status == 409:
        return AlreadyExists(say.EXISTS_DETAIL(doing=doing, detail=message), connection=uri)
    # Before 1.21, server-side apply answers a manifest its schema rejects with a 500
    # "failed to create typed patch object"; it is the user's input all the same.
    if status in (400, 422) or (status == 500 and "typed patch object" in message):
        return InvalidInput(f"{doing}: {message}", connection=uri,
                            hint="fix the manifest and apply again")
    if status in (401, 403):
        return refused(doing, message, uri)
    return OperationFailed(f"{doing} failed: {message}", connection=uri)


def refused(doing: str, message: str, uri: str) -> AuthenticationFailed:
    """A 401 or 403: a quota or limit used up, the classroom's rules, or no permission; each
    with what to do about it."""
    if any(words in message for words in QUOTA_REFUSALS):
        return AuthenticationFailed(say.OVER_QUOTA(doing=doing, detail=message),
                                    connection=uri, hint=say.FREE_QUOTA())
    if CLASSROOM_REFUSAL in message:
        return AuthenticationFailed(say.REFUSED_BY_CLASSROOM(doing=doing, detail=message),
                                    connection=uri, hint=say.REMOVE_SETTINGS())
    return AuthenticationFailed(say.FORBIDDEN(doing=doing, detail=message), connection=uri,
                                hint=say.CHECK_CREDENTIALS())


def status_message(exc: Any) -> str:
    """The API's own message from a Status body, else the HTTP reason."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            causes = (status.get("details") or {}).get("causes") or []
            fields = "; ".join(f"{c.get('field', '')}: {c.get('message', '')}".strip(": ")
                               for c in causes)
            return str(fields or status.get("message") or body).replace("\n", " ")
        except (ValueError, AttributeError):
            return first_line(body)
    return first_line(getattr(exc, "reason", None) or exc)
