# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Desired state of one API object: only the options the user set are compared, a check run
# predicts the object a real run would return, and diffs never carry secrets or PEM.

import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import UNCERTAIN_STATUSES
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError, InvalidResponseError, TransportError

Normalizer = t.Callable[[t.Any], t.Any]

# Record fields that carry key material: never returned, never diffed. A certificate record's ``der`` is the legacy
# plaintext private key DER in production (production-shape row 2), whatever the contract's examples suggest.
SECRET_FIELDS = frozenset(
    {"api_key", "der", "key_pem", "private_key", "private_key_pem", "private_key_der_b64", "privkey", "enc_privkey", "privkey_nonce", "privkey_tag", "jwk"}
)
# Heavy PEM fields of a certificate record: returned only on request, never diffed.
HEAVY_FIELDS = frozenset({"cert", "csr"})
REDACTED = "<redacted: private key material>"
# Parts of field names that say "key material" in records that may carry fields the contract does not list
# (production's enc_privkey_b64, privkey_nonce_b64 ...).
_KEY_LIKE = ("priv", "key_pem")


# -- normalizers ------------------------------------------------------------------------------


def as_name_set(value: t.Any) -> frozenset:
    """A list of DNS names compared as a set, case-insensitively (order and case carry no meaning)."""
    return frozenset(str(item).strip().lower() for item in (value or ()))


def casefold(value: t.Any) -> str:
    """Text compared case-insensitively; None and "" are the same (unset)."""
    return "" if value is None else str(value).strip().casefold()


def text(value: t.Any) -> str:
    """Text where None and "" are the same (the API answers "" for unset subject fields)."""
    return "" if value is None else str(value)


def zero_is_none(value: t.Any) -> t.Any:
    """Ids where the API answers 0 for "none"."""
    return None if value in (None, 0, "0", "") else value


# -- desired state and comparison -------------------------------------------------------------


def user_set(params: t.Mapping[str, t.Any], fields: t.Union[t.Mapping[str, str], t.Iterable[str]]) -> t.Dict[str, t.Any]:
    """The options the user set (not None), keyed by record field.

    ``fields`` is a list of names that are the same in options and records, or a mapping
    ``{record_field: option_name}`` where they differ (``{"key_dist_policy": "policy"}``).
    """
    mapping = fields if isinstance(fields, t.Mapping) else {name: name for name in fields}
    return {field: params[option] for field, option in mapping.items() if params.get(option) is not None}


def differences(
    current: t.Mapping[str, t.Any], desired: t.Mapping[str, t.Any], normalizers: t.Optional[t.Mapping[str, Normalizer]] = None
) -> t.Dict[str, t.Dict[str, t.Any]]:
    """``{field: {"before", "after"}}`` for every desired field whose normalized value differs from the record.

    A field the record does not carry at all is not compared: the server does not echo it (production leaves out
    ``key_algorithm``, ``leaf_*``, ``cert_valid_seconds`` ...), so its absence says nothing about its value.
    """
    normalizers = normalizers or {}
    changed: t.Dict[str, t.Dict[str, t.Any]] = {}
    for field, want in desired.items():
        if field not in current:
            continue
        have = current.get(field)
        norm = normalizers.get(field, _identity)
        if norm(have) != norm(want):
            changed[field] = {"before": have, "after": want}
    return changed


def not_echoed(current: t.Mapping[str, t.Any], desired: t.Mapping[str, t.Any]) -> t.List[str]:
    """The desired fields the record does not carry: ``differences`` cannot compare them."""
    return sorted(field for field in desired if field not in current)


def check_ids(params: t.Mapping[str, t.Any], *names: str) -> None:
    """Every id option that is set must be a positive integer (0 is not "unset": it names no object)."""
    for name in names:
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise CertCtrlError(f"{name} must be a positive integer (the id of an existing object), got {value!r}", option=name)


def predict(
    current: t.Optional[t.Mapping[str, t.Any]], desired: t.Mapping[str, t.Any], template: t.Optional[t.Mapping[str, t.Any]] = None
) -> t.Dict[str, t.Any]:
    """The object a real run would return: the record (or the template of a new one) with the desired fields applied."""
    base = dict(current) if current is not None else dict(template or {})
    base.update(desired)
    return base


def describe_differences(changed: t.Mapping[str, t.Mapping[str, t.Any]], labels: t.Optional[t.Mapping[str, str]] = None) -> str:
    """``"policy: 'HYBRID' -> 'MASTER_ONLY'; sans: [...] -> [...]"`` (field names as the user wrote them)."""
    labels = labels or {}
    return "; ".join(f"{labels.get(field, field)}: {change['before']!r} -> {change['after']!r}" for field, change in sorted(changed.items()))


# -- what leaves the module ---------------------------------------------------------------------


def public(
    record: t.Optional[t.Mapping[str, t.Any]], *, keep_heavy: t.Union[bool, t.AbstractSet[str]] = False, drop_key_like: bool = False
) -> t.Dict[str, t.Any]:
    """A record fit for results: no key material, no heavy PEM fields unless ``keep_heavy`` (True: all of them,
    a set: those). ``drop_key_like`` also drops every field whose name looks like key material, listed or not."""
    if not record:
        return {}
    kept = keep_heavy if isinstance(keep_heavy, (set, frozenset)) else (HEAVY_FIELDS if keep_heavy else frozenset())
    drop = SECRET_FIELDS | (HEAVY_FIELDS - kept)
    return {key: _scrub(value) for key, value in record.items() if key not in drop and not (drop_key_like and _key_like(key))}


def make_diff(before: t.Optional[t.Mapping[str, t.Any]], after: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """A key-level ``{"before", "after"}`` for ``--diff``: never key material, never PEM."""
    return {"before": public(before), "after": public(after)}


def _scrub(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return REDACTED if "PRIVATE KEY" in value else value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _key_like(name: str) -> bool:
    return any(part in name.lower() for part in _KEY_LIKE)


def _identity(value: t.Any) -> t.Any:
    return value


# -- create without duplicates ------------------------------------------------------------------


def create_or_adopt(
    *,
    create: t.Callable[[], t.Any],
    reread: t.Callable[[], t.Any],
    attempts: int,
    warn: t.Callable[[str], None],
    what: str,
    backoff: t.Callable[[int], float] = lambda n: min(30.0, 0.5 * 2**n),
    sleep: t.Callable[[float], None] = time.sleep,
) -> t.Tuple[t.Any, bool]:
    """Send a non-idempotent create; after a failure that may hide a success, re-read before sending again.

    Returns ``(result, adopted)``: ``adopted`` is True when the object appeared although the create
    failed in transit (the re-read result is returned then). At most ``attempts`` creates are sent.
    """
    attempt = 0
    while True:
        try:
            return create(), False
        except (TransportError, InvalidResponseError, APIError) as exc:
            if isinstance(exc, APIError) and exc.status not in UNCERTAIN_STATUSES:
                raise
            error: CertCtrlError = exc
        found = reread()
        if found:
            warn(f"creating {what} failed ({error.msg}); the re-read shows the server created it, so it was adopted instead of created again")
            return found, True
        attempt += 1
        if attempt >= attempts:
            raise error
        delay = backoff(attempt - 1)
        warn(f"creating {what} failed ({error.msg}); the re-read shows it was not created; retry {attempt}/{attempts - 1} in {delay:.1f} s")
        sleep(delay)


__all__ = [
    "HEAVY_FIELDS",
    "SECRET_FIELDS",
    "as_name_set",
    "casefold",
    "check_ids",
    "create_or_adopt",
    "describe_differences",
    "differences",
    "make_diff",
    "not_echoed",
    "predict",
    "public",
    "text",
    "user_set",
    "zero_is_none",
]
