"""ACME accounts: /apiv1/me/acme-accounts."""

from __future__ import annotations

from typing import Any, Callable

from . import validate as v
from .common import cert_lister, listing, owned, visible
from .errors import CREATE_FAILED, DELETE_FAILED, UPDATE_FAILED, bad, conflict, missing
from .request import Req
from .responses import Resp, no_content, ok
from .store import Row, now_ms

PROVIDERS = ("letsencrypt", "zerossl", "SELF_CA")
FIELDS = (
    "name",
    "email",
    "provider",
    "ca_id",
    "leaf_key_algorithm",
    "leaf_rsa_bits",
    "leaf_ec_curve",
    "cert_valid_seconds",
)
CURVES = ("prime256v1", "secp384r1", "secp521r1")


MAX_VALID_SECONDS = 20 * 365 * 86400
NULL_KEEPS = ("email",)  # a null email leaves the address as it is


def _name(value: Any) -> str:
    if value is None:
        raise missing("name")
    return v.string(value, "name", 64, allow_empty=False).strip()


def _email(value: Any) -> str:
    email = v.string(value, "email", 254)
    if email and ("@" not in email or email.startswith("@") or email.endswith("@") or " " in email):
        raise bad(f"field 'email': '{email}' is not a valid email address")
    return email


def _provider(value: Any) -> str:
    if value is None:
        raise missing("provider")
    if value not in PROVIDERS:
        raise bad("field 'provider': {!r} is not accepted (accepted: {})".format(value, ", ".join(PROVIDERS)))
    return value


def _ca_id(value: Any) -> int:
    return v.integer(value if value is not None else 0, "ca_id", 0)


def _valid_seconds(value: Any) -> int:
    secs = v.integer(value, "cert_valid_seconds", 3600)
    if secs > MAX_VALID_SECONDS:
        raise bad("field 'cert_valid_seconds': must be at most 20 years")
    return secs


def _nullable(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A cleaner that lets null through (the field is unset) and checks any other value."""

    def clean(value: Any) -> Any:
        if value is not None:
            check(value)
        return value

    return clean


CLEANERS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "email": _email,
    "provider": _provider,
    "ca_id": _ca_id,
    "leaf_key_algorithm": _nullable(lambda value: v.choice(value, "leaf_key_algorithm", ("RSA", "ECDSA"))),
    "leaf_rsa_bits": _nullable(lambda value: v.choice(v.integer(value, "leaf_rsa_bits"), "leaf_rsa_bits", (2048, 3072, 4096))),
    "leaf_ec_curve": _nullable(lambda value: v.choice(value, "leaf_ec_curve", CURVES)),
    "cert_valid_seconds": _nullable(_valid_seconds),
}


def _check_provider(req: Req, merged: Row) -> None:
    """The fields that go with the provider: a CA of the user for SELF_CA, an email address for the others."""
    provider = merged.get("provider")
    ca_id = merged.get("ca_id") or 0
    if provider == "SELF_CA":
        if not ca_id:
            raise bad("field 'ca_id': provider SELF_CA needs the id of one of your CAs")
        if not req.app.store.ca(ca_id, req.user_id):
            raise bad(f"field 'ca_id': CA {ca_id} not found among your CAs")
    elif ca_id:
        raise bad("field 'ca_id': only valid with provider SELF_CA (use 0 or omit it)")
    if provider != "SELF_CA" and not merged.get("email"):
        raise bad(f"field 'email': an email address is required for provider {provider}")


def _clean(req: Req, body: dict[str, Any], current: Row | None = None) -> Row:
    """Validate a create body (current=None) or a PUT subset merged over ``current``."""
    v.reject_unknown(body, FIELDS)
    if current is None:
        v.req(body, "name")
        v.req(body, "provider")
    out = {}
    for field, clean in CLEANERS.items():
        if field in body and not (body[field] is None and field in NULL_KEEPS):
            out[field] = clean(body[field])
    _check_provider(req, dict(current or {}, **out))
    return out


def _name_taken(req: Req, name: str, exclude: int | None = None) -> bool:
    return req.app.store.account_name_taken(req.user_id, name, exclude)


def list_accounts(req: Req) -> Resp:
    rows = req.app.store.of_user("acme_accounts", req.user_id)
    return listing(req, visible(req, "acme_accounts", rows), req.app.shape.account)


def create_account(req: Req) -> Resp:
    req.need("acme_accounts", None, "write")
    body = v.parse_json(req.raw)
    values = _clean(req, body)
    st = req.app.store
    with st.lock:
        if _name_taken(req, values["name"]):
            raise conflict(CREATE_FAILED, "ACME account named '{}' already exists".format(values["name"]))
        values.setdefault("email", "")
        values.setdefault("ca_id", 0)
        values.update(user_id=req.user_id, created_at=now_ms())
        ident = st.insert("acme_accounts", values)
    return ok(req.app.shape.account(owned(req, "acme_accounts", ident, "ACME account")), req.app.shape.create_status)


def get_account(req: Req) -> Resp:
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "read")
    return ok(req.app.shape.account(owned(req, "acme_accounts", ident, "ACME account")))


def update_account(req: Req) -> Resp:
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "write")
    body = v.parse_json(req.raw)
    st = req.app.store
    with st.lock:
        current = owned(req, "acme_accounts", ident, "ACME account")
        values = _clean(req, body, current)
        if "name" in values and _name_taken(req, values["name"], ident):
            raise conflict(UPDATE_FAILED, "ACME account named '{}' already exists".format(values["name"]))
        st.update("acme_accounts", ident, values)
    return ok(req.app.shape.account(owned(req, "acme_accounts", ident, "ACME account")))


def delete_account(req: Req) -> Resp:
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "write")
    st = req.app.store
    with st.lock:
        owned(req, "acme_accounts", ident, "ACME account")
        n = st.certificate_count(ident)
        if n:
            raise conflict(
                DELETE_FAILED,
                f"ACME account {ident} still has {n} certificate(s); the account cannot be deleted while " "certificates reference it",
            )
        st.delete("acme_accounts", ident)
    return no_content()


def account_certificates(req: Req) -> Resp:
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "read")
    owned(req, "acme_accounts", ident, "ACME account")
    rows = req.app.store.certificates_of(req.user_id, ident)
    return listing(req, visible(req, "certificates", rows), cert_lister(req))
