"""The guardrails' rules without an engine: which verbs read-only mode allows, the
``VW_READONLY`` switch, and the question a destructive verb asks (``magics/confirm.py``).
On the engines: tests/integration/test_guardrails.py and tests/server/test_read_only.py."""

from __future__ import annotations

import argparse

import pytest

from jupyter_virtwork import readonly
from jupyter_virtwork.errors import Cancelled, ReadOnly
from jupyter_virtwork.magics import confirm, docker, guard, k8s, vm, vw
from jupyter_virtwork.magics.base import Parser
from jupyter_virtwork.models import Kind, Resource, State

PARSERS = {"%docker": docker._parser, "%k8s": k8s._parser, "%vm": vm._parser,
           "%vw": vw._parser}
# What read-only mode refuses, verb by verb: a new verb fails this test until it is sorted.
CHANGING = {
    "%docker": {"build", "push", "run", "exec", "start", "stop", "restart", "pause",
                "unpause", "rm", "rmi"},
    "%k8s": {"apply", "scale", "exec", "delete"},
    "%vm": {"create", "config", "start", "stop", "suspend", "resume", "delete"},
    "%vw": {"cleanup"},
}
DESTRUCTIVE = {"%docker": ("rm", "stop", "rmi"), "%k8s": ("delete",),
               "%vm": ("delete", "stop"), "%vw": ("cleanup",)}


def _verbs(parser: Parser) -> dict[str, argparse.ArgumentParser]:
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


@pytest.mark.parametrize("prog", PARSERS)
def test_read_only_mode_refuses_exactly_the_verbs_that_change(prog: str) -> None:
    verbs = set(_verbs(PARSERS[prog]()))
    assert guard.READS[prog] <= verbs, "a verb READS names is no verb of the magic"
    assert {v for v in verbs if guard.changes(prog, v)} == CHANGING[prog]


def test_a_refusal_is_one_line_saying_how_to_turn_it_off() -> None:
    guard.check(False, "%docker", "rm")  # read-only mode off: allowed
    guard.check(True, "%docker", "ps")  # a read: allowed
    with pytest.raises(ReadOnly) as refused:
        guard.check(True, "%docker", "rm")
    assert str(refused.value) == (
        "read-only mode is on: %docker rm would change something and is refused: to allow "
        "changes, set %config VirtworkMagics.read_only = False (its default comes from "
        "VW_READONLY)")
    assert guard.changes("%%dockerfile", None)  # a magic without verbs builds: it changes


def test_the_class_table_reads_and_its_cleanup_changes() -> None:
    guard.check(True, "%vw", "class")
    with pytest.raises(ReadOnly, match="%vw class cleanup would change something"):
        guard.check(True, "%vw", "class cleanup")


@pytest.mark.parametrize(("value", "on"), [("1", True), ("true", True), ("True", True),
                                           (" yes ", True), ("0", False), ("", False),
                                           ("false", False)])
def test_vw_readonly_switch(value: str, on: bool) -> None:
    assert readonly.from_environment({"VW_READONLY": value}) is on
    assert readonly.from_environment({}) is False


@pytest.mark.parametrize(("prog", "verb"), [(p, v) for p, vs in DESTRUCTIVE.items() for v in vs])
def test_every_destructive_verb_takes_yes(prog: str, verb: str) -> None:
    options = {o for a in _verbs(PARSERS[prog]())[verb]._actions for o in a.option_strings}
    assert "--yes" in options


def _resource(kind: Kind, name: str) -> Resource:
    return Resource("docker://", kind, name, name, State.RUNNING)


def test_the_question_names_what_and_how_many() -> None:
    pods = [_resource(Kind.POD, n) for n in ("a", "b", "c")]
    assert confirm.question("Delete", pods, "in namespace default") == \
        "Delete 3 pods in namespace default: a, b, c? [y/N] "
    assert confirm.question("Stop", [_resource(Kind.VM, "v")], "on qemu:///system") == \
        "Stop 1 VM on qemu:///system: v? [y/N] "
    mixed = [_resource(Kind.CONTAINER, "web"), _resource(Kind.VM, "v")]
    assert confirm.question("Remove", mixed, "created by this notebook") == \
        "Remove 2 resources created by this notebook: container web, VM v? [y/N] "
    many = [_resource(Kind.CONTAINER, f"c{i}") for i in range(12)]
    assert confirm.question("Remove", many, "on docker://").endswith(
        "c8, c9 and 2 more? [y/N] ")


@pytest.mark.parametrize(("answer", "goes_ahead"), [("y", True), ("YES", True), (" y ", True),
                                                    ("", False), ("n", False),
                                                    ("yep", False)])
def test_only_yes_goes_ahead(monkeypatch: pytest.MonkeyPatch, answer: str,
                             goes_ahead: bool) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    if goes_ahead:
        confirm.ask("Delete 1 pod in namespace default: web? [y/N] ")
    else:
        with pytest.raises(Cancelled, match=r"^delete cancelled; nothing was changed: "):
            confirm.ask("Delete 1 pod in namespace default: web? [y/N] ")
    assert asked == ["Delete 1 pod in namespace default: web? [y/N] "]


def test_outside_a_kernel_no_one_is_asked() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    assert not confirm.stdin_allowed(None)
    assert not confirm.stdin_allowed(InteractiveShell.instance())
    assert not confirm.asks(None, enabled=True, yes=False)
