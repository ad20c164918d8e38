"""The Session belongs to a shell's magics: the four families registered on one shell share
one; another shell in the same process has its own, with its own ``%config`` defaults."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from jupyter_virtwork import unload_ipython_extension
from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.magics import ALL, register
from jupyter_virtwork.magics.base import session


def _shell() -> InteractiveShell:
    """A shell of its own (not IPython's global one), with no history file."""
    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell(config=config)


@pytest.fixture
def shells() -> tuple[InteractiveShell, InteractiveShell]:
    return _shell(), _shell()


def test_two_shells_have_two_sessions(shells: tuple[InteractiveShell, InteractiveShell]) -> None:
    one, two = shells
    first, second = register(one), register(two)
    assert first is not second
    assert session(one) is first and session(two) is second
    for shell, shared in ((one, first), (two, second)):
        families = [shell.magics_manager.registry[family.__name__] for family in ALL]
        assert [magics.session for magics in families] == [shared] * len(ALL)


def test_a_setting_changes_only_its_own_shell(
        shells: tuple[InteractiveShell, InteractiveShell]) -> None:
    one, two = shells
    register(one)
    register(two)
    one.run_line_magic("config", 'DockerMagics.connection = "docker+tcp://127.0.0.1:2375"')
    assert session(one).driver("docker").uri == "docker+tcp://127.0.0.1:2375"
    assert session(two).connections() == []  # nothing opened, nothing chosen there
    assert "docker+tcp" not in session(two).driver("docker").uri
    for shell in (one, two):
        unload_ipython_extension(shell)
    assert session(one).connections() == [] == session(two).connections()


def test_a_shell_without_the_magics_says_how_to_load_them(
        shells: tuple[InteractiveShell, InteractiveShell]) -> None:
    with pytest.raises(InvalidInput) as caught:
        session(shells[0])
    assert "%load_ext jupyter_virtwork" in caught.value.one_line()
