"""``%docker`` and ``%%dockerfile``: the docker CLI's everyday verbs, through the driver."""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import cell_magic, line_magic, magics_class
from traitlets import Float, Unicode, observe

from ..drivers.base import ContainerEngine
from ..errors import InvalidInput, NotFound, OperationTimeout
from ..journal import dockerfile_artefacts, stem, subject
from ..models import ContainerSpec, ExecResult, ImageSpec, Kind, Resource, ResourceList, State
from ..withheld import Reference
from .base import (
    Parser,
    VirtworkMagics,
    parse_assignments,
    reports_errors,
    show_command,
    usage_from,
    with_common,
    with_examples,
    with_fresh,
    with_yes,
)
from .journaling import did, shown
from .live import StatusView, progress_view, status_table

Handler = Callable[[ContainerEngine, argparse.Namespace], object]

DEFAULT_REGISTRY = "127.0.0.1:5000"  # the sandbox's; %config DockerMagics.registry changes it
RUN_WAIT_SECONDS = 60.0  # the default of %config DockerMagics.run_timeout
DESTRUCTIVE = {"rm": "Remove", "stop": "Stop", "rmi": "Remove"}  # they ask first (confirm.py)


@functools.cache  # built once: argparse takes ~1 ms a build, more than a list call
def _parser() -> Parser:
    parser = Parser("%docker", "Build, push, run and manage containers on the current "
                               "Docker connection.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    build = with_common(verbs.add_parser("build", help="build an image from a directory"))
    build.add_argument("-t", "--tag", required=True, help="the image's name[:tag]")
    build.add_argument("-f", "--file", help="the Dockerfile (default PATH/Dockerfile)")
    build.add_argument("path", help="the build context directory (its .dockerignore is "
                                    "honoured)")
    push = with_common(verbs.add_parser("push", help="push an image to a registry"))
    push.add_argument("image", help="name[:tag] or name@sha256:digest; without a registry "
                                    "host it goes to DockerMagics.registry")
    run = with_common(verbs.add_parser("run", help="create and start a container"))
    run.add_argument("-d", "--detach", action="store_true",
                     help="return at once (default: wait for it to finish, show its output)")
    run.add_argument("-i", "--interactive", action="store_true",
                     help="accepted for the docker CLI's sake; a cell has no terminal")
    run.add_argument("-t", "--tty", action="store_true", help="as -i")
    run.add_argument("--name", help="the container's name")
    run.add_argument("-e", "--env", action="append", default=[],
                     help="NAME=value, or NAME: its value in the kernel's environment")
    run.add_argument("-p", "--publish", action="append", default=[])
    run.add_argument("-l", "--label", action="append", default=[])
    run.add_argument("--network", help="e.g. none, host, bridge or a network's name")
    run.add_argument("image", help="a local image: name[:tag], name@sha256:digest or an id "
                                   "(never pulled)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="what to run instead of the "
                                                               "image's CMD")
    execute = with_common(verbs.add_parser("exec", help="run a command in a container"))
    execute.add_argument("-i", "--interactive", action="store_true", help="as for run")
    execute.add_argument("-t", "--tty", action="store_true", help="as for run")
    execute.add_argument("container", help="its name or id")
    execute.add_argument("command", nargs=argparse.REMAINDER, help="the command and its "
                                                                   "arguments")
    logs = with_common(verbs.add_parser("logs", help="a container's output"))
    logs.add_argument("-f", "--follow", action="store_true",
                      help="go on printing until the kernel is interrupted")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.add_argument("container", help="its name or id")
    for verb in ("start", "stop", "restart", "pause", "unpause", "rm"):
        simple = with_common(verbs.add_parser(verb, help=f"{verb} containers"))
        if verb == "rm":
            simple.add_argument("-f", "--force", action="store_true",
                                help="a running one too (killed first)")
        if verb == "stop":
            simple.add_argument("-t", "--time", type=int,
                                help="seconds to wait before killing it (default 10)")
        if verb in DESTRUCTIVE:
            with_yes(simple)
        simple.add_argument("containers", nargs="+", help="names or ids")
    ps = with_fresh(with_common(verbs.add_parser("ps", help="list containers")))
    ps.add_argument("-a", "--all", action="store_true", help="stopped ones too")
    ps.add_argument("--watch", action="store_true", help="a live table")
    with_fresh(with_common(verbs.add_parser("images", help="list images")))
    rmi = with_yes(with_common(verbs.add_parser("rmi", help="remove images (by name, id or "
                                                          "digest)")))
    rmi.add_argument("-f", "--force", action="store_true",
                     help="even if a container uses it or it has several names")
    rmi.add_argument("images", nargs="+", help="names, ids or name@sha256:digest")
    inspect = with_common(verbs.add_parser("inspect", help="a container or an image, its "
                                                          "record (.raw: the engine's own)"))
    inspect.add_argument("name", help="a container, or an image by name, id or digest")
    with_examples(verbs, EXAMPLES)
    return parser


EXAMPLES = {
    "build": "%docker build -t my-site ./site",
    "push": "%docker push my-site   (to DockerMagics.registry; or push 127.0.0.1:5000/my-site)",
    "run": "%docker run -d --name web -p 8080:80 my-site",
    "exec": "%docker exec web cat /etc/hostname",
    "logs": "%docker logs -f web",
    "start": "%docker start web",
    "stop": "%docker stop -t 1 web",
    "restart": "%docker restart web",
    "pause": "%docker pause web",
    "unpause": "%docker unpause web",
    "rm": "%docker rm -f web",
    "ps": "%docker ps -a --watch",
    "images": "%docker images",
    "rmi": "%docker rmi 127.0.0.1:5000/my-site@sha256:0d5a...   (the digest push printed)",
    "inspect": "%docker inspect my-site@sha256:0d5a...",
}


@functools.cache  # built once: argparse takes ~1 ms a build, more than a list call
def _dockerfile_parser() -> Parser:
    parser = Parser("%%dockerfile", "The cell is a Dockerfile: build it.")
    parser.add_argument("-t", "--tag", required=True, help="the image's name[:tag]")
    parser.add_argument("--push", action="store_true", help="push after a good build")
    parser.add_argument("--show-command", action="store_true",
                        help="also print the equivalent docker command")
    parser.add_argument("context", nargs="?", help="build context directory (default: none); "
                                                   "its .dockerignore is honoured")
    parser.epilog = ("example: %%dockerfile -t my-site --push ./site   (the cell holds the "
                     "Dockerfile)")
    return parser


@magics_class
class DockerMagics(VirtworkMagics):
    connection = Unicode("", help="the Docker engine %docker uses unless %vw connect names "
                                  "another, as a URI (docker+ssh://user@host, docker+tcp://"
                                  "host:2376); empty: DOCKER_HOST, else the local "
                                  "engine").tag(config=True)
    registry = Unicode(DEFAULT_REGISTRY, help="the registry %docker push and %%dockerfile "
                                              "--push send an image whose name names "
                                              "none").tag(config=True)
    run_timeout = Float(RUN_WAIT_SECONDS, help="seconds a foreground %docker run waits for "
                                               "its container to finish; then it goes on, "
                                               "detached").tag(config=True)

    @observe("connection")
    def _connection_changed(self, change: dict[str, Any]) -> None:
        self.configure_default("docker", "DockerMagics.connection", change["new"])

    @line_magic
    @usage_from(_parser)
    @reports_errors
    def docker(self, line: str) -> object:
        """%docker build|push|run|exec|logs|start|stop|restart|pause|unpause|rm|ps|images"""
        args = self.parse(_parser(), line)
        driver = self.session.container_engine("docker")
        return self._handlers().get(args.verb, self._simple)(driver, args)

    def _handlers(self) -> dict[str, Handler]:
        """Each verb's handler; start, stop, restart, pause, unpause and rm are ``_simple``."""
        return {"build": self._build, "push": self._push, "run": self._run,
                "exec": self._exec, "logs": self._logs, "ps": self._ps,
                "images": self._images, "rmi": self._rmi, "inspect": self._inspect}

    @cell_magic
    @usage_from(_dockerfile_parser)
    @reports_errors
    def dockerfile(self, line: str, cell: str) -> Resource:
        """%%dockerfile -t NAME [--push] [CONTEXT]: the cell is the Dockerfile."""
        args = self.parse(_dockerfile_parser(), line)
        driver = self.session.container_engine("docker")
        spec = ImageSpec(args.tag, cell, context=Path(args.context) if args.context else None,
                         labels=self.session.labels)
        image = self._build_image(driver, spec,
                                  shown(args.show_command, driver.build_command(spec)))
        if args.push:
            self._push_reference(driver, args.tag, args.show_command)
        return image

    # --- verbs --------------------------------------------------------------------------

    def _build_image(self, driver: ContainerEngine, spec: ImageSpec, line: str) -> Resource:
        view = progress_view(f"building {spec.tag}")
        try:
            image = driver.build(spec, on_progress=view)
        except BaseException as exc:
            view.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        view.done(f"built {spec.tag}")
        did(driver, "build", line, made=[subject(driver.uri, "image", spec.tag)],
            artefacts=dockerfile_artefacts(spec, stem(spec.tag)))
        return image

    def _build(self, driver: ContainerEngine, args: argparse.Namespace) -> Resource:
        context = Path(args.path)
        dockerfile = Path(args.file) if args.file else context / "Dockerfile"
        if not dockerfile.is_file():
            raise UsageError(f"%docker build: no Dockerfile at {dockerfile}")
        spec = ImageSpec(args.tag, dockerfile.read_text(), context=context,
                         labels=self.session.labels)
        return self._build_image(driver, spec, shown(args.show_command,
                                                     driver.build_command(spec, args.file or "")))

    def _push(self, driver: ContainerEngine, args: argparse.Namespace) -> str:
        return self._push_reference(driver, args.image, args.show_command)

    def _push_reference(self, driver: ContainerEngine, image: str, show: bool) -> str:
        """Push ``image``; a name without a registry goes to the default registry, as the
        source document's ``docker push my-docker-image`` means on the local sandbox."""
        first = image.split("/", 1)[0]
        has_registry = "/" in image and ("." in first or ":" in first or first == "localhost")
        reference = image if has_registry else f"{self.registry}/{image}"
        made = [subject(driver.uri, "image", reference)]
        if reference != image:
            line = shown(show, driver.command("tag", image, reference))
            driver.tag(image, reference)
            did(driver, "tag", line, made=made)
        line = shown(show, driver.command("push", reference))
        view = progress_view(f"pushing {reference}")
        try:
            digest = driver.push(reference, on_progress=view)
        except BaseException as exc:
            view.fail(str(exc))
            raise
        view.done(f"pushed to {reference} ({digest})")
        did(driver, "push", line, made=made)
        return reference

    def _run(self, driver: ContainerEngine, args: argparse.Namespace) -> Resource:
        spec = ContainerSpec(
            args.image, name=args.name, command=tuple(args.command),
            env=_environment(args.env), ports=tuple(args.publish),
            network=args.network,
            labels={**parse_assignments(args.label, "-l"), **self.session.labels})
        try:
            driver.port_bindings(spec.ports)  # docker's own -p rules, before anything runs
        except InvalidInput as exc:
            raise UsageError(f"%docker run: {exc.one_line()}") from None
        line = shown(args.show_command, driver.create_command(spec, detach=args.detach))
        if args.interactive or args.tty:
            print("note: a cell has no terminal: -i/-t are ignored; use %docker exec to run "
                  "commands in the container")
        container = driver.create(spec)
        # The journal's line names the environment's variables only (any may be a secret),
        # and the replay's container the one later lines name.
        line = driver.create_command(replace(spec, name=container.name), detach=args.detach,
                                     env_values=False)
        did(driver, "run", line, made=[subject(driver.uri, "container", container.name)],
            container_status=not args.detach,
            references=[Reference(n, f"the environment of docker run (-e {n})")
                        for n in spec.env])
        if args.detach:
            return container
        return self._wait_and_print(driver, container)

    def _wait_and_print(self, driver: ContainerEngine, container: Resource) -> Resource:
        """Foreground run: wait for the container to finish (bounded) and show its output."""
        deadline = time.monotonic() + self.run_timeout
        current = container
        while current.state is State.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
            current = driver.get(Kind.CONTAINER, container.id)
        for line in driver.logs(container.id):
            print(line)
        if current.state is State.RUNNING:
            raise OperationTimeout(f"{container.name} still runs after "
                                   f"{self.run_timeout:.0f} s; it goes on, detached",
                                   connection=driver.uri,
                                   hint="use %docker run -d for services, %docker logs -f")
        return current

    def _exec(self, driver: ContainerEngine, args: argparse.Namespace) -> ExecResult:
        if not args.command:
            raise UsageError("%docker exec: give a command to run")
        show_command(args.show_command, driver, "exec", args.container, *args.command)
        return driver.exec(args.container, args.command)

    def _logs(self, driver: ContainerEngine, args: argparse.Namespace) -> None:
        show_command(args.show_command, driver, "logs", *(["-f"] if args.follow else []),
                     *([] if args.tail is None else ["--tail", str(args.tail)]),
                     args.container)
        # Ctrl-C (the kernel's interrupt) ends a follow; the stream is closed with it.
        for line in driver.logs(args.container, tail=args.tail, follow=args.follow):
            print(line, flush=True)

    def _simple(self, driver: ContainerEngine, args: argparse.Namespace) -> ResourceList | None:
        if args.verb in DESTRUCTIVE:
            self.confirm_first(args, DESTRUCTIVE[args.verb], lambda: [
                driver.get(Kind.CONTAINER, name) for name in args.containers],
                f"on {driver.uri}")
        verb = {"unpause": "resume", "rm": "destroy"}.get(args.verb, args.verb)
        flags = []  # as the driver does: rm removes the anonymous volumes too
        if verb == "destroy":
            flags = ["-v", *(["-f"] if args.force else [])]
        elif verb == "stop" and args.time is not None:
            flags = ["-t", str(args.time)]
        line = shown(args.show_command, driver.command(args.verb, *flags, *args.containers))
        change: dict[str, Callable[[Kind, str], Resource]] = {
            "start": driver.start, "restart": driver.restart, "pause": driver.pause,
            "resume": driver.resume}
        results = ResourceList()
        for name in args.containers:
            if verb == "destroy":
                driver.destroy(Kind.CONTAINER, name, force=args.force)
            elif verb == "stop":
                results.append(driver.stop(Kind.CONTAINER, name, timeout=args.time))
            else:
                results.append(change[verb](Kind.CONTAINER, name))
        touched = [subject(driver.uri, "container", name) for name in args.containers]
        if verb == "destroy":
            did(driver, args.verb, line, removed=touched)
        else:
            did(driver, args.verb, line, made=touched)
        return results or None

    def _ps(self, driver: ContainerEngine, args: argparse.Namespace) -> StatusView:
        show_command(args.show_command, driver, "ps", *(["-a"] if args.all else []))
        if args.watch:
            return status_table([(driver, Kind.CONTAINER, None)], title="containers",
                                language=self.language, actions=not self.read_only)
        found = driver.list_cached(Kind.CONTAINER, fresh=args.fresh)
        return found if args.all else ResourceList(r for r in found
                                                   if r.state is State.RUNNING)

    def _rmi(self, driver: ContainerEngine, args: argparse.Namespace) -> None:
        self.confirm_first(args, DESTRUCTIVE["rmi"], lambda: [
            driver.get(Kind.IMAGE, image) for image in args.images], f"on {driver.uri}")
        line = shown(args.show_command, driver.command("rmi", *(["-f"] if args.force else []),
                                                       *args.images))
        for image in args.images:
            driver.destroy(Kind.IMAGE, image, force=args.force)
        did(driver, "rmi", line, removed=[subject(driver.uri, "image", i) for i in args.images])
        print(f"removed {', '.join(args.images)}")

    def _inspect(self, driver: ContainerEngine, args: argparse.Namespace) -> Resource:
        show_command(args.show_command, driver, "inspect", args.name)
        try:
            return driver.get(Kind.CONTAINER, args.name)
        except NotFound:
            return driver.get(Kind.IMAGE, args.name)

    def _images(self, driver: ContainerEngine, args: argparse.Namespace) -> ResourceList:
        show_command(args.show_command, driver, "images")
        return driver.images(fresh=args.fresh)


def _environment(words: list[str]) -> dict[str, str]:
    """``-e NAME=value`` words as a dict; ``-e NAME`` takes the value from the kernel's
    environment and is left out when it is not set there, as docker does with its own."""
    found: dict[str, str] = {}
    for word in words:
        if "=" in word:
            found.update(parse_assignments([word], "-e"))
        elif word in os.environ:
            found[word] = os.environ[word]
    return found
