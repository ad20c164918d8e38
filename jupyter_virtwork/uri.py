"""Connection URIs: one spelling per backend, parsed into a credential-free ``Target``.

    docker://                     the local engine (DOCKER_HOST / docker contexts honoured)
    docker+ssh://user@host[:port] a remote engine over SSH (host key from ~/.ssh/known_hosts)
    docker+tcp://host:2376        a remote engine over TCP (TLS from DOCKER_CERT_PATH)
    k8s://                        the kubeconfig's current context, its namespace
    k8s://<context>/<namespace>   a named context and namespace; ``in-cluster`` as context
                                  uses the pod's service account. Any context name works
                                  percent-encoded (``k8s_uri`` writes it): EKS's
                                  ``arn:aws:eks:REGION:ACCOUNT:cluster/NAME`` is
                                  ``k8s://arn%3Aaws%3Aeks%3A...%3Acluster%2FNAME/default``
    vsphere://user@host[:port]    vCenter or ESXi; the password never goes in the URI;
                                  ``vsphere://`` alone is govc's GOVC_URL
    qemu:///system, qemu+ssh://user@h[:port]/system, xen:///system, test:///default, ...
                                  libvirt URIs exactly as libvirt spells them

A URI that carries a password is refused: it would end up in notebooks and logs.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import InvalidInput

DOCKER_SCHEMES = ("docker", "docker+ssh", "docker+tcp", "docker+unix")
K8S_SCHEMES = ("k8s", "kubernetes")
VSPHERE_SCHEMES = ("vsphere", "vcenter", "esxi")
LIBVIRT_DRIVERS = ("qemu", "xen", "test", "lxc", "libxl", "ch", "bhyve", "vbox", "esx")
LIBVIRT_TRANSPORTS = ("", "+ssh", "+tcp", "+tls", "+unix", "+libssh", "+libssh2", "+ext")


@dataclass(frozen=True)
class Target:
    """A parsed connection URI. ``uri`` is safe to show: it never holds a secret."""

    uri: str
    family: str  # "docker" | "kubernetes" | "vsphere" | "libvirt"
    scheme: str
    user: str | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def context(self) -> str | None:
        """Kubernetes: the kubeconfig context (None: the current one), percent-decoded."""
        return urllib.parse.unquote(self.host) if self.host else None

    @property
    def namespace(self) -> str | None:
        """Kubernetes: the namespace (None: the context's own)."""
        return self.path.strip("/") or None


def family_of(scheme: str) -> str | None:
    if scheme in DOCKER_SCHEMES:
        return "docker"
    if scheme in K8S_SCHEMES:
        return "kubernetes"
    if scheme in VSPHERE_SCHEMES:
        return "vsphere"
    driver, plus, transport = scheme.partition("+")
    if driver in LIBVIRT_DRIVERS and (plus + transport) in LIBVIRT_TRANSPORTS:
        return "libvirt"
    return None


def k8s_uri(context: str | None = None, namespace: str | None = None) -> str:
    """The URI of a kubeconfig ``context`` (None: the current one) and ``namespace``; any
    context name survives ``parse(k8s_uri(name)).context == name``: ``:``, ``/``, ``@``,
    ``%`` are percent-encoded."""
    host = urllib.parse.quote(context, safe="") if context else ""
    return f"k8s://{host}/{namespace}" if namespace else f"k8s://{host}"


def parse(uri: str) -> Target:
    """Parse and check ``uri``; raise InvalidInput with the accepted forms otherwise."""
    text = uri.strip()
    if "://" not in text:
        if text.rstrip(":") in DOCKER_SCHEMES + K8S_SCHEMES:
            text = text.rstrip(":") + "://"
        else:
            raise InvalidInput(f"{uri!r} is not a connection URI",
                               hint="write docker://, k8s://CONTEXT/NAMESPACE, "
                                    "vsphere://USER@HOST or a libvirt URI like qemu:///system")
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    family = family_of(scheme)
    if family is None:
        raise InvalidInput(f"unknown connection scheme {scheme + '://'!r}",
                           hint="use docker://, k8s://, vsphere:// or a libvirt URI "
                                "such as qemu:///system or test:///default")
    if parts.password is not None:
        raise InvalidInput("a connection URI must not contain a password",
                           hint="remove it; the toolkit asks for it, or reads "
                                "VIRTWORK_VSPHERE_PASSWORD / GOVC_PASSWORD")
    params = dict(urllib.parse.parse_qsl(parts.query))
    if family == "kubernetes":
        return _kubernetes(text, scheme, parts, params)
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{uri!r} has an invalid port") from None
    # Keep the URI as the user spelled it (libvirt compares URIs textually), minus secrets.
    return Target(uri=text, family=family, scheme=scheme, user=parts.username,
                  host=parts.hostname, port=port, path=parts.path, params=params)


def _kubernetes(text: str, scheme: str, parts: urllib.parse.SplitResult,
                params: dict[str, str]) -> Target:
    """The whole authority is the context's name, kept as written (``host``; ``context``
    decodes it): kubeconfig names hold ``@`` and ``:`` (``admin@kind``, EKS ARNs) and are
    case-sensitive, so neither user, host nor port is read from it. A ``/`` in a name must be
    ``%2F`` (the first ``/`` starts the namespace)."""
    namespace = parts.path.strip("/")
    if "/" in namespace:
        raise InvalidInput(f"{text!r}: a namespace has no '/'",
                           hint="percent-encode a '/' in the context name as %2F "
                                "(jupyter_virtwork.uri.k8s_uri does it)")
    return Target(uri=text, family="kubernetes", scheme=scheme, host=parts.netloc or None,
                  path=parts.path, params=params)
