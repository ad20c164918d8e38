"""The learner's catalogue: every sentence in both languages with the same fields, and the
language picked from JupyterLab's setting or the locale."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from jupyter_virtwork import messages
from jupyter_virtwork.messages import Message

SAME_IN_BOTH = {"Pod"}  # a name Chinese learners read as it is


def _catalogue() -> dict[str, Message]:
    found: dict[str, Message] = {}
    for name, value in vars(messages).items():
        if isinstance(value, Message):
            found[name] = value
        elif isinstance(value, dict):
            found.update((f"{name}[{key}]", v) for key, v in value.items()
                         if isinstance(v, Message))
    return found


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


@pytest.mark.parametrize(("name", "message"), sorted(_catalogue().items()))
def test_every_sentence_is_written_in_both_languages(name: str, message: Message) -> None:
    assert message.en.strip() and message.zh.strip()
    assert _fields(message.en) == _fields(message.zh), name
    assert message.zh != message.en or message.en in SAME_IN_BOTH, name


def test_the_catalogue_is_found() -> None:
    """The test above can fail: it reads the module's sentences, and there are many."""
    catalogue = _catalogue()
    assert len(catalogue) > 50 and "PASSED" in catalogue and "STATE_NAMES[running]" in catalogue


def test_format_speaks_the_language_asked() -> None:
    message = Message("{n} replicas", "{n} 个副本")
    assert message.format("en", n=3) == "3 replicas"
    assert message.format("zh", n=3) == "3 个副本"


@pytest.mark.parametrize(("tag", "language"), [
    ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("zh_TW", "zh"), ("zh_CN:en_US", "zh"),
    ("en_US.UTF-8", "en"), ("EN", "en"), ("fr_FR", None), ("C.UTF-8", None), ("POSIX", None),
])
def test_language_of_a_locale(tag: str, language: str | None) -> None:
    assert messages.language_of(tag) == language


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No locale variables and an empty JupyterLab settings folder to start from."""
    for variable in messages.LOCALE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path))
    return monkeypatch


def test_the_locale_picks_the_language(environment: pytest.MonkeyPatch) -> None:
    assert messages.from_environment() == "en"
    environment.setenv("LANG", "zh_CN.UTF-8")
    assert messages.from_environment() == "zh"
    environment.setenv("LC_ALL", "C.UTF-8")  # names no language: the next variable does
    assert messages.from_environment() == "zh"
    environment.setenv("LC_ALL", "fr_FR.UTF-8")  # a language we lack: English, not LANG's
    assert messages.from_environment() == "en"


def test_jupyterlabs_language_comes_first(environment: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    environment.setenv("LANG", "en_US.UTF-8")
    settings = tmp_path / messages.LAB_TRANSLATION_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text('{\n  // the language of JupyterLab\n  "locale": "zh_CN"\n}\n')
    assert messages.from_environment() == "zh"
    settings.write_text('{"locale": "default"}')  # the browser's: the locale decides
    assert messages.from_environment() == "en"


def test_jupyterlabs_settings_are_found_where_jupyterlab_keeps_them(
        environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.delenv("JUPYTERLAB_SETTINGS_DIR")
    environment.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    settings = tmp_path / "lab" / "user-settings" / messages.LAB_TRANSLATION_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text('{"locale": "zh_CN"}')
    assert messages.from_environment() == "zh"
