"""API key scopes: ``resource:id[actions]`` (DESIGN.md), e.g. ``certificates:42[read,write]``.

Actions are ``read``, ``write`` and ``*``; ids are a number or ``*``. ``write`` does not imply ``read``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Callable, Union

from .errors import forbidden

RESOURCES = ("certificates", "acme_accounts", "devices")
ACTIONS = ("read", "write", "*")
Ident = Union[int, str, None]
_SCOPE_RE = re.compile(r"^([a-z_]+):(\*|\d+)\[([a-z*,\s]+)\]$")


class Scope:
    __slots__ = ("actions", "ident", "resource")

    def __init__(self, resource: str, ident: str, actions: frozenset[str]) -> None:
        self.resource = resource
        self.ident = ident
        self.actions = actions

    def allows(self, resource: str, ident: Ident, action: str) -> bool:
        if resource != self.resource:
            return False
        if self.ident != "*" and (ident is None or str(ident) != self.ident):
            return False
        return "*" in self.actions or action in self.actions


def parse_scope(text: Any) -> Scope:
    """Parse one scope string; raises ValueError on a bad one."""
    if not isinstance(text, str):
        raise ValueError("scope must be a string")
    m = _SCOPE_RE.match(text.strip())
    if not m:
        raise ValueError(f"scope {text!r} is not of the form resource:id[actions]")
    resource, ident, actions = m.group(1), m.group(2), [a.strip() for a in m.group(3).split(",") if a.strip()]
    if resource not in RESOURCES:
        raise ValueError("scope {!r}: unknown resource {!r} (accepted: {})".format(text, resource, ", ".join(RESOURCES)))
    for a in actions:
        if a not in ACTIONS:
            raise ValueError(f"scope {text!r}: unknown action {a!r} (accepted: read, write, *)")
    return Scope(resource, ident, frozenset(actions))


def parse_scopes(texts: Iterable[Any]) -> list[Scope]:
    return [parse_scope(t) for t in texts]


def has(scopes: Iterable[Scope], resource: str, ident: Ident, action: str) -> bool:
    return any(s.allows(resource, ident, action) for s in scopes)


def require(scopes: Iterable[Scope], resource: str, ident: Ident, action: str) -> None:
    """Raise 403 naming the missing scope, e.g. ``certificates:42[read]``."""
    if not has(scopes, resource, ident, action):
        raise forbidden("API key lacks scope {}:{}[{}]".format(resource, "*" if ident is None else ident, action))


def readable_filter(scopes: Iterable[Scope], resource: str) -> Callable[[Ident], bool]:
    """For list endpoints: a predicate over ids, or 403 when the key has no read scope at all on the type."""
    mine = [s for s in scopes if s.resource == resource and ("*" in s.actions or "read" in s.actions)]
    if not mine:
        raise forbidden(f"API key lacks scope {resource}:*[read]")
    if any(s.ident == "*" for s in mine):
        return lambda _ident: True
    allowed = {s.ident for s in mine}
    return lambda ident: str(ident) in allowed
