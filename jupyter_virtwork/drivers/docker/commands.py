"""The docker CLI lines that do what the driver does, for a learner to read and run: each on
the connection's own engine (``-H`` names one that is not on a local socket).
"""

from __future__ import annotations

import shlex

from ...models import ContainerSpec, ImageSpec
from ..base import heredoc
from .records import marked

# The driver's verbs by the docker CLI's names for them.
DOCKER_VERBS = {"list": ["ps", "-a"], "get": ["inspect"], "images": ["images"],
                "resume": ["unpause"], "destroy": ["rm", "-f"], "create": ["run", "-d"]}


def command(host: str | None, verb: str, *args: str) -> str:
    """The docker CLI line that does the same on the engine at ``host`` (the connection's
    base URL; None for the one the environment names)."""
    words = DOCKER_VERBS.get(verb, [verb])
    prefix = ["docker", "-H", host] if host and not host.startswith("unix://") else ["docker"]
    return shlex.join([*prefix, *words, *args])


def create_command(host: str | None, spec: ContainerSpec, *, detach: bool,
                   env_values: bool) -> str:
    """The ``docker run`` line that makes what the driver's ``create(spec)`` makes: every
    option of the spec (ownership labels included), and never a pull. Without
    ``env_values``, ``-e NAME``: docker reads the value from its caller's environment."""
    flags = ["-d"] if detach else []
    flags += ["--name", spec.name] if spec.name else []
    for key, value in spec.env.items():
        flags += ["-e", f"{key}={value}" if env_values else key]
    for port in spec.ports:
        flags += ["-p", port]
    for key, value in marked(spec.labels).items():
        flags += ["--label", f"{key}={value}"]
    flags += ["--network", spec.network] if spec.network else []
    flags += ["--memory", f"{spec.memory}b", "--memory-swap", f"{spec.memory}b"] \
        if spec.memory else []
    return command(host, "run", *flags, "--pull", "never", spec.image, *spec.command)


def build_command(host: str | None, spec: ImageSpec, dockerfile: str | None) -> str:
    """The ``docker build`` line of the driver's ``build(spec)``. ``dockerfile``: the
    ``-f FILE`` the user gave, "" for the context's own Dockerfile, None for the spec's text
    (a cell), given on standard input."""
    flags = ["-t", spec.tag, "--force-rm"]
    for key, value in spec.labels.items():
        flags += ["--label", f"{key}={value}"]
    for key, value in spec.buildargs.items():
        flags += ["--build-arg", f"{key}={value}"]
    context = str(spec.context) if spec.context is not None else None
    if dockerfile is not None:
        flags += ["-f", dockerfile] if dockerfile else []
        return command(host, "build", *flags, context or ".")
    line = command(host, "build", *flags, *(["-f", "-", context] if context else ["-"]))
    return heredoc(line, spec.dockerfile)
