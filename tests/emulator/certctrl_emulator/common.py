"""Shared lookups and serializers of the /apiv1/me handlers."""

import json

from . import scopes as scopes_mod
from . import validate as v
from .errors import not_found


def paginate(req, rows):
    """Rows sorted id-descending, then the offset/limit window of the query."""
    offset, limit = v.page(req.query)
    rows = sorted(rows, key=lambda r: r["id"], reverse=True)
    return rows[offset : offset + limit]


def visible(req, resource, rows, ident="id"):
    allowed = scopes_mod.readable_filter(req.scopes, resource)
    return [r for r in rows if allowed(r[ident])]


def owned(req, table, ident, kind):
    row = req.app.store.one(f"SELECT * FROM {table} WHERE id = ? AND user_id = ?", (ident, req.user_id))
    if row is None:
        raise not_found(kind, ident)
    return row


def account_out(row):
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "name": row["name"],
        "email": row["email"],
        "provider": row["provider"],
        "ca_id": row["ca_id"] or 0,
        "kid": row["kid"],
        "leaf_key_algorithm": row["leaf_key_algorithm"],
        "leaf_rsa_bits": row["leaf_rsa_bits"],
        "leaf_ec_curve": row["leaf_ec_curve"],
        "cert_valid_seconds": row["cert_valid_seconds"] or 7776000,
        "created_at": row["created_at"],
    }


HEAVY = ("cert", "der", "csr")


def cert_out(row, heavy=True):
    sans = json.loads(row["sans"])
    out = {
        "id": row["id"],
        "user_id": row["user_id"],
        "domain_name": row["domain_name"],
        "acct_id": row["acct_id"],
        "sans": sans,
        "cert": row["cert"],
        "der": row["der"],
        "csr": row["csr"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "dhparam": "",
        "orders": {"identifiers": [{"type": "dns", "value": s} for s in sans]},
        "self_signed": bool(row["self_signed"]),
        "organization": row["organization"],
        "organizational_unit": row["organizational_unit"],
        "country": row["country"],
        "state": row["state"],
        "locality": row["locality"],
        "serial_number": row["serial_number"],
        "public_id": row["public_id"],
        "verified": bool(row["verified"]),
        "key_dist_policy": row["key_dist_policy"],
        "server_decrypt_export": bool(row["server_decrypt_export"]),
        "key_algorithm": row["key_algorithm"],
    }
    if not heavy:
        for k in HEAVY:
            del out[k]
    return out


def device_out(row):
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


def history_out(row):
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
