"""What a ``libvirtError`` becomes: libvirt-python has one exception, and what it means is in
its error code (and, for connections, its error domain). The driver's boundary uses
``error_table``; a connection that fails to open uses ``open_error``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ... import error_messages as say
from ...errors import (
    AlreadyExists,
    AuthenticationFailed,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    OperationFailed,
    OperationTimeout,
    Said,
    UnsupportedOperation,
    VirtworkError,
)
from ..base import ErrorTable, SdkFailure
from .sdk import codes, import_libvirt, message


def start_hint(*, local: bool, hypervisor: str) -> Said:
    """How to bring the daemon behind an unreachable connection back."""
    if local and hypervisor == "qemu":
        return say.START_LIBVIRT()
    return say.CHECK_LIBVIRTD()


def error_table(driver: str, uri: str, hint: Said) -> ErrorTable:
    """The driver's table of SDK errors: every ``libvirtError``, by its code."""
    libvirt = import_libvirt()
    return ((libvirt.libvirtError, functools.partial(translate, driver=driver, uri=uri,
                                                     hint=hint)),)


def translate(failed: SdkFailure, *, driver: str, uri: str, hint: Said) -> VirtworkError:
    """Our error for ``failed``, on the connection ``uri``; ``hint`` for an unreachable one."""
    libvirt, exc, doing, name = import_libvirt(), failed.error, failed.doing, failed.name
    code, text = exc.get_error_code(), message(exc)
    where = {"connection": uri}
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        return NotFound(say.NO_VM(name=name), **where, hint=say.LIST_VMS())
    if code in codes(libvirt, "NO_STORAGE_VOL", "NO_STORAGE_POOL", "NO_NETWORK"):
        return NotFound(f"{doing} failed: {text}", **where)
    if code in codes(libvirt, "DOM_EXIST", "STORAGE_VOL_EXIST") or (
            code == libvirt.VIR_ERR_OPERATION_FAILED and "already exists" in text):
        return AlreadyExists(say.EXISTS_FAILED(doing=doing, detail=text), **where,
                             hint=say.RENAME_OR_DELETE())
    if code in codes(libvirt, "XML_ERROR", "XML_DETAIL", "XML_INVALID_SCHEMA",
                     "CONFIG_UNSUPPORTED", "INVALID_ARG"):
        return InvalidInput(f"{doing}: libvirt rejected it: {text}", **where)
    if exc.get_error_domain() in (libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE) or \
            code in codes(libvirt, "NO_CONNECT", "INVALID_CONN"):
        return EngineUnavailable(say.LIBVIRT_SILENT(doing=doing, detail=text), **where,
                                 hint=hint)
    if code in codes(libvirt, "AUTH_FAILED", "AUTH_CANCELLED", "AUTH_UNAVAILABLE"):
        return AuthenticationFailed(f"{doing} failed: {text}", **where)
    if code in codes(libvirt, "OPERATION_TIMEOUT", "AGENT_UNRESPONSIVE"):
        return OperationTimeout(say.LIBVIRT_TIMED_OUT(doing=doing, detail=text), **where)
    if code in codes(libvirt, "NO_SUPPORT", "OPERATION_UNSUPPORTED"):
        verb = re.sub(r" '[^']*'$", "", doing)  # the verb, without the VM's name
        return UnsupportedOperation(driver, verb, **where, hint=text)
    return OperationFailed(f"{doing} failed: {text}", **where)


def open_error(libvirt: Any, exc: Any, *, uri: str, hint: Said) -> VirtworkError:
    """Our error for ``libvirt.open(uri)`` raising ``exc``."""
    text = message(exc)
    if exc.get_error_domain() == libvirt.VIR_FROM_LIBXL:
        return EngineUnavailable(say.NO_XEN(detail=text), connection=uri,
                                 hint=say.OTHER_HYPERVISOR())
    if exc.get_error_code() in codes(libvirt, "AUTH_FAILED", "AUTH_CANCELLED",
                                     "AUTH_UNAVAILABLE"):
        return AuthenticationFailed(f"libvirt refused the login: {text}", connection=uri)
    return EngineUnavailable(say.LIBVIRT_UNREACHABLE(detail=text), connection=uri, hint=hint)
