"""How the emulator answers: the profile (``production`` / ``contract``) and the knobs of the admin API.

Every difference between production's known answers (``reference/production-shape.md``) and the lenient
contract shape lives here; handlers ask the ``Shape`` of the app and never test the profile themselves.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization

from . import pki
from .errors import FORBIDDEN, INVALID_ARGUMENT, NOT_IMPLEMENTED, ApiError, bad, not_found
from .store import Row

PROFILES = ("production", "contract")
DEFAULT_PROFILE = "production"
ENV_VAR = "CERTCTRL_EMULATOR_PROFILE"
ASSIGN_ANSWERS = ("204", "200", "202")
CONTRACT_MAX_LIMIT = 1000

# per profile: the defaults of the knobs (the admin API's set_shape changes them at run time)
_PROFILE_DEFAULTS = {
    "production": {
        "export_forbidden": False,
        "assign_answer": "204",
        "der_marker": None,
        "list_cap": 100,
    },
    "contract": {
        "export_forbidden": False,
        "assign_answer": "200",
        "der_marker": None,
        "list_cap": None,
    },
}
# The fixed behaviours of each profile (the numbers are the rows of production-shape.md):
# detail_gated (1): cert/der/csr only with ?detail=most (else: always on single reads, never in lists);
# der_is_key (2): der = base64 of the private key's PKCS#8 DER (else: of the leaf certificate);
# lean_records (5, 6): no user_id / key_algorithm on certificates, colon hex serials, lean ACME accounts;
# list_meta (3): lists carry meta {total, offset, limit}; create_status (7); foreign_status (11): another
# user's object; method_not_allowed_code (15); me_unassign (10): DELETE /me/devices/:d/certificates/:c exists;
# assign_needs_public_id (8); export_default (12): server_decrypt_export of new records (DEVICE_REQUIRED: 0).
_PROFILE_RULES = {
    "production": {
        "detail_gated": True,
        "der_is_key": True,
        "lean_records": True,
        "list_meta": True,
        "create_status": 200,
        "foreign_status": 403,
        "method_not_allowed_code": INVALID_ARGUMENT,
        "me_unassign": False,
        "assign_needs_public_id": True,
        "export_default": 0,
    },
    "contract": {
        "detail_gated": False,
        "der_is_key": False,
        "lean_records": False,
        "list_meta": False,
        "create_status": 201,
        "foreign_status": 404,
        "method_not_allowed_code": NOT_IMPLEMENTED,
        "me_unassign": True,
        "assign_needs_public_id": False,
        "export_default": 1,
    },
}
ACCOUNT_LEAN = ("id", "user_id", "name", "email", "provider", "kid", "ca_id")
HEAVY = ("cert", "der", "csr")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError("profile must be one of {}, got {!r}".format(", ".join(PROFILES), profile))
    return profile


def colon_hex(serial_hex: str | None) -> str:
    """``4a1b2`` -> ``04:A1:B2`` (production's serial_number format)."""
    if not serial_hex:
        return ""
    text = serial_hex.upper()
    if len(text) % 2:
        text = "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def key_der_b64(key_pem: str | None) -> str:
    """base64 of the PKCS#8 DER of a private key (production's legacy ``der``)."""
    if not key_pem:
        return ""
    key = pki.load_key(key_pem)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


class Shape:
    """The profile's fixed rules plus the knobs (``export_forbidden``, ``assign_answer``, ``der_marker``, ``list_cap``)."""

    def __init__(self, profile: str = DEFAULT_PROFILE) -> None:
        self.profile = check_profile(profile)
        self.rules = dict(_PROFILE_RULES[profile])
        self.lock = threading.Lock()
        self.knobs = dict(_PROFILE_DEFAULTS[profile])

    # -- knobs (admin API) -------------------------------------------------
    def set(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - set(self.knobs))
        if unknown:
            raise bad("unknown field(s): {} (accepted: {})".format(", ".join(unknown), ", ".join(sorted(self.knobs))))
        new = {}
        if "export_forbidden" in body:
            if not isinstance(body["export_forbidden"], bool):
                raise bad("field 'export_forbidden': must be true or false")
            new["export_forbidden"] = body["export_forbidden"]
        if "assign_answer" in body:
            raw = body["assign_answer"]
            answer = str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else None
            if answer not in ASSIGN_ANSWERS:
                raise bad("field 'assign_answer': {!r} is not one of {}".format(raw, ", ".join(ASSIGN_ANSWERS)))
            new["assign_answer"] = answer
        if "der_marker" in body:
            marker = body["der_marker"]
            if marker is not None and (not isinstance(marker, str) or not marker):
                raise bad("field 'der_marker': must be a non-empty string or null")
            new["der_marker"] = marker
        if "list_cap" in body:
            cap = body["list_cap"]
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
                raise bad("field 'list_cap': must be a positive integer or null")
            new["list_cap"] = cap
        with self.lock:
            self.knobs.update(new)
        return self.describe()

    def knob(self, name: str) -> Any:
        with self.lock:
            return self.knobs[name]

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"profile": self.profile, **self.knobs}

    # -- statuses and errors ---------------------------------------------
    @property
    def create_status(self) -> int:
        return self.rules["create_status"]

    @property
    def method_not_allowed_code(self) -> int:
        return self.rules["method_not_allowed_code"]

    @property
    def me_unassign(self) -> bool:
        """Whether ``DELETE /me/devices/:d/certificates/:c`` exists (contract) or answers 405 (production)."""
        return self.rules["me_unassign"]

    @property
    def assign_needs_public_id(self) -> bool:
        return self.rules["assign_needs_public_id"]

    @property
    def export_default(self) -> int:
        """``server_decrypt_export`` of a new certificate record whose policy is not DEVICE_REQUIRED."""
        return self.rules["export_default"]

    def not_owned(self, kind: str, ident: Any) -> ApiError:
        """The error for an object that exists but belongs to another user."""
        if self.rules["foreign_status"] == 403:
            return ApiError(403, FORBIDDEN, f"{kind[:1].upper()}{kind[1:]} not owned: {kind} {ident} belongs to another user")
        return not_found(kind, ident)

    # -- pagination ------------------------------------------------------
    def limit_bounds(self) -> tuple[int | None, int | None]:
        """(max accepted limit or None, silent cap or None)."""
        cap = self.knob("list_cap")
        if cap is not None:
            return None, cap
        return CONTRACT_MAX_LIMIT, None

    def list_body(self, rows: list[dict[str, Any]], total: int, offset: int, limit: int) -> dict[str, Any]:
        if self.rules["list_meta"]:
            return {"data": rows, "meta": {"total": total, "offset": offset, "limit": limit}}
        return {"data": rows}

    # -- records ---------------------------------------------------------
    def wants_heavy(self, query: dict[str, list[str]] | None, single: bool) -> bool:
        """Whether ``cert`` / ``der`` / ``csr`` go into a record read with this query string."""
        detail = (query.get("detail") or [""])[-1] if query else ""
        if self.rules["detail_gated"]:
            return detail == "most"
        return single

    def cert(self, row: Row, heavy: bool = True) -> dict[str, Any]:
        """A certificate record; ``heavy``: with ``cert`` / ``der`` / ``csr``."""
        sans = json.loads(row["sans"])
        out = {
            "id": row["id"],
            "user_id": row["user_id"],
            "domain_name": row["domain_name"],
            "acct_id": row["acct_id"],
            "sans": sans,
            "cert": row["cert"],
            "der": self._der(row) if heavy else "",
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
            "serial_number": self.serial(row),
            "public_id": row["public_id"],
            "verified": bool(row["verified"]),
            "key_dist_policy": row["key_dist_policy"],
            "server_decrypt_export": bool(row["server_decrypt_export"]),
            "key_algorithm": row["key_algorithm"],
        }
        if self.rules["lean_records"]:
            del out["user_id"], out["key_algorithm"]
            out["server_decrypt_export"] = int(row["server_decrypt_export"])
        if not heavy:
            for k in HEAVY:
                del out[k]
        return out

    def serial(self, row: Row) -> str:
        """``serial_number`` as records carry it: ``04:A1:...`` (production) or lower-case hex (contract)."""
        return colon_hex(row["serial_number"]) if self.rules["lean_records"] else row["serial_number"]

    def _der(self, row: Row) -> str:
        if not row["cert"]:
            return ""
        marker = self.knob("der_marker")
        if marker is not None:
            return marker
        if self.rules["der_is_key"]:
            # the legacy plaintext key "will be unset when enc_scheme > 0" (dicmeta.proto); a DEVICE_REQUIRED record
            # that still holds a PEM (issued under another policy) never serves it either
            return "" if row["key_dist_policy"] == "DEVICE_REQUIRED" else key_der_b64(row["key_pem"])
        return row["der"]

    def account(self, row: Row) -> dict[str, Any]:
        out = {
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
        if self.rules["lean_records"]:
            return {k: out[k] for k in ACCOUNT_LEAN}
        return out
