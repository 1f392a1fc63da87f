"""Who is asking: API keys on /apiv1, the admin token on /_admin."""

from __future__ import annotations

import json
import secrets

from . import scopes as scopes_mod
from .errors import FORBIDDEN, ApiError, unauthorized
from .request import Req
from .store import Row, Store


def bearer(header: str | None) -> str:
    """The token of ``Bearer <token>``, or "" when the header is missing or another scheme."""
    parts = (header or "").split(None, 1)
    return parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else ""


class Auth:
    def __init__(self, store: Store, admin_token: str | None = None) -> None:
        self.store = store
        self.admin_token = admin_token or "adm_" + secrets.token_hex(16)

    def authenticate(self, req: Req) -> Row:
        """Sets the key, its scopes and its user on ``req``; returns the key."""
        header = req.headers.get("Authorization")
        if not header:
            raise unauthorized("missing API key: send 'Authorization: Bearer ak_...'")
        token = bearer(header)
        if not token:
            raise unauthorized("malformed Authorization header: expected 'Bearer <api key>'")
        key = self.store.api_key_by_token(token)
        if key is None:
            if token == self.admin_token:
                raise ApiError(403, FORBIDDEN, "the admin token is not an API key")
            raise unauthorized("unknown API key")
        if key["revoked"]:
            raise unauthorized("API key '{}' has been revoked".format(key["name"]))
        req.key = key
        req.scopes = scopes_mod.parse_scopes(json.loads(key["scopes"]))
        req.user_id = key["user_id"]
        return key

    def check_admin(self, req: Req) -> None:
        token = bearer(req.headers.get("Authorization"))
        if not token:
            raise unauthorized("admin endpoints need 'Authorization: Bearer <admin_token>'")
        if secrets.compare_digest(token, self.admin_token):
            return
        if self.store.api_key_by_token(token):
            raise ApiError(403, FORBIDDEN, "API keys are not accepted on admin endpoints")
        raise unauthorized("unknown admin token")
