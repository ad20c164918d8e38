"""A corpus of bad input across the magics: each answered with one line that says what is
wrong, and the engines' state compared before and after: unchanged. The server's endpoints
have their own corpus (tests/server/bad_requests.py); the two are counted together here.

Every failure is a raised VirtworkError (usage mistakes an InvalidArguments) that IPython
shows as one line and that fails the cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError

from jupyter_virtwork.errors import VirtworkError

from ..integration.conftest import ensure_up, ipython_shell
from ..server.bad_requests import CORPUS as SERVER_CORPUS
from . import engine_state

B = "localbase/busybox:1.35"
GOOD_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-input-probe}
spec:
  replicas: 1
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec: {containers: [{name: c, image: localbase/busybox:1.35, imagePullPolicy: Never}]}
"""

# (magic, line, cell or None, words the one line must contain)
CORPUS: list[tuple[str, str, str | None, str]] = [
    # docker: names, images, flags, Dockerfiles
    ("docker", f"run --name 'a;b' {B}", None, "not a valid name"),
    ("docker", f"run --name '$(reboot)' {B}", None, "not a valid name"),
    ("docker", f"run --name 'a b' {B}", None, "not a valid name"),
    ("docker", f"run --name '-x' {B}", None, "expected one argument"),
    ("docker", "run localbase/never-built:1", None, "pulling is disabled"),
    ("docker", "run Upper/Case", None, "lowercase"),
    ("docker", "run 'busybox;rm'", None, "lowercase"),
    ("docker", f"run -p abc {B}", None, "HOST_PORT"),
    ("docker", f"run -p 8080:80-81 {B}", None, "don't match"),  # docker takes -p 80
    ("docker", f"run -e =nameless {B}", None, "KEY=VALUE"),
    ("docker", f"run --bogus {B}", None, "unrecognized"),
    ("docker", "run", None, "required"),
    ("docker", "frobnicate", None, "invalid choice"),
    ("docker", "exec no-such-container-x ls", None, "no such object"),
    ("docker", "exec no-such-container-x", None, "give a command"),
    ("docker", "logs no-such-container-x", None, "no such object"),
    ("docker", "stop no-such-container-x", None, "no such object"),
    ("docker", "pause no-such-container-x", None, "no such object"),
    ("docker", "rm no-such-container-x", None, "no such object"),
    ("docker", "push localbase/never-built:1", None, "not present locally"),
    ("docker", "build -t x /nonexistent/dir", None, "no Dockerfile"),
    ("docker", "build /tmp", None, "required"),
    ("docker", "ps --bogus", None, "unrecognized"),
    ("docker", "run 'unterminated", None, "quotation"),
    ("dockerfile", "-t bad-df-1", f"FROM {B}\nFORM x\n", "unknown instruction"),
    ("dockerfile", "-t bad-df-2", "RUN echo no from\n", "no FROM line"),
    ("dockerfile", "-t bad-df-3", "FROM localbase/never-built:9\n", "pulling is disabled"),
    ("dockerfile", "-t bad-df-4", f"FROM {B}\nRUN exit 3\n", "step 2/2"),
    ("dockerfile", "-t Bad-Tag", f"FROM {B}\n", "lowercase"),
    ("dockerfile", "-t bad-df-5", "", "empty"),
    ("dockerfile", "", f"FROM {B}\n", "required"),
    # kubernetes: YAML, kinds, fields, targets
    ("k8s", "apply", "kind: Pod\n  metadata: [", "malformed"),
    ("k8s", "apply", "", "cell body is empty"),  # IPython's own one line
    ("k8s", "apply", "# only a comment\n", "holds no object"),
    ("k8s", "apply", "- a\n- b\n", "not a mapping"),
    ("k8s", "apply", "apiVersion: v1\nkind: Pod\n", "metadata.name"),
    ("k8s", "apply", "apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", "unknown kind"),
    ("k8s", "apply", "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n",
     "not a valid name"),
    ("k8s", "apply", "apiVersion: v1\nkind: Pod\nmetadata: {name: 'x;y'}\n",
     "not a valid name"),
    ("k8s", "apply", GOOD_DEPLOYMENT.replace("replicas: 1", "replicas: three"),
     ".spec.replicas: expected numeric"),
    ("k8s", "apply", GOOD_DEPLOYMENT.replace("image: localbase", "imagex: localbase"),
     "imagex: field not declared"),
    ("k8s", "apply -f /nonexistent.yaml", None, "cannot read"),
    ("k8s", "apply", None, "give the YAML"),
    ("k8s", "scale --replicas=3 deployment/no-such-deployment", None, "not found"),
    ("k8s", "scale --replicas=3 web", None, "KIND/NAME"),
    ("k8s", "scale --replicas=three deployment/web", None, "invalid int"),
    ("k8s", "scale --replicas=-1 deployment/web", None, "impossible"),
    ("k8s", "scale --replicas=3 pod/web", None, "does not support"),
    ("k8s", "get widgets", None, "unknown kind"),
    ("k8s", "get pods --bogus", None, "unrecognized"),
    ("k8s", "logs no-such-pod-x", None, "not found"),
    ("k8s", "exec no-such-pod-x", None, "give the command"),
    ("k8s", "exec no-such-pod-x -- ls", None, "not found"),
    ("k8s", "delete deployment/no-such-deployment", None, "not found"),
    ("k8s", "delete nonsense", None, "KIND/NAME"),
    ("k8s", "delete deployment/bad-input-probe --grace-period=-1", None, "0 or more"),
    # VMs
    ("vm", "create vm-bad --on test:///default --cpus 0", None, "0 CPUs"),
    ("vm", "create vm-bad --on test:///default --cpus 10000", None, "10000 CPUs"),
    ("vm", "create vm-bad --on test:///default --cpus two", None, "not a whole number"),
    ("vm", "create vm-bad --on test:///default --memory lots", None, "not a size"),
    ("vm", "create vm-bad --on test:///default --memory 1K", None, "impossible"),
    ("vm", "create vm-bad --on test:///default --disk=-5G", None, "not a size"),
    ("vm", "create 'vm;reboot' --on test:///default", None, "not a valid name"),
    ("vm", "create 'vm $(id)' --on test:///default", None, "not a valid name"),
    ("vm", "create vm-bad --on docker://", None, "not a vSphere or libvirt"),
    ("vm", "create vm-bad --on ftp://x", None, "unknown connection scheme"),
    ("vm", "create vm-bad --on xen:///system", None, "no Xen hypervisor"),
    ("vm", "start no-such-vm-x --on test:///default", None, "no VM 'no-such-vm-x'"),
    ("vm", "config no-such-vm-x --on test:///default --cpus 2", None,
     "no VM 'no-such-vm-x'"),
    ("vm", "config vm-bad --on test:///default", None, "give --cpus"),
    ("vm", "delete no-such-vm-x --on test:///default", None, "no VM 'no-such-vm-x'"),
    ("vm", "console no-such-vm-x --on test:///default", None, "no VM 'no-such-vm-x'"),
    ("vm", "teleport vm-bad", None, "invalid choice"),
    # %vw
    ("vw", "connect vsphere://admin:hunter2@vc", None, "must not contain a password"),
    ("vw", "connect nonsense", None, "not a connection URI"),
    ("vw", "frobnicate", None, "invalid choice"),
    ("vw", "export", None, "give a directory, or --notebook"),
    ("vw", "export here --notebook there.ipynb", None, "give a directory, or --notebook"),
]


@pytest.fixture(scope="module")
def ip() -> Iterator[Any]:
    ensure_up(*engine_state.ENGINES)
    shell = ipython_shell()
    for magic, line in (("docker", "ps"), ("k8s", "get pods"), ("vm", "ls")):
        shell.run_line_magic(magic, line)  # first use says which connection: not here
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_virtwork")


def test_the_corpora_are_large_enough() -> None:
    """At least 60 bad inputs across the magics and the server's endpoints, each side a
    corpus of its own size."""
    assert len(CORPUS) >= 60
    assert len(SERVER_CORPUS) >= 20
    assert len(CORPUS) + len(SERVER_CORPUS) > 60


def test_every_case_names_the_words_its_error_must_contain() -> None:
    """A case that names no words passes with any error, even the wrong one."""
    assert [line for _, line, _, words in CORPUS if not words.strip()] == []
    assert [case.why for case in SERVER_CORPUS if not case.words.strip()] == []


@pytest.mark.parametrize(("magic", "line", "cell", "words"), CORPUS,
                         ids=[f"{m}:{line[:40]}" for m, line, _, _ in CORPUS])
def test_bad_input_is_one_line_and_changes_nothing(
        ip: Any, capsys: pytest.CaptureFixture[str], magic: str, line: str, cell: str | None,
        words: str) -> None:
    before = engine_state.snapshot()
    capsys.readouterr()
    result = ip.run_cell(f"%{magic} {line}" if cell is None else f"%%{magic} {line}\n{cell}")
    error = result.error_in_exec
    if cell == "":  # IPython's own check, before the magic runs; a one-line UsageError too
        assert isinstance(error, UsageError) and "cell body is empty" in str(error), error
        message = f"UsageError: {error}"
    else:
        assert isinstance(error, VirtworkError), error
        (message,) = error._render_traceback_()
        assert capsys.readouterr().out.splitlines()[-1] == message  # what IPython showed
    assert "\n" not in message and "Traceback" not in message, message
    assert words in message
    assert "hunter2" not in message
    assert engine_state.snapshot() == before
