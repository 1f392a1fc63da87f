# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Facts read from a certificate PEM, on certificates generated here with cryptography; API timestamps."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import (
    describe,
    describe_pem,
    dns_names,
    from_api_timestamp,
    load_pem_chain,
    normalize_serial,
    same_serial,
    sha256_fingerprint,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOT_BEFORE = datetime.datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
NOT_AFTER = datetime.datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_chain(*, sans: list[str] | None = None, serial: int = 0x1F2E3D4C5B6A) -> tuple[x509.Certificate, x509.Certificate]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Unit Test CA"))
        .issuer_name(_name("Unit Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOT_BEFORE - datetime.timedelta(days=30))
        .not_valid_after(NOT_AFTER + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("www.example.com"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), ca


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


@pytest.fixture(scope="module")
def chain() -> tuple[x509.Certificate, x509.Certificate]:
    return make_chain(sans=["www.example.com", "example.com", "*.api.example.com"])


def test_describe_reads_the_facts_from_the_certificate(chain):
    leaf, _ca = chain
    facts = describe(leaf, now=NOW)
    assert facts == {
        "serial": "1f2e3d4c5b6a",
        "not_before": "2026-02-01T00:00:00+00:00",
        "not_after": "2026-05-01T00:00:00+00:00",
        "days_remaining": 60,  # 2026-03-01 12:00 -> 2026-05-01 00:00 is 60.5 days
        "sans": ["www.example.com", "example.com", "*.api.example.com"],
        "subject": "CN=www.example.com",
        "issuer": "CN=Unit Test CA",
        "sha256_fingerprint": leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
    }
    assert len(facts["sha256_fingerprint"]) == 32 * 3 - 1


def test_days_remaining_of_an_expired_certificate_is_negative(chain):
    leaf, _ca = chain
    assert describe(leaf, now=NOT_AFTER + datetime.timedelta(days=3))["days_remaining"] == -3
    assert describe(leaf, now=NOT_AFTER)["days_remaining"] == 0


def test_describe_defaults_now_to_the_current_time(chain):
    leaf, _ca = chain
    expected = int((NOT_AFTER - datetime.datetime.now(UTC)).total_seconds() // 86400)
    assert describe(leaf)["days_remaining"] in (expected - 1, expected)


def test_describe_pem_describes_the_leaf_of_a_chain(chain):
    leaf, ca = chain
    text = pem(leaf, ca)
    assert describe_pem(text, now=NOW) == describe(leaf, now=NOW)
    assert describe_pem(text.encode(), now=NOW)["issuer"] == "CN=Unit Test CA"


@pytest.mark.parametrize("empty", [None, "", b""])
def test_describe_pem_of_a_record_not_issued_yet_is_none(empty):
    assert describe_pem(empty) is None


def test_load_pem_chain_keeps_the_order_leaf_first(chain):
    leaf, ca = chain
    loaded = load_pem_chain(pem(leaf, ca))
    assert loaded == [leaf, ca]
    assert load_pem_chain(pem(leaf).encode()) == [leaf]


def test_load_pem_chain_rejects_text_without_a_certificate():
    with pytest.raises(CertCtrlError, match="no PEM certificate found"):
        load_pem_chain("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")


def test_load_pem_chain_rejects_a_damaged_certificate(chain):
    leaf, _ca = chain
    lines = pem(leaf).splitlines()
    damaged = "\n".join([lines[0], "AAAA" + lines[1][4:], *lines[2:]]) + "\n"
    with pytest.raises(CertCtrlError, match="unparsable PEM certificate"):
        load_pem_chain(damaged)


def test_a_certificate_without_sans_has_no_dns_names():
    leaf, _ca = make_chain(sans=None)
    assert dns_names(leaf) == []
    assert describe(leaf, now=NOW)["sans"] == []


def test_fingerprint_is_sha256_in_colon_hex(chain):
    leaf, ca = chain
    assert sha256_fingerprint(leaf) != sha256_fingerprint(ca)
    assert sha256_fingerprint(leaf) == ":".join(f"{b:02X}" for b in leaf.fingerprint(hashes.SHA256()))


EXPECTED = datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [1700000000, 1700000000000, 1700000000.0, "1700000000", "1700000000000", 1.7e12],
    ids=["seconds", "milliseconds", "float-seconds", "str-seconds", "str-milliseconds", "float-milliseconds"],
)
def test_from_api_timestamp_accepts_seconds_and_milliseconds(value):
    assert from_api_timestamp(value) == EXPECTED


def test_from_api_timestamp_keeps_sub_second_precision_of_milliseconds():
    assert from_api_timestamp(1700000000500) == EXPECTED + datetime.timedelta(milliseconds=500)
    assert from_api_timestamp(1700000000500).tzinfo == UTC


@pytest.mark.parametrize("unset", [None, "", 0, 0.0, "0", False])
def test_from_api_timestamp_unset(unset):
    assert from_api_timestamp(unset) is None


@pytest.mark.parametrize("garbage", ["yesterday", "nan", "inf", [1], 1e30])
def test_from_api_timestamp_garbage_is_a_clear_error(garbage):
    with pytest.raises(CertCtrlError, match="where an epoch timestamp was expected"):
        from_api_timestamp(garbage)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("04:A1:B2", "4a1b2"),
        ("04a1b2", "4a1b2"),
        ("04 A1 B2", "4a1b2"),
        ("0x04A1B2", "4a1b2"),
        (0x04A1B2, "4a1b2"),
        ("00", "0"),
        (0, "0"),
        (None, None),
        ("", None),
        ("zz:11", None),
        (-5, None),
        (True, None),
        (3.5, None),
    ],
)
def test_normalize_serial_accepts_every_spelling_of_the_api_and_cryptography(value, expected):
    assert normalize_serial(value) == expected


def test_same_serial_compares_production_and_describe_spellings(chain):
    leaf, _ca = chain
    described = describe(leaf, now=NOW)["serial"]
    production = ":".join(f"{byte:02X}" for byte in leaf.serial_number.to_bytes(8, "big").lstrip(b"\0"))
    assert same_serial(production, described)
    assert same_serial(leaf.serial_number, production.lower().replace(":", ""))
    assert not same_serial(production, "01")
    assert not same_serial(None, None) and not same_serial("", "")
