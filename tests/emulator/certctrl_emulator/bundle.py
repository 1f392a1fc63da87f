"""The device bundle zip (DESIGN.md "Device bundle zip") and its injectable faults."""

from __future__ import annotations

import datetime
import io
import json
import os
import secrets
import stat
import string
import tempfile
import zipfile
from typing import IO, Optional

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from . import pki
from .issuers import Issuer
from .store import Row

OVERSIZE_BYTES = 60 * 1024 * 1024
NOT_ZIP = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>\n"
Entries = list[tuple[str, bytes]]
Parts = tuple[str, list[str], str]
Built = tuple[Optional[bytes], Optional[IO[bytes]], int, str]


def password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _i in range(40))


def _entries(cert: Row, key_pem: str, chain_pems: list[str], leaf_pem: str, pw: str, file_key_pem: str | None = None) -> Entries:
    key = pki.load_key(key_pem)
    leaf = pki.load_cert(leaf_pem)
    chain = [pki.load_cert(p) for p in chain_pems]
    pfx = pkcs12.serialize_key_and_certificates(
        (cert["domain_name"] or "Certificate").encode(),
        key,
        leaf,
        chain or None,
        serialization.BestAvailableEncryption(pw.encode()),
    )
    entries = [("private.key", (file_key_pem or key_pem).encode()), ("certificate.pem", leaf_pem.encode())]
    if chain_pems:
        entries.append(("chain.pem", "".join(chain_pems).encode()))
    entries += [
        ("fullchain.pem", (leaf_pem + "".join(chain_pems)).encode()),
        ("certificate.der", leaf.public_bytes(serialization.Encoding.DER)),
        ("bundle.pfx", pfx),
        (
            "meta.json",
            json.dumps({"cert_id": cert["id"], "serial_number": cert["serial_number"], "domain_name": cert["domain_name"]}).encode(),
        ),
    ]
    return entries


def _resign(cert: Row, key_pem: str, issuer_key_pem: str, issuer_cert_pem: str, not_before: datetime.datetime, not_after: datetime.datetime) -> str:
    """A leaf for the same key and names with other validity dates (expired / not-yet-valid faults)."""
    leaf = pki.sign_leaf(
        pki.load_key(issuer_key_pem),
        pki.load_cert(issuer_cert_pem),
        pki.load_key(key_pem),
        cert["domain_name"],
        json.loads(cert["sans"]),
        not_before=not_before,
        not_after=not_after,
    )
    return pki.cert_pem(leaf)


def _spoiled_parts(cert: Row, issuer: Issuer, fault: str | None) -> Parts:
    """(leaf PEM, chain PEMs, private.key PEM) of the bundle, with a certificate fault applied."""
    blocks = pki.split_pem(cert["cert"])
    leaf_pem, chain_pems, file_key_pem = blocks[0], blocks[1:], cert["key_pem"]
    now = pki.utcnow()
    day = datetime.timedelta(days=1)
    if fault == "key_mismatch":
        file_key_pem = pki.key_pem(pki.new_key(cert["key_algorithm"]))
    elif fault == "expired":
        leaf_pem = _resign(cert, cert["key_pem"], issuer[0], issuer[1], now - 91 * day, now - day)
    elif fault == "not_yet_valid":
        leaf_pem = _resign(cert, cert["key_pem"], issuer[0], issuer[1], now + day, now + 91 * day)
    elif fault == "wrong_chain":
        _k, other = pki.make_ca("Unrelated Emulator CA")
        chain_pems = [pki.cert_pem(other)]
    return leaf_pem, chain_pems, file_key_pem


def _zip(entries: Entries, fault: str | None) -> bytes:
    """The zip of the entries, with a zip fault applied (symlink, traversal, truncated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            if fault == "symlink" and name == "fullchain.pem":
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, "/etc/passwd")
                continue
            zf.writestr(_info(name), data)
        if fault == "traversal":
            zf.writestr(_info("../../../../tmp/certctrl-evil.pem"), b"owned\n")
    body = buf.getvalue()
    return body[: len(body) // 2] if fault == "truncated" else body


def build(cert: Row, issuer: Issuer, fault: str | None = None, workdir: str | None = None, serial: str | None = None) -> Built:
    """Return (body bytes or None, stream file or None, length, password).

    ``issuer`` is (key_pem, cert_pem) of the CA that signed the leaf (used by the validity faults); ``serial``
    the ``serial_number`` for meta.json as the certificate record shows it (default: the stored one)."""
    if serial is not None:
        cert = dict(cert, serial_number=serial)
    pw = password()
    if fault == "not_zip":
        return NOT_ZIP, None, len(NOT_ZIP), pw
    leaf_pem, chain_pems, file_key_pem = _spoiled_parts(cert, issuer, fault)
    entries = _entries(cert, cert["key_pem"], chain_pems, leaf_pem, pw, file_key_pem)
    if fault == "missing_entry":
        entries = [e for e in entries if e[0] != "private.key"]
    if fault == "oversize":
        return _oversize(entries, pw, workdir)
    body = _zip(entries, fault)
    return body, None, len(body), pw


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=pki.utcnow().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _oversize(entries: Entries, pw: str, workdir: str | None) -> Built:
    """A valid bundle plus a 60 MB stored entry of zeros, written to a temp file and streamed."""
    fh = tempfile.TemporaryFile(dir=workdir)  # noqa: SIM115 - closed after streaming
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(_info(name), data)
        info = zipfile.ZipInfo("padding.bin")
        info.compress_type = zipfile.ZIP_STORED
        with zf.open(info, "w", force_zip64=True) as out:
            chunk = b"\0" * (1024 * 1024)
            for _i in range(OVERSIZE_BYTES // len(chunk)):
                out.write(chunk)
    length = fh.tell()
    fh.seek(0, os.SEEK_SET)
    return None, fh, length, pw
