"""``%k8s`` and ``%%k8s apply``: kubectl's everyday verbs, through the Kubernetes driver."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class
from traitlets import Float, Unicode, observe

from .. import withheld
from ..drivers.base import Cluster
from ..journal import manifest_artefact, stem, subject, subjects_of
from ..models import ExecResult, Kind, Resource, ResourceList
from ..session import cluster_in
from ..uri import k8s_uri
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
from .journaling import did, keep, shown
from .live import StatusView, progress_view, status_table

Handler = Callable[[Cluster, argparse.Namespace, str | None], object]

KIND_WORDS = {
    "pod": Kind.POD, "pods": Kind.POD, "po": Kind.POD,
    "deployment": Kind.DEPLOYMENT, "deployments": Kind.DEPLOYMENT, "deploy": Kind.DEPLOYMENT,
    "statefulset": Kind.STATEFULSET, "statefulsets": Kind.STATEFULSET, "sts": Kind.STATEFULSET,
    "replicaset": Kind.REPLICASET, "replicasets": Kind.REPLICASET, "rs": Kind.REPLICASET,
    "service": Kind.SERVICE, "services": Kind.SERVICE, "svc": Kind.SERVICE,
    "event": Kind.EVENT, "events": Kind.EVENT, "ev": Kind.EVENT,
}

NAMESPACE = "this namespace instead of the connection's"  # the help of every -n


@functools.cache  # built once: argparse takes ~1 ms a build, more than a list call
def _parser() -> Parser:
    parser = Parser("%k8s", "Apply, scale and inspect workloads on the current Kubernetes "
                            "connection.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    apply = with_common(verbs.add_parser("apply", help="apply YAML (the cell, or -f FILE)"))
    apply.add_argument("-f", "--filename", help="a YAML file (instead of the cell)")
    apply.add_argument("-n", "--namespace", help=NAMESPACE)
    apply.add_argument("--dry-run", action="store_true",
                       help="let the API server check it, change nothing")
    apply.add_argument("--diff", action="store_true", help="show what would change")
    scale = with_common(verbs.add_parser("scale", help="set a workload's replicas"))
    scale.add_argument("--replicas", type=int, required=True, help="how many copies")
    scale.add_argument("target", help="deployment/NAME")
    scale.add_argument("-n", "--namespace", help=NAMESPACE)
    scale.add_argument("--wait", action="store_true", help="follow the rollout")
    scale.add_argument("--timeout", type=float,
                       help="seconds --wait follows the rollout (default K8sMagics.timeout)")
    get = with_common(verbs.add_parser("get", help="list pods, deployments, services, "
                                                   "events"))
    get.add_argument("kind", help="pods, deployments, statefulsets, replicasets, services "
                                  "or events")
    get.add_argument("name", nargs="?", help="one of them (default: all)")
    get.add_argument("-n", "--namespace", help=NAMESPACE)
    get.add_argument("-l", "--selector", action="append", default=[],
                     help="KEY=VALUE label to match (repeat for more)")
    get.add_argument("--watch", "-w", action="store_true", help="a live table")
    with_fresh(get)
    logs = with_common(verbs.add_parser("logs", help="a pod's output"))
    logs.add_argument("-f", "--follow", action="store_true",
                      help="go on printing until the kernel is interrupted")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.add_argument("-c", "--container", help="which container of the pod")
    logs.add_argument("-n", "--namespace", help=NAMESPACE)
    logs.add_argument("pod", help="the pod's name")
    execute = with_common(verbs.add_parser("exec", help="run a command in a pod"))
    execute.add_argument("-c", "--container", help="which container of the pod")
    execute.add_argument("-n", "--namespace", help=NAMESPACE)
    execute.add_argument("pod", help="the pod's name")
    execute.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    delete = with_yes(with_common(verbs.add_parser("delete", help="delete KIND/NAME")))
    delete.add_argument("target", help="KIND/NAME, e.g. deployment/web")
    delete.add_argument("-n", "--namespace", help=NAMESPACE)
    delete.add_argument("--wait", nargs="?", const="true", default="true", type=str.lower,
                        choices=("true", "false"),
                        help="return once it and its pods are gone (the default, as "
                             "kubectl; up to K8sMagics.timeout); --wait=false returns at once")
    delete.add_argument("--grace-period", type=int, metavar="SECONDS",
                        help="how long its containers get to stop (default: each pod's own)")
    delete.add_argument("--force", action="store_true",
                        help="at once, without waiting for the containers to stop")
    use = verbs.add_parser("use-context", help="switch to another kube context (any name "
                                               "in the kubeconfig: EKS ARNs, GKE names...)")
    use.add_argument("context", help="a context of the kubeconfig, by its name")
    use.add_argument("-n", "--namespace", help="the namespace (default: the context's own)")
    for name, verb in verbs.choices.items():
        if name != "use-context":
            verb.add_argument("--context", help="this kubeconfig context instead of the "
                                                "current one (for this line only)")
    with_examples(verbs, EXAMPLES)
    return parser


EXAMPLES = {
    "apply": "%%k8s apply --dry-run   (the cell holds the YAML)",
    "scale": "%k8s scale --replicas=3 deployment/web --wait",
    "get": "%k8s get pods -l app=web --watch",
    "logs": "%k8s logs -f web-7d4b9c-x2x9z",
    "exec": "%k8s exec web-7d4b9c-x2x9z -- ls /",
    "delete": "%k8s delete deployment/web --wait",
    "use-context": "%k8s use-context arn:aws:eks:us-east-1:123456789012:cluster/demo "
                   "-n default",
}


@magics_class
class K8sMagics(VirtworkMagics):
    connection = Unicode("", help="the cluster %k8s uses unless %vw connect or %k8s "
                                  "use-context names another, as a URI: k8s://CONTEXT/"
                                  "NAMESPACE (see jupyter_virtwork.uri.k8s_uri); empty: the "
                                  "sandbox's cluster, else the kubeconfig's current "
                                  "context").tag(config=True)
    kubeconfig = Unicode("", help="the kubeconfig file to read (empty: $KUBECONFIG or "
                                  "~/.kube/config)").tag(config=True)
    timeout = Float(120.0, help="seconds scale --wait and delete --wait follow a rollout or a "
                                "deletion before they give up").tag(config=True)

    @observe("connection", "kubeconfig")
    def _default_changed(self, change: dict[str, Any]) -> None:
        uri = self.connection or ("k8s://" if self.kubeconfig else "")
        self.configure_default("kubernetes", f"K8sMagics.{change['name']}", uri,
                               **({"kubeconfig": self.kubeconfig} if self.kubeconfig else {}))

    @line_cell_magic
    @usage_from(_parser)
    @reports_errors
    def k8s(self, line: str, cell: str | None = None) -> object:
        """%k8s apply|scale|get|logs|exec|delete|use-context; %%k8s apply: the cell is YAML."""
        args = self.parse(_parser(), line)
        if cell is not None and args.verb != "apply":
            raise UsageError("%%k8s takes the cell as YAML for apply only")
        if args.verb == "use-context":
            self._use_context(args)
            return None
        handlers: dict[str, Handler] = {
            "apply": self._apply, "scale": self._scale, "get": self._get, "logs": self._logs,
            "exec": self._exec, "delete": self._delete}
        return handlers[args.verb](cluster_in(self.session, args.namespace, args.context), args,
                                   cell)

    def _apply(self, driver: Cluster, args: argparse.Namespace,
               cell: str | None) -> ResourceList | None:
        if (cell is None) == (args.filename is None):
            raise UsageError("%k8s apply: give the YAML as the cell (%%k8s apply) or "
                             "with -f FILE, not both")
        # A Secret's value written ${VAR} comes from the kernel's environment; the journal
        # keeps the references only (withheld.py).
        given = cell if cell is not None else _read(args.filename)
        kept = withheld.manifests(given)
        text = withheld.filled(given)

        def line(of: str = text) -> str:
            return driver.apply_command(of, labels=self.session.labels,
                                        dry_run=args.dry_run,
                                        verb="diff" if args.diff else "apply")

        if args.show_command:
            print(line())
        if args.diff:
            diff = driver.diff(text, labels=self.session.labels)
            print(diff or "no changes")
            return None
        applied = driver.apply(text, labels=self.session.labels, dry_run=args.dry_run)
        if not args.dry_run:
            # Its line only now: the kind of a custom resource whose CRD the cell defines
            # is known to the cluster once applied.
            journalled = line(withheld.for_envsubst(kept.text)) if kept.references \
                else line()
            did(driver, "apply", withheld.through_envsubst(journalled, kept.references),
                made=[s for r in applied for s in subjects_of(r)],
                artefacts=[manifest_artefact(r.raw, stem(r.raw["kind"].lower(), r.name),
                                             kept.references) for r in applied],
                references=kept.references)
        return applied

    def _scale(self, driver: Cluster, args: argparse.Namespace, cell: str | None) -> Resource:
        kind, name = _target(args.target)
        timeout = self.timeout if args.timeout is None else args.timeout
        lines = [shown(args.show_command, driver.command(
            "scale", f"--replicas={args.replicas}", args.target))]
        if args.wait:
            lines.append(shown(args.show_command, driver.command(
                "rollout", "status", args.target, f"--timeout={timeout:g}s")))
        scaled = [subject(driver.uri, kind.value, name, driver.namespace)]
        if not args.wait:
            done = driver.scale(kind, name, args.replicas)
            did(driver, "scale", lines[0], made=scaled)
            return done
        view = progress_view(f"scaling {args.target} to {args.replicas}")
        try:
            done = driver.scale(kind, name, args.replicas, wait=True, timeout=timeout,
                                on_progress=view)
        except BaseException as exc:
            view.fail(str(exc))
            raise
        view.done(f"{args.target}: {args.replicas} of {args.replicas} ready")
        did(driver, "scale", "\n".join(lines), made=scaled)
        return done

    def _get(self, driver: Cluster, args: argparse.Namespace,
             cell: str | None) -> Resource | StatusView:
        kind = _kind(args.kind)
        labels = parse_assignments(args.selector, "-l") or None
        show_command(args.show_command, driver, "get", args.kind,
                     *([args.name] if args.name else []),
                     *(f"-l={s}" for s in args.selector), *(["--watch"] if args.watch else []))
        if args.name:
            return driver.get(kind, args.name)
        if args.watch:
            return status_table([(driver, kind, labels)], title=f"{kind}s",
                                language=self.language, actions=not self.read_only)
        return driver.list_cached(kind, labels=labels, fresh=args.fresh)

    def _logs(self, driver: Cluster, args: argparse.Namespace, cell: str | None) -> None:
        show_command(args.show_command, driver, "logs", *(["-f"] if args.follow else []),
                     *([] if args.tail is None else [f"--tail={args.tail}"]),
                     *(["-c", args.container] if args.container else []), args.pod)
        for line in driver.logs(args.pod, tail=args.tail, follow=args.follow,
                                container=args.container):
            print(line, flush=True)

    def _exec(self, driver: Cluster, args: argparse.Namespace, cell: str | None) -> ExecResult:
        container, command = _after_pod(args.command, args.container)
        if not command:
            raise UsageError("%k8s exec: give the command after --, e.g. "
                             "%k8s exec POD -- ls /")
        show_command(args.show_command, driver, "exec", args.pod,
                     *(["-c", container] if container else []), "--", *command)
        return driver.exec(args.pod, command, container=container)

    def _delete(self, driver: Cluster, args: argparse.Namespace, cell: str | None) -> None:
        kind, name = _target(args.target)
        grace = 0 if args.force else args.grace_period
        if grace is not None and grace < 0:
            raise UsageError("%k8s delete: --grace-period is a number of seconds, 0 or more")
        flags = [] if grace is None else [f"--grace-period={grace}"] + (
            ["--force"] if grace == 0 else [])
        wait = args.wait == "true"
        # as the driver deletes: in the background, or waiting for its pods to go first
        flags += ["--cascade=foreground"] if wait else ["--wait=false"]
        self.confirm_first(args, "Delete", lambda: [driver.get(kind, name)],
                           f"in namespace {driver.namespace}")
        line = shown(args.show_command, driver.command("delete", args.target, *flags))
        driver.delete(kind, name, wait=wait, grace_seconds=grace, timeout=self.timeout)
        did(driver, "delete", line,
            removed=[subject(driver.uri, kind.value, name, driver.namespace)])
        print(f"{args.target} deleted")

    def _use_context(self, args: argparse.Namespace) -> None:
        current = self.session.cluster("kubernetes")
        uri = k8s_uri(args.context, args.namespace)
        # Read the kubeconfig first (as a sibling, `--context`'s alias): an unknown context
        # fails here and the current connection stays.
        namespace = cluster_in(self.session, args.namespace, args.context).namespace
        self.session.connect(uri, "kubernetes", kubeconfig=current.kubeconfig)
        keep()
        print(f"now using context {args.context!r}, namespace {namespace} ({uri})")


def _after_pod(words: list[str], container: str | None) -> tuple[str | None, list[str]]:
    """kubectl's ``exec POD [-c NAME] -- COMMAND``: a -c may follow the pod, before --."""
    if "--" not in words:
        return container, words
    options, command = words[:words.index("--")], words[words.index("--") + 1:]
    given = iter(options)
    for word in given:
        if word in ("-c", "--container"):
            container = next(given, None)
        elif word.startswith("--container="):
            container = word.partition("=")[2]
        else:
            raise UsageError(f"%k8s exec: {word!r} before --: only -c NAME may follow the "
                             "pod; -n goes before it")
    if not container and options:
        raise UsageError("%k8s exec: -c needs a container name")
    return container, command


def _kind(word: str) -> Kind:
    kind = KIND_WORDS.get(word.lower())
    if kind is None:
        raise UsageError(f"%k8s: unknown kind {word!r}; use pods, deployments, "
                         "statefulsets, replicasets, services or events")
    return kind


def _target(text: str) -> tuple[Kind, str]:
    kind_word, sep, name = text.partition("/")
    if not sep or not name:
        raise UsageError(f"%k8s: {text!r} is not KIND/NAME, e.g. deployment/web")
    return _kind(kind_word), name


def _read(filename: str) -> str:
    try:
        return Path(filename).read_text()
    except OSError as exc:
        raise UsageError(f"%k8s apply: cannot read {filename}: {exc.strerror}") from None
