"""The class's Unix accounts: a teacher and learners, each their own user, none able to read
another's files.

The hub's local spawner runs each learner's server as that learner's Unix user, so the
kernel's ``!cat`` meets the kernel's permissions: each home is 0700 (whatever the system's
default), and the primary group of every class account is ``virtwork-class``, which owns
no file but lets the firewall (``hub_firewall``) tell a class process from the rest. The
hub makes further learners added through its REST API with the same ``useradd`` line.

The passwords (the hub authenticates with PAM) and the sandbox's own API token are made
once and kept in the state dir, 0600, readable by root only; ``status`` names the file,
never a secret. A later ``up`` sets the same passwords again.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .system import SandboxError

GROUP = "virtwork-class"
TEACHER = "vw-teacher"
LEARNERS = ("vw-learner1", "vw-learner2", "vw-learner3")
HOME_MODE = 0o700
# The hub appends the new user's name (LocalAuthenticator.add_user_cmd).
USERADD = ("useradd", "--create-home", "--shell", "/bin/bash", "--gid", GROUP,
           "--key", f"HOME_MODE={HOME_MODE:04o}")


@dataclass(frozen=True)
class Credentials:
    api_token: str  # the sandbox's service token (tests and benchmarks drive the hub with it)
    passwords: dict[str, str]  # class account -> its login password


def credentials_file() -> Path:
    return paths.state_dir("hub", "credentials.json")


def credentials() -> Credentials:
    """The class's credentials, made on first use and kept (0600, root only)."""
    path = credentials_file()
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        saved = {}
    except (OSError, ValueError) as exc:
        raise SandboxError(f"hub: {path} is unreadable ({exc}); delete it to make new "
                           "credentials") from exc
    token = saved.get("api_token") or secrets.token_hex(32)
    passwords = dict(saved.get("passwords") or {})
    for user in (TEACHER, *LEARNERS):
        passwords.setdefault(user, secrets.token_urlsafe(18))
    made = Credentials(token, passwords)
    if saved != {"api_token": made.api_token, "passwords": made.passwords}:
        paths.private_file(path, json.dumps({"api_token": made.api_token,
                                             "passwords": made.passwords}, indent=2))
    return made


def ensure_accounts(passwords: dict[str, str]) -> None:
    """The group, then each class account with a private home and its password."""
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        _run(["groupadd", "--system", GROUP])
    for user in (TEACHER, *LEARNERS):
        try:
            pwd.getpwnam(user)
        except KeyError:
            _run([*USERADD, user])
        private_home(user)
    lines = "".join(f"{user}:{passwords[user]}\n" for user in (TEACHER, *LEARNERS))
    _run(["chpasswd"], stdin=lines)


def private_home(user: str) -> Path:
    """``user``'s home, made 0700 if it was not (an account made before the class was)."""
    home = Path(pwd.getpwnam(user).pw_dir)
    if home.is_dir() and not home.is_symlink() and home.stat().st_mode & 0o777 != HOME_MODE:
        os.chmod(home, HOME_MODE)
    return home


def members() -> list[str]:
    """Every account whose primary group is the class's: ours and those the hub made."""
    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return []
    return sorted(entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == gid)


def processes_of(users: list[str]) -> list[int]:
    """The pids of processes running as one of ``users`` (their real uid)."""
    uids = {str(pwd.getpwnam(user).pw_uid) for user in users}
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid_line = next(line for line in status.read_text().splitlines()
                            if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue  # gone meanwhile
        if uid_line.split()[1] in uids:
            found.append(int(status.parent.name))
    return found


def _run(cmd: list[str], *, stdin: str | None = None) -> None:
    """Run an account command; its output never reaches a log (chpasswd's input is secret)."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        raise SandboxError(f"hub: `{cmd[0]}` failed: {proc.stderr.strip()[:300]}")
