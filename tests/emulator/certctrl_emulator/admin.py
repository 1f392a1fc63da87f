"""Operator endpoints under /_admin (admin token only): counters, request log, faults, rate limit, issuance."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from . import scopes as scopes_mod
from . import validate as v
from . import worker
from .certificates import POLICIES
from .common import history_out
from .errors import CREATE_FAILED, bad, conflict, not_found
from .request import Req
from .responses import Resp, no_content, ok
from .store import now_ms, now_s

MAX_BULK = 100000
DEVICE_COLUMNS = ("id", "user_id", "device_public_id", "name", "status", "platform", "model", "created_at")
CERTIFICATE_COLUMNS = (
    "id",
    "user_id",
    "domain_name",
    "acct_id",
    "sans",
    "created_at",
    "updated_at",
    "public_id",
    "key_dist_policy",
    "self_signed",
    "key_algorithm",
    "server_decrypt_export",
)


def counters(req: Req) -> Resp:
    return ok(req.app.log.counters())


def requests_log(req: Req) -> Resp:
    return ok(req.app.log.requests())


def reset(req: Req) -> Resp:
    req.app.log.reset()
    return ok({"reset": True})


def add_fault(req: Req) -> Resp:
    return ok(req.app.faults.add(v.parse_json(req.raw)), 201)


def list_faults(req: Req) -> Resp:
    return ok(req.app.faults.describe())


def clear_faults(req: Req) -> Resp:
    req.app.faults.clear()
    return no_content()


def add_bundle_fault(req: Req) -> Resp:
    return ok(req.app.faults.add_bundle(v.parse_json(req.raw)), 201)


def clear_bundle_faults(req: Req) -> Resp:
    req.app.faults.clear_bundle()
    return no_content()


def rate_limit(req: Req) -> Resp:
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("limit", "window"))
    req.app.limiter.configure(body.get("limit"), body.get("window"))
    return ok({"limit": req.app.limiter.limit, "window": req.app.limiter.window})


def issuance(req: Req) -> Resp:
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("delay", "fail_domain"))
    settings = req.app.issuance
    if body.get("delay") is not None:
        delay = body["delay"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise bad("field 'delay': must be a number of seconds >= 0")
        settings.delay = float(delay)
    if "fail_domain" in body:
        settings.set_fail_domain(body["fail_domain"])
    return ok(settings.describe())


def cancel_issue(req: Req) -> Resp:
    cid, hid = int(req.params[0]), int(req.params[1])
    row = worker.cancel(req.app, cid, hid)
    if row is None:
        raise not_found(f"issue history row {hid} of certificate", cid)
    return ok(history_out(row))


def create_api_key(req: Req) -> Resp:
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("name", "scopes", "user_id", "token"))
    name = v.string(v.req(body, "name"), "name", 64, allow_empty=False)
    scopes = v.req(body, "scopes")
    if not isinstance(scopes, list):
        raise bad("field 'scopes': must be a list of resource:id[actions] strings")
    for i, s in enumerate(scopes):
        try:
            scopes_mod.parse_scope(s)
        except ValueError as exc:
            raise bad(f"field 'scopes[{i}]': {exc}") from None
    user_id = v.integer(body.get("user_id", 1), "user_id", 1)
    token = body.get("token") or "ak_" + secrets.token_hex(16)
    st = req.app.store
    with st.lock:
        if st.api_key_taken(name, token):
            raise conflict(CREATE_FAILED, f"API key named '{name}' (or that token) already exists")
        st.insert("api_keys", {"name": name, "token": token, "user_id": user_id, "scopes": json.dumps(scopes)})
    return ok({"name": name, "token": token, "scopes": scopes, "user_id": user_id}, 201)


def create_devices(req: Req) -> Resp:
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("count", "name_prefix", "status", "platform", "user_id", "model"))
    count = v.integer(body.get("count", 1), "count", 1)
    if count > MAX_BULK:
        raise bad(f"field 'count': at most {MAX_BULK}")
    prefix = v.string(body.get("name_prefix") or "dev", "name_prefix", 48)
    status = v.choice(body.get("status") or "ACTIVE", "status", ("ACTIVE", "REVOKED", "LOST"))
    platform = v.string(body.get("platform") or "Linux", "platform", 32)
    model = v.string(body.get("model") or "", "model", 64)
    user_id = v.integer(body.get("user_id", 1), "user_id", 1)
    st = req.app.store
    now = now_ms()
    with st.lock:
        start = st.next_id("devices")
        rows = [(start + i, user_id, str(uuid.uuid4()), f"{prefix}{start + i}", status, platform, model, now) for i in range(count)]
        st.insert_many("devices", DEVICE_COLUMNS, rows)
    return ok({"ids": [r[0] for r in rows]}, 201)


def create_certificates(req: Req) -> Resp:
    """Certificate records in bulk (never issued), for listing at scale: names ``<prefix><id>.<domain>``."""
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("count", "acct_id", "name_prefix", "domain", "user_id"))
    count = v.integer(body.get("count", 1), "count", 1)
    if count > MAX_BULK:
        raise bad(f"field 'count': at most {MAX_BULK}")
    acct_id = v.integer(v.req(body, "acct_id"), "acct_id", 1)
    prefix = v.string(body.get("name_prefix") or "cert", "name_prefix", 48)
    domain = v.hostname(body.get("domain") or "bulk.example.test", "domain")
    v.hostname(f"{prefix}1.{domain}", "name_prefix")
    user_id = v.integer(body.get("user_id", 1), "user_id", 1)
    st = req.app.store
    account = st.account(acct_id, user_id)
    if account is None:
        raise bad(f"field 'acct_id': ACME account {acct_id} of user {user_id} not found")
    now = now_s()
    export = req.app.shape.export_default
    self_signed = 1 if account["provider"] == "SELF_CA" else 0
    key_alg = account["leaf_key_algorithm"] or "ECDSA"
    with st.lock:
        start = st.next_id("certificates")
        rows = []
        for ident in range(start, start + count):
            name = f"{prefix}{ident}.{domain}"
            rows.append((ident, user_id, name, acct_id, json.dumps([name]), now, now, str(uuid.uuid4()), "HYBRID", self_signed, key_alg, export))
        st.insert_many("certificates", CERTIFICATE_COLUMNS, rows)
    return ok({"ids": [r[0] for r in rows]}, 201)


def info(req: Req) -> Resp:
    return ok(req.app.info())


def set_certificate(req: Req) -> Resp:
    """Set what the public API cannot: a certificate's ``policy`` (key_dist_policy) and ``server_decrypt_export``."""
    ident = int(req.params[0])
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("policy", "server_decrypt_export"))
    values: dict[str, Any] = {}
    if body.get("policy") is not None:
        values["key_dist_policy"] = v.choice(body["policy"], "policy", POLICIES)
    if body.get("server_decrypt_export") is not None:
        flag = body["server_decrypt_export"]
        if flag not in (True, False, 0, 1):
            raise bad("field 'server_decrypt_export': must be true/false or 0/1")
        values["server_decrypt_export"] = int(flag)
    st = req.app.store
    with st.lock:
        if st.get("certificates", ident) is None:
            raise not_found("certificate", ident)
        st.update("certificates", ident, values)
        row = st.get("certificates", ident)
    return ok({"id": row["id"], "policy": row["key_dist_policy"], "server_decrypt_export": row["server_decrypt_export"]})


def get_shape(req: Req) -> Resp:
    return ok(req.app.shape.describe())


def set_shape(req: Req) -> Resp:
    return ok(req.app.shape.set(v.parse_json(req.raw)))
