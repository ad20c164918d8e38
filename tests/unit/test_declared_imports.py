"""Every third-party module the package imports is declared in pyproject.toml.

The core may import only the core dependencies at module level; an engine's SDK only inside
functions (lazily, from its extra); the sandbox (our test rig) what its `[sandbox]` extra
and the core declare.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jupyter_virtwork"
# Imported only when present, each with a fallback or a MissingDependency naming it: declaring
# them would pull cryptography into every vSphere or Docker install for the few who use them.
OPTIONAL = {
    "keyring": "the vSphere password's last source",
    "paramiko": "docker+ssh:// connections",
    "ipykernel": "whether the kernel's frontend answers input(): outside one, no one is asked",
}


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _names(requirements: list[str], extras: dict[str, list[str]]) -> set[str]:
    """Distribution names of ``requirements``, the package's own extras expanded."""
    names: set[str] = set()
    for requirement in requirements:
        match = re.match(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", requirement)
        assert match, requirement
        name = _normal(match[1])
        if name == "jupyter-virtwork":
            for extra in (match[2] or "").split(","):
                names |= _names(extras[extra.strip()], extras)
        else:
            names.add(name)
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imports(paths: list[Path]) -> dict[str, tuple[str, bool]]:
    """Third-party top-level module -> (a file importing it, whether at module level)."""
    found: dict[str, tuple[str, bool]] = {}
    for path in paths:
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                modules = [str(node.args[0].value)]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "jupyter_virtwork":
                    continue
                eager = id(node) in top_level
                seen = found.get(top)
                if seen is None or (eager and not seen[1]):
                    found[top] = (str(path.relative_to(ROOT)), eager)
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    return dict(packages_distributions())


def _distribution(module: str) -> str:
    distributions = _installed().get(module)
    assert distributions, f"{module} is imported but no installed distribution provides it"
    return _normal(distributions[0])


def test_the_core_imports_only_what_it_declares() -> None:
    project = _project()
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    core = _names(project["dependencies"], extras)  # type: ignore[arg-type]
    engines = _names([f"jupyter_virtwork[{family}]" for family in
                      ("docker", "kubernetes", "vsphere", "libvirt", "pandas")], extras)
    files = [p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.relative_to(PACKAGE).parts]
    for module, (path, eager) in _imports(files).items():
        if module in OPTIONAL:
            continue
        name = _distribution(module)
        if eager:
            assert name in core, f"{path} imports {module} ({name}), not a core dependency"
        else:
            assert name in core | engines, f"{path} imports {module} ({name}), undeclared"


def test_the_sandbox_imports_only_what_its_extra_declares() -> None:
    project = _project()
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    declared = _names([*project["dependencies"], "jupyter_virtwork[sandbox]"],  # type: ignore[list-item]
                      extras)
    for module, (path, _) in _imports(list((PACKAGE / "sandbox").rglob("*.py"))).items():
        name = _distribution(module)
        assert name in declared, f"{path} imports {module} ({name}), not in [sandbox]"
