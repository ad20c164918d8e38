"""What a class account's processes may not reach on this machine's loopback.

Learners run code on this machine as their own Unix users, and two of the sandbox's
loopback services trust whoever connects: etcd (the cluster's whole state, every
ServiceAccount token of every learner included; the sandbox runs it without client
certificates) and the image registry (anyone may push over an image another learner's pod
runs). A chain of our own, jumped to from OUTPUT for sockets whose owner's group is the
class's, refuses those ports with a TCP reset: the kernel's ``!curl`` gets "connection
refused". The Kubernetes API (with the learner's own token), the hub and the learner's own
servers stay reachable. ``down`` removes the jump and the chain.
"""

from __future__ import annotations

import subprocess

from . import apt
from .hub_accounts import GROUP
from .system import SandboxError, which

CHAIN = "VIRTWORK-CLASS"
BLOCKED_PORTS = (2379, 2380, 5000)  # etcd's clients and peers, the registry
JUMP = ("OUTPUT", "-m", "owner", "--gid-owner", GROUP, "-j", CHAIN)


def install(engine: str) -> None:
    apt.install(["iptables"], engine=engine)


def close_ports() -> None:
    """The chain with its one rule, and the jump to it (each made once)."""
    if not _iptables("-n", "-L", CHAIN, check=False):
        _iptables("-N", CHAIN)
    _iptables("-F", CHAIN)
    _iptables("-A", CHAIN, "-d", "127.0.0.0/8", "-p", "tcp", "-m", "multiport", "--dports",
              ",".join(map(str, BLOCKED_PORTS)), "-j", "REJECT", "--reject-with", "tcp-reset")
    if not _iptables("-C", *JUMP, check=False):
        _iptables("-I", *JUMP[:1], "1", *JUMP[1:])


def open_ports() -> None:
    while _iptables("-C", *JUMP, check=False):
        _iptables("-D", *JUMP)
    if _iptables("-n", "-L", CHAIN, check=False):
        _iptables("-F", CHAIN)
        _iptables("-X", CHAIN)


def closed() -> bool:
    return _iptables("-C", *JUMP, check=False)


def _iptables(*args: str, check: bool = True) -> bool:
    binary = which("iptables", "/usr/sbin/iptables")
    if binary is None:
        raise SandboxError("hub: iptables not found; `apt-get install iptables`")
    # -w: wait for the xtables lock that kube-proxy and dockerd also take.
    proc = subprocess.run([binary, "-w", "10", *args], capture_output=True, text=True,
                          timeout=60, check=False)
    if check and proc.returncode != 0:
        raise SandboxError(f"hub: `iptables {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.returncode == 0
