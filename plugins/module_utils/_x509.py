# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# What we know about a certificate is read from its PEM, never from convenience fields of the API.

import datetime
import math
import re
import typing as t

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError as exc:  # pragma: no cover - reported by callers with missing_required_lib
    x509 = None
    CRYPTOGRAPHY_IMPORT_ERROR: t.Optional[Exception] = exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

from ansible_collections.cjj365.certctrl.plugins.module_utils import _pem
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

_PEM_END = b"-----END CERTIFICATE-----"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_SERIAL_SEPARATORS = re.compile(r"[\s:.-]")
_HEX = re.compile(r"[0-9a-f]+")
# What datetime.isoformat() writes: YYYY-MM-DD[Thh:mm[:ss[.ffffff]]][+hh:mm[:ss]]
_ISOFORMAT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:.(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{3}|\d{6}))?)?(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?)?")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def fromisoformat(text: str) -> datetime.datetime:
    """``datetime.fromisoformat`` (Python 3.7+); on Python 3.6 the ``isoformat()`` forms, with or without an offset."""
    if hasattr(datetime.datetime, "fromisoformat"):
        return datetime.datetime.fromisoformat(text)
    found = _ISOFORMAT.fullmatch(text)
    if not found:
        raise ValueError(f"Invalid isoformat string: {text!r}")
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes, off_seconds = found.groups()
    tz = None
    if sign:
        offset = datetime.timedelta(hours=int(off_hours), minutes=int(off_minutes), seconds=int(off_seconds or 0))
        tz = datetime.timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0"))
    return datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=tz)


def not_valid_before(cert: "x509.Certificate") -> datetime.datetime:
    """The start of validity, timezone-aware (``not_valid_before_utc`` of cryptography 42+; older releases, the last ones
    for Python 3.6, have the naive UTC ``not_valid_before`` only)."""
    if hasattr(cert, "not_valid_before_utc"):
        return cert.not_valid_before_utc
    return cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def not_valid_after(cert: "x509.Certificate") -> datetime.datetime:
    """The end of validity, timezone-aware (see ``not_valid_before``)."""
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_after_utc
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def from_api_timestamp(value: t.Any) -> t.Optional[datetime.datetime]:
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


def normalize_serial(value: t.Any) -> t.Optional[str]:
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


def load_pem_chain(pem: t.Union[str, bytes]) -> "t.List[x509.Certificate]":
    """Every certificate of a PEM text, leaf first. Raises CertCtrlError on anything unparsable."""
    if x509 is None:
        raise CertCtrlError("the Python library 'cryptography' is required", exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    data = pem.encode() if isinstance(pem, str) else pem
    if _PEM_END not in data:
        raise CertCtrlError("no PEM certificate found")
    try:
        if hasattr(x509, "load_pem_x509_certificates"):
            return x509.load_pem_x509_certificates(data)
        # cryptography < 39 (the python3-cryptography of Debian 12, on a host that unwraps a DEVICE_REQUIRED key)
        return [x509.load_pem_x509_certificate(block) for block in _PEM_BLOCK.findall(data)]
    except ValueError as exc:
        raise CertCtrlError(f"unparsable PEM certificate: {exc}") from None


def sha256_fingerprint(cert: "x509.Certificate") -> str:
    """_pem.sha256_fingerprint of the certificate's DER."""
    return _pem.sha256_fingerprint(cert.public_bytes(serialization.Encoding.DER))


def dns_names(cert: "x509.Certificate") -> t.List[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def describe(cert: "x509.Certificate", *, now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    """The facts the modules return and diff: serial, validity, SANs, issuer, fingerprint."""
    now = now or utcnow()
    not_after = not_valid_after(cert)
    return {
        "serial": format(cert.serial_number, "x"),
        "not_before": not_valid_before(cert).isoformat(),
        "not_after": not_after.isoformat(),
        "days_remaining": int((not_after - now).total_seconds() // 86400),
        "sans": dns_names(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sha256_fingerprint": sha256_fingerprint(cert),
    }


def describe_pem(pem: t.Optional[t.Union[str, bytes]], *, now: t.Optional[datetime.datetime] = None) -> t.Optional[t.Dict[str, t.Any]]:
    """``describe`` of the leaf of a record's ``cert`` PEM; None when not issued yet."""
    if not pem:
        return None
    return describe(load_pem_chain(pem)[0], now=now)


__all__ = [
    "describe",
    "describe_pem",
    "dns_names",
    "from_api_timestamp",
    "fromisoformat",
    "load_pem_chain",
    "normalize_serial",
    "not_valid_after",
    "not_valid_before",
    "same_serial",
    "sha256_fingerprint",
    "utcnow",
]
