"""``%vw``: every connection at once: connect, list connections, what this notebook
created, and cleanup of exactly that; and ``%vw check``, a learner's check of their work
(the checks themselves are in ``checks.py``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from traitlets import Bool, Float

from .. import checks, export, messages, registry
from ..drivers.base import Cluster, ContainerEngine, Driver, Hypervisor, Verb, missing_sdk
from ..errors import (
    EngineUnavailable,
    InvalidArguments,
    MissingDependency,
    VirtworkError,
)
from ..journal import Subject, removal_line, subjects_of
from ..models import Kind, Resource, ResourceList, import_pandas
from ..now import read_back
from ..session import CLEANUP_TIMEOUT, Session, cluster_in
from ..sizes import parse_size
from . import guard
from .base import (
    Parser,
    VirtworkMagics,
    note,
    reports_errors,
    usage_from,
    with_examples,
    with_fresh,
    with_yes,
)
from .journaling import did, keep
from .live import StatusView, progress_view, status_table

STATUS_KINDS = (Kind.CONTAINER, Kind.POD, Kind.VM)


@functools.cache  # built once: argparse takes ~1 ms a build, more than a list call
def _parser() -> Parser:
    parser = Parser("%vw", "All connections: connect, status, created, cleanup.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    connect = verbs.add_parser("connect", help="open a connection (a URI)")
    connect.add_argument("uri", help="docker://, k8s://CONTEXT/NAMESPACE, "
                                     "vsphere://USER@HOST, qemu:///system...")
    connect.add_argument("--as", dest="alias", help="a name for it (default: the URI)")
    connect.add_argument("--insecure", action="store_true",
                         help="skip TLS verification for this one connection")
    connect.add_argument("--kubeconfig", help="k8s://: this kubeconfig file")
    verbs.add_parser("connections", help="the open connections")
    status = with_fresh(verbs.add_parser("status", help="containers, pods and VMs everywhere"))
    status.add_argument("--watch", action="store_true", help="a live table")
    verbs.add_parser("unwatch", help="stop every live table of this kernel")
    verbs.add_parser("created", help="what this notebook created")
    cleanup = with_yes(verbs.add_parser("cleanup", help="remove what this notebook created"))
    cleanup.add_argument("--timeout", type=float, default=CLEANUP_TIMEOUT, metavar="SECONDS",
                         help="how long to wait for every removal to finish on its engine")
    _class_parser(verbs.add_parser("class", help="the teacher's view: every learner's "
                                                 "workloads, live; or clean up one "
                                                 "learner's namespace"))
    _check_parser(verbs.add_parser("check", help="check your work on the engine: one ✔ "
                                                 "line, or ✘ and what to try",
                                   intermixed=True))
    export = verbs.add_parser("export", help="write what this notebook did as replay.sh and "
                                             "its files, or as a notebook")
    export.add_argument("directory", nargs="?", help="where replay.sh and artefacts/ go")
    export.add_argument("--notebook", metavar="FILE.ipynb",
                        help="instead: a notebook of the magics that succeeded")
    export.add_argument("--final-state", action="store_true",
                        help="only the actions on what exists now")
    export.add_argument("--force", action="store_true",
                        help="write into a directory that is not empty (over a notebook)")
    with_examples(verbs, EXAMPLES)
    return parser


def _class_parser(view: Parser) -> None:
    view.add_argument("action", nargs="?", choices=["cleanup"],
                      help="cleanup: remove what LEARNER's notebooks made in their namespace")
    view.add_argument("learner", nargs="?", help="cleanup: whose namespace")
    with_yes(view)
    view.add_argument("--timeout", type=float, default=CLEANUP_TIMEOUT, metavar="SECONDS",
                      help="cleanup: how long to wait for every removal to finish")


def _check_parser(check: Parser) -> None:
    check.add_argument("kind", choices=CHECK_OPTIONS["kind"], help="what to check")
    check.add_argument("name", help="its name")
    check.add_argument("state", nargs="?",
                       help="the state it must be in, in our words (running, stopped...) or "
                            "the engine's (exited, Running, poweredOn, 'shut off'...)")
    check.add_argument("--pushed", action="store_true",
                       help="image: its registry holds it as built here")
    check.add_argument("--replicas", type=int, help="deployment: this many, all ready")
    check.add_argument("--cpus", type=int, help="vm: this many virtual CPUs")
    check.add_argument("--memory", help="vm: this much memory, e.g. 4G")
    check.add_argument("--disk", help="vm: a disk of this size, e.g. 100G")
    check.add_argument("-n", "--namespace",
                       help="pod, deployment: look here (default: $VW_NAMESPACE, else "
                            "$JUPYTERHUB_USER, else the connection's own)")
    check.add_argument("--connection", "--on", dest="connection", metavar="CONNECTION",
                       help="where to look: an alias, a family or a URI (default: the "
                            "family's current connection; for a VM, each VM connection in "
                            "use)")
    check.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="give up after this long (default VWMagics.check_timeout)")


# The kinds each option of %vw check is for ("kind": every kind).
CHECK_OPTIONS: dict[str, tuple[str, ...]] = {
    "kind": ("container", "image", "pod", "deployment", "vm"),
    "state": ("container", "pod", "deployment", "vm"), "pushed": ("image",),
    "replicas": ("deployment",), "cpus": ("vm",), "memory": ("vm",), "disk": ("vm",),
    "namespace": ("pod", "deployment"),
}

EXAMPLES = {
    "connect": "%vw connect k8s://arn%3Aaws%3Aeks%3Aus-east-1%3A123456789012%3Acluster%2Fdemo"
               "/default --as eks",
    "connections": "%vw connections",
    "status": "%vw status --watch",
    "unwatch": "%vw unwatch",
    "created": "%vw created",
    "cleanup": "%vw cleanup --yes",
    "class": "%vw class   (or: %vw class cleanup vw-learner1 --yes)",
    "check": "%vw check vm my-vmware-vm --cpus 2 --memory 4G --disk 100G poweredOn",
    "export": "%vw export replay/   (or: %vw export --notebook replay.ipynb --final-state)",
}


@magics_class
class VWMagics(VirtworkMagics):
    confirm_cleanup = Bool(True, help="%vw cleanup without --yes, where no one can be asked "
                                      "(a headless run, VirtworkMagics.confirm off), only "
                                      "lists what it would remove; False removes at once"
                           ).tag(config=True)
    check_timeout = Float(checks.DEFAULT_TIMEOUT,
                          help="seconds %vw check waits for the engine before it fails "
                               "(nbgrader stops a cell after 30)").tag(config=True)

    @line_magic
    @usage_from(_parser)
    @reports_errors
    def vw(self, line: str) -> object:
        """%vw connect URI [--as ALIAS] | connections | status [--watch] | unwatch |
        created | cleanup [--yes] | class [cleanup LEARNER [--yes]] | check KIND NAME
        [STATE] [--pushed] [--replicas N] [--cpus N --memory SIZE --disk SIZE] | export DIR |
        export --notebook FILE"""
        args = self.parse(_parser(), line)
        handlers: dict[str, Callable[[argparse.Namespace], object]] = {
            "connect": self._connect, "connections": self._connections,
            "status": self._status, "unwatch": self._unwatch, "created": self._created,
            "cleanup": self._cleanup, "class": self._class, "check": self._check,
            "export": self._export}
        return handlers[args.verb](args)

    def _connect(self, args: argparse.Namespace) -> str:
        options: dict[str, Any] = {}
        if args.insecure:
            options["insecure"] = True
        if args.kubeconfig:
            options["kubeconfig"] = args.kubeconfig
        driver = self.session.connect(args.uri, args.alias, **options)
        keep()
        return f"connected to {driver.uri}" + (f" as {args.alias}" if args.alias else "")

    def _connections(self, args: argparse.Namespace) -> Any:
        rows = [c.to_dict() for c in self.session.connections()]
        return import_pandas().DataFrame(rows, columns=["alias", "uri", "family", "current"])

    def _status(self, args: argparse.Namespace) -> StatusView:
        drivers = _drivers(self.session)  # with nothing open yet, this opens each family's default
        if args.watch:
            sources = [(driver, kind, None) for driver in _one_per_scope(drivers)
                       for kind in STATUS_KINDS
                       if kind in driver.kinds and Verb.LIST in driver.capabilities]
            aliases = _aliases(self.session)
            return status_table(sources, title="everything",
                                aliases=[aliases.get(id(d), d.uri) for d, _, _ in sources],
                                language=self.language, actions=not self.read_only)
        return _status_rows(self.session, drivers, fresh=args.fresh)

    def _unwatch(self, args: argparse.Namespace) -> str:
        from ..widgets import StatusTable

        return f"stopped {StatusTable.close_all()} live tables"

    def _created(self, args: argparse.Namespace) -> ResourceList:
        _drivers(self.session)  # after a kernel restart nothing is open yet: look at each default
        return self.session.created()

    def _cleanup(self, args: argparse.Namespace) -> ResourceList:
        """Removes owners before what they own and waits for each removal to finish on its
        engine; what is left is an error (the cell fails) naming each object and why."""
        _drivers(self.session)  # after a kernel restart nothing is open yet: clean each default
        if self.confirm_cleanup and not args.yes and not self.asks_first(args):
            found = self.session.created()  # no one to ask (a script): only say what
            print(f"{len(found)} resources would be removed; run %vw cleanup --yes")
            return found
        self.confirm_first(args, "Remove", self.session.created, "created by this notebook")
        planned = _removal_lines(self.session)
        view = progress_view("cleaning up what this notebook created")
        try:
            removed = self.session.cleanup(timeout=args.timeout, on_progress=view)
        except BaseException as exc:
            view.fail(str(exc).splitlines()[0])
            raise
        view.done(f"removed {len(removed)} resources created by this notebook")
        for gone in (s for resource in removed for s in subjects_of(resource)):
            if gone in planned:
                driver, line = planned.pop(gone)
                did(driver, "cleanup", line, removed=[gone])
        return removed

    def _class(self, args: argparse.Namespace) -> StatusView | ResourceList:
        """The class as a live table with a learner column; ``cleanup LEARNER`` removes
        what that learner's notebooks made (``classroom.roster``), asking first."""
        from ..classroom import roster  # here: the hook's traits are no business of %load_ext

        in_namespace = functools.partial(cluster_in, self.session)
        if args.action is None:  # a learner alone is taken for an action, and refused
            sources, learners = roster.sources(self.session.cluster(), in_namespace)
            return status_table(sources, title="the class", aliases=learners,
                                language=self.language, actions=not self.read_only,
                                alias_column="learner")
        guard.check(self.read_only, "%vw", "class cleanup")
        if args.learner is None:
            raise UsageError("%vw class cleanup: name the learner (%vw class lists them)")
        target = roster.learner_space(self.session.cluster(), args.learner, in_namespace)
        if self.confirm_cleanup and not args.yes and not self.asks_first(args):
            found = roster.made_by_notebooks(target)  # no one to ask (a script): only say what
            print(f"{len(found)} resources of {args.learner} would be removed; run "
                  f"%vw class cleanup {args.learner} --yes")
            return found
        self.confirm_first(args, "Remove", lambda: roster.made_by_notebooks(target),
                           f"made by {args.learner}'s notebooks")
        view = progress_view(f"cleaning up {args.learner}'s namespace")
        try:
            removed = roster.cleanup(target, args.learner, timeout=args.timeout,
                                     on_progress=view)
        except BaseException as exc:
            view.fail(str(exc).splitlines()[0])
            raise
        view.done(f"removed {len(removed)} resources of {args.learner}")
        return removed

    def _check(self, args: argparse.Namespace) -> None:
        """One ✔ line on stdout and nothing else, or a CheckFailed (an AssertionError)."""
        language = self.language
        for option, kinds in CHECK_OPTIONS.items():
            if getattr(args, option) not in (None, False) and args.kind not in kinds:
                raise InvalidArguments(messages.NOT_FOR_KIND.format(
                    language, option="STATE" if option == "state" else f"--{option}",
                    kind=args.kind, kinds=", ".join(
                        messages.KIND_NAMES[k].format(language) for k in kinds)))
        memory = None if args.memory is None else parse_size(args.memory, what="memory")
        disk = None if args.disk is None else parse_size(args.disk, what="disk")
        session, name, state = self.session, args.name, args.state
        checkers: dict[str, Callable[[], str]] = {
            "container": lambda: checks.container(
                _engine(session, args.connection), name, state, language),
            "image": lambda: checks.image(
                _engine(session, args.connection), name, args.pushed, language),
            "pod": lambda: checks.pod(
                _cluster(session, args.connection, args.namespace, language), name, state,
                language),
            "deployment": lambda: checks.deployment(
                _cluster(session, args.connection, args.namespace, language), name,
                args.replicas, state, language),
            "vm": lambda: checks.vm(
                _hypervisors(session, args.connection), name, state, cpus=args.cpus,
                memory=memory, disk=disk, language=language),
        }
        timeout = self.check_timeout if args.timeout is None else args.timeout
        print(checks.run(checkers[args.kind], timeout=timeout, kind=args.kind, name=name,
                         language=language))


    def _export(self, args: argparse.Namespace) -> str:
        if (args.directory is None) == (args.notebook is None):
            raise UsageError("%vw export: give a directory, or --notebook FILE.ipynb")
        journal = self.session.journal
        # --final-state asks the engines, not the journal, what exists and how.
        now = read_back(journal, _drivers(self.session), self.session.labels) \
            if args.final_state else None
        if args.notebook is not None:
            return str(export.write_notebook(
                journal, Path(args.notebook), session_id=self.session.id,
                settings=self._settings(), final=args.final_state, force=args.force, now=now))
        return str(export.write_replay(journal, Path(args.directory),
                                       session_id=self.session.id, final=args.final_state,
                                       force=args.force, now=now))

    def _settings(self) -> list[str]:
        """A ``%config`` line for each setting of the magics changed from its default."""
        lines: list[str] = []
        if self.shell is None:  # made outside IPython: there are no others
            return lines
        for magics in self.shell.magics_manager.registry.values():
            if isinstance(magics, VirtworkMagics):
                traits = magics.traits(config=True)
                lines += [f"%config {type(magics).__name__}.{name} = {value!r}"
                          for name, value in magics.trait_values(config=True).items()
                          if value != traits[name].default()]
        return lines


def _opened(session: Session, connection: str) -> str:
    """``connection`` as the Session knows it: a URI is connected (not made current), an
    alias or a family's name is taken as it is."""
    if "://" in connection:
        session.connect(connection, connection, make_current=False)
    return connection


def _engine(session: Session, connection: str | None) -> ContainerEngine:
    return session.container_engine(_opened(session, connection or "docker"))


def _cluster(session: Session, connection: str | None, namespace: str | None,
             language: str) -> Cluster:
    """The Kubernetes connection, in the namespace the check looks in (checks.namespace)."""
    return cluster_in(session, checks.namespace(namespace, language),
                      connection=_opened(session, connection or "kubernetes"))


def _hypervisors(session: Session, connection: str | None) -> list[tuple[Hypervisor, str]]:
    """Where a VM may be, each with the name %vm --on knows it by: the connection named;
    else each VM connection in use (the current one of its family); with none open yet,
    each VM family's default (libvirt's first, %vm's own; one without any is passed over)."""
    if connection is not None:
        return [(session.hypervisor(_opened(session, connection)), connection)]
    opened = [(session.connection(c.alias), c.alias) for c in session.connections()
              if c.current]
    in_use = [(d, alias) for d, alias in opened if isinstance(d, Hypervisor)]
    if in_use:
        return in_use
    found = []
    for family in ("libvirt", "vsphere"):
        try:
            found.append((session.hypervisor(family), family))
        except VirtworkError:
            continue
    return found


def _removal_lines(session: Session) -> dict[Subject, tuple[Driver, str]]:
    """How the CLI removes each object the journal says this notebook made and has: its
    connection and line, found before the cleanup (a VM's line depends on its power)."""
    drivers = {d.uri: d for d in _drivers(session)}
    planned = {}
    for made, command in session.journal.alive().items():
        if command.uri in drivers:
            with contextlib.suppress(VirtworkError):  # gone already: nothing to replay
                planned[made] = (drivers[command.uri],
                                 removal_line(drivers[command.uri], made))
    return planned


def _drivers(session: Session) -> list[Driver]:
    """Every open connection; with none open yet, the default of each family that has one."""
    current = session.connections()
    if current:
        return [d for d in (session.connection(c.alias) for c in current) if _has_sdk(d)]
    found = []
    for family in ("docker", "kubernetes", "libvirt", "vsphere"):
        try:
            driver = session.driver(family)
        except VirtworkError:  # a family without a default is just not shown
            continue
        if _has_sdk(driver):
            found.append(driver)
    return found


def _has_sdk(driver: Driver) -> bool:
    """Whether the driver's SDK is installed; if not, a note names the extra and the others
    go on (a live table over it could not start, a list on it would fail)."""
    if isinstance(registry.import_sdk(driver.target.family), ModuleNotFoundError):
        note(f"skipped {driver.uri}: {missing_sdk(driver.target.family).one_line()}")
        return False
    return True


def _status_rows(session: Session, drivers: list[Driver], *,
                 fresh: bool = False) -> ResourceList:
    """Containers, pods and VMs on every connection, each object once (two connections
    may reach it: the same namespace, the same engine), with the alias of the first; from
    a live table's cache where one is synced, unless ``fresh`` (``Driver.list_cached``)."""
    aliases = _aliases(session)
    rows, seen = ResourceList(), set()
    for driver in drivers:
        if Verb.LIST not in driver.capabilities:
            continue
        try:
            found = [r for kind in STATUS_KINDS if kind in driver.kinds
                     for r in driver.list_cached(kind, fresh=fresh)]
        except EngineUnavailable as exc:
            note(f"skipped {driver.uri}: {exc.message}")
            continue
        except MissingDependency as exc:  # nothing is there to list without its SDK
            note(f"skipped {driver.uri}: {exc.one_line()}")
            continue
        for resource in found:
            if (key := _identity(resource)) not in seen:
                seen.add(key)
                alias = aliases.get(id(driver), driver.uri)
                rows.append(dataclasses.replace(
                    resource, details={"alias": alias, **resource.details}))
    return rows


def _aliases(session: Session) -> dict[int, str]:
    """The alias of each open connection, by its driver's identity."""
    return {id(session.connection(c.alias)): c.alias for c in session.connections()}


def _identity(resource: Resource) -> tuple[str, ...]:
    """What names one object on its engine, whichever connection listed it: a Kubernetes
    object's uid, a VM's UUID or a container's id (both random and long), a vSphere
    managed object id on its vCenter."""
    raw = resource.raw if isinstance(resource.raw, dict) else {}
    uid = (raw.get("metadata") or {}).get("uid")
    if uid:
        return (resource.kind.value, str(uid))
    if resource.uri.startswith("vsphere"):
        return (resource.kind.value, resource.uri.rpartition("@")[2], resource.id)
    return (resource.kind.value, resource.id)


def _one_per_scope(drivers: list[Driver]) -> list[Driver]:
    """The first of the connections that see the same objects (one Kubernetes context and
    namespace through two aliases), so a live table shows each object once too."""
    seen, kept = set(), []
    for driver in drivers:
        if (scope := driver.scope) not in seen:
            seen.add(scope)
            kept.append(driver)
    return kept
