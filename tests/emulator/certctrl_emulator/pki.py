"""Keys, CAs and leaf certificates (cryptography). Emulator-internal CAs use ECDSA P-256 so start-up is fast."""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from typing import Optional, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]
Fields = Optional[dict[str, str]]
CURVES = {"prime256v1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_key(algorithm: str = "ECDSA", rsa_bits: int | None = None, ec_curve: str | None = None) -> PrivateKey:
    if algorithm == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=int(rsa_bits or 2048))
    return ec.generate_private_key(CURVES.get(ec_curve or "prime256v1", ec.SECP256R1)())


def key_pem(key: PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def load_key(pem: str | bytes) -> PrivateKey:
    return serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_cert(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


def split_pem(text: str | None) -> list[str]:
    """Split concatenated PEM certificates into a list of PEM strings."""
    out, cur = [], []
    for line in (text or "").splitlines():
        if line.startswith("-----BEGIN"):
            cur = [line]
        elif line.startswith("-----END"):
            cur.append(line)
            out.append("\n".join(cur) + "\n")
            cur = []
        elif cur:
            cur.append(line)
    return out


def _name(cn: str, fields: Fields = None) -> x509.Name:
    fields = fields or {}
    attrs = []
    for key, oid in (
        ("country", NameOID.COUNTRY_NAME),
        ("state", NameOID.STATE_OR_PROVINCE_NAME),
        ("locality", NameOID.LOCALITY_NAME),
        ("organization", NameOID.ORGANIZATION_NAME),
        ("organizational_unit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ):
        if fields.get(key):
            attrs.append(x509.NameAttribute(oid, fields[key]))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def make_ca(
    common_name: str,
    issuer_key: PrivateKey | None = None,
    issuer_cert: x509.Certificate | None = None,
    days: int = 3650,
    organization: str = "cert-ctrl emulator",
) -> tuple[PrivateKey, x509.Certificate]:
    """A CA certificate: self-signed root, or an intermediate when issuer_key/issuer_cert are given."""
    key = new_key("ECDSA")
    now = utcnow()
    subject = _name(common_name, {"organization": organization})
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer_cert is None else 0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer_key or key
    if issuer_cert is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    return key, cert


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    out = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


def sign_leaf(
    issuer_key: PrivateKey,
    issuer_cert: x509.Certificate,
    key: PrivateKey,
    domain: str,
    sans: Sequence[str],
    fields: Fields = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """Sign a server certificate for ``key``; returns the x509 certificate."""
    now = utcnow()
    not_before = not_before or now - datetime.timedelta(seconds=60)
    not_after = not_after or now + datetime.timedelta(days=90)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(domain, fields))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_san(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def make_csr(key: PrivateKey, domain: str, sans: Sequence[str], fields: Fields = None) -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(domain, fields)).add_extension(_san(sans), critical=False).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def issue(
    issuer_key_pem: str,
    issuer_cert_pem: str,
    chain_pems: Sequence[str],
    *,
    domain: str,
    sans: Sequence[str],
    key_algorithm: str,
    rsa_bits: int | None = None,
    ec_curve: str | None = None,
    valid_seconds: int = 7776000,
    fields: Fields = None,
) -> dict[str, str]:
    """Issue a new leaf with a NEW key. Returns dict(key_pem, cert (leaf+chain PEM), der_b64, serial, csr)."""
    import base64

    key = new_key(key_algorithm, rsa_bits, ec_curve)
    issuer_key = load_key(issuer_key_pem)
    issuer_cert = load_cert(issuer_cert_pem)
    now = utcnow()
    leaf = sign_leaf(
        issuer_key,
        issuer_cert,
        key,
        domain,
        sans,
        fields,
        not_before=now - datetime.timedelta(seconds=60),
        not_after=now + datetime.timedelta(seconds=int(valid_seconds)),
    )
    return {
        "key_pem": key_pem(key),
        "cert": cert_pem(leaf) + "".join(chain_pems),
        "der": base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode(),
        "serial": format(leaf.serial_number, "x"),
        "csr": make_csr(key, domain, sans, fields),
    }


def server_tls_files(directory: str) -> tuple[str, str, str]:
    """Create (or reuse) a local CA and a server certificate for 127.0.0.1/localhost in ``directory``.

    Returns (ca_file, cert_file, key_file)."""
    os.makedirs(directory, exist_ok=True)
    ca_file = os.path.join(directory, "ca.pem")
    cert_file = os.path.join(directory, "server.pem")
    key_file = os.path.join(directory, "server.key")
    if all(os.path.exists(p) for p in (ca_file, cert_file, key_file)):
        return ca_file, cert_file, key_file
    ca_key, ca_cert = make_ca("cert-ctrl emulator local CA")
    key = new_key("ECDSA")
    leaf = sign_leaf(
        ca_key,
        ca_cert,
        key,
        "localhost",
        ["localhost", "127.0.0.1", "::1"],
        not_after=utcnow() + datetime.timedelta(days=825),
    )
    _write(os.path.join(directory, "ca.key"), key_pem(ca_key), 0o600)
    _write(key_file, key_pem(key), 0o600)
    _write(cert_file, cert_pem(leaf) + cert_pem(ca_cert), 0o644)
    _write(ca_file, cert_pem(ca_cert), 0o644)
    return ca_file, cert_file, key_file


def _write(path: str, text: str, mode: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
