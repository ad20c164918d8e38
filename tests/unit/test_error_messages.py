"""The errors a learner meets speak the learner's language: every sentence of the errors'
catalogue in both languages with the same fields and a unique id; the English line is what
it always was; argparse's own messages are found in the catalogue."""

from __future__ import annotations

import string

import pytest

from jupyter_virtwork import error_messages as say
from jupyter_virtwork.errors import EngineUnavailable, InvalidArguments, InvalidInput, NotFound
from jupyter_virtwork.magics.base import Parser
from jupyter_virtwork.messages import Message
from jupyter_virtwork.names import CONTAINER, K8S, check_name


def _catalogue() -> dict[str, Message]:
    return {name: value for name, value in vars(say).items() if isinstance(value, Message)}


def _fields(template: str) -> list[str]:
    return sorted(field for _, field, _, _ in string.Formatter().parse(template) if field)


@pytest.mark.parametrize(("name", "message"), sorted(_catalogue().items()))
def test_every_error_sentence_is_written_in_both_languages(name: str,
                                                           message: Message) -> None:
    assert message.en.strip() and message.zh.strip(), name
    assert _fields(message.en) == _fields(message.zh), name
    assert message.zh != message.en, name
    assert message.id, f"{name} has no id an error could carry"


def test_ids_are_unique_and_the_catalogue_is_found() -> None:
    catalogue = _catalogue()
    ids = [message.id for message in catalogue.values()]
    assert len(ids) > 60 and len(set(ids)) == len(ids)
    assert "not-found.vm" in ids and "usage.unknown" in ids


def test_english_reads_as_before_and_chinese_follows_the_language() -> None:
    error = NotFound(say.NO_VM(name="web"), connection="qemu:///system",
                     hint=say.LIST_VMS())
    assert str(error) == "no VM 'web' on qemu:///system: list them with %vm ls"
    assert error.message == "no VM 'web'" and error.hint == "list them with %vm ls"
    assert (error.message_id, error.hint_id) == ("not-found.vm", "hint.list-vms")
    assert error.params == {"name": "web"}
    assert say.line(error, "en") == str(error)
    assert say.line(error, "zh") == \
        "没有名为 'web' 的虚拟机（qemu:///system）。用 %vm ls 列出现有的虚拟机"


def test_an_error_without_catalogue_sentences_stays_english() -> None:
    error = EngineUnavailable("the engine's event stream ended", connection="docker://")
    assert error.message_id is None
    assert say.line(error, "zh") == str(error)


def test_the_line_ipython_shows_is_the_one_the_magics_chose() -> None:
    error = NotFound(say.NO_VM(name="web"))
    assert error._render_traceback_() == ["NotFound: no VM 'web'"]
    error.shown = say.line(error, "zh")
    assert error._render_traceback_() == ["NotFound: 没有名为 'web' 的虚拟机"]


def test_a_bad_name_says_which_rule_in_both_languages() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_name("My_Web", K8S, "Deployment")
    assert str(caught.value) == ("Deployment name 'My_Web' is not a valid name: use lowercase "
                                 "letters, digits, '-' and '.', starting and ending with a "
                                 "letter or digit")
    assert say.line(caught.value, "zh") == (
        "Deployment的名称 'My_Web' 不合法。"
        "请使用小写字母、数字、'-' 和 '.'，并以字母或数字开头和结尾")
    with pytest.raises(InvalidInput) as caught:
        check_name("x" * 200, CONTAINER, "container")
    assert caught.value.message == "container name '" + "x" * 200 + \
        "' is longer than 128 characters"
    assert say.line(caught.value, "zh").startswith("容器的名称 'xxx")


def _parser() -> Parser:
    parser = Parser("%docker")
    verbs = parser.add_subparsers(dest="verb", parser_class=Parser)
    run = verbs.add_parser("run", prog="%docker run")
    run.add_argument("image")
    run.add_argument("--cpus", type=int)
    run.add_argument("--restart", choices=["no", "always"])
    return parser


@pytest.mark.parametrize(("line", "message_id", "english", "chinese"), [
    ("run busybox --nope", "usage.line",
     "%docker: unrecognized arguments: --nope (see %docker?)",
     "%docker：不认识的参数：--nope（用法见 %docker?）"),
    ("run", "usage.line",
     "%docker run: the following arguments are required: image (see %docker?)",
     "%docker run：缺少必填的参数：image（用法见 %docker?）"),
    ("run busybox --cpus two", "usage.argument",
     "%docker: argument --cpus: invalid int value: 'two'",
     "%docker：参数 --cpus 的值 'two' 不是合法的 int"),
    ("run busybox --restart sometimes", "usage.argument",
     "%docker: argument --restart: invalid choice: 'sometimes' (choose from 'no', 'always')",
     "%docker：参数 --restart 不能取 'sometimes'，可选的有：'no', 'always'"),
    ("run busybox --cpus", "usage.argument",
     "%docker: argument --cpus: expected one argument",
     "%docker：参数 --cpus 后面要跟一个值"),
])
def test_argparse_messages_are_in_the_catalogue(line: str, message_id: str, english: str,
                                                chinese: str) -> None:
    """argparse's English words are matched, not guessed: a Python whose argparse words
    them differently fails here."""
    with pytest.raises(InvalidArguments) as caught:
        _parser().parse_line(line)
    assert caught.value.message_id == message_id
    assert str(caught.value) == english
    assert say.line(caught.value, "zh") == chinese
