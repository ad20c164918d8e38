"""The classroom: a JupyterHub hook that gives each learner a namespace of their own, made
safe (``hook``), built from plain manifests (``space``) and handed over as a kubeconfig
(``kubeconfig``)."""

from __future__ import annotations

from .hook import LearnerSpaces, pre_spawn_hook

__all__ = ["LearnerSpaces", "pre_spawn_hook"]
