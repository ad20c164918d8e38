"""The sandbox's engines in start order (later ones may need earlier ones)."""

from __future__ import annotations

import importlib

from .engine import Engine

# name -> "module:Class", imported on use so `status` of one engine loads only its module.
ENGINES: dict[str, str] = {
    "docker": "jupyter_virtwork.sandbox.docker:DockerEngine",
    "registry": "jupyter_virtwork.sandbox.registry:RegistryEngine",
    "images": "jupyter_virtwork.sandbox.images:ImagesEngine",
    "kubernetes": "jupyter_virtwork.sandbox.kubernetes:KubernetesEngine",
    "vcsim": "jupyter_virtwork.sandbox.vcsim:VcsimEngine",
    "libvirt": "jupyter_virtwork.sandbox.libvirt:LibvirtEngine",
    "sshd": "jupyter_virtwork.sandbox.sshd:SshdEngine",
    "hub": "jupyter_virtwork.sandbox.hub:HubEngine",
}


def load(name: str) -> Engine:
    module_name, _, class_name = ENGINES[name].partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class()
    return engine
