# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The certificate <-> device relation: read the device's certificates, write only when needed.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _lock
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError


def ensure(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool, warn: t.Callable[[str], None]) -> t.Dict[str, t.Any]:
    """State present (assigned) or absent (not assigned) of one certificate on one device."""
    state.check_ids(params, "certificate_id", "device_id", "acct_id")
    device = selectors.device(client, **selectors.device_args(params))
    # In check mode, None: a certificate that an earlier (skipped) task would create (the selectors' check-mode policy).
    certificate = selectors.certificate(client, **selectors.certificate_args(params), check_mode=check_mode, warn=warn)
    certificate_id = int(certificate["id"]) if certificate is not None else None
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


def _is_assigned(client: CertCtrlClient, device_id: int, certificate_id: int) -> bool:
    return any(int(c["id"]) == certificate_id for c in api.device_certificates(client, device_id))


__all__ = ["ensure"]
