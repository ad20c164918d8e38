"""Name rules, checked before anything reaches an engine.

Names travel into Dockerfiles tags, Kubernetes objects, libvirt XML and vSphere inventory
paths, and into the equivalent CLI commands we print. Each rule is the strictest form the
engines share, so a name that passes works everywhere and never needs shell quoting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import error_messages as say
from .errors import InvalidInput
from .messages import Message


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    max_length: int
    explains: Message  # what a name may be made of, for the hint


# Kubernetes object names: RFC 1123 subdomain (lowercase; the API rejects uppercase).
K8S = NameRule(re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"), 253, say.RULE_K8S)
# Docker container names, as dockerd's own regular expression allows them.
CONTAINER = NameRule(re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"), 128, say.RULE_PLAIN)
# Image references: lowercase repository path, optional registry host:port and tag.
IMAGE = NameRule(
    re.compile(r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
               r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"),
    255, say.RULE_IMAGE)
# An image to use (run, push, remove, inspect): as IMAGE, or pinned by digest
# (name@sha256:<64 hex>, what a push answers), or an image id (sha256:<64 hex>).
IMAGE_REFERENCE = NameRule(
    re.compile(IMAGE.pattern.pattern.removesuffix("$") + r"(?:@sha256:[0-9a-f]{64})?$"
               r"|^sha256:[0-9a-f]{64}$"),
    255 + 72, say.RULE_IMAGE_REFERENCE)
# VM names: safe in libvirt XML, vSphere inventory paths and shell commands alike.
VM = NameRule(re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"), 80, say.RULE_PLAIN)


def check_name(name: str, rule: NameRule, what: str) -> str:
    """Return ``name`` if it follows ``rule``; otherwise raise a one-line InvalidInput."""
    if not name or len(name) > rule.max_length or not rule.pattern.match(name):
        problem = say.NAME_TOO_LONG if name and len(name) > rule.max_length \
            else say.NAME_INVALID
        raise InvalidInput(problem(what=say.kind(what), name=name, limit=rule.max_length),
                           hint=say.NAME_USE(rule=rule.explains()))
    return name
