"""What the journal never holds: the values of a container's environment and of a
Kubernetes Secret. We cannot tell which ``-e NAME=value`` is a password, so none is kept.

Each value is replaced by a reference to an environment variable, which a replay reads:
docker's own ``-e NAME`` (docker takes the value from its caller's environment), and a
Secret's ``stringData: {KEY: ${NAME_KEY}}``, which ``%%k8s apply`` fills from the kernel's
environment (``filled``) and replay.sh through envsubst (``for_envsubst``).
"""

from __future__ import annotations

import base64
import copy
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import InvalidInput

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_FLAGS = ("-e", "--env")
SECRET_FIELDS = ("data", "stringData")
# The suffix of the variable replay.sh fills a Secret's data from: base64 is YAML-safe,
# whatever the value holds (quotes, new lines).
ENCODED = "_B64"


@dataclass(frozen=True)
class Reference:
    """An environment variable a replay reads a withheld value from; ``what`` says where
    the value goes, for the export's header."""

    variable: str
    what: str
    secret: str | None = None  # a Secret's name (replay.sh encodes it), else a container's env
    key: str = ""  # the Secret's key


@dataclass(frozen=True)
class Withheld:
    """A text with its values replaced by references, and those references."""

    text: str
    references: tuple[Reference, ...] = ()


def secret_variable(secret: str, key: str) -> str:
    """The variable a Secret's key is read from: ``db-creds``'s ``password`` is
    ``DB_CREDS_PASSWORD``."""
    return re.sub(r"[^A-Z0-9]+", "_", f"{secret}_{key}".upper()).strip("_")


# --- a magic's line ---------------------------------------------------------------------


def env_words(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """``words`` with each ``-e NAME=value`` (``--env``, ``--env=``, ``-eNAME=``) as
    ``-e NAME``, and the names. A ``-e`` word of the container's own command after the
    image is withheld too: without the parser the two look alike."""
    kept: list[str] = []
    names: list[str] = []
    after_flag = False
    for word in words:
        if after_flag:
            word = word.partition("=")[0]
            names.append(word)
            after_flag = False
        elif word in ENV_FLAGS:
            after_flag = True
        else:
            for flag in ("--env=", "-e"):
                if word.startswith(flag) and len(word) > len(flag):
                    word = flag + word[len(flag):].partition("=")[0]
                    names.append(word[len(flag):])
                    break
        kept.append(word)
    return kept, names


def magic_line(magic: str) -> Withheld:
    """A ``%docker`` line as the journal keeps it: its environment's values withheld."""
    if not magic.startswith("%docker "):
        return Withheld(magic)
    try:
        words = shlex.split(magic)
    except ValueError:  # not a line the magic parsed: keep nothing of it
        return Withheld("%docker (the line could not be read again; withheld)")
    kept, names = env_words(words)
    if kept == words:
        return Withheld(magic)
    return Withheld(shlex.join(kept), tuple(
        Reference(n, f"the environment of docker run (-e {n})") for n in names))


# --- Kubernetes manifests ---------------------------------------------------------------


def manifests(text: str) -> Withheld:
    """YAML documents with each Secret's values as ``stringData: {KEY: ${NAME_KEY}}``; the
    text unchanged when it holds no Secret value. A value already written as ``${VAR}`` is
    a reference, kept."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return Withheld("# (YAML that could not be read again; withheld)\n")
    references: list[Reference] = []
    for document in documents:
        references += _secret_references(document)
    if not any(_is_secret(d) and any(d.get(f) for f in SECRET_FIELDS) for d in documents):
        return Withheld(text)
    return Withheld(yaml.safe_dump_all(documents, sort_keys=False), tuple(references))


def without_values(manifest: Mapping[str, Any],
                   references: Sequence[Reference] = ()) -> dict[str, Any]:
    """One object (as the server answered an apply) with a Secret's values as references:
    those of ``references`` (the cell's own), else each key's own variable."""
    copied = copy.deepcopy(dict(manifest))
    _secret_references(copied, references)
    return copied


def _is_secret(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == "Secret"


def _secret_references(document: Any,
                       known: Sequence[Reference] = ()) -> list[Reference]:
    """Replace, in place, a Secret's ``data`` and ``stringData`` by ``stringData`` of
    references (those ``known`` for its keys, else each key's own); the references."""
    if not _is_secret(document):
        return []
    name = str((document.get("metadata") or {}).get("name") or "secret")
    values: dict[str, Any] = {**(document.pop("data", None) or {}),
                              **(document.pop("stringData", None) or {})}
    if not values:
        return []
    named = {r.key: r.variable for r in known if r.secret == name}
    variables: dict[str, str] = {}
    for key, value in values.items():
        given = REFERENCE.fullmatch(str(value))
        variables[key] = given.group(1) if given else \
            named.get(key) or secret_variable(name, key)
    document["stringData"] = {k: f"${{{v}}}" for k, v in variables.items()}
    return [Reference(v, f"Secret {name}, key {k}", secret=name, key=k)
            for k, v in variables.items()]


def filled(text: str, environ: Mapping[str, str] = os.environ) -> str:
    """``text`` with each Secret value written as ``${VAR}`` taken from ``environ`` (the
    kernel's); the text unchanged when it has none. InvalidInput for a variable not set."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:  # the driver says what is wrong with it
        return text
    changed = False
    for document in documents:
        if not _is_secret(document):
            continue
        for field in SECRET_FIELDS:
            values = document.get(field)
            for key, value in (values.items() if isinstance(values, dict) else ()):
                given = REFERENCE.fullmatch(str(value))
                if given is None:
                    continue
                found = _environment(given.group(1), environ, f"Secret key {key}")
                document[field][key] = found if field == "stringData" else \
                    base64.b64encode(found.encode()).decode()
                changed = True
    return yaml.safe_dump_all(documents, sort_keys=False) if changed else text


def _environment(variable: str, environ: Mapping[str, str], what: str) -> str:
    if variable not in environ:
        raise InvalidInput(f"{what} is ${{{variable}}}, and {variable} is not set",
                           hint=f"set {variable} in the kernel's environment "
                                f"(os.environ[{variable!r}] = ...), then run the cell again")
    return environ[variable]


def for_envsubst(text: str) -> str:
    """Manifests of ``manifests`` as replay.sh feeds them to envsubst: each reference
    ``${VAR}`` as ``data: {KEY: ${VAR_B64}}``, the base64 the script computes (YAML-safe,
    whatever the value holds)."""
    documents = list(yaml.safe_load_all(text))
    for document in documents:
        if _is_secret(document) and document.get("stringData"):
            references = document.pop("stringData")
            document["data"] = {
                k: REFERENCE.sub(lambda m: f"${{{m.group(1)}{ENCODED}}}", str(v))
                for k, v in references.items()}
    return yaml.safe_dump_all(documents, sort_keys=False)


def through_envsubst(line: str, references: Sequence[Reference]) -> str:
    """A here-document line (``kubectl apply ... -f - <<'EOF'``, then the manifests of
    ``for_envsubst``) with its document piped through envsubst first, which fills only the
    Secrets' variables: the rest of the YAML may hold a ``$`` of its own."""
    variables = " ".join(f"${{{r.variable}{ENCODED}}}" for r in references if r.secret)
    if not variables:
        return line
    first, newline, body = line.partition("\n")
    command, _, marker = first.rpartition(" <<")
    return f"envsubst {shlex.quote(variables)} <<{marker} | {command}{newline}{body}"


def replay_checks(references: Sequence[Reference]) -> list[str]:
    """replay.sh's lines that stop it, before it acts, when a variable is not set (an empty
    value is a value); then the base64 of each Secret's, for envsubst."""
    unique = list({r.variable: r for r in references}.values())
    lines = [f': "${{{r.variable}?set {r.variable}: {r.what}}}"' for r in unique]
    lines += [f"export {r.variable}{ENCODED}=\"$(printf %s \"${r.variable}\" | base64 | "
              "tr -d '\\n')\"" for r in unique if r.secret]
    return lines
