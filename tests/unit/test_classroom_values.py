"""The Zero to JupyterHub values file's classroom configuration is one the hook takes: it
runs as the chart runs hub.extraConfig, and every LearnerSpaces value passes its trait."""

from __future__ import annotations

from pathlib import Path

import yaml
from traitlets.config import Config

from jupyter_virtwork.classroom import LearnerSpaces, pre_spawn_hook

VALUES = Path(__file__).parents[2] / "docs" / "zero-to-jupyterhub" / "values.yaml"


def test_the_values_files_extra_config_wires_the_hook_into_kubespawner() -> None:
    values = yaml.safe_load(VALUES.read_text())
    config = Config()
    config.JupyterHub.services = []
    exec(values["hub"]["extraConfig"]["virtwork-classroom"], {"c": config})
    assert config.KubeSpawner.pre_spawn_hook is pre_spawn_hook
    spaces = LearnerSpaces(config=config)
    assert (spaces.handoff, spaces.kube_context) == ("secret", "in-cluster")
    assert spaces.pod_guard_url.startswith("https://hub.jhub.svc:8444/")
    guard = config.JupyterHub.services[0]
    assert guard["command"][:3] == ["python", "-m", "jupyter_virtwork.classroom"]
    port = {p["port"] for p in values["hub"]["service"]["extraPorts"]}
    assert str(port.pop()) in guard["command"]
