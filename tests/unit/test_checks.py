"""The parts of ``%vw check`` that need no engine: reading its line, the state words, where
it looks, and how a failure shows. The checks themselves run on the real engines in
tests/integration/test_checks.py."""

from __future__ import annotations

import pytest

from jupyter_virtwork import checks
from jupyter_virtwork.drivers.docker.driver import DockerDriver
from jupyter_virtwork.drivers.kubernetes.driver import KubernetesDriver
from jupyter_virtwork.drivers.libvirt.driver import LibvirtDriver
from jupyter_virtwork.drivers.vsphere.driver import VSphereDriver
from jupyter_virtwork.errors import CheckFailed, InvalidArguments, InvalidInput
from jupyter_virtwork.magics.vw import _parser
from jupyter_virtwork.models import State


@pytest.mark.parametrize(("words", "kind", "word", "state"), [
    (LibvirtDriver.state_words, "vm", "shut off", State.STOPPED),
    (LibvirtDriver.state_words, "vm", "SHUT-OFF", State.STOPPED),
    (LibvirtDriver.state_words, "vm", "shutoff", State.STOPPED),
    (VSphereDriver.state_words, "vm", "poweredOn", State.RUNNING),
    (VSphereDriver.state_words, "vm", "powered_off", State.STOPPED),
    (VSphereDriver.state_words, "vm", "stopped", State.STOPPED),  # ours, on any engine
    (DockerDriver.state_words, "container", "exited", State.STOPPED),
    (DockerDriver.state_words, "container", "Running", State.RUNNING),
    (DockerDriver.state_words, "container", None, None),
])
def test_states_in_our_words_or_the_engines(words: dict[str, State], kind: str,
                                            word: str | None, state: State | None) -> None:
    assert checks.wanted_state(words, kind, word, "en") is state


def test_a_state_the_kind_cannot_be_in_is_a_mistake_of_the_line() -> None:
    with pytest.raises(InvalidArguments) as caught:
        checks.wanted_state(VSphereDriver.state_words, "vm", "exited", "en")
    assert caught.value.message == (
        "%vw check: 'exited' is not a state a VM can be in; use one of poweredOn, "
        "poweredOff, suspended, running, paused, stopped, failed")
    with pytest.raises(InvalidArguments) as caught:
        checks.wanted_state(KubernetesDriver.state_words, "pod", "available", "zh")
    assert caught.value.message == ("%vw check：'available' 不是Pod会有的状态；可以用："
                                    "Pending, Running, Succeeded, Failed, Unknown")


def test_the_namespace_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VW_NAMESPACE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert checks.namespace(None, "en") is None  # the connection's own
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    assert checks.namespace(None, "en") == "alice"
    monkeypatch.setenv("VW_NAMESPACE", "class-alice")
    assert checks.namespace(None, "en") == "class-alice"
    assert checks.namespace("mine", "en") == "mine"
    monkeypatch.setenv("VW_NAMESPACE", "Alice@Example")
    with pytest.raises(InvalidInput, match=r"'Alice@Example' \(from \$VW_NAMESPACE\)"):
        checks.namespace(None, "en")


def test_a_failed_check_is_an_assertion_shown_as_its_line() -> None:
    failed = CheckFailed("it is off", hint="start it", shown="✘ it is off: start it",
                         connection="docker://")
    assert isinstance(failed, AssertionError)
    assert str(failed) == "✘ it is off: start it"
    assert failed._render_traceback_() == ["✘ it is off: start it"]
    assert (failed.message, failed.hint, failed.connection) == ("it is off", "start it",
                                                                "docker://")


@pytest.mark.parametrize(("line", "state"), [
    ("check vm my-vmware-vm --cpus 2 --memory 4G --disk 100G poweredOn", "poweredOn"),
    ("check vm my-vmware-vm poweredOn --cpus 2", "poweredOn"),
    ("check container web 'shut off' --on docker", "shut off"),
    ("check deployment web --replicas 3", None),
])
def test_the_state_may_follow_the_options(line: str, state: str | None) -> None:
    args = _parser().parse_line(line)
    assert (args.verb, args.state) == ("check", state)


def test_other_verbs_still_take_their_words_in_order() -> None:
    args = _parser().parse_line("connect k8s://ctx/ns --as lab")
    assert (args.uri, args.alias) == ("k8s://ctx/ns", "lab")


def test_a_missing_name_is_a_mistake_of_the_line() -> None:
    with pytest.raises(InvalidArguments, match="required: name"):
        _parser().parse_line("check vm")
