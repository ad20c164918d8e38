"""``%vw check``: learners check their own work against the real engines.

One function per kind of object. Each reads the engine through its driver and either
returns the line that says what passed (``✔ ...``) or raises ``CheckFailed``, an
``AssertionError`` whose one line says what is wrong and what to try (``✘ ...``); both in
the learner's language (``messages``) and both naming the connection, or the namespace,
that was looked at.

``run`` makes a check fit a grader (nbgrader scores a cell 0 when it writes to stderr, and
stops it after 30 s): the check runs within a time limit, with stderr held back (notes
such as "using docker:// ..." and the engines' insecure-TLS warnings) unless it fails.

A state is written in our words (``models.State``: running, stopped...) or the engine's
own (docker's ``exited``, a Pod's ``Running``, vSphere's ``poweredOn``, virsh's ``shut
off``), in any case, with or without spaces.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence

from . import messages as m
from .drivers.base import Cluster, ContainerEngine, Driver, Hypervisor
from .errors import (
    AuthenticationFailed,
    CheckFailed,
    EngineUnavailable,
    InvalidArguments,
    InvalidInput,
    MissingDependency,
    NotFound,
    OperationTimeout,
    VirtworkError,
)
from .models import Kind, Resource, State
from .sizes import GiB, MiB, format_size

DEFAULT_TIMEOUT = 20.0  # s: well inside nbgrader's 30 s per cell
NAMESPACE_VARIABLES = ("VW_NAMESPACE", "JUPYTERHUB_USER")  # after --namespace, in this order
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # an RFC 1123 label

# Our words a check of each kind accepts (the engines' own words for these states too).
KIND_STATES: dict[str, tuple[State, ...]] = {
    "container": (State.CREATED, State.RUNNING, State.PAUSED, State.RESTARTING,
                  State.STOPPED, State.FAILED),
    "image": (),
    "pod": (State.PENDING, State.RUNNING, State.SUCCEEDED, State.FAILED, State.UNKNOWN),
    "deployment": (State.AVAILABLE, State.PROGRESSING, State.STOPPED),
    "vm": (State.RUNNING, State.PAUSED, State.SUSPENDED, State.STOPPED, State.FAILED),
}

# (wanted, actual) -> the verb that gets there
CONTAINER_VERBS: dict[tuple[State, State], str] = {
    (State.RUNNING, State.CREATED): "start", (State.RUNNING, State.STOPPED): "start",
    (State.RUNNING, State.FAILED): "start", (State.RUNNING, State.PAUSED): "unpause",
    (State.STOPPED, State.RUNNING): "stop", (State.STOPPED, State.PAUSED): "stop",
    (State.PAUSED, State.RUNNING): "pause",
}
VM_VERBS: dict[tuple[State, State], str] = {
    (State.RUNNING, State.STOPPED): "start", (State.RUNNING, State.PAUSED): "resume",
    (State.RUNNING, State.SUSPENDED): "resume", (State.STOPPED, State.RUNNING): "stop",
    (State.STOPPED, State.PAUSED): "stop", (State.STOPPED, State.SUSPENDED): "stop",
    (State.PAUSED, State.RUNNING): "suspend", (State.SUSPENDED, State.RUNNING): "suspend",
}


# --- running a check ---------------------------------------------------------------------


def run(check: Callable[[], str], *, timeout: float, kind: str, name: str,
        language: str) -> str:
    """``check()``'s line, within ``timeout`` seconds, with nothing on stderr unless it
    fails (then what it held back is written out before the error)."""
    held = io.StringIO()
    try:
        with _insecure_tls_quiet(), contextlib.redirect_stderr(held):
            return _bounded(check, timeout, kind, name, language)
    except BaseException:
        sys.stderr.write(held.getvalue())
        raise


def _bounded(check: Callable[[], str], timeout: float, kind: str, name: str,
             language: str) -> str:
    """The check runs in a daemon thread, so an engine that never answers cannot hold the
    cell; that thread ends when the driver's own request times out."""
    outcome: list[str | BaseException] = []

    def work() -> None:
        try:
            outcome.append(check())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=work, name=f"virtwork-check-{kind}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        kind_name = m.KIND_NAMES[kind].format(language)
        raise OperationTimeout(
            m.TOO_SLOW.format(language, kind=kind_name, name=name, seconds=timeout),
            hint=m.TOO_SLOW_HINT.format(language, more=max(2 * timeout, 60.0)))
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


@contextlib.contextmanager
def _insecure_tls_quiet() -> Iterator[None]:
    """urllib3 warns on every request over unverified TLS (a connection made with
    ``--insecure``); the learner chose that, and a grader would count the warning."""
    with warnings.catch_warnings():
        try:
            from urllib3.exceptions import InsecureRequestWarning
        except ImportError:
            pass
        else:
            warnings.simplefilter("ignore", InsecureRequestWarning)
        yield


def namespace(given: str | None, language: str) -> str | None:
    """The namespace to look in: ``given`` (``--namespace``), else $VW_NAMESPACE, else
    $JUPYTERHUB_USER (a hub's learner works in a namespace of their own), else None (the
    connection's own, its kube context's)."""
    sources = [("--namespace", given),
               *((f"${v}", os.environ.get(v)) for v in NAMESPACE_VARIABLES)]
    for source, value in sources:
        if value:
            if not NAMESPACE.match(value):
                raise InvalidInput(m.BAD_NAMESPACE.format(language, name=value, source=source),
                                   hint=m.NAMESPACE_HINT.format(language))
            return value
    return None


# --- the checks ----------------------------------------------------------------------------


def container(engine: ContainerEngine, name: str, state: str | None, language: str) -> str:
    wanted = wanted_state(engine.state_words, "container", state, language)
    where = m.WHERE_CONNECTION.format(language, uri=engine.uri)
    found = _get(engine, Kind.CONTAINER, name, where, language,
                 m.CREATE_CONTAINER.format(language, name=name))
    if wanted is not None and found.state is not wanted:
        verb = CONTAINER_VERBS.get((wanted, found.state))
        hint = m.CONTAINER_STATE.format(language) if verb is None else \
            m.TRY.format(language, command=f"%docker {verb} {name}")
        if verb == "start" and found.state is not State.CREATED:
            hint = m.WHY_IT_STOPPED.format(language, try_=hint, name=name)
        raise _wrong_state(engine, "container", name, where, found.state, state, hint,
                           language)
    return _passed("container", name, where, found.state, language)


def image(engine: ContainerEngine, name: str, pushed: bool, language: str) -> str:
    """The image is here; with ``pushed``, its registry also holds it as built here."""
    where = m.WHERE_CONNECTION.format(language, uri=engine.uri)
    _get(engine, Kind.IMAGE, name, where, language, m.BUILD_IMAGE.format(language, name=name))
    if not pushed:
        return m.IMAGE_PRESENT.format(language, name=name, where=where)
    tags = engine.registry_tags(name)
    held = [tag for tag, there in tags.items() if there]
    if held:
        return m.IMAGE_PUSHED.format(language, name=name, references=", ".join(held))
    if tags:
        problem = m.NOT_PUSHED_AS_BUILT.format(language, name=name, references=", ".join(tags))
        hint = m.PUSH_AGAIN.format(language, name=name)
    else:
        problem = m.NOT_PUSHED.format(language, name=name, where=where)
        hint = m.PUSH_IMAGE.format(language, name=name)
    raise _failed(problem, hint, engine, language)


def pod(cluster: Cluster, name: str, state: str | None, language: str) -> str:
    wanted = wanted_state(cluster.state_words, "pod", state, language)
    where = _in_namespace(cluster, language)
    namespace = cluster.namespace
    found = _get(cluster, Kind.POD, name, where, language,
                 m.APPLY_POD.format(language, namespace=namespace))
    if wanted is not None and found.state is not wanted:
        hint = {State.PENDING: m.POD_NOT_STARTED, State.FAILED: m.POD_FAILED}.get(
            found.state, m.POD_STATE).format(language, name=name, namespace=namespace)
        reason = str(found.details.get("reason") or "")
        raise _wrong_state(cluster, "pod", name, where, found.state, state, hint, language,
                           reason=reason)
    return _passed("pod", name, where, found.state, language)


def deployment(cluster: Cluster, name: str, replicas: int | None, state: str | None,
               language: str) -> str:
    """``replicas`` asked for and all of them ready; then the state, if one is given."""
    wanted = wanted_state(cluster.state_words, "deployment", state, language)
    where = _in_namespace(cluster, language)
    namespace = cluster.namespace
    found = _get(cluster, Kind.DEPLOYMENT, name, where, language,
                 m.APPLY_DEPLOYMENT.format(language, namespace=namespace))
    desired, ready = _replicas(found)
    names = {"name": name, "namespace": namespace, "wanted": replicas, "where": where}
    if replicas is not None and desired != replicas:
        raise _failed(m.WRONG_REPLICAS.format(language, desired=desired, **names),
                      m.SCALE.format(language, **names), cluster, language)
    if replicas is not None and ready < replicas:
        raise _failed(m.NOT_READY.format(language, ready=ready, **names),
                      m.WAIT_ROLLOUT.format(language, **names), cluster, language)
    if wanted is not None and found.state is not wanted:
        raise _wrong_state(cluster, "deployment", name, where, found.state, state,
                           m.DEPLOYMENT_STATE.format(language, namespace=namespace), language)
    facts = [m.REPLICAS_READY.format(language, ready=ready, desired=desired),
             _state_name(found.state, language)]
    return m.PASSED_FACTS.format(language, kind=m.KIND_NAMES["deployment"].format(language),
                                 name=name, where=where,
                                 facts=m.FACT_SEPARATOR.format(language).join(facts))


def vm(hypervisors: Sequence[tuple[Hypervisor, str]], name: str, state: str | None, *,
       cpus: int | None, memory: int | None, disk: int | None, language: str) -> str:
    """The VM on the first of ``hypervisors`` (each with the name ``%vm --on`` knows it by)
    that has it: its CPUs, memory, a disk of that size, its state."""
    words: dict[str, State] = {}
    for engine, _ in hypervisors:
        words.update(engine.state_words)
    wanted = wanted_state(words, "vm", state, language)
    engine, on, found = _find_vm(hypervisors, name, language)
    where = m.WHERE_CONNECTION.format(language, uri=engine.uri)
    facts: list[str] = []  # what was looked at, as the learner reads it
    problems: list[str] = []  # those that are not as asked, with what was asked
    flags: list[str] = []  # what %vm config needs to make them so

    def compare(shown: str, right: bool, asked: str, flag: str | None = None) -> None:
        facts.append(shown)
        if not right:
            problems.append(m.NOT_WANTED.format(language, actual=shown, wanted=asked))
            if flag is not None:
                flags.append(flag)

    if cpus is not None:
        actual_cpus = found.details.get("cpus")
        compare(m.CPUS.format(language, count=actual_cpus), actual_cpus == cpus, str(cpus),
                f"--cpus {cpus}")
    if memory is not None:
        actual_memory = found.details.get("memory")
        compare(m.MEMORY.format(language, size=_size(actual_memory)), actual_memory == memory,
                format_size(memory), f"--memory {_size_flag(memory)}")
    if disk is not None:
        sizes = engine.disks(found.id)
        compare(m.DISKS.format(language, sizes=", ".join(format_size(s) for s in sizes))
                if sizes else m.NO_DISK.format(language), disk in sizes, format_size(disk),
                f"--disk {_size_flag(disk)}")
    if wanted is not None:
        compare(m.STATE_FACT.format(language, state=_state_name(found.state, language)),
                found.state is wanted, str(state))
    kind_name = m.KIND_NAMES["vm"].format(language)
    if problems:
        problem = m.WRONG_FACTS.format(
            language, kind=kind_name, name=name, where=where,
            problems=m.PROBLEM_SEPARATOR.format(language).join(problems))
        raise _failed(problem, _vm_hint(name, on, found.state, wanted, flags, language),
                      engine, language)
    if not facts:
        return _passed("vm", name, where, found.state, language)
    return m.PASSED_FACTS.format(language, kind=kind_name, name=name, where=where,
                                 facts=m.FACT_SEPARATOR.format(language).join(facts))


def _find_vm(hypervisors: Sequence[tuple[Hypervisor, str]], name: str,
             language: str) -> tuple[Hypervisor, str, Resource]:
    """The first connection that has VM ``name``. One whose engine does not answer (or
    lets us in, or has no SDK here) is passed over; if no other has the VM, its error is
    the answer, not "there is no such VM"."""
    unreachable: list[VirtworkError] = []
    for engine, on in hypervisors:
        try:
            return engine, on, engine.get(Kind.VM, name)
        except NotFound:
            continue
        except (EngineUnavailable, AuthenticationFailed, MissingDependency) as exc:
            unreachable.append(exc)
    if unreachable:
        raise unreachable[0]
    where = m.WHERE_CONNECTION.format(language, uri=" / ".join(e.uri for e, _ in hypervisors))
    raise _failed(m.MISSING.format(language, kind=m.KIND_NAMES["vm"].format(language),
                                   name=name, where=where),
                  m.CREATE_VM.format(language, name=name), None, language)


def _vm_hint(name: str, on: str, actual: State, wanted: State | None, flags: list[str],
             language: str) -> str:
    commands = []
    if flags:
        commands.append(f"%vm config {name} --on {on} {' '.join(flags)}")
    verb = None if wanted is None or wanted is actual else VM_VERBS.get((wanted, actual))
    if verb is not None:
        commands.append(f"%vm {verb} {name} --on {on}")
    if not commands:
        return m.VM_STATE.format(language, on=on)
    hint = m.TRY.format(language, command=commands[0]) if len(commands) == 1 else \
        m.TRY_THEN.format(language, first=commands[0], then=commands[1])
    if flags and actual is State.RUNNING and wanted in (None, State.RUNNING):
        hint = m.AT_NEXT_START.format(language, try_=hint)
    return hint


# --- the parts they share --------------------------------------------------------------------


def wanted_state(engine_words: Mapping[str, State], kind: str, word: str | None,
                 language: str) -> State | None:
    """The state ``word`` names for a ``kind`` (None when no state is asked for): one of
    ours, or one of the engine's own words for such a state."""
    if word is None:
        return None
    allowed = KIND_STATES[kind]
    words = {w: s for w, s in engine_words.items() if s in allowed}
    spelled = {_plain(w) for w in words}
    words.update((s.value, s) for s in allowed if _plain(s.value) not in spelled)
    found = {_plain(w): s for w, s in words.items()}.get(_plain(word))
    if found is None:
        kind_name = m.KIND_NAMES[kind].format(language)
        raise InvalidArguments(m.UNKNOWN_STATE.format(language, word=word, kind=kind_name,
                                                      words=", ".join(words) or "-"))
    return found


def _plain(word: str) -> str:
    """A state word as compared: lowercase, no spaces, dashes or underscores (``shut off``,
    ``shut-off`` and ``shutoff`` are one word; so are ``poweredOn`` and ``poweredon``)."""
    return re.sub(r"[\s_-]", "", word.lower())


def _get(engine: Driver, kind: Kind, name: str, where: str, language: str,
         hint: str) -> Resource:
    try:
        return engine.get(kind, name)
    except NotFound:
        kind_name = m.KIND_NAMES[kind.value].format(language)
        raise _failed(m.MISSING.format(language, kind=kind_name, name=name, where=where),
                      hint, engine, language) from None


def _in_namespace(cluster: Cluster, language: str) -> str:
    return m.WHERE_NAMESPACE.format(language, namespace=cluster.namespace, uri=cluster.uri)


def _replicas(deployment: Resource) -> tuple[int, int]:
    """(replicas asked for, replicas ready) of a Deployment, from the object itself."""
    raw = deployment.raw if isinstance(deployment.raw, Mapping) else {}
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    return int(spec.get("replicas", 1)), int(status.get("readyReplicas") or 0)


def _state_name(state: State, language: str) -> str:
    return m.STATE_NAMES[state.value].format(language)


def _passed(kind: str, name: str, where: str, state: State, language: str) -> str:
    return m.PASSED.format(language, kind=m.KIND_NAMES[kind].format(language), name=name,
                           where=where, state=_state_name(state, language))


def _wrong_state(engine: Driver, kind: str, name: str, where: str, actual: State,
                 wanted: str | None, hint: str, language: str, *,
                 reason: str = "") -> CheckFailed:
    shown = _state_name(actual, language)
    if reason:
        shown = m.REASON.format(language, state=shown, reason=reason)
    problem = m.WRONG_STATE.format(language, kind=m.KIND_NAMES[kind].format(language),
                                   name=name, where=where, actual=shown, wanted=wanted)
    return _failed(problem, hint, engine, language)


def _failed(problem: str, hint: str, engine: Driver | None, language: str) -> CheckFailed:
    return CheckFailed(problem, hint=hint, shown=m.FAILED.format(language, problem=problem,
                                                                 hint=hint),
                       connection=None if engine is None else engine.uri)


def _size(value: object) -> str:
    return format_size(value) if isinstance(value, int) else str(value)


def _size_flag(size: int) -> str:
    """A size as ``%vm config`` takes it: ``4G``, ``512M``, else bytes."""
    for unit, scale in (("G", GiB), ("M", MiB)):
        if size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"
