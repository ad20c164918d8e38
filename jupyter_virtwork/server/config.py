"""What the server may connect to.

An admin sets, in ``jupyter_server_config.py`` (or a JSON file in its ``.d`` folder)::

    c.VirtworkServer.allowed_uris = ["docker://", "k8s://prod/web"]
    c.VirtworkServer.connections = {"prod": "k8s://prod/web"}

``allowed_uris`` unset means "the defaults": what ``defaults.for_family`` picks for each
family (from the user's configuration, which the sandbox writes) plus the configured
``connections``. Any other URI is refused with 403. Defaults are re-read on every request (a
file read, no engine contacted), so an engine started after the server shows up.

``c.VirtworkServer.read_only = True`` (default: on when ``VW_READONLY`` is 1 or true) refuses
every request that is not a read with 403, and the panel then shows no action buttons.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets import Bool, Dict, Int, List, Unicode, default
from traitlets.config import Configurable

from .. import defaults, readonly
from .. import uri as uri_module
from ..errors import NotFound, VirtworkError

FAMILIES = ("docker", "kubernetes", "vsphere", "libvirt")
SECRET_OPTION_WORDS = ("password", "token", "secret")
SECRET_ENV = ("VIRTWORK_VSPHERE_PASSWORD", "GOVC_PASSWORD")


class VirtworkServer(Configurable):
    """Settings of the Virtwork server extension."""

    allowed_uris = List(
        Unicode(), default_value=None, allow_none=True,
        help="Connection URIs the server may use. Unset: the default connection of each "
             "family (from the user's configuration) and `connections`.",
    ).tag(config=True)

    connections = Dict(
        key_trait=Unicode(), value_trait=Unicode(), default_value={},
        help="Extra connections the panel shows, alias -> URI (credential-free).",
    ).tag(config=True)

    show_defaults = Bool(
        True, help="Show each family's default connection in the panel.").tag(config=True)

    max_workers = Int(
        8, help="Threads that run engine calls off the server's event loop.").tag(config=True)

    read_only = Bool(
        help="Read-only mode: the panel lists and watches, and every request that would "
             "change something (an action) is refused with 403. Default: on when "
             f"${readonly.ENVIRONMENT} is 1 or true.").tag(config=True)

    @default("read_only")
    def _read_only_default(self) -> bool:
        return readonly.from_environment()


class RefusedConnection(VirtworkError):
    """The URI is not in the server's allowed list (HTTP 403)."""


@dataclass(frozen=True)
class Endpoint:
    """A connection the server may open: alias, credential-free URI, driver options."""

    alias: str
    uri: str
    family: str
    options: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a password
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "uri": self.uri, "family": self.family, "why": self.why}


DefaultChooser = Callable[[str], "defaults.DefaultConnection | None"]


class Policy:
    """The server's endpoints and allowed URIs, resolved from the settings."""

    def __init__(self, settings: VirtworkServer,
                 default: DefaultChooser = defaults.for_family) -> None:
        self.settings = settings
        self._default = default

    def _defaults(self) -> dict[str, Endpoint]:
        found: dict[str, Endpoint] = {}
        for family in FAMILIES:
            chosen = self._default(family)
            if chosen is not None:
                uri = normalise(chosen.uri)
                found[family] = Endpoint(family, uri, family, dict(chosen.options), chosen.why)
        return found

    def _configured(self) -> dict[str, Endpoint]:
        found = {}
        for alias, uri in self.settings.connections.items():
            target = uri_module.parse(uri)
            found[alias] = Endpoint(alias, target.uri, target.family, {}, "configured")
        return found

    def allowed(self) -> set[str]:
        if self.settings.allowed_uris is not None:
            return {normalise(u) for u in self.settings.allowed_uris}
        return {e.uri for e in (*self._defaults().values(), *self._configured().values())}

    def endpoints(self) -> dict[str, Endpoint]:
        """What the panel shows, by alias: defaults first, then configured ones."""
        shown = self._defaults() if self.settings.show_defaults else {}
        shown.update(self._configured())
        allowed = self.allowed()
        return {alias: e for alias, e in shown.items() if e.uri in allowed}

    def resolve(self, name: str) -> Endpoint:
        """An endpoint by alias, or an allowed URI (its own alias); 403 otherwise."""
        endpoints = self.endpoints()
        if name in endpoints:
            return endpoints[name]
        if "://" not in name:
            raise NotFound(f"no connection named {name!r}",
                                    hint="the server's connections are listed at "
                                         "/virtwork/api/connections")
        uri = normalise(name)
        known = next((e for e in endpoints.values() if e.uri == uri), None)
        if known is not None:
            return known
        if uri not in self.allowed():
            raise RefusedConnection(f"the server does not allow connecting to {uri}",
                                    hint="an admin can add it to VirtworkServer.allowed_uris")
        return Endpoint(uri, uri, uri_module.parse(uri).family, {}, "allowed URI")

    def secrets(self) -> list[str]:
        """Every secret the server knows of, so that redaction can remove it."""
        values = [str(v) for e in self._defaults().values() for k, v in e.options.items()
                  if any(word in k.lower() for word in SECRET_OPTION_WORDS) and v]
        values += [os.environ[name] for name in SECRET_ENV if os.environ.get(name)]
        return values


def normalise(uri: str) -> str:
    """The URI as the toolkit spells it (``docker:`` -> ``docker://``); InvalidInput if bad."""
    return uri_module.parse(uri).uri
