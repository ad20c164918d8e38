"""The ``%k8s`` magics the other tests leave out, typed as a notebook user types them, on the
sandbox's real cluster: ``%%k8s apply --dry-run`` and ``--diff``, ``%k8s apply -f FILE``,
``%k8s logs POD`` and ``%k8s logs -f POD`` stopped by the kernel's interrupt. What they
did is read back from the cluster, not only from what they printed."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.errors import Cancelled, NotFound
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, State

from .conftest import ensure_up, ipython_shell
from .manifests import (
    BUSYBOX,
    Container,
    Manifest,
    as_yaml,
    deployment,
    httpd,
    pod,
    service,
)


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up("images", "kubernetes")
    shell = ipython_shell()
    shell.run_line_magic("k8s", "get pods")  # first use says which connection: not here
    yield shell


@pytest.fixture
def name(ip: Any) -> Iterator[str]:
    """A fresh name; its Deployment, Service and Pod are deleted afterwards."""
    chosen = f"vw-k8s-{uuid.uuid4().hex[:6]}"
    yield chosen
    cluster = session().driver("kubernetes")
    for kind in (Kind.DEPLOYMENT, Kind.SERVICE, Kind.POD):
        try:
            cluster.delete(kind, chosen, grace_seconds=0, wait=True)
        except NotFound:
            pass


def _deployment(name: str, replicas: int, greeting: str = "hello") -> Manifest:
    return deployment(name, Container("web", command=httpd(), env={"GREETING": greeting}),
                      replicas=replicas)


def _absent(kind: Kind, name: str) -> bool:
    try:
        session().driver("kubernetes").read(kind, name)
    except NotFound:
        return True
    return False


def test_apply_dry_run_answers_what_would_be_made_and_makes_nothing(
        ip: Any, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    planned = ip.run_cell_magic("k8s", "apply --dry-run --show-command",
                                as_yaml(_deployment(name, 2), service(name)))
    assert [(r.kind, r.name) for r in planned] == [(Kind.DEPLOYMENT, name),
                                                  (Kind.SERVICE, name)]
    deployment = planned[0].raw
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == BUSYBOX
    assert deployment["metadata"]["labels"] == session().labels  # stamped, as applied
    shown = capsys.readouterr().out.splitlines()[0]
    assert shown.startswith("kubectl ") and " apply --server-side " in shown
    assert shown.endswith("--dry-run=server -f - <<'EOF'"), shown
    assert _absent(Kind.DEPLOYMENT, name) and _absent(Kind.SERVICE, name)


def test_apply_diff_shows_the_change_against_the_live_object(
        ip: Any, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    ip.run_cell_magic("k8s", "apply --diff", as_yaml(_deployment(name, 0)))
    new = capsys.readouterr().out
    assert f"--- live/Deployment/{name}" in new and f"+++ applied/Deployment/{name}" in new
    assert "+  replicas: 0" in new and not any(
        line.startswith("-") and not line.startswith("---") for line in new.splitlines())
    assert _absent(Kind.DEPLOYMENT, name)  # a diff applies nothing

    ip.run_cell_magic("k8s", "apply", as_yaml(_deployment(name, 0)))
    capsys.readouterr()
    ip.run_cell_magic("k8s", "apply --diff", as_yaml(_deployment(name, 0)))
    assert capsys.readouterr().out == "no changes\n"

    ip.run_cell_magic("k8s", "apply --diff", as_yaml(_deployment(name, 3, greeting="bonjour")))
    changed = capsys.readouterr().out
    removed = {line[1:].strip() for line in changed.splitlines()
               if line.startswith("-") and not line.startswith("---")}
    added = {line[1:].strip() for line in changed.splitlines()
             if line.startswith("+") and not line.startswith("+++")}
    assert removed == {"replicas: 0", "value: hello"}, changed
    assert added == {"replicas: 3", "value: bonjour"}, changed
    live = session().driver("kubernetes").read(Kind.DEPLOYMENT, name)
    assert live["spec"]["replicas"] == 0  # still as applied before the diff
    assert live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "hello"


def test_apply_dash_f_applies_every_document_of_the_file(ip: Any, name: str,
                                                         tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(as_yaml(_deployment(name, 0), service(name)))
    applied = ip.run_line_magic("k8s", f"apply -f {manifest}")
    assert [(r.kind, r.name) for r in applied] == [(Kind.DEPLOYMENT, name),
                                                  (Kind.SERVICE, name)]
    cluster = session().driver("kubernetes")
    deployment = cluster.read(Kind.DEPLOYMENT, name)
    assert deployment["spec"]["replicas"] == 0
    assert deployment["metadata"]["labels"] == session().labels
    assert cluster.read(Kind.SERVICE, name)["spec"]["ports"][0]["port"] == 80


def _ticking_pod(ip: Any, name: str) -> None:
    ticking = ("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    ip.run_cell_magic("k8s", "apply", as_yaml(pod(name, Container(command=ticking))))
    cluster = session().driver("kubernetes")
    deadline = time.monotonic() + 60
    while cluster.get(Kind.POD, name).state is not State.RUNNING:
        assert time.monotonic() < deadline, f"pod {name} did not start"
        time.sleep(0.2)


def _ticks(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("tick ")]


def test_logs_prints_what_the_pod_printed(ip: Any, name: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _ticking_pod(ip, name)
    capsys.readouterr()
    ip.run_line_magic("k8s", f"logs {name} --show-command")
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(f"logs {name}")
    ticks = _ticks(out)
    assert ticks and ticks == list(range(len(ticks)))  # from the first line, in order
    ip.run_line_magic("k8s", f"logs {name} --tail 1")
    assert len(_ticks(capsys.readouterr().out)) == 1


def test_logs_follow_goes_on_until_the_kernel_is_interrupted(
        ip: Any, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Interrupting a kernel sends SIGINT to it: sent here for real, to this process."""
    _ticking_pod(ip, name)
    capsys.readouterr()
    ip.run_line_magic("k8s", f"logs {name}")
    before = len(_ticks(capsys.readouterr().out))
    # A kernel turns SIGINT into KeyboardInterrupt; a test run started in the background by
    # a script inherits SIGINT ignored: set it as a kernel does.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(Cancelled) as caught:  # the cell fails, in one line
            ip.run_line_magic("k8s", f"logs -f {name}")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    took = time.monotonic() - started
    out = capsys.readouterr()
    assert 2.5 < took < 10, took  # it followed until the interrupt, and stopped at once
    assert caught.value._render_traceback_()[0].startswith("Cancelled: interrupted")
    ticks = _ticks(out.out)
    # Followed: the lines the pod printed after the call began (5 a second) came too.
    assert ticks == list(range(len(ticks))) and len(ticks) >= before + 10, (before, ticks)
    ip.run_line_magic("k8s", f"logs {name} --tail 1")  # the kernel goes on as before
    assert len(_ticks(capsys.readouterr().out)) == 1
