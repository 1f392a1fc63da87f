# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# How a task names an ACME account, a certificate or a device: the options (documented once in
# doc_fragments/_selectors.py) and the one resolver of each. The API calls themselves are in _resources.
#
# Check-mode policy, the same for every resolver: an id names an object that exists (an unknown id is an
# error, in check mode too); a natural key (an account name, a domain name in an account) that matches nothing
# may name what an earlier task of the same check run would create, so in check mode the resolver warns
# "<the error>; check mode assumes an earlier task creates it" and returns None instead of failing.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

Spec = t.Dict[str, t.Dict[str, t.Any]]
Warn = t.Optional[t.Callable[[str], None]]

# The constraints that go with the options, to spread into create_module's keyword arguments.
ACCOUNT_MUTUALLY_EXCLUSIVE = (("acct_id", "acme_account"),)
ACCOUNT_REQUIRED_ONE_OF = (("acct_id", "acme_account"),)
CERTIFICATE_MUTUALLY_EXCLUSIVE = (
    ("certificate_id", "domain_name"),
    ("certificate_id", "acct_id"),
    ("certificate_id", "acme_account"),
    *ACCOUNT_MUTUALLY_EXCLUSIVE,
)
CERTIFICATE_REQUIRED_ONE_OF = (("certificate_id", "domain_name"),)
DEVICE_MUTUALLY_EXCLUSIVE = (("device_id", "device_public_id"),)
DEVICE_REQUIRED_ONE_OF = (("device_id", "device_public_id"),)


def account_selector_spec() -> Spec:
    """``acct_id`` / ``acme_account`` (doc fragment _selectors.account)."""
    return {"acct_id": {"type": "int"}, "acme_account": {"type": "str"}}


def certificate_selector_spec() -> Spec:
    """``certificate_id`` / ``domain_name`` with the account options (doc fragments _selectors.certificate + account)."""
    return {"certificate_id": {"type": "int"}, "domain_name": {"type": "str"}, **account_selector_spec()}


def device_selector_spec() -> Spec:
    """``device_id`` / ``device_public_id`` (doc fragment _selectors.device)."""
    return {"device_id": {"type": "int"}, "device_public_id": {"type": "str"}}


def certificate_args(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The certificate selector of a module's parameters, as keyword arguments of certificate()."""
    return {name: params.get(name) for name in certificate_selector_spec()}


def device_args(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The device selector of a module's (or the deploy action's) parameters, as keyword arguments of device() and device_id()."""
    return {name: params.get(name) for name in device_selector_spec()}


def _not_found(msg: str, *, check_mode: bool, warn: Warn, **details: t.Any) -> None:
    """The check-mode policy for a natural key that matches nothing: an error, or in check mode a warning and None."""
    if not check_mode or warn is None:
        raise CertCtrlError(msg, **details)
    warn(f"{msg}; check mode assumes an earlier task creates it")


def account_id(
    client: CertCtrlClient, *, acct_id: t.Optional[int] = None, acme_account: t.Optional[str] = None, check_mode: bool = False, warn: Warn = None
) -> t.Optional[int]:
    """The account's id: ``acct_id`` as given (no request), or the id of the account named ``acme_account``.
    None only in check mode, for a name no account has yet."""
    if acct_id:
        return int(acct_id)
    account = api.find_acme_account(client, acme_account or "")
    if account is None:
        return _not_found(f"no ACME account named {acme_account!r} is visible to this API key", check_mode=check_mode, warn=warn)
    return int(account["id"])


def find_certificate(client: CertCtrlClient, *, domain_name: str, acct_id: int, detail: bool = False, warn: Warn = None) -> t.Optional[dict]:
    """The certificate of the natural key (domain name in an account), or None. Of several, the oldest (lowest id),
    as every run chooses, with a warning naming the others. ``detail=True`` reads the full record (``cert``)."""
    matches = api.find_certificates(client, domain_name=domain_name, acct_id=acct_id)
    if not matches:
        return None
    if len(matches) > 1 and warn is not None:
        ids = ", ".join(str(m["id"]) for m in matches)
        warn(
            f"{len(matches)} certificates for {domain_name!r} exist in ACME account {acct_id} (ids {ids}); using the oldest, {matches[0]['id']},"
            " as every run does"
        )
    if not detail:
        return matches[0]
    return api.get_certificate(client, matches[0]["id"], detail=True) or matches[0]


def certificate(
    client: CertCtrlClient,
    *,
    certificate_id: t.Optional[int] = None,
    domain_name: t.Optional[str] = None,
    acct_id: t.Optional[int] = None,
    acme_account: t.Optional[str] = None,
    detail: bool = False,
    check_mode: bool = False,
    warn: Warn = None,
) -> t.Optional[dict]:
    """The certificate record from its id (it must exist), or from ``domain_name`` in the account (find_certificate).
    ``detail=True`` reads the full record (``cert`` once issued). None only in check mode, for a natural key that
    matches nothing yet."""
    if certificate_id:
        record = api.get_certificate(client, certificate_id, detail=detail)
        return api.must_exist(record, f"certificate {certificate_id}", certificate_id=certificate_id)
    if not (acct_id or acme_account):
        raise CertCtrlError("domain_name needs the ACME account too: set acct_id or acme_account")
    account = account_id(client, acct_id=acct_id, acme_account=acme_account, check_mode=check_mode, warn=warn)
    if account is None:
        return None
    record = find_certificate(client, domain_name=domain_name or "", acct_id=account, detail=detail, warn=warn)
    if record is None:
        msg = f"no certificate for {domain_name!r} in ACME account {account}"
        return _not_found(msg, check_mode=check_mode, warn=warn, domain_name=domain_name, acct_id=account)
    return record


def device(client: CertCtrlClient, *, device_id: t.Optional[int] = None, device_public_id: t.Optional[str] = None) -> dict:
    """The device record from its id or its public id; one that does not exist is an error naming it."""
    if device_id is not None:
        return api.must_exist(api.get_device(client, device_id), f"device {device_id}", device_id=device_id)
    record = api.get_device_by_public_id(client, device_public_id or "")
    if record is None:
        raise CertCtrlError(
            f"device {device_public_id!r} does not exist or is not visible to this API key"
            f" (HTTP 404 not found: no device with public id {device_public_id!r}; check the id)",
            status=404,
            device_public_id=device_public_id,
        )
    return record


def device_id(client: CertCtrlClient, *, device_id: t.Optional[int] = None, device_public_id: t.Optional[str] = None) -> int:
    """The device's id: as given (no request), or read from its public id (device)."""
    if device_id is not None:
        return int(device_id)
    return int(device(client, device_public_id=device_public_id)["id"])


__all__ = [
    "ACCOUNT_MUTUALLY_EXCLUSIVE",
    "ACCOUNT_REQUIRED_ONE_OF",
    "CERTIFICATE_MUTUALLY_EXCLUSIVE",
    "CERTIFICATE_REQUIRED_ONE_OF",
    "DEVICE_MUTUALLY_EXCLUSIVE",
    "DEVICE_REQUIRED_ONE_OF",
    "account_id",
    "account_selector_spec",
    "certificate",
    "certificate_args",
    "certificate_selector_spec",
    "device",
    "device_args",
    "device_id",
    "device_selector_spec",
    "find_certificate",
]
