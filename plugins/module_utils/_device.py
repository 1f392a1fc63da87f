# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# A host's device key registered as a cert-ctrl device, as the agent's `cert-ctrl login --apikey` does
# (POST /apiv1/me/devices, agent-facts §1.1.1). The device tokens of the answer are never kept.

import base64
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _device_key as device_key
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import COLLECTION_VERSION, USER_AGENT, CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError, ConflictError, PermissionDeniedError

# The agent's registration fields that come from options (dev_pk and device_public_id are added apart).
TEXT_OPTIONS = ("platform", "model", "app_version", "name", "ip", "user_agent")
# Device credentials a server may put next to the record (the agent's tests accept a `tokens` object too).
TOKEN_FIELDS = frozenset({"session", "tokens", "access_token", "refresh_token", "device_secret"})
SCOPE_HINT = "registering a device needs the API key scope devices:*[write] (and devices:*[read] to read it first)"


def ensure(client: CertCtrlClient, params: t.Mapping[str, t.Any], *, check_mode: bool, diff: bool) -> t.Dict[str, t.Any]:
    """State present of the device of one public key: registered once, confirmed by the server on every run."""
    public_key = _public_key(params["public_key"])
    public_id = _public_id(params.get("device_public_id"), public_key)
    body = _registration(params, public_key, public_id)
    before = _call(lambda: api.get_device_by_public_id(client, public_id), public_id)
    # Check mode sends no registration: a known device stays as read, a new one is the record it would get.
    after = (before or _planned(body)) if check_mode else _call(lambda: api.register_device(client, body), public_id)
    device = _public(after)
    result: t.Dict[str, t.Any] = {
        "changed": before is None,
        "device": device,
        "device_id": _as_id(device.get("id")),
        "device_public_id": device.get("device_public_id") or public_id,
        "fingerprint": base64.b64encode(device_key.fingerprint(public_key)).decode("ascii"),
    }
    if diff:
        result["diff"] = state.make_diff(_public(before), device)
    return result


def _registration(params: t.Mapping[str, t.Any], public_key: bytes, public_id: str) -> t.Dict[str, t.Any]:
    """The agent's body: only the fields that are set, with the defaults an option leaves to the module."""
    defaults = {"name": "device-" + public_id[:8], "app_version": COLLECTION_VERSION, "user_agent": USER_AGENT}
    body: t.Dict[str, t.Any] = {"device_public_id": public_id}
    for name in TEXT_OPTIONS:
        value = params.get(name)
        if value is None:
            value = defaults.get(name)
        if value is not None:
            body[name] = value
    body["dev_pk"] = base64.b64encode(public_key).decode("ascii")
    return body


def _public_key(value: t.Any) -> bytes:
    try:
        return device_key.decode_public_key(value if isinstance(value, (str, bytes)) else "")
    except CertCtrlError as exc:
        raise CertCtrlError(
            f"public_key: {exc.msg}; pass the public_key that cjj365.certctrl.device_key returns for the host (standard base64 of its 32-byte X25519 key)",
            option="public_key",
        ) from None


def _public_id(value: t.Optional[str], public_key: bytes) -> str:
    """The given id, lower-cased, or the one derived from the key (stable as long as the host keeps its key)."""
    if value is None:
        return device_key.public_id_for(public_key)
    public_id = value.strip().lower()
    if not device_key.PUBLIC_ID.match(public_id):
        raise CertCtrlError(f"device_public_id must be UUID-shaped (8-4-4-4-12 hex digits), got {value!r}", option="device_public_id")
    return public_id


def _call(request: t.Callable[[], t.Any], public_id: str) -> t.Any:
    """The request's answer; a 409 or 403 error gets what to do about it after the server's words."""
    try:
        return request()
    except ConflictError as exc:
        raise _with_hint(
            exc,
            f"device_public_id {public_id} is registered already with another key (or by another user). cert-ctrl never replaces a"
            " device key: give this key its own device_public_id (the default derives one from the key), or remove the device"
            " in cert-ctrl and run again",
        ) from None
    except PermissionDeniedError as exc:
        raise _with_hint(exc, SCOPE_HINT) from None


def _with_hint(exc: APIError, hint: str) -> CertCtrlError:
    return CertCtrlError(f"{exc.msg}; {hint}", **exc.details)


def _planned(body: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The record a real run would create, as far as the request decides it (the server assigns the id)."""
    return {"id": None, **{k: body[k] for k in ("device_public_id", "name", "platform", "model") if k in body}}


def _public(record: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    return {k: v for k, v in state.public(record, drop_key_like=True).items() if k not in TOKEN_FIELDS}


def _as_id(value: t.Any) -> t.Optional[int]:
    """The agent reads ``data.device.id`` as a number or a string of digits (agent-facts §1.1.1)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["ensure"]
