"""A kernel whose first ``%docker`` was interrupted while it imported docker-py, then used
while containers vanish under it: every failing magic still prints its one line.

The race of issue 19: once, while a deleted Deployment's containers were being removed,
every ``%docker`` magic of one kernel printed a long AttributeError traceback instead of
its one-line error. The state left half-made was docker-py itself: a first import that
failed or was interrupted left its finished submodules in ``sys.modules`` and the package
out, so the next import made a ``docker`` package without a ``docker.errors`` attribute.
Magics that succeed never touch it; the driver's error boundary does, so the first
containers to vanish turned every error into an AttributeError.

Provoked for real in a fresh interpreter (the state is process-wide, and this one has
docker-py imported already): a real SIGINT, as a kernel's interrupt button sends, lands in
the middle of the first ``%docker``'s import; then threads run ``%docker`` magics on real
containers while other threads remove them. The only help the child gets is the moment of
the SIGINT: an import finder raises it when ``docker.client`` is about to load (after
``docker.errors``), because a timer cannot hit a 0.3 s import reliably.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .conftest import ensure_up

BUSYBOX = "localbase/busybox:1.35"
CONTAINERS = 6

CHILD = r'''
import json, signal, sys, threading
from IPython.testing.globalipapp import start_ipython

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a kernel
names = sys.argv[1:]
assert "docker" not in sys.modules
ip = start_ipython()
ip.run_line_magic("load_ext", "jupyter_virtwork")  # its warm-up thread imports meanwhile


class InterruptDuringImport:
    fired = False

    def find_spec(self, name, path=None, target=None):
        if name == "docker.client" and not self.fired:
            self.fired = True
            signal.raise_signal(signal.SIGINT)
        return None


finder = InterruptDuringImport()
sys.meta_path.insert(0, finder)
from jupyter_virtwork.errors import VirtworkError

first = ""
try:
    ip.run_line_magic("docker", "ps -a")
except VirtworkError as exc:  # the one line the cell shows
    first = exc._render_traceback_()[0]
sys.meta_path.remove(finder)

docker_magic = ip.find_line_magic("docker")
escaped, shown = [], []
go = threading.Barrier(len(names) * 4)


def use(name, line):
    go.wait()
    for _ in range(15):
        try:
            docker_magic(line.format(name))
        except VirtworkError as exc:  # what a failed cell shows
            shown.extend(exc._render_traceback_())
        except BaseException as exc:  # anything else escaped the magic's error boundary
            escaped.append(f"{type(exc).__name__}: {exc}")
            return


threads = [threading.Thread(target=use, args=(name, line)) for name in names
           for line in ("rm -f {}", "logs {}", "pause {}", "stop -t 0 {}")]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(120)
print(json.dumps({"fired": finder.fired, "first": first, "escaped": escaped, "shown": shown,
                  "alive": [t.name for t in threads if t.is_alive()],
                  "errors_attribute": hasattr(sys.modules["docker"], "errors")}))
'''


@pytest.fixture
def containers() -> Iterator[list[str]]:
    ensure_up("docker", "images")
    client = docker.from_env()
    tag = f"vw-race-{uuid.uuid4().hex[:6]}"
    names = [f"{tag}-{n}" for n in range(CONTAINERS)]
    for name in names:
        client.containers.run(BUSYBOX, ["sleep", "300"], name=name, detach=True,
                              network_mode="none", labels={"vw-test": tag})
    yield names
    for container in client.containers.list(all=True, filters={"label": f"vw-test={tag}"}):
        container.remove(force=True)
    client.close()


def _run_child(names: list[str]) -> tuple[dict[str, Any], str]:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", CHILD, *names], cwd=root, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_magics_after_an_interrupted_first_import_fail_in_one_line(
        containers: list[str]) -> None:
    result, stderr = _run_child(containers)
    assert result["fired"] and "interrupted" in result["first"], result
    assert result["alive"] == []
    assert result["escaped"] == [], result["escaped"][:3]
    assert result["errors_attribute"]
    # Every error the magics raised is one line; the vanished containers made some.
    assert "Traceback" not in stderr
    assert [line for line in result["shown"] if "\n" in line or "AttributeError" in line] == []
    assert any("no such object" in line for line in result["shown"])
    client = docker.from_env()
    try:
        assert not [c for c in client.containers.list(all=True) if c.name in containers]
    finally:
        client.close()
