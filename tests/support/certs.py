# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Certificates made with cryptography for the tests: a CA and leaves it signs, as objects, PEM and DER."""

from __future__ import annotations

import datetime
import typing as t
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc
NOT_BEFORE = datetime.datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
NOT_AFTER = datetime.datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


@dataclass
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    @property
    def fingerprint(self) -> str:
        """SHA-256 as cryptography computes it, lower-case hex without colons."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    serial: int = 0x1F2E3D4C5B6A,
    not_before: datetime.datetime = NOT_BEFORE,
    not_after: datetime.datetime = NOT_AFTER,
    sans: t.Sequence[str] | None = None,
) -> Issued:
    """A certificate for ``common_name`` signed by ``issuer`` (self-signed CA when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (sans or [common_name])]), critical=False)
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def chain(common_name: str = "www.example.com", **leaf: t.Any) -> tuple[Issued, Issued]:
    """(leaf, CA): a leaf for ``common_name`` and the CA that signed it."""
    ca = issue("Unit Test CA", serial=1, not_before=NOT_BEFORE - datetime.timedelta(days=30), not_after=NOT_AFTER + datetime.timedelta(days=365))
    return issue(common_name, issuer=ca, **leaf), ca


__all__ = ["NOT_AFTER", "NOT_BEFORE", "Issued", "chain", "issue"]
