"""The sandbox hub's JupyterHub configuration.

JupyterHub runs its config file as Python with ``c`` defined; the file ``up`` writes only
calls ``configure(c)``, so the configuration lives here, and no secret is ever written into
a config file: the service token is read from the credentials file (root only) when the hub
starts.

Everything listens on 127.0.0.1: the proxy (the class's one door, ``PUBLIC_URL``), its
API, the hub's API and every single-user server. Login is PAM against the class's Unix
accounts (``hub_accounts``), each learner's server runs as that learner through the local
process spawner, from the learners' environment (``hub_env``), with a PATH of its own and
none of the hub's other variables. Before a server starts, the classroom hook gives its
learner a namespace on the sandbox's cluster and a kubeconfig for it, and the teacher
credentials that see every learner's namespace (``classroom``). The
sandbox reaches the hub's REST API as the service ``virtwork-sandbox``, whose token may add
users and start, stop and use their servers. The hub also runs the pod guard that the API
server asks about every learner's pod (``classroom.guard``), as a managed service: it
starts and stops with the hub, and comes back if it dies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets.config import Config

from ..classroom import guard, pre_spawn_hook
from . import hub_accounts, hub_env, kube_pki, paths

HOST = "127.0.0.1"
PORT = 8000  # the proxy's: the class's one door
PUBLIC_URL = f"http://{HOST}:{PORT}"
HUB_API_URL = f"http://{HOST}:8081"
PROXY_API_URL = f"http://{HOST}:8001"
GUARD_PORT = 8444  # the pod guard, which the API server calls
GUARD = "virtwork-pod-guard"
SERVICE = "virtwork-sandbox"
SERVICE_SCOPES = ["admin:users", "admin:servers", "access:servers", "list:users",
                  "read:users"]
PROXY_PACKAGE = "configurable-http-proxy@5"


def state(*parts: str) -> Path:
    return paths.state_dir("hub", *parts)


def guard_command() -> list[str]:
    """The pod guard (``classroom.guard``), serving with a certificate of the cluster's CA."""
    cert, key = guard_cert()
    return [sys.executable, "-m", "jupyter_virtwork.classroom", "--port",
            str(GUARD_PORT), "--certfile", str(cert), "--keyfile", str(key)]


def guard_cert() -> tuple[Path, Path]:
    return kube_pki.pki_file(f"{GUARD}.crt"), kube_pki.pki_file(f"{GUARD}.key")


def proxy_command() -> Path:
    """configurable-http-proxy as npm installs it into the sandbox's cache."""
    return paths.cache_dir("configurable-http-proxy", "node_modules", ".bin",
                           "configurable-http-proxy")


def database() -> Path:
    return state("jupyterhub.sqlite")


def config_file() -> Path:
    return state("jupyterhub_config.py")


def write_config_file() -> Path:
    path = config_file()
    path.write_text("# Written by jupyter_virtwork's sandbox on every `up`.\n"
                    "from jupyter_virtwork.sandbox.hub_config import configure\n\n"
                    "configure(c)  # noqa: F821 - JupyterHub defines c\n")
    return path


def configure(c: Config) -> None:
    credentials = hub_accounts.credentials()
    c.JupyterHub.bind_url = PUBLIC_URL
    c.JupyterHub.hub_bind_url = HUB_API_URL
    c.ConfigurableHTTPProxy.api_url = PROXY_API_URL
    c.ConfigurableHTTPProxy.command = [str(proxy_command())]
    c.ConfigurableHTTPProxy.pid_file = str(state("proxy.pid"))
    c.JupyterHub.pid_file = str(state("jupyterhub.pid"))
    c.JupyterHub.db_url = f"sqlite:///{database()}"
    c.JupyterHub.cookie_secret_file = str(state("cookie_secret"))

    c.JupyterHub.authenticator_class = "pam"
    c.Authenticator.admin_users = {hub_accounts.TEACHER}
    c.Authenticator.allowed_users = set(hub_accounts.LEARNERS)
    c.LocalAuthenticator.create_system_users = True
    c.LocalAuthenticator.add_user_cmd = list(hub_accounts.USERADD)

    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(hub_env.singleuser())]
    c.Spawner.default_url = "/lab"
    c.Spawner.env_keep = ["LANG", "LC_ALL"]  # never the hub's PYTHONPATH or KUBECONFIG
    c.Spawner.environment = {"PATH": f"{hub_env.env_dir() / 'bin'}:/usr/bin:/bin"}
    c.Spawner.start_timeout = 120  # 20 learners at once on 2 cores
    c.Spawner.http_timeout = 120

    # Each learner's namespace on the sandbox's cluster, made by the hub as its admin.
    c.Spawner.pre_spawn_hook = pre_spawn_hook
    c.LearnerSpaces.kubeconfig = str(kube_pki.kubeconfig_path())
    c.LearnerSpaces.kube_context = kube_pki.CONTEXT
    c.LearnerSpaces.kubeconfig_dir = str(paths.state_dir("classroom"))
    c.LearnerSpaces.pod_guard_url = f"https://{HOST}:{GUARD_PORT}{guard.PATH}"
    c.LearnerSpaces.pod_guard_ca_file = str(kube_pki.pki_file("ca.crt"))
    # The teacher's server sees the class (%vw class) instead of a namespace of its own.
    c.LearnerSpaces.teachers = {hub_accounts.TEACHER}

    c.JupyterHub.services = [{"name": SERVICE, "api_token": credentials.api_token},
                             {"name": GUARD, "command": guard_command()}]
    c.JupyterHub.load_roles = [{"name": SERVICE, "scopes": SERVICE_SCOPES,
                                "services": [SERVICE]}]
