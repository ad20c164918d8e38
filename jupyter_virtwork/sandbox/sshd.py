"""A remote host for the sandbox: Debian's OpenSSH server on 127.0.0.1:2222, root by key only.

The engines the toolkit drives in a classroom are usually on another machine, reached over
SSH: ``docker+ssh://root@HOST`` and ``qemu+ssh://root@HOST/system``. This engine makes
this machine such a host, so the tests go through the real SSH transports (docker-py's,
which runs ``docker system dial-stdio`` there, and libvirt's, which runs
``virt-ssh-helper``) to the sandbox's own dockerd and libvirtd:

    docker+ssh://root@127.0.0.1:2222
    qemu+ssh://root@127.0.0.1:2222/system

It is an sshd of its own, never Debian's ``ssh`` service nor ``/etc/ssh``: its own host key
and its own config (``<state dir>/sshd/``), loopback only, its own port. Root may log in
with the sandbox's client key and nothing else (no password, no keyboard-interactive, no
PAM, no forwarding of any kind; the key is ``restrict``-ed in our own authorized_keys
file). No systemd here: the package's postinst starts nothing, so ``start`` creates the
privilege-separation directory ``/run/sshd`` itself and runs ``sshd -D -e`` as a daemon
(its log is the run dir's ``sshd.log``); it is ready when the port sends the SSH banner.

The sandbox WRITES the user's standard SSH configuration, so that ``ssh -p 2222
root@127.0.0.1``, the docker CLI, virsh, libvirt (which runs OpenSSH's ``ssh``) and docker-py
(which speaks SSH itself, through paramiko) all reach it as a user reaches a remote host,
with the host key checked:

- ``~/.ssh/known_hosts`` gains the line ``[127.0.0.1]:2222 ssh-ed25519 ... jupyter-virtwork``
  (what ``ssh`` itself writes once a user accepts a host key); a later ``up`` replaces only
  a line with that comment, so a user's own line for that port is never touched;
- ``~/.ssh/config`` gains one marked block ``Host 127.0.0.1`` naming the sandbox's client
  key ``<state dir>/sshd/client_ed25519``, then OpenSSH's default key names, so that other
  sshds of this machine are offered the same keys as before (a configured IdentityFile
  replaces OpenSSH's defaults). The block sits between two marker lines, is added once at
  the end and rewritten in place; the rest of the user's file stays as it is, and a
  missing file is created (0600).

Why not a file of ours ``Include``-d from ~/.ssh/config, with a ``Match ... exec "test %p =
2222"`` block and its own known_hosts file: docker-py's paramiko transport reads
~/.ssh/config without following ``Include``, evaluates ``Match exec`` only with the optional
``invoke`` package, and trusts only ~/.ssh/known_hosts. The toolkit's Docker driver uses
that transport (docker-py's shell-out to ``ssh`` opens a new SSH session per HTTP request,
~1 s each here), with paramiko's ``RejectPolicy``: an unknown or changed host key refuses
the connection, and nothing turns that off.

URIs carry the port, so no ``Host`` alias is needed. ``stop`` stops our sshd and the
sessions it serves (each connection's sshd runs in a session of its own, outside the
listener's process group, so they are found as the listener's children); the keys and the
client configuration stay, so a later ``up`` is reached with the same host key.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import apt, paths, process
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, which

NAME = "sshd"
HOST = "127.0.0.1"
PORT = 2222
USER = "root"
PACKAGES = ("openssh-server", "openssh-client")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it; nothing else makes it
START_TIMEOUT = 15.0

DOCKER_URI = f"docker+ssh://{USER}@{HOST}:{PORT}"
LIBVIRT_URI = f"qemu+ssh://{USER}@{HOST}:{PORT}/system"

BEGIN_MARK = "# >>> jupyter_virtwork sandbox: its sshd on 127.0.0.1:2222 (rewritten by `up`) >>>"
END_MARK = "# <<< jupyter_virtwork sandbox <<<"
KNOWN_HOSTS_COMMENT = "jupyter-virtwork"
# OpenSSH's own identities when none is configured (ssh_config(5), IdentityFile).
DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk",
                      "id_xmss", "id_dsa")

SSHD_CONFIG = """\
# Written by jupyter_virtwork's sandbox; rewritten on every `up`. Not Debian's ssh service.
ListenAddress {host}:{port}
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
AllowStreamLocalForwarding no
PermitTunnel no
PermitUserEnvironment no
UseDNS no
PrintMotd no
ClientAliveInterval 5
ClientAliveCountMax 3
LogLevel INFO
"""


def state(*parts: str) -> Path:
    return paths.state_dir(NAME, *parts)


def host_key() -> Path:
    return state("host_ed25519")


def client_key() -> Path:
    """The client's private key (its public half is ``client_ed25519.pub``)."""
    return state("client_ed25519")


def authorized_keys() -> Path:
    return state("authorized_keys")


def config_file() -> Path:
    return state("sshd_config")


def ssh_dir() -> Path:
    """The user's OpenSSH directory, where the client configuration goes."""
    return Path.home() / ".ssh"


# --- keys and configuration ----------------------------------------------------------------

def _keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair without passphrase, made once; later starts reuse it."""
    if path.exists() and path.with_suffix(".pub").exists():
        return
    keygen = which("ssh-keygen", "/usr/bin/ssh-keygen")
    if keygen is None:
        raise SandboxError("sshd: ssh-keygen not found; `apt-get install openssh-client`")
    path.unlink(missing_ok=True)
    path.with_suffix(".pub").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


def _public(path: Path) -> str:
    """``TYPE BASE64`` of a key pair's public half (no comment)."""
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def write_server_files() -> None:
    """Keys, authorized_keys and sshd_config under the state dir."""
    _keygen(host_key(), "jupyter-virtwork sandbox sshd host key")
    _keygen(client_key(), "jupyter-virtwork sandbox client")
    # `restrict`: no pty, no forwarding; the transports only run a command.
    paths.private_file(authorized_keys(),
                       f'restrict,from="{HOST}" {_public(client_key())} jupyter-virtwork\n')
    paths.private_file(config_file(), SSHD_CONFIG.format(
        host=HOST, port=PORT, host_key=host_key(), authorized_keys=authorized_keys(),
        user=USER))


def client_block() -> str:
    """The marked ``Host`` block of ~/.ssh/config, markers included."""
    keys = [str(client_key()), *(f"~/.ssh/{name}" for name in DEFAULT_IDENTITIES)]
    return "\n".join([BEGIN_MARK, f"Host {HOST}",
                      *(f"    IdentityFile {key}" for key in keys), END_MARK, ""])


def write_client_config(home_ssh: Path | None = None) -> None:
    """Our known_hosts line and our ~/.ssh/config block, added once, replaced in place."""
    directory = home_ssh or ssh_dir()
    directory.mkdir(mode=0o700, exist_ok=True)
    entry = f"[{HOST}]:{PORT} {_public(host_key())} {KNOWN_HOSTS_COMMENT}\n"
    _rewrite(directory / "known_hosts", lambda text: _with_known_host(text, entry))
    _rewrite(directory / "config", _with_block)


def _with_known_host(text: str, entry: str) -> str:
    """``text`` with our line for [HOST]:PORT (ours replaced, the user's kept)."""
    ours = f"[{HOST}]:{PORT} "
    lines = [line for line in text.splitlines(keepends=True)
             if not (line.startswith(ours) and line.split()[-1] == KNOWN_HOSTS_COMMENT)]
    kept = "".join(lines)
    return kept + ("" if not kept or kept.endswith("\n") else "\n") + entry


def _with_block(text: str) -> str:
    """``text`` with our marked block: replaced where it is, else appended at the end.

    A ``Host`` line starts a new block wherever it stands, so appending leaves the user's
    own blocks as they were."""
    block = client_block()
    start, end = text.find(BEGIN_MARK), text.find(END_MARK)
    if start >= 0 and end > start:
        after = text.find("\n", end)
        return text[:start] + block + (text[after + 1:] if after >= 0 else "")
    return text + ("" if not text or text.endswith("\n") else "\n") + \
        ("\n" if text else "") + block


def _rewrite(path: Path, change: Callable[[str], str]) -> None:
    """Replace ``path`` by ``change(its text)`` atomically, keeping its mode (new: 0600)."""
    try:
        text, mode = path.read_text(), path.stat().st_mode & 0o777
    except FileNotFoundError:
        text, mode = "", 0o600
    new = change(text)
    if new == text:
        return
    partial = path.with_name(f".{path.name}.virtwork-{os.getpid()}")
    paths.private_file(partial, new)
    os.chmod(partial, mode)
    partial.replace(path)  # never half a config, even if interrupted


# --- the daemon ----------------------------------------------------------------------------

def banner(timeout: float = 2.0) -> str:
    """The server's SSH identification line (``SSH-2.0-OpenSSH_9.2p1 ...``), else raise."""
    with socket.create_connection((HOST, PORT), timeout=timeout) as conn:
        line = conn.makefile("rb").readline(256).decode(errors="replace").strip()
    if not line.startswith("SSH-"):
        raise SandboxError(f"sshd: {HOST}:{PORT} answered {line[:60]!r}, not SSH")
    return line


def answers() -> bool:
    try:
        banner()
    except (OSError, SandboxError):
        return False
    return True


def sessions_of(listener: int) -> list[int]:
    """The per-connection sshd processes our listener forked (its children)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == listener:  # fields: state, ppid, ...
            children.append(int(stat.parent.name))
    return children


class SshdEngine(Engine):
    name = NAME

    def install(self) -> None:
        apt.install(PACKAGES, engine=NAME)

    def start(self) -> None:
        ours = process.running_pid(NAME)
        if ours is not None and answers():
            write_client_config()
            say(NAME, f"sshd already running (pid {ours})")
            return
        require_root_debian(NAME)
        if ours is None and process.port_in_use(HOST, PORT):
            raise SandboxError(f"sshd: {HOST}:{PORT} is in use by a process the sandbox did "
                               "not start; stop it or free the port")
        binary = which("sshd", "/usr/sbin/sshd")
        if binary is None:
            raise SandboxError("sshd: /usr/sbin/sshd not found; "
                               "`apt-get install openssh-server`")
        started = time.monotonic()
        write_server_files()
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        # sshd checks its config and keys first: a mistake is one clear line, not a dead pid.
        check = subprocess.run([binary, "-t", "-f", str(config_file())], capture_output=True,
                               text=True, timeout=30, check=False)
        if check.returncode != 0:
            raise SandboxError(f"sshd: its config is refused: {check.stderr.strip()}")
        # An absolute path: sshd re-executes itself for each connection.
        pid = process.start_daemon(NAME, [binary, "-D", "-e", "-f", str(config_file())])
        say(NAME, f"sshd pid {pid}; waiting for its banner on {HOST}:{PORT}")
        process.wait_until(answers, timeout=START_TIMEOUT, what="sshd", daemon=NAME)
        write_client_config()
        say(NAME, f"{DOCKER_URI} and {LIBVIRT_URI} are reachable "
                  f"({time.monotonic() - started:.1f} s)")

    def stop(self) -> None:
        listener = process.running_pid(NAME)
        # Each connection's sshd starts a session of its own (setsid), out of the listener's
        # process group that stop_daemon signals: end those children of ours too.
        sessions = sessions_of(listener) if listener is not None else []
        if not process.stop_daemon(NAME):
            say(NAME, "no sshd of ours is running")
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


    def status(self) -> EngineStatus:
        endpoint = f"ssh://{USER}@{HOST}:{PORT}"
        extra = {"docker_uri": DOCKER_URI, "libvirt_uri": LIBVIRT_URI,
                 "identity_file": str(client_key()), "ssh_config": str(ssh_dir() / "config")}
        if process.running_pid(NAME) is None:
            return EngineStatus(NAME, False, endpoint, detail="not running", extra=extra)
        try:
            version = banner()
        except (OSError, SandboxError) as exc:
            return EngineStatus(NAME, False, endpoint, detail=f"not answering: {exc}",
                                extra=extra)
        return EngineStatus(NAME, True, endpoint, version.removeprefix("SSH-2.0-"),
                            detail="started by the sandbox", extra=extra)
