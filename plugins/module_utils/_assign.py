# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The certificate <-> device relation: read the device's certificates, write only when needed.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _lock
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError


def ensure(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool, warn: t.Callable[[str], None]) -> t.Dict[str, t.Any]:
    """State present (assigned) or absent (not assigned) of one certificate on one device."""
    state.check_ids(params, "certificate_id", "device_id", "acct_id")
    device = device_from(client, device_id=params.get("device_id"), device_public_id=params.get("device_public_id"))
    certificate_id = _certificate_id(client, params, check_mode=check_mode, warn=warn)
    assigned = certificate_id is not None and _is_assigned(client, device["id"], certificate_id)
    want = params["state"] == "present"
    if assigned != want and not check_mode:
        if want:
            # Serialized per (device, certificate): a parallel run that assigned it first leaves this one unchanged.
            _done, is_new = _lock.create_once(
                client,
                kind="assignment",
                key=(device["id"], certificate_id),
                find=lambda: _is_assigned(client, device["id"], certificate_id),
                create=lambda: api.assign(client, certificate_id=certificate_id, device_id=device["id"], device_public_id=device.get("device_public_id")),
                warn=warn,
                what=f"the assignment of certificate {certificate_id} to device {device['id']}",
                reread_after=False,
            )
            assigned = not is_new
        else:
            _unassign(client, int(device["id"]), certificate_id)
    assignment = {"certificate_id": certificate_id, "device_id": device["id"], "device_public_id": device.get("device_public_id")}
    result: t.Dict[str, t.Any] = {"changed": assigned != want, "assignment": assignment}
    if diff:
        result["diff"] = state.make_diff({**assignment, "assigned": assigned}, {**assignment, "assigned": want})
    return result


def _unassign(client: CertCtrlClient, device_id: int, certificate_id: int) -> None:
    """Remove the assignment; a server without the API-key unassign route (production-shape row 10) is an error saying so."""
    try:
        api.unassign(client, device_id=device_id, certificate_id=certificate_id)
    except APIError as exc:
        if exc.status not in (404, 405):
            raise
        if exc.status == 404 and not _is_assigned(client, device_id, certificate_id):
            return  # removed meanwhile (another run): the state is what the task wants
        code = f", code {exc.code}" if exc.code is not None else ""
        raise CertCtrlError(
            f"{exc.method} {exc.path} answered HTTP {exc.status}{code}: {exc.what or '(no message)'}. This server has no unassign route"
            f" for API keys (only the user-scoped DELETE /apiv1/users/<user_id>/devices/<device_id>/certificates/<certificate_id> is known);"
            f" certificate {certificate_id} is still assigned to device {device_id}: remove the assignment in cert-ctrl with a user login",
            status=exc.status,
            api_error={"code": exc.code, "what": exc.what},
            certificate_id=certificate_id,
            device_id=device_id,
        ) from None


def device_from(client: CertCtrlClient, *, device_id: t.Optional[int] = None, device_public_id: t.Optional[str] = None) -> dict:
    """The device record from its id or its public id; an unknown one is an error naming it."""
    if device_id:
        return api.must_exist(api.get_device(client, device_id), f"device {device_id}", device_id=device_id)
    return api.must_exist(api.get_device_by_public_id(client, device_public_id or ""), f"device {device_public_id!r}", device_public_id=device_public_id)


def _certificate_id(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, warn: t.Callable[[str], None]) -> t.Optional[int]:
    """The certificate's id; in check mode a certificate that an earlier (skipped) task would create is assumed."""
    if params.get("certificate_id"):
        cid = params["certificate_id"]
        api.must_exist(api.get_certificate(client, cid), f"certificate {cid}", certificate_id=cid)
        return int(cid)
    if not (params.get("acct_id") or params.get("acme_account")):
        raise CertCtrlError("domain_name needs the ACME account too: set acct_id or acme_account")
    try:
        acct_id = api.resolve_account_id(client, acct_id=params.get("acct_id"), acme_account=params.get("acme_account"))
        matches = api.find_certificates(client, domain_name=params["domain_name"], acct_id=acct_id)
        if not matches:
            raise CertCtrlError(f"no certificate for {params['domain_name']!r} in ACME account {acct_id}")
    except CertCtrlError as exc:
        if not check_mode or getattr(exc, "status", None) is not None:
            raise
        warn(f"{exc.msg}; check mode assumes an earlier task creates it")
        return None
    return int(matches[0]["id"])


def _is_assigned(client: CertCtrlClient, device_id: int, certificate_id: int) -> bool:
    return any(int(c["id"]) == certificate_id for c in api.device_certificates(client, device_id))


__all__ = ["device_from", "ensure"]
