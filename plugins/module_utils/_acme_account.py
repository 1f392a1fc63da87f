# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# ACME accounts: the desired state of the acme_account module and the reads of acme_account_info.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _lock
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

# Options that are record fields of the same name (besides the natural key ``name``).
FIELDS = ("email", "provider", "ca_id", "leaf_key_algorithm", "leaf_rsa_bits", "leaf_ec_curve", "cert_valid_seconds")
NORMALIZERS: t.Dict[str, state.Normalizer] = {"ca_id": state.zero_is_none}
# The fields every server returns (production's lean record, production-shape row 6; the contract adds leaf_*,
# cert_valid_seconds, created_at): what a check run predicts for a new account, with the fields the task sends.
TEMPLATE = {**dict.fromkeys(("id", "user_id", "name", "provider", "kid")), "email": "", "ca_id": 0}


def ensure(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool, warn: t.Callable[[str], None]) -> t.Dict[str, t.Any]:
    """State present or absent of one account identified by ``id`` or ``name``."""
    state.check_ids(params, "id")
    current = _find(client, params)
    if params["state"] == "absent":
        return _absent(client, current, check_mode=check_mode, diff=diff)
    desired = state.user_set(params, FIELDS)
    if params.get("id") and params.get("name"):
        desired["name"] = params["name"]  # identified by id: the name is a setting (rename)
    if current is None:
        _check_creatable(params, desired)
        body = {"name": params["name"], **desired}
        if check_mode:
            return _result(True, None, state.predict(None, body, TEMPLATE), diff)
        current, is_new = _create(client, body, warn)
        if is_new:
            return _result(True, None, current, diff)
        # A parallel run created it while this one waited for the lock: compare with it.
    return _update(client, current, desired, check_mode=check_mode, diff=diff, warn=warn)


def _check_creatable(params: t.Mapping[str, t.Any], desired: t.Mapping[str, t.Any]) -> None:
    """An account that does not exist is created only by name, and only with a provider."""
    if params.get("id"):
        raise CertCtrlError(
            f"ACME account {params['id']} does not exist or is not visible to this API key (HTTP 404 not found; check the id,"
            " or omit it to create an account by name)",
            status=404,
        )
    if not desired.get("provider"):
        raise CertCtrlError(f"ACME account {params['name']!r} does not exist; provider is required to create it")


def _update(
    client: CertCtrlClient, current: dict, desired: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool, warn: t.Callable[[str], None]
) -> t.Dict[str, t.Any]:
    """Bring an existing account to ``desired``: a PUT of the changed fields, or nothing."""
    changed = state.differences(current, desired, NORMALIZERS)
    unseen = state.not_echoed(current, desired)
    if unseen:
        # Production echoes only id, user_id, name, email, provider, kid, ca_id (production-shape row 6).
        warn(
            f"ACME account {current.get('id')}: the server does not return {', '.join(unseen)}, so the task cannot compare"
            f" {'it' if len(unseen) == 1 else 'them'} and sends {'it' if len(unseen) == 1 else 'them'} only when it creates the account"
        )
    if not changed:
        return _result(False, current, current, diff)
    # Only the changed fields are sent, so only they change the record (a field the server does not return stays out).
    after = state.predict(current, {field: change["after"] for field, change in changed.items()})
    if not check_mode:
        # The documented PUT body is {name, email, provider}; changed fields ride along.
        body = {key: after.get(key) for key in ("name", "email", "provider")}
        body.update({key: after[key] for key in changed})
        # A PUT that answers 204 (or a body without the record) leaves the prediction as the best knowledge.
        answer = api.update_acme_account(client, current["id"], body)
        after = answer if isinstance(answer, dict) and answer.get("id") is not None else after
    return _result(True, current, after, diff)


def _create(client: CertCtrlClient, body: dict, warn: t.Callable[[str], None]) -> t.Tuple[dict, bool]:
    """``(account, created)``: serialized per name, a 409 (created elsewhere first) adopts the existing account."""
    return _lock.create_once(
        client,
        kind="acme_account",
        key=(body["name"],),
        find=lambda: api.find_acme_account(client, body["name"]),
        create=lambda: api.create_acme_account(client, body),
        warn=warn,
        what=f"ACME account {body['name']!r}",
        reread_after=False,  # names are unique on the server
    )


def _find(client: CertCtrlClient, params: t.Mapping[str, t.Any]) -> t.Optional[dict]:
    if params.get("id"):
        return api.get_acme_account(client, params["id"])
    return api.find_acme_account(client, params["name"])


def _absent(client: CertCtrlClient, current: t.Optional[dict], *, check_mode: bool, diff: bool) -> t.Dict[str, t.Any]:
    if current is None:
        return _result(False, None, None, diff)
    if not check_mode:
        # A refusal (409 "still has certificates") reaches the user with the server's words.
        api.delete_acme_account(client, current["id"])
    return _result(True, current, None, diff)


def _result(changed: bool, before: t.Optional[dict], after: t.Optional[dict], diff: bool) -> t.Dict[str, t.Any]:
    result: t.Dict[str, t.Any] = {"changed": changed, "acme_account": state.public(after)}
    if diff:
        result["diff"] = state.make_diff(before, after)
    return result


def read(client: CertCtrlClient, params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """acme_account_info: one account by id (must exist) or name, or every account, optionally of one provider."""
    state.check_ids(params, "id")
    if params.get("id"):
        account = api.get_acme_account(client, params["id"])
        api.must_exist(account, f"ACME account {params['id']}")
        accounts = [account]
    elif params.get("name"):
        account = api.find_acme_account(client, params["name"])
        accounts = [account] if account else []
    else:
        accounts = api.list_acme_accounts(client)
    if params.get("provider"):
        accounts = [a for a in accounts if a.get("provider") == params["provider"]]
    return {"changed": False, "acme_accounts": [state.public(a) for a in accounts]}


__all__ = ["ensure", "read"]
