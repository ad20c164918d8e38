"""The OCI runtime wrapper dockerd runs: finds the bundle as runc does, clamps oomScoreAdj.

No runc is executed here; the real path (a container with oom_score_adj -998) is covered by
tests/integration/test_sandbox_docker.py.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

WRAPPER = Path(__file__).parents[2] / "jupyter_virtwork" / "sandbox" / "files" / "runc-wrapper"


@pytest.fixture(scope="module")
def wrapper() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("runc_wrapper", str(WRAPPER))
    spec = importlib.util.spec_from_loader("runc_wrapper", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("args, command", [
    (["--root", "/run/x", "--log", "/l.json", "--log-format", "json", "create", "id"], 6),
    (["--root=/run/x", "--systemd-cgroup", "run", "id"], 2),
    (["-debug", "state", "id"], 1),
    (["--log-format", "json"], None),
])
def test_finds_the_subcommand_after_global_flags(wrapper: ModuleType, args: list[str],
                                                 command: int | None) -> None:
    assert wrapper._command(args) == command


@pytest.mark.parametrize("args", [
    ["--bundle", "/b", "--pid-file", "/p", "id"],
    ["--pid-file", "/p", "-b", "/b", "id"],
    ["--console-socket", "/c", "--bundle=/b", "id"],
    ["-bundle", "/b", "id"],
])
def test_finds_the_bundle(wrapper: ModuleType, args: list[str]) -> None:
    assert wrapper._bundle(args) == "/b"


def test_bundle_defaults_to_cwd(wrapper: ModuleType, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert wrapper._bundle(["--pid-file", "/p", "id"]) == str(tmp_path)


@pytest.mark.parametrize("before, after", [(-998, 0), (-1, 0), (0, 0), (500, 500), (None, None)])
def test_clamps_only_negative_scores(wrapper: ModuleType, tmp_path: Path,
                                     before: int | None, after: int | None) -> None:
    process = {"args": ["sh"]} if before is None else {"args": ["sh"], "oomScoreAdj": before}
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "process": process}))
    wrapper._clamp_oom_score_adj(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"].get("oomScoreAdj") == after
    assert config["ociVersion"] == "1.0.2"
