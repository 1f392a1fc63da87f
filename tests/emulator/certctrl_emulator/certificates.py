"""Certificates: /apiv1/me/certificates and issuance."""

from __future__ import annotations

import json
import uuid
from typing import Any

from . import validate as v
from . import worker
from .common import cert_lister, cert_single, device_out, history_out, listing, owned, visible
from .errors import bad
from .request import Req
from .responses import Resp, ok
from .store import Row, now_s

FIELDS = (
    "domain_name",
    "sans",
    "acct_id",
    "action",
    "key_algorithm",
    "policy",
    "organization",
    "organizational_unit",
    "country",
    "state",
    "locality",
)
POLICIES = ("HYBRID", "MASTER_ONLY", "DEVICE_REQUIRED")
SUBJECT_FIELDS = ("organization", "organizational_unit", "state", "locality")


MAX_SANS = 100


def _sans(body: dict[str, Any], domain: str) -> list[str]:
    """The SAN list (default: the domain): hostnames, each once, including the domain."""
    sans = body.get("sans")
    if sans is None:
        sans = [domain]
    if not isinstance(sans, list) or not sans:
        raise bad("field 'sans': must be a non-empty list of hostnames")
    if len(sans) > MAX_SANS:
        raise bad(f"field 'sans': at most {MAX_SANS} names")
    seen = set()
    for i, name in enumerate(sans):
        v.hostname(name, f"sans[{i}]")
        if name.lower() in seen:
            raise bad(f"field 'sans[{i}]': '{name}' is listed twice")
        seen.add(name.lower())
    if domain.lower() not in seen:
        raise bad(f"field 'sans': sans must include domain_name '{domain}'")
    return sans


def _country(value: Any) -> str:
    if value is None or value == "":
        return ""
    v.string(value, "country", 2)
    if len(value) != 2 or not value.isalpha() or not value.isascii():
        raise bad(f"field 'country': '{value}' is not an ISO-3166 alpha-2 code")
    return value.upper()


def _clean(req: Req, body: dict[str, Any]) -> Row:
    v.reject_unknown(body, FIELDS)
    domain = v.hostname(v.req(body, "domain_name"), "domain_name")
    acct_id = v.integer(v.req(body, "acct_id"), "acct_id", 1)
    action = v.req(body, "action")
    if action != "create":
        raise bad(f"field 'action': must be \"create\", got {action!r}")
    sans = _sans(body, domain)
    account = req.app.store.account(acct_id, req.user_id)
    if account is None:
        raise bad(f"field 'acct_id': ACME account {acct_id} not found")
    key_alg = body.get("key_algorithm")
    if key_alg is None:
        key_alg = account["leaf_key_algorithm"] or "ECDSA"
    v.choice(key_alg, "key_algorithm", ("RSA", "ECDSA"))
    policy = v.choice(body.get("policy") if body.get("policy") is not None else "HYBRID", "policy", POLICIES)
    out = {
        "domain_name": domain,
        "acct_id": acct_id,
        "sans": json.dumps(sans),
        "key_algorithm": key_alg,
        "key_dist_policy": policy,
        "server_decrypt_export": 0 if policy == "DEVICE_REQUIRED" else req.app.shape.export_default,
        "self_signed": 1 if account["provider"] == "SELF_CA" else 0,
    }
    for f in SUBJECT_FIELDS:
        out[f] = v.string(body[f], f, 64) if body.get(f) is not None else ""
    out["country"] = _country(body.get("country"))
    return out


def list_certificates(req: Req) -> Resp:
    rows = req.app.store.certificates_of(req.user_id)
    return listing(req, visible(req, "certificates", rows), cert_lister(req))


def create_certificate(req: Req) -> Resp:
    req.need("certificates", None, "write")
    values = _clean(req, v.parse_json(req.raw))
    now = now_s()
    values.update(user_id=req.user_id, created_at=now, updated_at=now, public_id=str(uuid.uuid4()))
    ident = req.app.store.insert("certificates", values)
    return ok(req.app.shape.cert(owned(req, "certificates", ident, "certificate")), req.app.shape.create_status)


def _cert(req: Req, action: str = "read") -> Row:
    ident = int(req.params[0])
    req.need("certificates", ident, action)
    return owned(req, "certificates", ident, "certificate")


def get_certificate(req: Req) -> Resp:
    return ok(cert_single(req, _cert(req)))


def export_certificate(req: Req) -> Resp:
    """The export: always the full record (with the profile's ``der``)."""
    return ok(req.app.shape.cert(_cert(req)))


def certificate_devices(req: Req) -> Resp:
    cert = _cert(req)
    rows = req.app.store.devices_of_certificate(cert["id"], req.user_id)
    return listing(req, visible(req, "devices", rows), device_out)


def list_issues(req: Req) -> Resp:
    cert = _cert(req)
    rows = req.app.store.issues_of(cert["id"])
    return listing(req, rows, history_out)


def post_issue(req: Req) -> Resp:
    ident = int(req.params[0])
    req.need("certificates", ident, "write")
    v.parse_json(req.raw, ignore=True)  # the body is ignored (send {})
    cert = owned(req, "certificates", ident, "certificate")
    return ok(worker.start_issue(req.app, cert))
