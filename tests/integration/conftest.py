"""Integration tests run against the sandbox's real engines.

``ensure_up`` starts the named engines through the sandbox CLI only when they are not ready
already (the README's test command has started them; a single test file run by hand may
not have).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from jupyter_virtwork.sandbox.__main__ import statuses


def ensure_up(*names: str) -> None:
    not_ready = [s.name for s in statuses(names) if not s.ready]
    if not not_ready:
        return
    proc = subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", "up", *not_ready],
                          capture_output=True, text=True, timeout=3600, check=False)
    assert proc.returncode == 0, f"sandbox up {' '.join(not_ready)} failed:\n{proc.stderr[-3000:]}"


def ipython_shell() -> Any:
    """The test process's IPython shell with the extension loaded. ``start_ipython()`` makes
    it once per process and answers None afterwards, so later modules ask for it again."""
    from IPython.testing.globalipapp import get_ipython, start_ipython

    # IPython 8 leaves these two untyped, IPython 9 types them: either passes mypy.
    shell = start_ipython() or get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    if "jupyter_virtwork" not in shell.extension_manager.loaded:
        shell.run_line_magic("load_ext", "jupyter_virtwork")
    return shell


def restart_session(shell: Any) -> None:
    """What a kernel restart does to the shell's magics: their Session closes, and the
    extension loaded again gives them a new one (the same id for the same notebook)."""
    if "jupyter_virtwork" in shell.extension_manager.loaded:
        shell.run_line_magic("unload_ext", "jupyter_virtwork")
    shell.run_line_magic("load_ext", "jupyter_virtwork")
