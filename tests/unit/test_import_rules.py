"""Who may import whom inside jupyter_virtwork, read from the source with ``ast``
(ARCHITECTURE.md states the same rules in words).

- The core knows nothing of the sandbox: no module outside ``jupyter_virtwork/sandbox/``
  imports it, absolutely or relatively, at the top or inside a function; the defaults read
  the user's configuration, which the sandbox writes.
- Layers import only downward (``LAYERS``), so there are no cycles between them.
- No driver imports another driver, and each engine's SDK is imported only by its driver:
  this is what makes ``pip install 'jupyter_virtwork[docker]'`` enough for Docker alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


# Top to bottom: a module may import its own layer's modules and any layer below its own.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"", "magics", "server", "checks", "export", "now", "classroom", "course"}),
    frozenset({"widgets"}),
    frozenset({"session", "journal", "actions", "withheld"}),
    frozenset({"registry", "defaults"}),
    frozenset({"drivers"}),
    frozenset({"watch"}),
    frozenset({"models"}),
    frozenset({"labels", "names", "sizes", "uri", "userconfig", "messages",
               "error_messages", "readonly"}),
    frozenset({"errors"}),
)
# Each engine's SDK, as Python imports it, by the driver package allowed to import it.
SDKS = {"docker": ("docker",), "kubernetes": ("kubernetes",), "vsphere": ("pyVmomi", "pyVim"),
        "libvirt": ("libvirt",)}


def room(module: str) -> str:
    """The top-level room of a module of the package: ``drivers``, ``session``...; ``""``
    for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    for depth, rooms in enumerate(LAYERS):
        if room(module) in rooms:
            return depth
    raise AssertionError(f"{module} is in no layer: add its room to LAYERS and ARCHITECTURE.md")


def engine(module: str) -> str | None:
    """The engine a driver module belongs to (``drivers.docker.build`` -> docker)."""
    parts = module.split(".")
    if len(parts) < 3 or parts[1] != "drivers" or parts[2] == "base":
        return None
    return parts[2]


def own_imports(path: Path) -> Iterator[tuple[str, str]]:
    """(importer, imported) for each module of the package that ``path`` imports."""
    module, package = module_of(path)
    for name in imported(path.read_text(), module, package=package):
        if name.startswith("jupyter_virtwork.") and name.split(".")[1] != "":
            yield module, name


def _exists(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return ((PACKAGE / relative).with_suffix(".py").exists()
            or (PACKAGE / relative / "__init__.py").exists())


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_downward(path: Path) -> None:
    upward = [name for module, name in own_imports(path)
              if _exists(name) and layer(name) < layer(module)]
    assert not upward, f"imports a layer above its own: {upward}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_driver_imports_another(path: Path) -> None:
    mine = engine(module_of(path)[0])
    others = [name for _, name in own_imports(path)
              if mine is not None and _exists(name) and engine(name) not in (None, mine)]
    assert not others, f"a driver imports another driver: {others}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_sdk_is_imported_only_by_its_driver(path: Path) -> None:
    module, package = module_of(path)
    names = imported(path.read_text(), module, package=package)
    strangers = [sdk for family, roots in SDKS.items() if engine(module) != family
                 for name in names for sdk in roots
                 if name == sdk or name.startswith(sdk + ".")]
    assert not strangers, f"imports another engine's SDK: {strangers}"


def test_the_layer_rules_can_fail() -> None:
    """An upward import, a driver importing another and a stray SDK are each seen."""
    assert layer("jupyter_virtwork.models") > layer("jupyter_virtwork.session")
    assert engine("jupyter_virtwork.drivers.kubernetes.driver") == "kubernetes"
    assert engine("jupyter_virtwork.drivers.base") is None
    names = imported("from ..docker import driver\nimport pyVmomi.vim",
                     "jupyter_virtwork.drivers.kubernetes.owned")
    assert "jupyter_virtwork.drivers.docker" in names and "pyVmomi.vim" in names


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (module -> modules it imports), or []."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return []
        for name in sorted(graph.get(module, ())):
            if found := visit(name, [*path, module]):
                return found
        done.add(module)
        return []

    for module in sorted(graph):
        if found := visit(module, []):
            return found
    return []


def test_no_module_imports_itself_through_others() -> None:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for module, name in own_imports(path):
            # A module's own packages are imported before it anyway: not an edge.
            if _exists(name) and not module.startswith(name + ".") and name != module:
                graph.setdefault(module, set()).add(name)
    assert cycle_in(graph) == []


def test_the_cycle_check_can_fail() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": {"c"}}) == []
