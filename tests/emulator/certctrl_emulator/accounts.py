"""ACME accounts: /apiv1/me/acme-accounts."""

from . import validate as v
from .app import no_content, ok
from .common import cert_lister, listing, owned, visible
from .errors import CREATE_FAILED, DELETE_FAILED, UPDATE_FAILED, bad, conflict
from .store import now_ms

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


def _clean(req, body, current=None):
    """Validate a create body (current=None) or a PUT subset merged over ``current``."""
    v.reject_unknown(body, FIELDS)
    out = {}
    if current is None:
        v.req(body, "name")
        v.req(body, "provider")
    if "name" in body:
        out["name"] = v.string(v.req(body, "name"), "name", 64, allow_empty=False).strip()
    if "email" in body and body["email"] is not None:
        email = v.string(body["email"], "email", 254)
        if email and ("@" not in email or email.startswith("@") or email.endswith("@") or " " in email):
            raise bad(f"field 'email': '{email}' is not a valid email address")
        out["email"] = email
    if "provider" in body:
        provider = v.req(body, "provider")
        if provider not in PROVIDERS:
            raise bad("field 'provider': {!r} is not accepted (accepted: {})".format(provider, ", ".join(PROVIDERS)))
        out["provider"] = provider
    if "ca_id" in body:
        out["ca_id"] = v.integer(body["ca_id"] if body["ca_id"] is not None else 0, "ca_id", 0)
    if "leaf_key_algorithm" in body:
        if body["leaf_key_algorithm"] is not None:
            v.choice(body["leaf_key_algorithm"], "leaf_key_algorithm", ("RSA", "ECDSA"))
        out["leaf_key_algorithm"] = body["leaf_key_algorithm"]
    if "leaf_rsa_bits" in body:
        if body["leaf_rsa_bits"] is not None:
            v.choice(v.integer(body["leaf_rsa_bits"], "leaf_rsa_bits"), "leaf_rsa_bits", (2048, 3072, 4096))
        out["leaf_rsa_bits"] = body["leaf_rsa_bits"]
    if "leaf_ec_curve" in body:
        if body["leaf_ec_curve"] is not None:
            v.choice(body["leaf_ec_curve"], "leaf_ec_curve", CURVES)
        out["leaf_ec_curve"] = body["leaf_ec_curve"]
    if "cert_valid_seconds" in body:
        if body["cert_valid_seconds"] is not None:
            secs = v.integer(body["cert_valid_seconds"], "cert_valid_seconds", 3600)
            if secs > 20 * 365 * 86400:
                raise bad("field 'cert_valid_seconds': must be at most 20 years")
        out["cert_valid_seconds"] = body["cert_valid_seconds"]
    merged = dict(current or {}, **out)
    provider = merged.get("provider")
    ca_id = merged.get("ca_id") or 0
    if provider == "SELF_CA":
        if not ca_id:
            raise bad("field 'ca_id': provider SELF_CA needs the id of one of your CAs")
        if not req.app.store.one("SELECT id FROM cas WHERE id = ? AND user_id = ?", (ca_id, req.user_id)):
            raise bad(f"field 'ca_id': CA {ca_id} not found among your CAs")
    elif ca_id:
        raise bad("field 'ca_id': only valid with provider SELF_CA (use 0 or omit it)")
    if provider != "SELF_CA" and not merged.get("email"):
        raise bad(f"field 'email': an email address is required for provider {provider}")
    return out


def _name_taken(req, name, exclude=None):
    row = req.app.store.one("SELECT id FROM acme_accounts WHERE user_id = ? AND name = ? AND id != ?", (req.user_id, name, exclude or 0))
    return row is not None


def list_accounts(req):
    rows = req.app.store.all("SELECT * FROM acme_accounts WHERE user_id = ?", (req.user_id,))
    return listing(req, visible(req, "acme_accounts", rows), req.app.shape.account)


def create_account(req):
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


def get_account(req):
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "read")
    return ok(req.app.shape.account(owned(req, "acme_accounts", ident, "ACME account")))


def update_account(req):
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


def delete_account(req):
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "write")
    st = req.app.store
    with st.lock:
        owned(req, "acme_accounts", ident, "ACME account")
        n = st.one("SELECT COUNT(*) AS n FROM certificates WHERE acct_id = ?", (ident,))["n"]
        if n:
            raise conflict(
                DELETE_FAILED,
                f"ACME account {ident} still has {n} certificate(s); the account cannot be deleted while " "certificates reference it",
            )
        st.run("DELETE FROM acme_accounts WHERE id = ?", (ident,))
    return no_content()


def account_certificates(req):
    ident = int(req.params[0])
    req.need("acme_accounts", ident, "read")
    owned(req, "acme_accounts", ident, "ACME account")
    rows = req.app.store.all("SELECT * FROM certificates WHERE user_id = ? AND acct_id = ?", (req.user_id, ident))
    return listing(req, visible(req, "certificates", rows), cert_lister(req))
