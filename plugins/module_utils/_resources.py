# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# One function per API operation. Modules, the lookup, the inventory and the role all call these,
# so each path of the contract is written exactly once.

import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_PAGE_SIZE, CertCtrlClient, Download
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    APIError,
    CertCtrlError,
    ExportForbiddenError,
    InvalidResponseError,
    NotFoundError,
    WrapPendingError,
    mentions,
)

ME = "/apiv1/me"
TERMINAL_ISSUE_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
BUNDLE_MAX_BYTES = 10 * 1024 * 1024  # the default limit of a bundle download (device_bundle's max_bytes)
# Production leaves cert, der and csr out of single certificate reads unless asked for them (production-shape row 1).
DETAIL = {"detail": "most"}
WRAP_PENDING_WAIT = 60.0  # seconds a bundle download waits for the server to wrap the key for the device
WRAP_PENDING_FIRST_DELAY = 1.0


def _or_none(read: t.Callable[[], t.Any]) -> t.Any:
    try:
        return read()
    except NotFoundError:
        return None


def must_exist(record: t.Optional[dict], what: str, **details: t.Any) -> dict:
    """The record a get_* function read, or the API's not-found as an error naming ``what``."""
    if record is None:
        raise CertCtrlError(f"{what} does not exist or is not visible to this API key (HTTP 404 not found; check the id)", status=404, **details)
    return record


# -- ACME accounts ----------------------------------------------------------------------------


def list_acme_accounts(client: CertCtrlClient) -> t.List[dict]:
    return client.paginate(f"{ME}/acme-accounts")


def get_acme_account(client: CertCtrlClient, account_id: int) -> t.Optional[dict]:
    return _or_none(lambda: client.get(f"{ME}/acme-accounts/{int(account_id)}"))


def find_acme_account(client: CertCtrlClient, name: str) -> t.Optional[dict]:
    return next((a for a in list_acme_accounts(client) if a.get("name") == name), None)


def create_acme_account(client: CertCtrlClient, body: dict) -> dict:
    return client.post(f"{ME}/acme-accounts", body)


def update_acme_account(client: CertCtrlClient, account_id: int, body: dict) -> dict:
    return client.put(f"{ME}/acme-accounts/{int(account_id)}", body)


def delete_acme_account(client: CertCtrlClient, account_id: int) -> None:
    client.delete(f"{ME}/acme-accounts/{int(account_id)}")


def list_account_certificates(client: CertCtrlClient, account_id: int) -> t.List[dict]:
    return client.paginate(f"{ME}/acme-accounts/{int(account_id)}/certificates")


# -- certificates -----------------------------------------------------------------------------


def list_certificates(client: CertCtrlClient) -> t.List[dict]:
    return client.paginate(f"{ME}/certificates")


def get_certificate(client: CertCtrlClient, certificate_id: int, *, detail: bool = False) -> t.Optional[dict]:
    """The record, or None when it does not exist. ``detail=True`` asks for the ``cert`` PEM (``?detail=most``):
    production sends it only then. The ``der`` field of a detailed record is key material (see _state.SECRET_FIELDS)."""
    return _or_none(lambda: client.get(f"{ME}/certificates/{int(certificate_id)}", DETAIL if detail else None))


def find_certificates(client: CertCtrlClient, *, domain_name: str, acct_id: int) -> t.List[dict]:
    """Certificates of one account for one domain (natural key), oldest (lowest id) first: every run picks the same one."""
    return sorted((c for c in list_account_certificates(client, acct_id) if c.get("domain_name") == domain_name), key=lambda c: int(c["id"]))


def create_certificate(client: CertCtrlClient, body: dict) -> dict:
    return client.post(f"{ME}/certificates", {**body, "action": "create"})


def start_issue(client: CertCtrlClient, certificate_id: int) -> dict:
    """POST .../issues. Answers ``{issue_history_id, status}`` (+ ``cert`` when issued inline)."""
    return client.post(f"{ME}/certificates/{int(certificate_id)}/issues", {})


def issue_history(client: CertCtrlClient, certificate_id: int, *, limit: int = 10) -> t.List[dict]:
    """The newest ``limit`` history rows, as the contract's polling guidance reads them."""
    return client.get(f"{ME}/certificates/{int(certificate_id)}/issues", {"offset": 0, "limit": limit}) or []


# -- devices and assignments ------------------------------------------------------------------


def list_devices(client: CertCtrlClient, *, status: t.Optional[str] = None, page_size: int = DEFAULT_PAGE_SIZE) -> t.List[dict]:
    devices = client.paginate(f"{ME}/devices", {"status": status} if status else None, page_size=page_size)
    # Filter here too: the contract does not promise server-side filtering.
    return [d for d in devices if not status or d.get("status") == status]


def get_device(client: CertCtrlClient, device_id: int) -> t.Optional[dict]:
    return _or_none(lambda: client.get(f"{ME}/devices/{int(device_id)}"))


def get_device_by_public_id(client: CertCtrlClient, device_public_id: str) -> t.Optional[dict]:
    return _or_none(lambda: client.get(f"{ME}/devices/by-public-id/{device_public_id}"))


def register_device(client: CertCtrlClient, body: t.Mapping[str, t.Any]) -> dict:
    """POST /me/devices, the agent's registration with an API key (idempotent by ``device_public_id``): the answer's
    ``device``. Its ``session`` holds the device's own access and refresh tokens: dropped here, never returned or kept."""
    answer = client.post(f"{ME}/devices", dict(body))
    device = answer.get("device") if isinstance(answer, dict) else None
    if not isinstance(device, dict):
        raise InvalidResponseError(f"POST {ME}/devices answered without the device record (data.device)", path=f"{ME}/devices")
    return device


def device_certificates(client: CertCtrlClient, device_id: int, *, page_size: int = DEFAULT_PAGE_SIZE) -> t.List[dict]:
    return client.paginate(f"{ME}/devices/{int(device_id)}/certificates", page_size=page_size)


def device_certificate(client: CertCtrlClient, device_id: int, certificate_id: int, *, detail: bool = False) -> t.Optional[dict]:
    """One assigned certificate (with its PEM when ``detail=True``): the light read that tells whether a host is current."""
    return _or_none(lambda: client.get(f"{ME}/devices/{int(device_id)}/certificates/{int(certificate_id)}", DETAIL if detail else None))


def assign(client: CertCtrlClient, *, certificate_id: int, device_id: t.Optional[int] = None, device_public_id: t.Optional[str] = None) -> t.Any:
    """POST /me/certificate-assign with ``{"certificate_id", "device_public_id"}``: production keys on the public id
    (production-shape row 8); it is looked up when only ``device_id`` is given (``device_id`` is sent only for a device
    without one). Answers 204, or 200/202 with a message (row 9): the answer's ``data``, or None."""
    if not device_public_id:
        device = must_exist(get_device(client, int(device_id or 0)), f"device {device_id}", device_id=device_id) if device_id else {}
        device_public_id = device.get("device_public_id")
    body: t.Dict[str, t.Any] = {"certificate_id": int(certificate_id)}
    if device_public_id:
        body["device_public_id"] = device_public_id
    else:
        body["device_id"] = int(device_id or 0)
    return client.post(f"{ME}/certificate-assign", body)


def unassign(client: CertCtrlClient, *, device_id: int, certificate_id: int) -> None:
    """DELETE /me/devices/:d/certificates/:c (the contract's decision). A server without that route answers 404 or 405."""
    client.delete(f"{ME}/devices/{int(device_id)}/certificates/{int(certificate_id)}")


def download_bundle(
    client: CertCtrlClient,
    *,
    device_id: int,
    certificate_id: int,
    max_bytes: int = BUNDLE_MAX_BYTES,
    wrap_wait: float = WRAP_PENDING_WAIT,
    sleep: t.Callable[[float], None] = time.sleep,
    clock: t.Callable[[], float] = time.monotonic,
) -> Download:
    """The device bundle zip; its PKCS#12 password is in the ``X-Export-Password`` header.

    A 409 ``WRAP_PENDING`` (the server has not wrapped the key for the device yet) is retried with waits that double
    from 1 s, for at most ``wrap_wait`` seconds, then raises WrapPendingError. A 403 ``EXPORT_FORBIDDEN`` raises
    ExportForbiddenError, whose message says what to change in cert-ctrl.
    """
    path = f"{ME}/devices/{int(device_id)}/certificates/{int(certificate_id)}/bundle"
    deadline = clock() + max(0.0, wrap_wait)
    delay, attempts = WRAP_PENDING_FIRST_DELAY, 0
    while True:
        attempts += 1
        try:
            return client.download(path, max_bytes=max_bytes)
        except APIError as exc:
            if exc.status == 403 and mentions(exc, "EXPORT_FORBIDDEN"):
                raise _export_forbidden(exc, device_id, certificate_id) from None
            if exc.status != 409 or not mentions(exc, "WRAP_PENDING"):
                raise
            remaining = deadline - clock()
            if remaining <= 0:
                raise WrapPendingError(
                    f"the server has not wrapped the key of certificate {certificate_id} for device {device_id} yet (HTTP 409 WRAP_PENDING"
                    f" after {attempts} attempt(s) over {wrap_wait:g} s: {exc.what}); the device must be registered with its public key"
                    " (dev_pk) and cert-ctrl wraps the key shortly after: run again later",
                    status=409,
                    api_error={"code": exc.code, "what": exc.what},
                    certificate_id=int(certificate_id),
                    device_id=int(device_id),
                ) from None
            sleep(min(delay, remaining))
            delay *= 2


def _export_forbidden(exc: APIError, device_id: int, certificate_id: int) -> ExportForbiddenError:
    return ExportForbiddenError(
        f"cert-ctrl refuses to export the private key of certificate {certificate_id} for device {device_id} (HTTP 403 EXPORT_FORBIDDEN:"
        f" {exc.what}); its key distribution policy does not allow a server-decrypted export. In cert-ctrl, enable"
        f" server_decrypt_export for certificate {certificate_id} (or change its key distribution policy), then run again",
        status=403,
        api_error={"code": exc.code, "what": exc.what},
        certificate_id=int(certificate_id),
        device_id=int(device_id),
    )


__all__ = [
    "DETAIL",
    "TERMINAL_ISSUE_STATUSES",
    "assign",
    "create_acme_account",
    "create_certificate",
    "delete_acme_account",
    "device_certificate",
    "device_certificates",
    "download_bundle",
    "find_acme_account",
    "find_certificates",
    "get_acme_account",
    "get_certificate",
    "get_device",
    "get_device_by_public_id",
    "issue_history",
    "list_account_certificates",
    "list_acme_accounts",
    "list_certificates",
    "list_devices",
    "must_exist",
    "register_device",
    "start_issue",
    "unassign",
    "update_acme_account",
]
