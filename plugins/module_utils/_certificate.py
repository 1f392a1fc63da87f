# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Certificate records: the desired state of the certificate module and the reads of certificate_info.
# The API creates certificate records but cannot update them, so an existing record that differs
# from the task is an error, never a second record.

import functools
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _lock, _x509
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

try:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:  # pragma: no cover - _x509.load_pem_chain reports the missing library
    ec = rsa = None

SUBJECT = ("organization", "organizational_unit", "country", "state", "locality")
# Subject field -> option name: the module's own ``state`` option is present/absent.
SUBJECT_OPTIONS = {f: ("state_or_province" if f == "state" else f) for f in SUBJECT}
# Create body field -> option name (the contract's create example plus the subject fields).
BODY = {"key_algorithm": "key_algorithm", "policy": "policy", **SUBJECT_OPTIONS}
# Record field -> option name, for the fields a task may set. None of them can be updated.
FIELDS = {"sans": "sans", "key_algorithm": "key_algorithm", "key_dist_policy": "policy", **SUBJECT_OPTIONS}
NORMALIZERS: t.Dict[str, state.Normalizer] = {"sans": state.as_name_set, "country": state.casefold, **{f: state.text for f in SUBJECT if f != "country"}}
LABELS = {field: option for field, option in FIELDS.items() if field != option}
# The documented record (cert-ctrl agent facts 5.1, heavy fields aside) without what production leaves out
# (user_id, key_algorithm; production-shape row 5): the shape a check run predicts.
TEMPLATE = dict.fromkeys(
    (
        "id",
        "domain_name",
        "acct_id",
        "sans",
        "created_at",
        "updated_at",
        "self_signed",
        *SUBJECT,
        "serial_number",
        "public_id",
        "verified",
        "key_dist_policy",
    ),
)


def ensure(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool, warn: t.Callable[[str], None]) -> t.Dict[str, t.Any]:
    """Make sure a certificate record for domain_name in the account exists, creating it at most once."""
    state.check_ids(params, "acct_id")
    domain = params["domain_name"]
    # In check mode, None: an account that an earlier (skipped) task would create (the selectors' check-mode policy).
    acct_id = selectors.account_id(client, acct_id=params.get("acct_id"), acme_account=params.get("acme_account"), check_mode=check_mode, warn=warn)
    desired = state.user_set(params, FIELDS)
    find = functools.partial(selectors.find_certificate, client, domain_name=domain, acct_id=acct_id, detail=True, warn=warn)
    current = find() if acct_id else None
    if current is not None:
        _refuse_differences(current, desired)
        return _result(False, current, current, params, diff)
    body = {"domain_name": domain, "acct_id": acct_id, "sans": params.get("sans") or [domain]}
    body.update({field: params[option] for field, option in BODY.items() if params.get(option) is not None})
    if check_mode:
        desired.pop("key_algorithm", None)  # not a documented record field
        created = state.predict(None, {**desired, "domain_name": domain, "acct_id": acct_id, "sans": body["sans"]}, TEMPLATE)
        if created.get("country"):
            created["country"] = created["country"].upper()
        return _result(True, None, created, params, diff)
    # Serialized per natural key (parallel forks): a run that waited finds the record and changes nothing.
    created, is_new = _lock.create_once(
        client,
        kind="certificate",
        key=(acct_id, domain),
        find=find,
        create=lambda: api.create_certificate(client, body),
        warn=warn,
        what=f"the certificate for {domain!r} in ACME account {acct_id}",
    )
    if not is_new:
        _refuse_differences(created, desired)
    return _result(is_new, None if is_new else created, created, params, diff)


def _refuse_differences(record: dict, desired: t.Dict[str, t.Any]) -> None:
    """Fail, listing them, when the record differs from the task in fields the API cannot update."""
    comparable = dict(record, key_algorithm=key_algorithm(record))
    if comparable["key_algorithm"] is None:
        desired = {k: v for k, v in desired.items() if k != "key_algorithm"}  # known only once issued
    changed = state.differences(comparable, desired, NORMALIZERS)
    if changed:
        raise CertCtrlError(
            f"certificate {record['id']} for {record.get('domain_name')!r} in ACME account {record.get('acct_id')} differs from the task in fields"
            f" the API cannot update: {state.describe_differences(changed, LABELS)}. Nothing was changed: make the task match the record,"
            " or use another domain_name or ACME account for a new certificate",
            differences={LABELS.get(k, k): v for k, v in changed.items()},
            certificate=state.public(record),
        )


def key_algorithm(record: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """RSA or ECDSA, read from the issued certificate's public key; None before issuance."""
    if not record.get("cert"):
        return None
    key = _x509.load_pem_chain(record["cert"])[0].public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA"
    return type(key).__name__


def present(record: dict, *, return_pem: bool) -> t.Dict[str, t.Any]:
    """``{"certificate": ..., "x509": ...}``: the record as returned, and its facts once issued."""
    out: t.Dict[str, t.Any] = {"certificate": state.public(record, keep_heavy=return_pem)}
    facts = _x509.describe_pem(record.get("cert"))
    if facts is not None:
        out["x509"] = facts
    return out


def _result(changed: bool, before: t.Optional[dict], after: dict, params: t.Mapping[str, t.Any], diff: bool) -> t.Dict[str, t.Any]:
    result = {"changed": changed, **present(after, return_pem=params["return_pem"])}
    if diff:
        result["diff"] = state.make_diff(_diffable(before), _diffable(after))
    return result


def _diffable(record: t.Optional[dict]) -> t.Optional[dict]:
    """A record for --diff: its fields plus serial, expiry, SANs and fingerprint of the issued certificate."""
    if record is None:
        return None
    facts = _x509.describe_pem(record.get("cert"))
    out = state.public(record)
    if facts is not None:
        out["x509"] = {key: facts[key] for key in ("serial", "not_after", "sans", "sha256_fingerprint")}
    return out


def read(client: CertCtrlClient, params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """certificate_info: one by id (must exist), one by domain_name + account, or a filtered list."""
    state.check_ids(params, "certificate_id", "acct_id")
    if params.get("certificate_id"):
        records = [selectors.certificate(client, certificate_id=params["certificate_id"], detail=True)]
    else:
        acct_id = selectors.account_id(client, acct_id=params.get("acct_id"), acme_account=params.get("acme_account")) if _has_account(params) else None
        records = api.list_account_certificates(client, acct_id) if acct_id else api.list_certificates(client)
        if params.get("domain_name"):
            records = [r for r in records if r.get("domain_name") == params["domain_name"]]
        # A natural-key lookup is a single-certificate lookup: read the full records (with cert, ?detail=most).
        if params.get("include_x509") or (params.get("domain_name") and acct_id):
            records = [api.get_certificate(client, r["id"], detail=True) or r for r in records]
    return {"changed": False, "certificates": [_with_facts(r, return_pem=params["return_pem"]) for r in records]}


def _has_account(params: t.Mapping[str, t.Any]) -> bool:
    return bool(params.get("acct_id") or params.get("acme_account"))


def _with_facts(record: dict, *, return_pem: bool) -> t.Dict[str, t.Any]:
    shown = present(record, return_pem=return_pem)
    out = shown["certificate"]
    if "x509" in shown:
        out["x509"] = shown["x509"]
    return out


__all__ = ["ensure", "key_algorithm", "present", "read"]
