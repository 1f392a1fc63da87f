"""Devices, assignment and the device bundle: /apiv1/me/devices, /apiv1/me/certificate-assign."""

from __future__ import annotations

from typing import Any

from . import bundle as bundle_mod
from . import keywrap
from . import validate as v
from .common import cert_lister, cert_single, device_out, listing, owned, visible
from .errors import INVALID_ENTITY, ApiError, bad, conflict, forbidden, missing, not_found
from .request import Req
from .responses import Resp, json_resp, no_content, ok
from .shape import key_der_b64
from .store import Row

STATUSES = ("ACTIVE", "REVOKED", "LOST")
WRAP_PENDING = "wrap_pending"
BUNDLE_FORMATS = ("zip", "json")


def list_devices(req: Req) -> Resp:
    status = (req.query.get("status") or [None])[-1]
    if status is not None and status not in STATUSES:
        raise bad("query parameter 'status': '{}' is not one of {}".format(status, ", ".join(STATUSES)))
    rows = req.app.store.devices_of(req.user_id, status)
    return listing(req, visible(req, "devices", rows), device_out)


def _device(req: Req, action: str = "read") -> Row:
    ident = int(req.params[0])
    req.need("devices", ident, action)
    return owned(req, "devices", ident, "device")


def get_device(req: Req) -> Resp:
    return ok(device_out(_device(req)))


def device_by_public_id(req: Req) -> Resp:
    public_id = req.params[0]
    row = _device_of(req, req.app.store.device_by_public_id(public_id), public_id)
    req.need("devices", row["id"], "read")
    return ok(device_out(row))


def device_certificates(req: Req) -> Resp:
    device = _device(req)
    rows = req.app.store.certificates_of_device(device["id"], req.user_id)
    return listing(req, visible(req, "certificates", rows), cert_lister(req))


def _assigned_cert(req: Req) -> tuple[Row, Row]:
    device = _device(req)
    cid = int(req.params[1])
    req.need("certificates", cid, "read")
    cert = owned(req, "certificates", cid, "certificate")
    if not req.app.store.assigned(device["id"], cid):
        raise not_found(f"certificate {cid} assigned to device", device["id"])
    return device, cert


def device_certificate(req: Req) -> Resp:
    _device_row, cert = _assigned_cert(req)
    return ok(cert_single(req, cert))


def _wrap_pending(cert_id: int, device_id: int, why: str = "") -> ApiError:
    """409 with the literal WRAP_PENDING the agent's retry looks for in the body (agent-facts §1.2.5, §8 item 7)."""
    return ApiError(
        409,
        409,  # production uses the HTTP status as the code for some errors (production-shape.md row 15)
        f"WRAP_PENDING: the device key wrap of certificate {cert_id} for device {device_id} is not ready yet{why}; retry later",
    )


def _json_bundle(data: dict[str, Any]) -> Resp:
    return json_resp(200, {"data": data}, {"Cache-Control": "no-store"})


def _bundle_format(req: Req) -> str:
    """``?format=``: ``zip`` (the default, the contract's zip) or ``json`` (the plaintext JSON of MASTER_ONLY)."""
    fmt = (req.query.get("format") or ["zip"])[-1]
    if fmt not in BUNDLE_FORMATS:
        raise bad("query parameter 'format': '{}' is not one of {}".format(fmt, ", ".join(BUNDLE_FORMATS)))
    return fmt


def device_bundle(req: Req) -> Resp:
    device, cert = _assigned_cert(req)
    fmt = _bundle_format(req)
    if device["status"] != "ACTIVE":
        raise forbidden("device {} is {}; bundles are served to ACTIVE devices only".format(device["id"], device["status"]))
    if not cert["cert"] or not (cert["key_pem"] or cert["enc_privkey"]):
        raise conflict(INVALID_ENTITY, "certificate {} has never been issued".format(cert["id"]))
    if req.app.faults.match_bundle(cert["id"], only=WRAP_PENDING):
        raise _wrap_pending(cert["id"], device["id"])
    if cert["key_dist_policy"] == "DEVICE_REQUIRED":
        return _aead_bundle(req, device, cert)
    if fmt == "json":
        return _plaintext_bundle(cert)
    return _zip_bundle(req, cert)


def _aead_bundle(req: Req, device: Row, cert: Row) -> Resp:
    """DEVICE_REQUIRED: the AEAD JSON (production-shape.md row 13), whatever ``format`` asks for: no zip can exist."""
    if not cert["enc_privkey"]:
        raise forbidden(
            "certificate {} has policy DEVICE_REQUIRED: the server cannot export its private key, and holds no "
            "device-encrypted key for it (issued under another policy): issue it again".format(cert["id"])
        )
    wrap = req.app.store.wrap_of(cert["id"], device["id"])
    if keywrap.is_pending(wrap):  # the 48-zero-byte sentinel (agent-facts §1.2.5: "Device wrap pending")
        raise _wrap_pending(cert["id"], device["id"], " (Device wrap pending: the device has not enrolled a key, dev_pk)")
    return _json_bundle(keywrap.aead_bundle(cert, wrap))


def _plaintext_bundle(cert: Row) -> Resp:
    """``?format=json``: the plaintext variant, served for MASTER_ONLY with server_decrypt_export (agent-facts §1.2.5, §2.1)."""
    if cert["key_dist_policy"] != "MASTER_ONLY":
        raise bad(
            f"query parameter 'format': json is served for MASTER_ONLY and DEVICE_REQUIRED certificates; certificate "
            f"{cert['id']} has policy {cert['key_dist_policy']}: use the zip"
        )
    if not cert["server_decrypt_export"]:
        raise forbidden(f"EXPORT_FORBIDDEN: Server-decrypted export disabled by policy (certificate {cert['id']}, server_decrypt_export 0)")
    key_pem = _server_key(cert)
    return _json_bundle({"enc_scheme": "plaintext", "private_key_der_b64": key_der_b64(key_pem), "certificate_pem": cert["cert"]})


def _server_key(cert: Row) -> str:
    """The private key PEM the server may export; 409 when it holds the key only encrypted for devices."""
    if not cert["key_pem"]:
        raise conflict(
            INVALID_ENTITY,
            f"certificate {cert['id']} (policy {cert['key_dist_policy']}) holds its private key only encrypted for devices "
            "(issued under DEVICE_REQUIRED): issue it again",
        )
    return cert["key_pem"]


def _zip_bundle(req: Req, cert: Row) -> Resp:
    if req.app.shape.knob("export_forbidden") and not cert["server_decrypt_export"]:
        raise forbidden(
            "EXPORT_FORBIDDEN: certificate {} (policy {}) has server_decrypt_export disabled; the server does not export its private key".format(
                cert["id"], cert["key_dist_policy"]
            )
        )
    _server_key(cert)
    account = req.app.store.account(cert["acct_id"])
    issuer = req.app.issuers.for_account(account) if account else req.app.issuers.acme_issuer()
    fault = req.app.faults.match_bundle(cert["id"], skip=WRAP_PENDING)
    body, stream, length, pw = bundle_mod.build(cert, issuer, fault, req.app.config.workdir, req.app.shape.serial(cert))
    headers = {
        "Content-Disposition": 'attachment; filename="cert-{}.zip"'.format(cert["id"]),
        "X-Export-Password": pw,
        "Cache-Control": "no-store",
    }
    return Resp(200, body or b"", ctype="application/zip", headers=headers, stream=stream, length=length)


def _device_of(req: Req, device: Row | None, value: int | str) -> Row:
    """The device found by ``value`` (any user's): 404 when none, the profile's error when another user owns it."""
    if device is None:
        raise not_found("device", value)
    if device["user_id"] != req.user_id:
        raise req.app.shape.not_owned("device", value)
    return device


def _assign_target(req: Req) -> tuple[int, Row]:
    body = v.parse_json(req.raw)
    v.reject_unknown(body, ("certificate_id", "device_id", "device_public_id"))
    cid = v.integer(v.req(body, "certificate_id"), "certificate_id", 1)
    if req.app.shape.assign_needs_public_id:
        v.req(body, "device_public_id")
    device = None
    if body.get("device_id") is not None:
        ident = v.integer(body["device_id"], "device_id", 1)
        device = _device_of(req, req.app.store.get("devices", ident), ident)
    if body.get("device_public_id") is not None:
        pid = v.string(body["device_public_id"], "device_public_id", 64, allow_empty=False)
        by_pid = _device_of(req, req.app.store.device_by_public_id(pid), pid)
        if device is not None and device["id"] != by_pid["id"]:
            raise bad("field 'device_public_id': does not match device_id {}".format(device["id"]))
        device = by_pid
    if device is None:
        raise missing("device_id' or 'device_public_id")
    return cid, device


def assign(req: Req) -> Resp:
    cid, device = _assign_target(req)
    req.need("devices", device["id"], "write")
    req.need("certificates", cid, "read")
    owned(req, "certificates", cid, "certificate")
    with req.app.store.lock:
        exists = req.app.store.assign(device["id"], cid)
        # an encrypted key is sealed for the device at once, as production does for a key it holds under its
        # master key (agent-facts §1.4 "Assignment side effects"); a device without dev_pk gets the pending wrap
        keywrap.ensure_wrap(req.app.store, cid, device["id"])
    answer = req.app.shape.knob("assign_answer")
    message = "already assigned" if exists else "assigned"
    if answer == "204":
        return no_content()
    if answer == "202":  # top-level message/status, no data envelope (production-shape.md row 9)
        return json_resp(202, {"status": "accepted", "message": message})
    return ok(
        {
            "certificate_id": cid,
            "device_id": device["id"],
            "device_public_id": device["device_public_id"],
            "already_assigned": bool(exists),
            "message": message,
        }
    )


def unassign(req: Req) -> Resp:
    device = _device(req, "write")
    cid = int(req.params[1])
    req.need("certificates", cid, "read")
    owned(req, "certificates", cid, "certificate")
    if not req.app.store.unassign(device["id"], cid):
        raise not_found(f"certificate {cid} assigned to device", device["id"])
    return no_content()
