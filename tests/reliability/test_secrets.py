"""Secrets never leave: after a vSphere session with a password and Kubernetes calls with
a token, neither appears in any output, rich display, error, log record or the shell's
history."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_virtwork.errors import VirtworkError
from jupyter_virtwork.sandbox import kube_pki, vcsim

from ..integration.conftest import ensure_up, ipython_shell


@pytest.fixture(scope="module")
def secrets() -> list[str]:
    ensure_up("kubernetes", "vcsim")
    _, password = vcsim.credentials()
    return [password, kube_pki.admin_token()]


@pytest.fixture
def ip() -> Iterator[Any]:
    shell = ipython_shell()
    yield shell
    shell.run_line_magic("vw", "cleanup --yes")
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


def _rendered(value: Any) -> str:
    parts = [repr(value), str(value)]
    for method in ("_repr_html_", "to_dataframe"):
        render = getattr(value, method, None)
        if callable(render):
            parts.append(str(render()))
    return "\n".join(parts)


def _probe(ip: Any, magic: str, line: str) -> str:
    """What the magic answered, or the error a failed cell shows (and its whole text)."""
    try:
        return _rendered(ip.run_line_magic(magic, line))
    except VirtworkError as exc:
        return "\n".join([repr(exc), *exc._render_traceback_()])


def test_no_secret_in_outputs_logs_or_history(ip: Any, secrets: list[str],
                                              capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    lines = [
        ("vm", "ls --on vsphere"),
        ("vm", "create secret-probe-vm --on vsphere --os 'ubuntu 18.04' --cpus 2 "
               "--memory 4G --disk 100G --show-command"),
        ("vm", "config secret-probe-vm --cpus 1 --show-command"),
        ("vm", "delete secret-probe-vm --force"),
        ("vm", "ls --on vsphere://virtwork@vsphere.local@127.0.0.1:1"),  # unreachable
        ("k8s", "get pods --show-command"),
        ("k8s", "get pods -n no-such-namespace"),
        ("vw", "connections"),
        ("vw", "status"),
    ]
    seen = [_probe(ip, magic, line) for magic, line in lines]
    captured = capsys.readouterr()
    history = "\n".join(str(entry) for entry in ip.history_manager.input_hist_raw)
    outputs = "\n".join(str(v) for v in ip.history_manager.output_hist.values())
    everything = "\n".join([*seen, captured.out, captured.err, caplog.text, history,
                            outputs])
    # the probes really ran: a VM was created on vcsim, govc and kubectl lines were shown
    assert "name='secret-probe-vm'" in seen[1] and "govc vm.create" in captured.out
    assert "kubectl" in captured.out
    for secret in secrets:
        assert secret not in everything
