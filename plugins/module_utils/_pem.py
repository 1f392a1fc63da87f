# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Standard-library reading of certificates, for code that runs on managed hosts (no `cryptography` there):
# find the certificates of a PEM or DER file, fingerprint them, and read serial and validity from the DER.
# Only what the deploy role needs to decide and to report; full parsing stays in _x509.py on the controller.
# The home of the SHA-256 fingerprint: its one spelling (sha256_fingerprint) and its one normaliser.

import base64
import binascii
import datetime
import hashlib
import re
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.DOTALL)
_SEQUENCE = 0x30
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class DERError(CertCtrlError, ValueError):
    """The bytes are not the DER certificate they claim to be."""


def certificates_der(data: t.Union[bytes, str]) -> t.List[bytes]:
    """The DER of every certificate in ``data``: PEM blocks in order, or ``data`` itself when it is DER.

    Other PEM blocks (a private key in a combined file) are skipped, never decoded. Empty list when there is none.
    """
    raw = data.encode() if isinstance(data, str) else data
    if b"-----BEGIN" in raw:
        ders = []
        for match in _PEM_BLOCK.finditer(raw):
            try:
                ders.append(base64.b64decode(b"".join(match.group(1).split()), validate=True))
            except (binascii.Error, ValueError):
                raise DERError("a CERTIFICATE block is not valid base64") from None
        return ders
    if raw[:1] == bytes([_SEQUENCE]):
        return [raw]
    return []


def sha256_fingerprint(der: bytes) -> str:
    """The SHA-256 of a DER certificate as colon-separated upper-case hex: the spelling every result uses."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))  # bytes.hex(":") is Python 3.8+


def normalize_fingerprint(value: t.Optional[str], *, strict: bool = True) -> str:
    """Plain lower-case hex of a SHA-256 fingerprint given with or without colons; '' for nothing.

    ``strict`` (a fingerprint a user gave): anything but 64 hex digits once spaces and colons are gone raises
    CertCtrlError. Not strict (comparing fingerprints read from a host, a manifest or an endpoint): every character
    that is not a hex digit is dropped and nothing raises, so an odd value simply compares unequal.
    """
    if not strict:
        return re.sub(r"[^0-9a-f]", "", (value or "").lower())
    if not value:
        return ""
    text = value.strip().replace(":", "").replace(" ", "").lower()
    if not _SHA256_HEX.fullmatch(text):
        raise CertCtrlError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits, optionally colon-separated)")
    return text


def _read(der: bytes, offset: int) -> t.Tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at ``offset``."""
    if offset + 2 > len(der):
        raise DERError("truncated DER")
    tag, length = der[offset], der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(der):
            raise DERError("unsupported DER length")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    if start + length > len(der):
        raise DERError("truncated DER")
    return tag, start, start + length


def _time(tag: int, value: bytes) -> datetime.datetime:
    text = value.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ: years 50-99 are 19xx (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise DERError("unexpected time type")
    return datetime.datetime.strptime(text.rstrip("Z"), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)


def summary(der: bytes) -> t.Dict[str, t.Any]:
    """Serial (lower-case hex, as _x509.describe), validity (ISO 8601 UTC) and SHA-256 fingerprint of one DER certificate."""
    try:
        tag, start, _end = _read(der, 0)
        if tag != _SEQUENCE:
            raise DERError("not a certificate")
        tag, pos, _tbs_end = _read(der, start)  # tbsCertificate
        if tag != _SEQUENCE:
            raise DERError("not a certificate")
        tag, value_start, value_end = _read(der, pos)
        if tag == 0xA0:  # [0] EXPLICIT version
            pos = value_end
            tag, value_start, value_end = _read(der, pos)
        if tag != 0x02:
            raise DERError("no serial number")
        serial = int.from_bytes(der[value_start:value_end], "big")
        pos = value_end
        for _field in ("signature", "issuer"):
            pos = _read(der, pos)[2]
        tag, validity, _validity_end = _read(der, pos)
        before_tag, before_start, before_end = _read(der, validity)
        after_tag, after_start, after_end = _read(der, before_end)
        not_before = _time(before_tag, der[before_start:before_end])
        not_after = _time(after_tag, der[after_start:after_end])
    except DERError:
        raise
    except (IndexError, ValueError) as exc:  # UnicodeDecodeError and strptime errors are ValueErrors
        raise DERError(f"unparsable certificate: {exc}") from None
    return {
        "serial": format(serial, "x"),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "sha256_fingerprint": sha256_fingerprint(der),
    }


def leaf_summary(data: t.Union[bytes, str]) -> t.Optional[t.Dict[str, t.Any]]:
    """``summary`` of the first certificate in a PEM or DER file; None when it holds no readable certificate."""
    try:
        ders = certificates_der(data)
        return summary(ders[0]) if ders else None
    except DERError:
        return None


__all__ = ["DERError", "certificates_der", "leaf_summary", "normalize_fingerprint", "sha256_fingerprint", "summary"]
