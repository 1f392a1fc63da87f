"""Device registration with an API key, as the agent's ``cert-ctrl login --apikey`` calls it: ``POST /apiv1/me/devices``.

Body and answer from agent-facts §1.1.1 / production-shape.md "DEVICE_REQUIRED as the agent implements it": the
agent's fields plus ``dev_pk`` (standard base64 of its X25519 public key) in; ``data.device`` and
``data.session.{access_token, refresh_token, expires_in}`` out. Idempotent by ``device_public_id`` (README.md,
"Device enrollment")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from . import keywrap
from . import validate as v
from .common import device_out
from .errors import CREATE_FAILED, bad, conflict, forbidden
from .request import Req
from .responses import Resp, ok
from .store import Row, Store, now_ms

# (field, longest accepted value); push_token is optional and only validated (agent-facts §5.2)
TEXT_FIELDS = (("platform", 32), ("model", 128), ("app_version", 64), ("name", 128), ("ip", 64), ("user_agent", 128), ("push_token", 512))
FIELDS = ("device_public_id", "dev_pk", *(f for f, _n in TEXT_FIELDS))
PUBLIC_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # agent-facts §5.2: 8-4-4-4-12 hex
ACCESS_TTL = 3600  # jwt_config.access_token_ttl_seconds default (agent-facts §5.2)
JWT_SECRET = "device_jwt_secret"


def _registration(body: dict[str, Any]) -> Row:
    """The device columns of a registration body (400 naming the field on a bad one)."""
    v.reject_unknown(body, FIELDS)
    public_id = v.string(v.req(body, "device_public_id"), "device_public_id", 36, allow_empty=False).lower()
    if not PUBLIC_ID.match(public_id):
        raise bad(f"field 'device_public_id': '{public_id}' is not a UUID-shaped id (8-4-4-4-12 hex digits)")
    try:
        dev_pk = keywrap.decode_dev_pk(v.req(body, "dev_pk"))
    except ValueError as exc:
        raise bad(f"field 'dev_pk': {exc}") from None
    out = {f: v.string(body[f], f, n) if body.get(f) is not None else "" for f, n in TEXT_FIELDS}
    del out["push_token"]
    out.update(device_public_id=public_id, dev_pk=keywrap.b64(dev_pk), device_keyfp=keywrap.keyfp_b64(dev_pk))
    out["name"] = out["name"] or "device-" + public_id[:8]  # emulator: the agent always sends one
    return out


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _session(store: Store, user_id: int, device_id: int) -> dict[str, Any]:
    """Device tokens: an HS256 JWT with ``sub`` and ``device_id`` (agent-facts §1.2), one per session (``jti``), and a
    random refresh token. No emulator route takes them (there are no /apiv1/devices/self routes)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "device_id": device_id, "iat": now, "exp": now + ACCESS_TTL, "jti": secrets.token_hex(8)}
    header, payload = ({"alg": "HS256", "typ": "JWT"}, claims)
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload))
    signature = hmac.new(store.secret(JWT_SECRET, 32), signing_input.encode(), hashlib.sha256).digest()
    return {
        "access_token": signing_input + "." + _b64url(signature),
        "refresh_token": "rt_" + secrets.token_urlsafe(32),
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
    }


def _existing(req: Req, device: Row, values: Row) -> None:
    """A registration of a known ``device_public_id``: same key -> nothing to do; first key -> enrollment; else 4xx."""
    pid = values["device_public_id"]
    if device["user_id"] != req.user_id:
        raise conflict(CREATE_FAILED, f"device_public_id {pid} is registered already, by another user")
    if device["status"] != "ACTIVE":
        raise forbidden("device {} ({}) is {}: it cannot register again".format(device["id"], pid, device["status"]))
    if not device["dev_pk"]:
        req.app.store.update("devices", device["id"], {"dev_pk": values["dev_pk"], "device_keyfp": values["device_keyfp"]})
        keywrap.enroll(req.app.store, device)
    elif device["dev_pk"] != values["dev_pk"]:
        raise conflict(
            CREATE_FAILED,
            "device {} ({}) is registered with another dev_pk (fingerprint {}); a device key is not replaced: register "
            "the new key under a new device_public_id".format(device["id"], pid, device["device_keyfp"]),
        )


def register_device(req: Req) -> Resp:
    req.need("devices", None, "write")  # creating needs the * id, as for certificates (README.md, Scopes)
    values = _registration(v.parse_json(req.raw))
    st = req.app.store
    with st.lock:
        device = st.device_by_public_id(values["device_public_id"])
        if device is None:
            now = now_ms()
            ident = st.insert("devices", {**values, "user_id": req.user_id, "status": "ACTIVE", "created_at": now, "last_seen_at": now})
            status = req.app.shape.create_status
        else:
            _existing(req, device, values)
            ident, status = device["id"], 200
        device = st.get("devices", ident)
    return ok({"device": device_out(device), "session": _session(st, req.user_id, ident)}, status)
