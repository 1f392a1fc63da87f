# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# device_info: one device or every device (all pages), with their assigned certificates on request.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient


def read(client: CertCtrlClient, params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """``{"devices": [...]}``: a device id or public id must exist; the status filter applies to both forms."""
    state.check_ids(params, "device_id")
    status = params.get("status")
    if params.get("device_id") or params.get("device_public_id"):
        devices = [selectors.device(client, **selectors.device_args(params))]
        devices = [d for d in devices if not status or d.get("status") == status]
    else:
        devices = api.list_devices(client, status=status)
    out = [state.public(d) for d in devices]
    if params.get("include_certificates"):
        for device in out:
            device["certificates"] = [state.public(c) for c in api.device_certificates(client, device["id"])]
    return {"changed": False, "devices": out}


__all__ = ["read"]
