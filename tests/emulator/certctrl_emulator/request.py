"""A request as the handlers see it: method, path, query, headers, body, the matched route's parameters,
and (once authenticated) the API key, its scopes and its user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import scopes as scopes_mod
from .store import Row

if TYPE_CHECKING:
    from email.message import Message

    from .app import App


class Req:
    __slots__ = ("app", "headers", "key", "method", "params", "path", "query", "raw", "scopes", "user_id")

    def __init__(self, app: App, method: str, path: str, query: dict[str, list[str]], headers: Message, raw: bytes) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.params: tuple[str, ...] = ()
        self.key: Row | None = None
        self.scopes: list[Any] = []
        self.user_id: int | None = None

    def need(self, resource: str, ident: int | None, action: str) -> None:
        scopes_mod.require(self.scopes, resource, ident, action)
