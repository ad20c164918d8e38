"""PKI, tokens and kubeconfigs of the sandbox cluster, made with openssl once per sandbox.

Everything lives in ``<state dir>/kubernetes/pki`` and survives ``down`` (so a kubeconfig
handed to a notebook stays valid after ``down``/``up``); keys and tokens are written 0600.
Components authenticate with static tokens (one per component, in the apiserver's token
file), which keeps the PKI to a CA, a serving cert, a kubelet-client cert and the
service-account key pair. No token is ever printed or put on a command line.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .system import run

CONTEXT = "virtwork-sandbox"
SERVER = "https://127.0.0.1:6443"
NODE_NAME = "virtwork-sandbox"  # stable, so the node object survives down/up
SERVICE_IP = "10.0.0.1"  # first address of --service-cluster-ip-range: the `kubernetes` service


@dataclass(frozen=True)
class Identity:
    """One static-token user: who a component is to RBAC and the Node authorizer."""

    key: str  # file stem of its kubeconfig and its row in the token file
    user: str
    groups: tuple[str, ...]


IDENTITIES = (
    Identity("admin", "virtwork-admin", ("system:masters",)),
    Identity("controller-manager", "system:kube-controller-manager", ()),
    Identity("scheduler", "system:kube-scheduler", ()),
    Identity("kubelet", f"system:node:{NODE_NAME}", ("system:nodes",)),
    Identity("kube-proxy", "system:kube-proxy", ()),
)


def pki_dir() -> Path:
    path = paths.state_dir("kubernetes", "pki")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def pki_file(name: str) -> Path:
    return pki_dir() / name


def kubeconfig_path(key: str = "admin") -> Path:
    """The admin kubeconfig is the documented one; components get their own beside the PKI."""
    if key == "admin":
        return paths.state_dir("kubernetes", "kubeconfig")
    return pki_file(f"{key}.kubeconfig")


def ensure(advertise_ip: str) -> None:
    """Create what is missing; the serving cert is remade if docker0's address changed."""
    _ensure_ca()
    _ensure_serving_cert(advertise_ip)
    _ensure_kubelet_cert(advertise_ip)
    _ensure_client_cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                        "system:masters")
    _ensure_service_account_keys()
    tokens = _ensure_tokens()
    for identity in IDENTITIES:
        _write_kubeconfig(identity.key, tokens[identity.key])


def admin_token() -> str:
    """For in-process HTTPS checks only; never print or log it."""
    return _read_tokens().get("admin", "")


def _openssl(*args: str) -> None:
    run(["openssl", *args], cwd=pki_dir())


def _ensure_ca() -> None:
    if pki_file("ca.crt").is_file() and pki_file("ca.key").is_file():
        return
    _new_key("ca.key")
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "3650",
             "-subj", "/CN=virtwork-sandbox-ca", "-out", "ca.crt")


def _new_key(name: str) -> None:
    # Written 0600 before openssl fills it, so the key is never readable by others.
    paths.private_file(pki_file(name), "")
    _openssl("genrsa", "-out", name, "2048")
    pki_file(name).chmod(0o600)


def _sign(stem: str, subject: str, extensions: str) -> None:
    """Key + CSR + a CA-signed cert with the given x509v3 extensions."""
    _new_key(f"{stem}.key")
    pki_file(f"{stem}.ext").write_text(extensions)
    _openssl("req", "-new", "-key", f"{stem}.key", "-subj", subject, "-out", f"{stem}.csr")
    _openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", f"{stem}.ext",
             "-out", f"{stem}.crt")
    pki_file(f"{stem}.csr").unlink()


def _ensure_serving_cert(advertise_ip: str) -> None:
    names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster", "kubernetes.default.svc.cluster.local",
             "localhost"]
    ips = sorted({"127.0.0.1", SERVICE_IP, advertise_ip})
    san = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{ip}" for ip in ips)])
    ext = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           f"extendedKeyUsage=serverAuth\nsubjectAltName={san}\n")
    if pki_file("apiserver.crt").is_file() and pki_file("apiserver.ext").is_file() \
            and pki_file("apiserver.ext").read_text() == ext:
        return
    _sign("apiserver", "/CN=kube-apiserver", ext)


def _ensure_kubelet_cert(node_ip: str) -> None:
    """The kubelet's serving cert, signed by our CA so the apiserver can verify the kubelet."""
    ext = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           f"extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{NODE_NAME},IP:{node_ip}\n")
    if pki_file("kubelet.crt").is_file() and pki_file("kubelet.ext").is_file() \
            and pki_file("kubelet.ext").read_text() == ext:
        return
    _sign("kubelet", f"/CN={NODE_NAME}", ext)


def ensure_loopback_cert(stem: str) -> tuple[Path, Path]:
    """(cert, key) for a server on 127.0.0.1 that the API server calls (a webhook), signed
    by the sandbox's CA, whose ``ca.crt`` is the bundle to name."""
    ext = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    if not (pki_file(f"{stem}.crt").is_file() and pki_file(f"{stem}.ext").is_file()
            and pki_file(f"{stem}.ext").read_text() == ext):
        _sign(stem, f"/CN={stem}", ext)
    return pki_file(f"{stem}.crt"), pki_file(f"{stem}.key")


def _ensure_client_cert(stem: str, user: str, group: str) -> None:
    if pki_file(f"{stem}.crt").is_file():
        return
    ext = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=clientAuth\n")
    _sign(stem, f"/O={group}/CN={user}", ext)


def _ensure_service_account_keys() -> None:
    if pki_file("sa.key").is_file() and pki_file("sa.pub").is_file():
        return
    _new_key("sa.key")
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


def _read_tokens() -> dict[str, str]:
    """key -> token, from the apiserver's token file (token,user,uid,"groups")."""
    try:
        rows = list(csv.reader(pki_file("tokens.csv").read_text().splitlines()))
    except OSError:
        return {}
    users = {identity.user: identity.key for identity in IDENTITIES}
    return {users[row[1]]: row[0] for row in rows if len(row) >= 2 and row[1] in users}


def _ensure_tokens() -> dict[str, str]:
    tokens = _read_tokens()
    if all(identity.key in tokens for identity in IDENTITIES):
        return tokens
    # Fresh random tokens per sandbox: nothing is shared with another machine or checkout.
    tokens = {identity.key: secrets.token_hex(24) for identity in IDENTITIES}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for identity in IDENTITIES:
        writer.writerow([tokens[identity.key], identity.user, identity.user,
                         ",".join(identity.groups)])
    paths.private_file(pki_file("tokens.csv"), out.getvalue())
    return tokens


def _write_kubeconfig(key: str, token: str) -> None:
    # JSON is valid YAML: no YAML library needed, and every kubeconfig reader accepts it.
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": SERVER, "certificate-authority": str(pki_file("ca.crt"))}}],
        "users": [{"name": f"{CONTEXT}-{key}", "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {
            "cluster": CONTEXT, "user": f"{CONTEXT}-{key}", "namespace": "default"}}],
    }
    paths.private_file(kubeconfig_path(key), json.dumps(config, indent=2) + "\n")
