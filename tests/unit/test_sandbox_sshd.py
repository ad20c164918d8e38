"""The sandbox's sshd writes the user's SSH configuration without clobbering it: its
known_hosts line and its marked ``Host`` block are added once and replaced in place, and
everything of the user's stays as it was. Files only, in a temporary home."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_virtwork.sandbox import sshd

USER_CONFIG = """\
ServerAliveInterval 30
Host build
    HostName build.example.org
    User me
Match host *.internal
    ForwardAgent no
"""
USER_KNOWN = "github.com ssh-ed25519 AAAAuser\n[127.0.0.1]:2222 ssh-rsa AAAAmine\n"


@pytest.fixture
def home_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIRTWORK_STATE_DIR", str(tmp_path / "state"))
    sshd.host_key().parent.mkdir(parents=True)
    sshd.host_key().with_suffix(".pub").write_text("ssh-ed25519 AAAAhostkey1 comment\n")
    directory = tmp_path / "home" / ".ssh"
    directory.mkdir(parents=True, mode=0o700)
    (directory / "config").write_text(USER_CONFIG)
    (directory / "config").chmod(0o644)
    (directory / "known_hosts").write_text(USER_KNOWN)
    return directory


def test_added_once_and_the_users_lines_kept(home_ssh: Path) -> None:
    sshd.write_client_config(home_ssh)
    config = (home_ssh / "config").read_text()
    assert config.startswith(USER_CONFIG)
    assert config.endswith(sshd.client_block())
    assert f"    IdentityFile {sshd.client_key()}\n" in config
    assert (home_ssh / "config").stat().st_mode & 0o777 == 0o644  # the user's mode
    known = (home_ssh / "known_hosts").read_text()
    assert known == USER_KNOWN + "[127.0.0.1]:2222 ssh-ed25519 AAAAhostkey1 jupyter-virtwork\n"

    sshd.write_client_config(home_ssh)
    assert (home_ssh / "config").read_text() == config
    assert (home_ssh / "known_hosts").read_text() == known


def test_a_new_host_key_replaces_only_our_line(home_ssh: Path) -> None:
    sshd.write_client_config(home_ssh)
    sshd.host_key().with_suffix(".pub").write_text("ssh-ed25519 AAAAhostkey2 comment\n")
    sshd.write_client_config(home_ssh)
    assert (home_ssh / "known_hosts").read_text() == \
        USER_KNOWN + "[127.0.0.1]:2222 ssh-ed25519 AAAAhostkey2 jupyter-virtwork\n"


def test_our_block_is_rewritten_where_it_stands(home_ssh: Path) -> None:
    sshd.write_client_config(home_ssh)
    later = "Host later\n    User you\n"
    stale = (home_ssh / "config").read_text().replace("client_ed25519", "old_key") + later
    (home_ssh / "config").write_text(stale)
    sshd.write_client_config(home_ssh)
    assert (home_ssh / "config").read_text() == USER_CONFIG + "\n" + sshd.client_block() + later


def test_missing_files_are_created_private(tmp_path: Path, home_ssh: Path) -> None:
    fresh = tmp_path / "fresh" / ".ssh"
    fresh.parent.mkdir()
    sshd.write_client_config(fresh)
    assert (fresh / "config").read_text() == sshd.client_block()
    assert fresh.stat().st_mode & 0o777 == 0o700
    assert {(fresh / f).stat().st_mode & 0o777 for f in ("config", "known_hosts")} == {0o600}


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH's client is not installed")
def test_openssh_reads_our_key_first_and_keeps_its_defaults(home_ssh: Path) -> None:
    """Other sshds of this machine are offered the keys they were offered before."""
    sshd.write_client_config(home_ssh)

    def identities(port: int) -> list[str]:
        out = subprocess.run(["ssh", "-G", "-F", str(home_ssh / "config"), "-p", str(port),
                              "root@127.0.0.1"], capture_output=True, text=True, check=True,
                             timeout=30).stdout
        return [line.split(" ", 1)[1] for line in out.splitlines()
                if line.startswith("identityfile ")]

    ours = identities(sshd.PORT)
    assert ours[0] == str(sshd.client_key())
    assert ours[1:] == [f"~/.ssh/{name}" for name in sshd.DEFAULT_IDENTITIES]
    assert identities(22) == ours
