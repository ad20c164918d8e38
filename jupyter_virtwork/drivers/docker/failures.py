"""What goes wrong talking to a Docker engine, as our errors: the driver's table of
docker-py's, requests' and paramiko's exceptions, the engine's answers by HTTP status, and
a silent engine or SSH link with how to bring it back.
"""

from __future__ import annotations

import functools

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    Said,
    VirtworkError,
    first_line,
)
from ...uri import Target
from ..base import ErrorTable, SdkFailure
from .sdk import import_docker, paramiko, ssh_errors


def error_table(target: Target) -> ErrorTable:
    """docker-py's, requests' and paramiko's exceptions on the connection to ``target``."""
    docker = import_docker()
    import requests

    uri = target.uri
    return (
        (docker.errors.ImageNotFound, lambda failed: NotFound(
            say.IMAGE_NOT_LOCAL(name=failed.name), connection=uri,
            hint=say.BUILD_OR_PUSH())),
        (docker.errors.NotFound, lambda failed: NotFound(
            say.NO_SUCH_OBJECT(doing=failed.doing, name=failed.name) if failed.name
            else say.NO_SUCH_OBJECT_UNNAMED(doing=failed.doing), connection=uri)),
        (docker.errors.APIError, functools.partial(api_error, uri=uri)),
        (ssh_errors(), functools.partial(ssh_error, target=target)),
        ((requests.exceptions.ConnectionError, requests.exceptions.Timeout,
          docker.errors.DockerException, ConnectionError, TimeoutError),
         functools.partial(unanswered, target=target)),
    )


def unanswered(failed: SdkFailure, *, target: Target) -> VirtworkError:
    """The engine (or the link to it) did not answer."""
    return EngineUnavailable(say.DOCKER_SILENT(doing=failed.doing,
                                               why=first_line(failed.error)),
                             connection=target.uri,
                             hint=ssh_hint(target) if target.scheme == "docker+ssh"
                             else say.START_DOCKER())


def ssh_error(failed: SdkFailure, *, target: Target) -> VirtworkError:
    """paramiko's errors: the SSH link to the engine's host, not the engine."""
    hint, why = ssh_hint(target), first_line(failed.error)
    if isinstance(failed.error, paramiko().AuthenticationException):
        return AuthenticationFailed(f"{failed.doing} failed: the SSH login was refused "
                                    f"({why})", connection=target.uri, hint=hint)
    return EngineUnavailable(say.DOCKER_NO_SSH(doing=failed.doing, why=why),
                             connection=target.uri, hint=hint)


def ssh_hint(target: Target) -> Said:
    user = f"{target.user}@" if target.user else ""
    return say.CHECK_SSH(port=target.port or 22, login=f"{user}{target.host}")


def api_error(failed: SdkFailure, *, uri: str) -> VirtworkError:
    """docker-py's APIError: the engine's answer, by its HTTP status."""
    explanation = first_line(failed.error.explanation or failed.error)
    status = failed.error.status_code
    if status == 409 and "already in use" in explanation:
        return AlreadyExists(say.EXISTS(name=failed.name), connection=uri,
                             hint=say.RENAME_OR_REMOVE())
    if status == 400 or "parse error" in explanation:
        return InvalidInput(f"{failed.doing}: {explanation}", connection=uri)
    return OperationFailed(f"{failed.doing} failed: {explanation}", connection=uri)
