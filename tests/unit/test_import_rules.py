"""Who may import whom inside jupyter_virtwork, read from the source with ``ast``.

The rule so far (issue 14 adds the layers): the core knows nothing of the sandbox. No
module outside ``jupyter_virtwork/sandbox/`` imports it, absolutely or relatively, at the
top or inside a function; the defaults read the user's configuration, which the sandbox
writes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "jupyter_virtwork"
SANDBOX = "jupyter_virtwork.sandbox"


def module_of(path: Path) -> tuple[str, bool]:
    """(dotted name, is a package) of a file of the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts), parts[-1] == "__init__"


def imported(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved;
    ``from X import y`` counts as X and X.y (y may be a module)."""
    here = module.split(".") if package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[:len(here) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _in_sandbox(name: str) -> bool:
    return name == SANDBOX or name.startswith(SANDBOX + ".")


def core_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if p.relative_to(PACKAGE).parts[0] != "sandbox")


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_does_not_import_the_sandbox(path: Path) -> None:
    module, package = module_of(path)
    assert not {n for n in imported(path.read_text(), module, package=package) if _in_sandbox(n)}


@pytest.mark.parametrize(("source", "module", "package"), [
    ("from .sandbox import process", "jupyter_virtwork.defaults", False),
    ("from ..sandbox.guest import guest_files", "jupyter_virtwork.magics.vm", False),
    ("from .. import sandbox", "jupyter_virtwork.drivers.libvirt", False),
    ("import jupyter_virtwork.sandbox.vcsim", "jupyter_virtwork.server.config", False),
    ("def f():\n    from ...sandbox import libvirt\n", "jupyter_virtwork.drivers.vsphere.specs",
     False),
    ("from . import sandbox", "jupyter_virtwork", True),
    ("from .sandbox import paths", "jupyter_virtwork", True),
])
def test_the_rule_sees_every_spelling(source: str, module: str, package: bool) -> None:
    """The check can fail: each way of importing the sandbox is found."""
    names = imported(source, module, package=package)
    assert any(_in_sandbox(name) for name in names), names


@pytest.mark.parametrize(("source", "module"), [
    ("from .drivers import sandboxed", "jupyter_virtwork.magics"),  # a lookalike name
    ("from . import libvirt", "jupyter_virtwork.drivers.base"),
    ("import jupyter_virtwork.sandboxes", "jupyter_virtwork.defaults"),
])
def test_the_rule_passes_other_imports(source: str, module: str) -> None:
    assert not {n for n in imported(source, module) if _in_sandbox(n)}
