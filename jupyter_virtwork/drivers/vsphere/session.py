"""One login to vCenter or ESXi: where to connect, with which password, over which TLS.

Settings come from the URI and the driver's options, then govc's environment (GOVC_URL,
GOVC_USERNAME, GOVC_PASSWORD, GOVC_INSECURE, GOVC_TLS_CA_CERTS), so a shell that drives
govc drives the notebook too. The password comes from the ``password=`` option,
VIRTWORK_VSPHERE_PASSWORD, GOVC_PASSWORD (or GOVC_URL's user info), the system keyring, or a
prompt, in that order, and is looked up only when the first call logs in. It lives in a
``Secret`` whose repr hides it; it never goes into a URI, record, message or log.

TLS is verified: against ``cafile`` when given, else the system's trust store. Only
``insecure=True`` (or GOVC_INSECURE) turns verification off, for this one connection.

``Session.call`` runs a function on the live login. An expired session (NotAuthenticated)
logs in again once, on the same SOAP stub so that references stay valid; a broken
connection (the server restarted, the network dropped) drops the stub so that the next
call connects afresh, reading the CA file again (the sandbox's vcsim makes a new
certificate at each start).
"""

from __future__ import annotations

import getpass
import http.client
import importlib
import logging
import os
import ssl
import sys
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ...errors import AuthenticationFailed, InvalidInput
from ...uri import Target
from ..base import missing_sdk

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_PORT = 443
DEFAULT_TIMEOUT = 10.0  # seconds: the longest a vCenter that does not answer can hold a cell
KEYRING_SERVICE = "jupyter-virtwork vsphere"
TRUE_WORDS = ("1", "true", "yes", "on")


def sdk() -> tuple[Any, Any]:
    """pyVmomi's ``vim`` and ``vmodl``, imported on first use. Typed Any on purpose: pyVmomi
    leaves its constructors untyped, so strict typing stops at this edge."""
    try:
        pyvmomi: Any = importlib.import_module("pyVmomi")
    except ImportError as exc:
        raise missing_sdk("vsphere") from exc
    return pyvmomi.vim, pyvmomi.vmodl


def pyvim_connect() -> Any:
    """pyVim.connect (SmartConnect, Disconnect), untyped like the rest of the SDK."""
    sdk()
    return importlib.import_module("pyVim.connect")


class Secret:
    """A password that does not show itself: repr and str are a placeholder."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """Where and how to connect; safe to show (no password)."""

    host: str
    port: int
    user: str
    cafile: str | None
    insecure: bool
    timeout: float

    @property
    def display(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def settings(target: Target, *, cafile: str | None, insecure: bool | None,
             timeout: float) -> Settings:
    """Settings from the URI first, then GOVC_*; InvalidInput if no host or user."""
    env = _govc_url()
    host = target.host or env.hostname
    if not host:
        raise InvalidInput("no vCenter or ESXi host given",
                           hint="write vsphere://USER@HOST, or set GOVC_URL")
    same_host = env.hostname == host
    port = target.port or (env.port if same_host else None) or DEFAULT_PORT
    user = target.user or (env.username if same_host else None) \
        or os.environ.get("GOVC_USERNAME")
    if not user:
        raise InvalidInput(f"no user name for {host}",
                           hint="write vsphere://USER@HOST, or set GOVC_USERNAME")
    if insecure is None:
        insecure = os.environ.get("GOVC_INSECURE", "").lower() in TRUE_WORDS
    return Settings(host=host, port=port, user=urllib.parse.unquote(user),
                    cafile=cafile or os.environ.get("GOVC_TLS_CA_CERTS") or None,
                    insecure=insecure, timeout=timeout)


def _govc_url() -> urllib.parse.SplitResult:
    """GOVC_URL as govc accepts it: ``host``, ``host:port`` or a full https URL."""
    text = os.environ.get("GOVC_URL", "").strip()
    if text and "://" not in text:
        text = f"https://{text}"
    return urllib.parse.urlsplit(text)


def find_password(found: Settings, given: str | None) -> Secret:
    """The first password source that has one (module docstring); AuthenticationFailed if
    none does and nobody can be asked."""
    env = _govc_url()
    from_url = env.password if env.hostname == found.host else None
    for candidate in (given, os.environ.get("VIRTWORK_VSPHERE_PASSWORD"),
                      os.environ.get("GOVC_PASSWORD"),
                      urllib.parse.unquote(from_url) if from_url else None,
                      _keyring_password(found)):
        if candidate:
            return Secret(candidate)
    if _can_prompt():
        try:
            return Secret(getpass.getpass(f"password for {found.display}: "))
        except (EOFError, OSError):
            pass
    raise AuthenticationFailed(
        f"no password for {found.display}",
        hint="set VIRTWORK_VSPHERE_PASSWORD (or GOVC_PASSWORD), store it with keyring "
             f"(service {KEYRING_SERVICE!r}, user {found.user}@{found.host}), or pass password=")


def _keyring_password(found: Settings) -> str | None:
    try:
        keyring: Any = importlib.import_module("keyring")  # optional, untyped
    except ImportError:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, f"{found.user}@{found.host}")
    except Exception:  # any keyring backend failure means "not stored"
        log.debug("keyring lookup failed", exc_info=True)
        return None
    return str(value) if value else None


def _can_prompt() -> bool:
    """A terminal, or a Jupyter kernel (ipykernel routes getpass to the notebook), asked
    from the main thread. Other threads never prompt: a server's worker or a widget's watcher
    would block on a prompt nobody sees (a Jupyter server started from a terminal has one)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if getattr(getpass.getpass, "__module__", "").startswith("ipykernel"):
        return True
    return sys.stdin is not None and sys.stdin.isatty()


def tls_context(found: Settings) -> ssl.SSLContext:
    """A verifying context (the CA file, else system trust), or an unverified one only when
    this connection asked for it."""
    if found.insecure:
        log.warning("TLS verification is off for %s (insecure=True)", found.display)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=found.cafile)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"cannot read the CA file {found.cafile!r} ({exc.strerror or exc})",
                           hint="give a PEM certificate file as cafile=") from None


def _probe(found: Settings, context: ssl.SSLContext) -> None:
    """Ask SmartConnect's first question (which API versions?) with our timeout: pyVim asks
    it without one, so a host that drops packets, or accepts and never answers, would hold
    the cell for minutes. Any HTTP answer will do; TLS is verified here already."""
    connection = http.client.HTTPSConnection(found.host, found.port, context=context,
                                             timeout=found.timeout)
    try:
        connection.request("GET", "/sdk/vimServiceVersions.xml")
        connection.getresponse().read()
    finally:
        connection.close()


class Session:
    """The live login; thread-safe. ``generation`` changes at every (re)login, so objects
    that belong to a login (ContainerViews) can be cached against it."""

    def __init__(self, found: Settings, password: str | None) -> None:
        self.settings = found
        self._given = Secret(password) if password else None
        self._password: Secret | None = None
        self._lock = threading.RLock()
        self._si: Any = None
        self._content: Any = None  # pyVmomi fetches si.content anew at each access: keep it
        self.generation = 0
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Session {self.settings.display}>"

    def content(self) -> Any:
        """The ServiceContent of the live login, connecting first if needed."""
        with self._lock:
            if self._si is None:
                self._connect()
            return self._content

    def _connect(self) -> None:
        connect = pyvim_connect()  # first: never ask a password for a backend without its SDK
        if self._password is None:
            self._password = find_password(
                self.settings, self._given.reveal() if self._given else None)
        found = self.settings
        context = tls_context(found)
        _probe(found, context)
        self._si = connect.SmartConnect(
            host=found.host, port=found.port, user=found.user, pwd=self._password.reveal(),
            sslContext=context, httpConnectionTimeout=found.timeout)
        self._content = self._si.RetrieveContent()
        self.generation += 1
        self._cache = {}

    def call(self, fn: Callable[[Any], T]) -> T:
        """``fn(content)``; again after logging in anew if the session expired, and again
        after remaking a cached object (the listing's view) that died with the session."""
        vim, vmodl = sdk()
        relogged = remade = False
        while True:
            content = self.content()
            generation = self.generation
            try:
                return fn(content)
            except vim.fault.NotAuthenticated:
                if relogged:
                    raise
                relogged = True
                self._relogin(generation)
            except vmodl.fault.ManagedObjectNotFound as exc:
                if remade or not self._forget(exc.obj):
                    raise
                remade = True
            except (OSError, http.client.HTTPException):  # the connection broke: start afresh
                self.drop(generation)
                raise

    def _forget(self, obj: Any) -> bool:
        """Drop the cache if ``obj`` is in it; True if it was."""
        moid = getattr(obj, "_moId", None)
        with self._lock:
            if moid is None or all(getattr(v, "_moId", None) != moid
                                   for v in self._cache.values()):
                return False
            self._cache = {}
            return True

    def _relogin(self, generation: int) -> None:
        """Log in again on the same stub, unless another thread already has."""
        with self._lock:
            if generation != self.generation or self._si is None or self._password is None:
                return
            log.info("vSphere session on %s expired; logging in again", self.settings.display)
            self._content.sessionManager.Login(self.settings.user, self._password.reveal())
            self.generation += 1
            self._cache = {}

    def drop(self, generation: int | None = None) -> None:
        """Forget a broken connection; the next call connects afresh."""
        with self._lock:
            if generation is None or generation == self.generation:
                self._si, self._content, self._cache = None, None, {}

    def cached(self, key: str, make: Callable[[Any], Any]) -> Any:
        """An object of this login, made once per login (e.g. the listing's ContainerView)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make(self.content())
            return self._cache[key]

    def scrub(self, text: str) -> str:
        """``text`` with the password masked: a last guard for messages we did not write."""
        for secret in (self._password, self._given):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), "***")
        return text

    def close(self) -> None:
        """Log out; safe to call twice."""
        with self._lock:
            si, self._si, self._content, self._cache = self._si, None, None, {}
        if si is not None:
            try:
                pyvim_connect().Disconnect(si)
            except Exception:  # the server may be gone already
                log.debug("logout failed", exc_info=True)
