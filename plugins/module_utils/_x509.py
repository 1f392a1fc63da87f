# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# What we know about a certificate is read from its PEM, never from convenience fields of the API.

from __future__ import annotations

import datetime
import math
import re
import typing as t

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
except ImportError as exc:  # pragma: no cover - reported by callers with missing_required_lib
    x509 = None
    CRYPTOGRAPHY_IMPORT_ERROR: Exception | None = exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

_PEM_END = b"-----END CERTIFICATE-----"
_SERIAL_SEPARATORS = re.compile(r"[\s:.-]")
_HEX = re.compile(r"[0-9a-f]+")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def from_api_timestamp(value: t.Any) -> datetime.datetime | None:
    """The API sends epoch seconds or milliseconds (values above 1e12 are ms); 0 means unset."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CertCtrlError(f"the API sent {value!r} where an epoch timestamp was expected") from None
    if number == 0:  # also "0" and 0.0
        return None
    if not math.isfinite(number):
        raise CertCtrlError(f"the API sent {value!r} where an epoch timestamp was expected")
    if number > 1e12:
        number /= 1000.0
    try:
        return datetime.datetime.fromtimestamp(number, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise CertCtrlError(f"the API sent {value!r} where an epoch timestamp was expected (out of range)") from None


def normalize_serial(value: t.Any) -> str | None:
    """One spelling of a serial number: lower-case hex, no separators, no leading zeros (``describe()``'s ``serial``).

    Production sends ``04:A1:B2``, other servers ``04a1b2``; cryptography gives an int. Strings are hex (an optional
    ``0x``; colons, spaces, dots and dashes between bytes are ignored). None for an unset or unparsable value, so a
    comparison with it never reports "same".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return format(value, "x") if value >= 0 else None
    if not isinstance(value, str):
        return None
    digits = _SERIAL_SEPARATORS.sub("", value).lower()
    if digits.startswith("0x"):
        digits = digits[2:]
    if not digits or not _HEX.fullmatch(digits):
        return None
    return digits.lstrip("0") or "0"


def same_serial(a: t.Any, b: t.Any) -> bool:
    """True when both are serial numbers (any spelling ``normalize_serial`` accepts) and they are equal."""
    left, right = normalize_serial(a), normalize_serial(b)
    return left is not None and left == right


def load_pem_chain(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM text, leaf first. Raises CertCtrlError on anything unparsable."""
    if x509 is None:
        raise CertCtrlError("the Python library 'cryptography' is required", exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    data = pem.encode() if isinstance(pem, str) else pem
    if _PEM_END not in data:
        raise CertCtrlError("no PEM certificate found")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertCtrlError(f"unparsable PEM certificate: {exc}") from None


def sha256_fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def describe(cert: x509.Certificate, *, now: datetime.datetime | None = None) -> dict[str, t.Any]:
    """The facts the modules return and diff: serial, validity, SANs, issuer, fingerprint."""
    now = now or utcnow()
    not_after = cert.not_valid_after_utc
    return {
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "days_remaining": int((not_after - now).total_seconds() // 86400),
        "sans": dns_names(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sha256_fingerprint": sha256_fingerprint(cert),
    }


def describe_pem(pem: str | bytes | None, *, now: datetime.datetime | None = None) -> dict[str, t.Any] | None:
    """``describe`` of the leaf of a record's ``cert`` PEM; None when not issued yet."""
    if not pem:
        return None
    return describe(load_pem_chain(pem)[0], now=now)


__all__ = [
    "describe",
    "describe_pem",
    "dns_names",
    "from_api_timestamp",
    "load_pem_chain",
    "normalize_serial",
    "same_serial",
    "sha256_fingerprint",
    "utcnow",
]
