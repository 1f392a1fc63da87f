# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure tests of module_utils/_bundle.py on zips built here: well-formed, hostile and broken ones."""

from __future__ import annotations

import datetime
import io
import stat
import struct
import typing as t
import zipfile
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import (
    OUTPUT_FILES,
    Bundle,
    check_key,
    name_covered,
    parse_bundle,
    public_bundle,
    render,
    validate,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import normalize_fingerprint
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import sha256_fingerprint

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
PEM = serialization.Encoding.PEM
NAMES = ["www.example.com", "example.com"]

# -- a small PKI ------------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: t.Any,
    issuer: str,
    issuer_key: t.Any,
    *,
    ca: bool,
    sans: list[str] | None = None,
    not_before: datetime.datetime = NOW - 10 * DAY,
    not_after: datetime.datetime = NOW + 80 * DAY,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    root_key: t.Any
    root: x509.Certificate
    int_key: t.Any
    intermediate: x509.Certificate
    key: t.Any
    leaf: x509.Certificate

    def leaf_for(self, **kwargs: t.Any) -> x509.Certificate:
        """Another leaf for the same key, signed by the same intermediate."""
        kwargs.setdefault("sans", NAMES)
        return _cert(NAMES[0], self.key, "Test Intermediate", self.int_key, ca=False, **kwargs)


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key, int_key, key = _key(), _key(), _key()
    root = _cert("Test Root", root_key, "Test Root", root_key, ca=True, not_before=NOW - 400 * DAY, not_after=NOW + 4000 * DAY)
    intermediate = _cert("Test Intermediate", int_key, "Test Root", root_key, ca=True, not_before=NOW - 300 * DAY, not_after=NOW + 1000 * DAY)
    leaf = _cert(NAMES[0], key, "Test Intermediate", int_key, ca=False, sans=NAMES)
    return Pki(root_key, root, int_key, intermediate, key, leaf)


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(PEM) for c in certs)


def _key_pem(key: t.Any) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())


def entries_for(pki: Pki, *, key: t.Any = None, leaf: x509.Certificate | None = None, chain: list | None = None, password: str = "export-pw") -> dict:
    """The entries of a bundle zip, laid out as the server's export (agent facts section 2.3)."""
    key = key or pki.key
    leaf = leaf or pki.leaf
    chain = [pki.intermediate] if chain is None else chain
    # A PKCS#12 cannot hold a key and a certificate that do not match: for those bundles it holds the good pair.
    matching = (key, leaf) if key.public_key() == leaf.public_key() else (pki.key, pki.leaf)
    pfx = pkcs12.serialize_key_and_certificates(b"www.example.com", *matching, chain or None, serialization.BestAvailableEncryption(password.encode()))
    out = {"private.key": _key_pem(key), "certificate.pem": _pem(leaf)}
    if chain:
        out["chain.pem"] = _pem(*chain)
    out.update(
        {
            "fullchain.pem": _pem(leaf, *chain),
            "certificate.der": leaf.public_bytes(serialization.Encoding.DER),
            "bundle.pfx": pfx,
            "meta.json": b'{"cert_id": 7}',
        }
    )
    return out


def make_zip(entries: dict | list, *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return buf.getvalue()


def good_zip(pki: Pki, **kwargs: t.Any) -> bytes:
    return make_zip(entries_for(pki, **kwargs))


def bundle_of(pki: Pki, **kwargs: t.Any) -> Bundle:
    return parse_bundle(good_zip(pki, **kwargs))


def patch_central(data: bytes, name: str, *, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of ``name``'s central directory record (where zipfile reads sizes and flags)."""
    encoded = name.encode()
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + name_len] == encoded:
            return data[: pos + offset] + struct.pack(fmt, value) + data[pos + offset + struct.calcsize(fmt) :]
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{name} not in the central directory")


def rejected(data: bytes, **kwargs: t.Any) -> str:
    with pytest.raises(CertCtrlError) as info:
        parse_bundle(data, **kwargs)
    assert "nothing was changed" in info.value.msg
    return info.value.msg


def invalid(bundle: Bundle, *, names: list[str] | None = None, fingerprint: str | None = None, now: datetime.datetime = NOW) -> str:
    with pytest.raises(CertCtrlError) as info:
        validate(bundle, expected_names=NAMES if names is None else names, expected_fingerprint=fingerprint, now=now)
    assert info.value.msg.startswith("bundle rejected: ")
    assert "PRIVATE KEY" not in info.value.msg
    return info.value.msg


# -- parse_bundle: well-formed ------------------------------------------------------------------


def test_parse_reads_known_entries_and_ignores_the_rest(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["docs/readme.txt"] = b"hello"
    bundle = parse_bundle(make_zip(entries))
    assert set(bundle.entries) == {"private.key", "certificate.pem", "chain.pem", "fullchain.pem", "certificate.der", "bundle.pfx"}
    assert bundle.ignored == ["docs/readme.txt", "meta.json"]
    assert bundle.entries["certificate.pem"] == _pem(pki.leaf)


def test_parse_accepts_a_bundle_without_chain_pem(pki: Pki) -> None:
    bundle = bundle_of(pki, chain=[])
    assert "chain.pem" not in bundle.entries
    assert bundle.entries["fullchain.pem"] == _pem(pki.leaf)


def test_parse_accepts_stored_entries(pki: Pki) -> None:
    bundle = parse_bundle(make_zip(entries_for(pki), compression=zipfile.ZIP_STORED))
    assert bundle.entries["private.key"].startswith(b"-----BEGIN EC PRIVATE KEY-----")


# -- parse_bundle: hostile and broken zips -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "path traversal"),
        ("certs/../../etc/passwd", "path traversal"),
        ("..", "path traversal"),
        ("/etc/x", "absolute path"),
        ("..\\x", "backslash"),
        ("certs\\private.key", "backslash"),
        ("C:/Windows/x", "drive letter"),
        ("c:x", "drive letter"),
    ],
)
def test_parse_rejects_unsafe_names(pki: Pki, name: str, why: str) -> None:
    entries = [*entries_for(pki).items(), (name, b"owned\n")]
    msg = rejected(make_zip(entries))
    assert why in msg
    assert repr(name) in msg


def test_parse_rejects_a_symlink_entry(pki: Pki) -> None:
    entries = [(n, d) for n, d in entries_for(pki).items() if n != "fullchain.pem"]
    info = zipfile.ZipInfo("fullchain.pem")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    msg = rejected(make_zip([*entries, (info, b"/etc/passwd")]))
    assert "'fullchain.pem' is a symbolic link" in msg


def test_parse_rejects_a_symlink_even_among_ignored_entries(pki: Pki) -> None:
    info = zipfile.ZipInfo("extra/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert "symbolic link" in rejected(make_zip([*entries_for(pki).items(), (info, b"/root")]))


def test_parse_rejects_a_directory_entry(pki: Pki) -> None:
    assert "is a directory" in rejected(make_zip([*entries_for(pki).items(), ("certs/", b"")]))


def test_parse_rejects_duplicate_entries(pki: Pki) -> None:
    entries = list(entries_for(pki).items())
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip([*entries, ("private.key", _key_pem(_key()))])
    assert "'private.key' appears twice" in rejected(data)


@pytest.mark.parametrize("missing", ["private.key", "certificate.pem", "fullchain.pem"])
def test_parse_rejects_a_missing_required_entry(pki: Pki, missing: str) -> None:
    entries = {n: d for n, d in entries_for(pki).items() if n != missing}
    msg = rejected(make_zip(entries))
    assert f"required entry {missing} missing" in msg


def test_parse_names_every_missing_entry() -> None:
    msg = rejected(make_zip({"meta.json": b"{}"}))
    assert "required entries private.key, certificate.pem, fullchain.pem missing (the zip holds meta.json)" in msg


def test_parse_rejects_data_that_is_not_a_zip() -> None:
    msg = rejected(b"<html><body>502 Bad Gateway</body></html>")
    assert "not a zip file" in msg
    assert "502 Bad Gateway" in msg  # the start of the body helps to tell a proxy page from a corrupt download


def test_parse_never_quotes_a_pem_body(pki: Pki) -> None:
    msg = rejected(_key_pem(pki.key))
    assert "not a zip file" in msg and "PEM block, not shown" in msg
    assert "PRIVATE" not in msg and "BEGIN" not in msg


def test_parse_rejects_an_empty_download() -> None:
    assert "empty" in rejected(b"")


def test_parse_rejects_a_truncated_zip(pki: Pki) -> None:
    data = good_zip(pki)
    msg = rejected(data[: len(data) // 2])
    assert "the download is a truncated zip" in msg
    assert "PRIVATE" not in msg


def test_parse_rejects_an_entry_whose_data_is_corrupt(pki: Pki) -> None:
    data = bytearray(good_zip(pki))
    start = data.find(b"PK\x03\x04") + 30 + len("private.key")  # first byte of private.key's compressed data
    data[start : start + 40] = b"\xff" * 40
    msg = rejected(bytes(data))
    assert "'private.key' is corrupt, truncated or larger than it declares" in msg


def test_parse_rejects_an_entry_that_declares_an_oversize(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["certificate.pem"] = b"A" * (1024 * 1024 + 1)  # deflates to a few KB: only the declared size says it is big
    data = make_zip(entries)
    assert len(data) < 64 * 1024
    msg = rejected(data)
    assert "'certificate.pem' declares 1048577 bytes, more than the 1048576 byte limit" in msg


def test_parse_rejects_a_decompression_bomb_that_lies_about_its_size(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["fullchain.pem"] = b"\0" * (50 * 1024 * 1024)  # 50 MiB of zeros deflate to about 50 KB
    data = make_zip(entries)
    assert len(data) < 200 * 1024
    data = patch_central(data, "fullchain.pem", offset=24, fmt="<I", value=200)  # declared uncompressed size: 200 bytes
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("fullchain.pem").file_size == 200
    msg = rejected(data)
    assert "'fullchain.pem'" in msg
    assert "larger than it declares" in msg or "inflates past" in msg


def test_parse_respects_smaller_limits(pki: Pki) -> None:
    data = good_zip(pki)
    assert "more than the 100 byte limit" in rejected(data, max_entry_bytes=100)
    assert "exceed the 1000 byte total limit" in rejected(data, max_total_bytes=1000)
    assert "more than the 3 allowed" in rejected(data, max_entries=3)


def test_parse_rejects_too_many_entries(pki: Pki) -> None:
    entries = list(entries_for(pki).items()) + [(f"pad/{i}", b"") for i in range(100)]
    assert "107 entries, more than the 64 allowed" in rejected(make_zip(entries))


def test_parse_rejects_an_encrypted_entry(pki: Pki) -> None:
    data = patch_central(good_zip(pki), "private.key", offset=8, fmt="<H", value=0x1)
    assert "'private.key' is encrypted" in rejected(data)


# -- validate ---------------------------------------------------------------------------------


def test_validate_passes_a_good_bundle(pki: Pki) -> None:
    checks = validate(bundle_of(pki), expected_names=NAMES, expected_fingerprint=sha256_fingerprint(pki.leaf), now=NOW)
    assert checks == [
        "fullchain_starts_with_leaf",
        "key_matches_certificate",
        "certificate_within_validity",
        "chain_signatures_verified",
        "names_covered",
        "fingerprint_matches_server",
    ]


def test_validate_accepts_plain_lower_case_hex_and_skips_the_fingerprint_when_not_given(pki: Pki) -> None:
    plain = sha256_fingerprint(pki.leaf).replace(":", "").lower()
    assert "fingerprint_matches_server" in validate(bundle_of(pki), expected_names=NAMES, expected_fingerprint=plain, now=NOW)
    assert "fingerprint_matches_server" not in validate(bundle_of(pki), expected_names=NAMES, expected_fingerprint=None, now=NOW)


def test_validate_accepts_a_full_chain_up_to_the_root(pki: Pki) -> None:
    checks = validate(bundle_of(pki, chain=[pki.intermediate, pki.root]), expected_names=NAMES, expected_fingerprint=None, now=NOW)
    assert "chain_signatures_verified" in checks


def test_validate_rejects_a_key_that_does_not_match(pki: Pki) -> None:
    assert "private.key does not match the certificate's public key" in invalid(bundle_of(pki, key=_key()))


def test_validate_rejects_an_expired_certificate(pki: Pki) -> None:
    leaf = pki.leaf_for(not_before=NOW - 91 * DAY, not_after=NOW - DAY)
    msg = invalid(bundle_of(pki, leaf=leaf))
    assert "the certificate (CN=www.example.com) has expired: not_after 2026-05-31T12:00:00+00:00" in msg


def test_validate_rejects_a_certificate_at_its_not_after_instant(pki: Pki) -> None:
    leaf = pki.leaf_for(not_before=NOW - 91 * DAY, not_after=NOW)
    assert "has expired" in invalid(bundle_of(pki, leaf=leaf))


def test_validate_rejects_a_certificate_not_valid_yet(pki: Pki) -> None:
    leaf = pki.leaf_for(not_before=NOW + DAY, not_after=NOW + 91 * DAY)
    assert "is not valid yet: not_before 2026-06-02T12:00:00+00:00" in invalid(bundle_of(pki, leaf=leaf))


def test_validate_rejects_a_chain_whose_signature_does_not_verify(pki: Pki) -> None:
    # Same subject name as the real intermediate, another key: the names link, the signature does not.
    impostor = _cert("Test Intermediate", _key(), "Test Root", pki.root_key, ca=True)
    msg = invalid(bundle_of(pki, chain=[impostor]))
    assert "chain link 1: the signature of CN=www.example.com does not verify with the key of CN=Test Intermediate" in msg


def test_validate_rejects_an_unrelated_chain(pki: Pki) -> None:
    other_key = _key()
    other = _cert("Unrelated CA", other_key, "Unrelated CA", other_key, ca=True)
    msg = invalid(bundle_of(pki, chain=[other]))
    assert "chain link 1 is broken: CN=www.example.com was issued by CN=Test Intermediate, but the next certificate is CN=Unrelated CA" in msg


def test_validate_checks_every_link(pki: Pki) -> None:
    forged_root = _cert("Test Root", _key(), "Test Root", _key(), ca=True)
    assert "chain link 2: the signature of CN=Test Intermediate" in invalid(bundle_of(pki, chain=[pki.intermediate, forged_root]))


def test_validate_rejects_an_expired_intermediate(pki: Pki) -> None:
    old = _cert("Test Intermediate", pki.int_key, "Test Root", pki.root_key, ca=True, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    assert "chain certificate 1 (CN=Test Intermediate) has expired" in invalid(bundle_of(pki, chain=[old]))


def test_validate_rejects_names_not_covered(pki: Pki) -> None:
    msg = invalid(bundle_of(pki), names=["www.example.com", "api.example.com", "example.org"])
    assert "the certificate's DNS names (www.example.com, example.com) do not cover api.example.com, example.org" in msg


def test_validate_rejects_a_certificate_without_dns_names(pki: Pki) -> None:
    leaf = _cert("www.example.com", pki.key, "Test Intermediate", pki.int_key, ca=False, sans=None)
    assert "DNS names (none) do not cover www.example.com" in invalid(bundle_of(pki, leaf=leaf))


def test_validate_accepts_wildcard_coverage(pki: Pki) -> None:
    leaf = pki.leaf_for(sans=["*.example.com", "example.com"])
    checks = validate(bundle_of(pki, leaf=leaf), expected_names=["example.com", "www.example.com", "API.Example.com."], expected_fingerprint=None, now=NOW)
    assert "names_covered" in checks
    assert "do not cover a.b.example.com" in invalid(bundle_of(pki, leaf=leaf), names=["a.b.example.com"])


@pytest.mark.parametrize(
    ("name", "sans", "covered"),
    [
        ("www.example.com", ["www.example.com"], True),
        ("WWW.Example.COM", ["www.example.com"], True),
        ("a.example.com", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("a.b.example.com", ["*.example.com"], False),
        ("*.example.com", ["*.example.com"], True),
        ("a.example.org", ["*.example.com"], False),
        ("aexample.com", ["*.example.com"], False),
        ("www.example.com", ["example.com"], False),
    ],
)
def test_name_covered(name: str, sans: list[str], covered: bool) -> None:
    assert name_covered(name, sans) is covered


def test_validate_rejects_another_certificate_than_the_servers(pki: Pki) -> None:
    other = pki.leaf_for()  # same key and names, another serial: a stale or foreign bundle
    msg = invalid(bundle_of(pki, leaf=other), fingerprint=sha256_fingerprint(pki.leaf))
    assert f"the bundle's certificate (SHA-256 {sha256_fingerprint(other)}) is not the server's current certificate" in msg


def test_validate_rejects_a_fullchain_that_does_not_begin_with_the_leaf(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["fullchain.pem"] = _pem(pki.intermediate, pki.leaf)
    assert "fullchain.pem does not begin with the certificate of certificate.pem" in invalid(parse_bundle(make_zip(entries)))


def test_validate_rejects_a_chain_pem_that_disagrees_with_fullchain(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["chain.pem"] = _pem(pki.root)
    assert "chain.pem differs from the certificates after the leaf in fullchain.pem" in invalid(parse_bundle(make_zip(entries)))


def test_validate_rejects_two_certificates_in_certificate_pem(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["certificate.pem"] = _pem(pki.leaf, pki.intermediate)
    assert "certificate.pem holds 2 certificates" in invalid(parse_bundle(make_zip(entries)))


@pytest.mark.parametrize(
    ("entry", "content", "expected"),
    [
        ("private.key", b"not a key", "private.key is not a PEM private key"),
        ("certificate.pem", b"garbage", "certificate.pem: no PEM certificate found"),
        ("fullchain.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "fullchain.pem: unparsable PEM certificate"),
    ],
)
def test_validate_rejects_unparsable_entries(pki: Pki, entry: str, content: bytes, expected: str) -> None:
    entries = entries_for(pki)
    entries[entry] = content
    assert expected in invalid(parse_bundle(make_zip(entries)))


def test_validate_rejects_an_encrypted_private_key(pki: Pki) -> None:
    entries = entries_for(pki)
    entries["private.key"] = pki.key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret"))
    assert "private.key is encrypted" in invalid(parse_bundle(make_zip(entries)))


@pytest.mark.parametrize("value", ["", None])
def test_normalize_fingerprint_empty(value: str | None) -> None:
    assert normalize_fingerprint(value) == ""


def test_normalize_fingerprint_forms(pki: Pki) -> None:
    colon = sha256_fingerprint(pki.leaf)
    plain = colon.replace(":", "").lower()
    assert normalize_fingerprint(colon) == plain
    assert normalize_fingerprint(colon.lower()) == plain
    assert normalize_fingerprint(f"  {plain.upper()} ") == plain
    with pytest.raises(CertCtrlError, match="is not a SHA-256 fingerprint"):
        normalize_fingerprint(plain[:40])  # a SHA-1 length value
    with pytest.raises(CertCtrlError, match="is not a SHA-256 fingerprint"):
        normalize_fingerprint("zz" * 32)


# -- render -----------------------------------------------------------------------------------


def test_render_pem_outputs(pki: Pki) -> None:
    out = render(bundle_of(pki), ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"], pfx_password=None, bundle_password=None)
    assert list(out) == ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
    assert out["certificate.pem"] == _pem(pki.leaf)
    assert out["chain.pem"] == _pem(pki.intermediate)
    assert out["fullchain.pem"] == _pem(pki.leaf, pki.intermediate)
    assert out["private.key"].startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, whatever the bundle used
    key = serialization.load_pem_private_key(out["private.key"], password=None)
    assert key.private_numbers() == pki.key.private_numbers()


def test_render_combined_is_key_then_fullchain(pki: Pki) -> None:
    out = render(bundle_of(pki), ["combined.pem", "private.key", "fullchain.pem"], pfx_password=None, bundle_password=None)
    assert out["combined.pem"] == out["private.key"] + out["fullchain.pem"]
    assert [c.subject for c in x509.load_pem_x509_certificates(out["combined.pem"])] == [pki.leaf.subject, pki.intermediate.subject]


def test_render_der_parses(pki: Pki) -> None:
    out = render(bundle_of(pki), ["certificate.der"], pfx_password=None, bundle_password=None)
    assert x509.load_der_x509_certificate(out["certificate.der"]) == pki.leaf


def test_render_pfx_opens_with_the_user_password(pki: Pki) -> None:
    out = render(bundle_of(pki), ["bundle.pfx"], pfx_password="s3cret!", bundle_password="export-pw", friendly_name="www.example.com")
    loaded = pkcs12.load_pkcs12(out["bundle.pfx"], b"s3cret!")
    assert loaded.key.private_numbers() == pki.key.private_numbers()
    assert loaded.cert.certificate == pki.leaf
    assert loaded.cert.friendly_name == b"www.example.com"
    assert [c.certificate for c in loaded.additional_certs] == [pki.intermediate]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(out["bundle.pfx"], b"export-pw")


def test_render_pfx_friendly_name_defaults_to_the_first_dns_name(pki: Pki) -> None:
    out = render(bundle_of(pki), ["bundle.pfx"], pfx_password="pw", bundle_password=None)
    assert pkcs12.load_pkcs12(out["bundle.pfx"], b"pw").cert.friendly_name == b"www.example.com"


@pytest.mark.parametrize("password", [None, ""])
def test_render_pfx_requires_a_password(pki: Pki, password: str | None) -> None:
    with pytest.raises(CertCtrlError, match=r"bundle[.]pfx was requested without pfx_password"):
        render(bundle_of(pki), ["fullchain.pem", "bundle.pfx"], pfx_password=password, bundle_password="export-pw")


def test_render_pfx_checks_the_servers_pkcs12(pki: Pki) -> None:
    with pytest.raises(CertCtrlError, match=r"bundle[.]pfx does not open with the X-Export-Password"):
        render(bundle_of(pki), ["bundle.pfx"], pfx_password="pw", bundle_password="wrong")
    entries = entries_for(pki)
    other_key = _key()
    other_leaf = _cert(NAMES[0], other_key, "Test Intermediate", pki.int_key, ca=False, sans=NAMES)
    entries["bundle.pfx"] = entries_for(pki, key=other_key, leaf=other_leaf)["bundle.pfx"]
    with pytest.raises(CertCtrlError, match=r"bundle[.]pfx holds another key or certificate"):
        render(parse_bundle(make_zip(entries)), ["bundle.pfx"], pfx_password="pw", bundle_password="export-pw")


def test_render_omits_chain_pem_without_intermediates(pki: Pki) -> None:
    self_signed = _cert(NAMES[0], pki.key, NAMES[0], pki.key, ca=False, sans=NAMES)
    out = render(bundle_of(pki, leaf=self_signed, chain=[]), ["chain.pem", "fullchain.pem", "bundle.pfx"], pfx_password="pw", bundle_password="export-pw")
    assert list(out) == ["fullchain.pem", "bundle.pfx"]
    assert out["fullchain.pem"] == _pem(self_signed)
    assert pkcs12.load_pkcs12(out["bundle.pfx"], b"pw").additional_certs == []


def test_render_every_output(pki: Pki) -> None:
    out = render(bundle_of(pki), list(OUTPUT_FILES), pfx_password="pw", bundle_password=None)
    assert sorted(out) == sorted(OUTPUT_FILES)


def test_render_rejects_unknown_files(pki: Pki) -> None:
    with pytest.raises(CertCtrlError, match="unknown output file"):
        render(bundle_of(pki), ["meta.json"], pfx_password=None, bundle_password=None)


# -- a public bundle (DEVICE_REQUIRED: the host decrypts the key) -------------------------------


def test_a_public_bundle_from_the_records_pem_validates_without_a_key_only_when_told(pki: Pki) -> None:
    bundle = public_bundle(_pem(pki.leaf, pki.intermediate).decode())

    assert set(bundle.entries) == {"certificate.pem", "chain.pem", "fullchain.pem"}
    checks = validate(bundle, expected_names=NAMES, expected_fingerprint=sha256_fingerprint(pki.leaf), key_on_host=True, now=NOW)
    assert "key_matches_certificate" not in checks and "chain_signatures_verified" in checks and "fingerprint_matches_server" in checks
    with pytest.raises(CertCtrlError, match=r"the bundle holds no private\.key"):
        validate(bundle, expected_names=NAMES, expected_fingerprint=None, now=NOW)


def test_a_public_bundle_renders_the_public_files_and_refuses_the_secret_ones(pki: Pki) -> None:
    bundle = public_bundle(_pem(pki.leaf, pki.intermediate))

    out = render(bundle, ["certificate.pem", "chain.pem", "fullchain.pem", "certificate.der"], pfx_password=None, bundle_password=None)
    assert out["fullchain.pem"] == _pem(pki.leaf, pki.intermediate) and out["certificate.der"] == pki.leaf.public_bytes(serialization.Encoding.DER)
    with pytest.raises(CertCtrlError, match=r"private\.key: the bundle holds no private key"):
        render(bundle, ["private.key"], pfx_password=None, bundle_password=None)


def test_check_key_is_what_the_host_checks_after_decrypting(pki: Pki) -> None:
    bundle = public_bundle(_pem(pki.leaf, pki.intermediate))
    bundle.entries["private.key"] = _key_pem(pki.key)
    check_key(bundle)
    bundle.entries["private.key"] = _key_pem(_key())
    with pytest.raises(CertCtrlError, match="the decrypted private key does not match"):
        check_key(bundle)
    with pytest.raises(CertCtrlError, match="the certificate record's PEM"):
        public_bundle("not a certificate")
