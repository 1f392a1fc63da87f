"""Shared lookups and serializers of the /apiv1/me handlers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from . import scopes as scopes_mod
from . import validate as v
from .errors import not_found
from .request import Req
from .responses import Resp, json_resp
from .store import Row

Serializer = Callable[[Row], dict[str, Any]]


def listing(req: Req, rows: Iterable[Row], serialize: Serializer) -> Resp:
    """The list answer: rows id-descending, the offset/limit window of the query, each through ``serialize``.

    Bare ``{"data": [...]}`` (contract) or with ``meta`` (production); a limit above the cap is lowered silently."""
    shape = req.app.shape
    max_limit, cap = shape.limit_bounds()
    offset, limit = v.page(req.query, max_limit, cap)
    rows = sorted(rows, key=lambda r: r["id"], reverse=True)
    window = [serialize(r) for r in rows[offset : offset + limit]]
    return json_resp(200, shape.list_body(window, len(rows), offset, limit))


def cert_lister(req: Req) -> Serializer:
    """Serializer of certificate records in lists (heavy fields only where the profile allows them)."""
    heavy = req.app.shape.wants_heavy(req.query, single=False)
    return lambda row: req.app.shape.cert(row, heavy=heavy)


def cert_single(req: Req, row: Row) -> dict[str, Any]:
    """A certificate record read on its own (``GET /certificates/:id`` and its aliases)."""
    return req.app.shape.cert(row, heavy=req.app.shape.wants_heavy(req.query, single=True))


def visible(req: Req, resource: str, rows: Iterable[Row], ident: str = "id") -> list[Row]:
    allowed = scopes_mod.readable_filter(req.scopes, resource)
    return [r for r in rows if allowed(r[ident])]


def owned(req: Req, table: str, ident: int, kind: str) -> Row:
    """The row ``ident`` of the key's user: 404 when it does not exist, the profile's error when another user owns it."""
    row = req.app.store.get(table, ident)
    if row is None:
        raise not_found(kind, ident)
    if row["user_id"] != req.user_id:
        raise req.app.shape.not_owned(kind, ident)
    return row


def device_out(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "device_public_id": row["device_public_id"],
        "name": row["name"],
        "status": row["status"],
        "platform": row["platform"],
        "model": row["model"],
        "created_at": row["created_at"],
        "last_seen_at": row["last_seen_at"] or 0,
    }


def history_out(row: Row) -> dict[str, Any]:
    return {
        k: row[k]
        for k in (
            "id",
            "cert_record_id",
            "issue_attempt_number",
            "status",
            "acme_order_id",
            "error_message",
            "started_at",
            "completed_at",
        )
    }
