"""The Session on libvirt's test driver (a real libvirt driver, in-process, no daemon):
aliases, defaults, and cleanup that removes exactly what the session made."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from jupyter_virtwork.defaults import DefaultConnection
from jupyter_virtwork.drivers.base import BaseDriver, Driver, Verb
from jupyter_virtwork.errors import (
    AuthenticationFailed,
    CleanupIncomplete,
    EngineUnavailable,
    InvalidInput,
    OperationFailed,
)
from jupyter_virtwork.models import Kind, Resource, State, VMSpec
from jupyter_virtwork.session import Session

TEST = "test:///default"


def _vm(session: Session | None, name: str) -> VMSpec:
    labels = session.labels if session else {}
    return VMSpec.parse(name, cpus=1, memory="128M", labels=labels)


def test_aliases_and_current_connection() -> None:
    session = Session("s1", default=lambda family: None)
    first = session.connect(TEST, "lab")
    assert session.driver("lab") is first
    assert session.driver("libvirt") is first  # the family's current connection
    assert [c.alias for c in session.connections()] == ["lab"]
    session.close()
    assert session.connections() == []


def test_the_current_connection_wins_over_an_alias_named_like_its_family() -> None:
    """The default connection is aliased by its family's name; after connecting another as
    ``b``, the family means ``b`` (issue 20: %k8s kept using the first connection)."""
    session = Session("s4", default=lambda family: DefaultConnection(TEST, why="testing"))
    first = session.driver("libvirt")  # the default, aliased "libvirt"
    second = session.connect(TEST, "b")
    assert session.driver("libvirt") is second is session.driver("b")
    assert session.connection("libvirt") is first  # by its exact alias, still there
    assert [(c.alias, c.current) for c in session.connections()] == [("libvirt", False),
                                                                     ("b", True)]
    session.connect(TEST, "libvirt")  # connecting it again makes it current again
    assert session.driver("libvirt") is first
    with pytest.raises(InvalidInput):
        session.connection("nothing-so-named")
    session.close()


def test_a_family_s_accessor_refuses_a_connection_of_another_family() -> None:
    session = Session("s1a", default=lambda family: None)
    lab = session.connect(TEST, "lab")
    assert session.hypervisor("lab") is lab is session.hypervisor("libvirt")
    for accessor, what in ((session.container_engine, "a container engine"),
                           (session.cluster, "a cluster")):
        with pytest.raises(InvalidInput) as caught:
            accessor("lab")
        assert caught.value.one_line().startswith(f"'lab' is a libvirt connection, not {what}")
    assert [c.alias for c in session.connections()] == ["lab"]  # nothing else opened
    session.close()


def test_disconnect_forgets_one_connection() -> None:
    session = Session("s1b", default=lambda family: None)
    kept, dropped = session.connect(TEST, "kept"), session.connect(TEST + "?x=1", "dropped")
    session.disconnect("dropped")
    session.disconnect("never-there")  # nothing to do
    assert [c.alias for c in session.connections()] == ["kept"]
    with pytest.raises(InvalidInput):
        session.driver("libvirt")  # the family's current one was the dropped connection
    assert session.driver("kept") is kept and dropped is not kept
    session.close()


def test_an_alias_keeps_its_driver_while_its_uri_and_options_stay() -> None:
    """The server asks for its endpoints on every request: the same URI and options give
    the driver already open (its watchers and caches), changed ones a new driver."""
    session = Session("s1c", default=lambda family: None)
    first = session.connect(TEST, "lab", make_current=False, shutdown_timeout=5.0)
    assert session.connect(TEST, "lab", make_current=False, shutdown_timeout=5.0) is first
    assert session.connect(TEST, "lab") is first  # no options given: whatever it has
    second = session.connect(TEST, "lab", shutdown_timeout=6.0)
    assert second is not first and session.connection("lab") is second
    third = session.connect(TEST + "?x=1", "lab")
    assert third is not second and [c.uri for c in session.connections()] == [third.uri]
    session.close()


def test_threads_connecting_one_alias_share_one_driver() -> None:
    session = Session("s1d", default=lambda family: None)
    start = threading.Barrier(8)
    found: list[Driver] = []

    def connect() -> None:
        start.wait()
        found.append(session.connect(TEST, "shared", make_current=False, shutdown_timeout=5.0))

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(driver is found[0] for driver in found)
    assert session.connection("shared") is found[0]
    session.close()


def test_a_default_is_used_and_announced() -> None:
    said: list[str] = []
    session = Session("s2", default=lambda family: DefaultConnection(TEST, why="testing"))
    session.on_default = said.append
    assert session.driver("libvirt").uri == TEST
    assert said == [f"using {TEST} (testing) for libvirt"]
    session.close()


def test_a_chosen_default_replaces_the_opened_one_and_can_be_unchosen() -> None:
    """``%config DockerMagics.connection``'s path: the family's default changes at once."""
    session = Session("s2b", default=lambda family: DefaultConnection(TEST, why="automatic"))
    automatic = session.driver("libvirt")
    session.choose_default("libvirt", DefaultConnection(TEST + "?x=1", why="chosen"))
    chosen = session.driver("libvirt")
    assert chosen is not automatic and chosen.uri == TEST + "?x=1"
    other = session.connect(TEST, "other")  # a %vw connect: current, and stays so
    session.choose_default("libvirt", None)
    assert session.driver("libvirt") is other
    assert session.connection("libvirt").uri == TEST  # the automatic one again
    session.close()


def test_no_default_is_a_one_line_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        Session("s3", default=lambda family: None).driver("vsphere")
    assert "%vw connect" in str(caught.value)


def test_cleanup_removes_exactly_what_this_session_created() -> None:
    mine = Session(f"mine-{uuid.uuid4().hex[:6]}", default=lambda family: None)
    other = Session(f"other-{uuid.uuid4().hex[:6]}", default=lambda family: None)
    driver = mine.connect(TEST)
    other_driver = other.connect(TEST)
    ours = driver.create(_vm(mine, f"ours-{uuid.uuid4().hex[:6]}"))
    theirs = other_driver.create(_vm(other, f"theirs-{uuid.uuid4().hex[:6]}"))
    unlabelled = driver.create(_vm(None, f"plain-{uuid.uuid4().hex[:6]}"))
    try:
        assert [r.name for r in mine.created()] == [ours.name]
        assert [r.name for r in mine.cleanup()] == [ours.name]
        names = {r.name for r in driver.list(Kind.VM)}
        assert ours.name not in names and {theirs.name, unlabelled.name} <= names
    finally:
        for vm in (theirs, unlabelled):
            driver.destroy(Kind.VM, vm.id, force=True)
        mine.close()
        other.close()


def test_session_labels_are_stamped_by_the_caller() -> None:
    session = Session("stamp", default=lambda family: None)
    spec = dataclasses.replace(_vm(None, "x"), labels=session.labels)
    assert spec.labels["virtwork.io/session"] == "stamp"


class _Unreachable(BaseDriver):
    """A connection whose engine never answers (xen:/// on a machine without Xen)."""

    uri = "xen:///system"  # type: ignore[assignment]
    kinds = (Kind.VM,)
    capabilities = frozenset(Verb)

    def __init__(self) -> None:
        pass

    def list(self, kind: Kind, labels: object = None) -> list[object]:  # type: ignore[override]
        raise EngineUnavailable("there is no Xen hypervisor on this machine",
                                connection=self.uri)

    def list_cached(self, kind: Kind, labels: object = None, *,
                    fresh: bool = False) -> list[object]:
        return self.list(kind, labels)

    def close(self) -> None:
        pass


def test_cleanup_skips_a_connection_that_never_answered() -> None:
    session = Session(f"skip-{uuid.uuid4().hex[:6]}", default=lambda family: None)
    said: list[str] = []
    session.on_skip = said.append
    driver = session.connect(TEST)
    session._drivers["xen"] = _Unreachable()  # type: ignore[assignment]
    ours = driver.create(_vm(session, f"ours-{uuid.uuid4().hex[:6]}"))
    try:
        assert [r.name for r in session.created()] == [ours.name]
        assert [r.name for r in session.cleanup()] == [ours.name]
        assert said == ["skipped xen:///system: there is no Xen hypervisor on this machine"] * 2
    finally:
        session.close()


class _LockedOut(_Unreachable):
    """A connection tried once without its password (``%vm ls --on vsphere://u@h``)."""

    uri = "vsphere://u@h"

    def list(self, kind: Kind, labels: object = None) -> list[object]:
        raise AuthenticationFailed("no password for u@h", connection=self.uri)


def test_cleanup_skips_a_connection_that_never_let_us_in() -> None:
    session = Session(f"locked-{uuid.uuid4().hex[:6]}", default=lambda family: None)
    said: list[str] = []
    session.on_skip = said.append
    session._drivers["vsphere"] = _LockedOut()  # type: ignore[assignment]
    assert list(session.cleanup()) == []
    assert said == ["skipped vsphere://u@h: no password for u@h"]
    session.close()


class _Refusing(_Unreachable):
    """A connection holding one of ours that its engine refuses to remove. A stand-in: what
    is tested is the Session going on past a refusal, whichever engine refuses."""

    uri = "test:///refusing"

    def __init__(self, resource: object) -> None:
        self.resource = resource

    def list(self, kind: Kind, labels: object = None) -> list[object]:  # type: ignore[override]
        return [self.resource]

    def destroy(self, kind: Kind, id: str, *, force: bool = False) -> None:
        raise OperationFailed("the VM is locked by another task", connection=self.uri)


def test_cleanup_goes_on_past_a_refusal_and_names_it() -> None:
    session = Session(f"refuse-{uuid.uuid4().hex[:6]}", default=lambda family: None)
    locked = Resource("test:///refusing", Kind.VM, "1", "locked-vm", State.RUNNING,
                      labels=session.labels)
    session._drivers["refusing"] = _Refusing(locked)  # type: ignore[assignment]
    driver = session.connect(TEST)  # after the refusal, which must not stop its cleanup
    ours = driver.create(_vm(session, f"ours-{uuid.uuid4().hex[:6]}"))
    try:
        with pytest.raises(CleanupIncomplete) as caught:
            session.cleanup()
        # What is left, one line per object: what it is, where, and why.
        assert str(caught.value).splitlines() == [
            "cleanup removed 1 but left 1: fix each, then run %vw cleanup --yes again",
            "  vm 'locked-vm' on test:///refusing: the VM is locked by another task"]
        assert ours.name not in {r.name for r in driver.list(Kind.VM)}
    finally:
        session.close()


def test_one_notebook_path_gives_each_user_a_session_of_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Thirty learners open their own lesson1.ipynb: the same path, never the same id; the
    same learner's restarted kernel keeps theirs."""
    from jupyter_virtwork.labels import session_id_for

    monkeypatch.setenv("JPY_SESSION_NAME", "lesson1.ipynb")
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    ada = session_id_for()
    assert session_id_for() == ada
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    assert session_id_for() != ada
