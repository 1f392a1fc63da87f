# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The standard-library certificate reader of the hosts (module_utils/_pem.py), on certificates made with
cryptography: which certificates a PEM or DER file holds, what it reads from one (serial, validity,
fingerprint), and how it refuses garbage, truncated DER, wrong tags and lengths it does not support."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import DERError, certificates_der, leaf_summary, summary
from ansible_collections.cjj365.certctrl.tests.support.certs import NOT_AFTER, NOT_BEFORE, chain, issue

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def pair():
    return chain("www.example.com", serial=0x1F2E3D4C5B6A)


def colons(fingerprint: str) -> str:
    return ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()


# -- finding the certificates of a file ---------------------------------------------------------


def test_a_pem_file_gives_the_der_of_its_certificate(pair) -> None:
    leaf, _ca = pair
    assert certificates_der(leaf.pem) == [leaf.der]
    assert certificates_der(leaf.pem.decode()) == [leaf.der]  # text as well as bytes


def test_a_chain_gives_every_certificate_in_file_order(pair) -> None:
    leaf, ca = pair
    assert certificates_der(leaf.pem + ca.pem) == [leaf.der, ca.der]
    assert certificates_der(ca.pem + b"\n\n" + leaf.pem) == [ca.der, leaf.der]


def test_other_pem_blocks_are_skipped_never_decoded(pair) -> None:
    leaf, ca = pair
    combined = leaf.key_pem + leaf.pem + b"-----BEGIN FOO-----\nnot base64 at all!\n-----END FOO-----\n" + ca.pem
    assert certificates_der(combined) == [leaf.der, ca.der]
    assert certificates_der(leaf.key_pem) == []


def test_a_der_file_is_its_own_certificate(pair) -> None:
    leaf, _ca = pair
    assert certificates_der(leaf.der) == [leaf.der]


@pytest.mark.parametrize("data", [b"", "", b"hello world", b"\x00\x01\x02", b"-----BEGIN CERTIFICATE-----\n"])
def test_nothing_that_looks_like_a_certificate_gives_none(data) -> None:
    assert certificates_der(data) == []


def test_a_certificate_block_that_is_not_base64_is_refused(pair) -> None:
    leaf, _ca = pair
    broken = leaf.pem.replace(leaf.pem.splitlines()[1], b"!!!!" + leaf.pem.splitlines()[1][4:])
    with pytest.raises(DERError, match="not valid base64"):
        certificates_der(broken)
    assert leaf_summary(broken) is None


# -- what it reads from one certificate ---------------------------------------------------------


def test_summary_reads_serial_validity_and_fingerprint(pair) -> None:
    leaf, _ca = pair
    assert summary(leaf.der) == {
        "serial": "1f2e3d4c5b6a",
        "not_before": NOT_BEFORE.isoformat(),
        "not_after": NOT_AFTER.isoformat(),
        "sha256_fingerprint": colons(leaf.fingerprint),
    }
    assert summary(leaf.der)["not_after"] == "2026-05-01T00:00:00+00:00"


def test_a_serial_with_its_high_bit_set_stays_positive() -> None:
    serial = (1 << 158) | 0xABCDEF  # the largest cryptography makes: 20 bytes once DER adds its leading zero
    cert = issue("big.example.com", serial=serial)
    assert summary(cert.der)["serial"] == format(serial, "x")


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (datetime.datetime(1999, 12, 31, 23, 59, 58, tzinfo=UTC), datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),  # UTCTime: 99 is 1999, 49 is 2049
        (datetime.datetime(2026, 1, 1, tzinfo=UTC), datetime.datetime(2050, 1, 1, tzinfo=UTC)),  # from 2050 on: GeneralizedTime
        (datetime.datetime(1950, 1, 1, tzinfo=UTC), datetime.datetime(2120, 6, 30, 12, 0, 1, tzinfo=UTC)),
    ],
)
def test_both_time_encodings(not_before: datetime.datetime, not_after: datetime.datetime) -> None:
    cert = issue("time.example.com", not_before=not_before, not_after=not_after)
    facts = summary(cert.der)
    assert (facts["not_before"], facts["not_after"]) == (not_before.isoformat(), not_after.isoformat())


def test_leaf_summary_reads_the_first_certificate(pair) -> None:
    leaf, ca = pair
    assert leaf_summary(leaf.pem + ca.pem) == summary(leaf.der)
    assert leaf_summary(leaf.key_pem + leaf.pem) == summary(leaf.der)  # a combined key + certificate file
    assert leaf_summary(ca.der) == summary(ca.der)
    assert leaf_summary(ca.der)["serial"] == "1"


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_leaf_summary_of_a_file_without_certificate_is_none(data: bytes) -> None:
    assert leaf_summary(data) is None


# -- malformed DER ------------------------------------------------------------------------------
# A certificate from cryptography starts: 30 82 LL LL (certificate), 30 81/82 LL.. (tbsCertificate),
# A0 03 02 01 02 (version 3), 02 LL serial..., then signature algorithm, issuer, validity (two times).


def _header(der: bytes, offset: int) -> int:
    """The size of the tag and length bytes of the TLV at ``offset`` (short or long length form)."""
    return 2 + (der[offset + 1] & 0x7F if der[offset + 1] & 0x80 else 0)


def _layout(der: bytes) -> dict[str, int]:
    """Offsets of the certificate's, the tbsCertificate's and the serial's tags (after the 5 bytes of the version)."""
    tbs = _header(der, 0)
    serial = tbs + _header(der, tbs) + 5
    assert (der[0], der[tbs], der[tbs + _header(der, tbs)], der[serial]) == (0x30, 0x30, 0xA0, 0x02), der[:16].hex()
    return {"certificate": 0, "tbs": tbs, "serial": serial}


def _patched(der: bytes, offset: int, value: int) -> bytes:
    return der[:offset] + bytes([value]) + der[offset + 1 :]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 10, 14, 40, 100, -60, -1])
def test_truncated_der_is_refused(pair, length: int) -> None:
    leaf, _ca = pair
    truncated = leaf.der[:length]
    with pytest.raises(DERError, match=r"truncated DER|unsupported DER length|unparsable"):
        summary(truncated)
    assert leaf_summary(truncated) is None


def test_a_truncated_der_file_is_still_found_but_not_read(pair) -> None:
    leaf, _ca = pair
    assert certificates_der(leaf.der[:50]) == [leaf.der[:50]]  # it starts like one...
    assert leaf_summary(leaf.der[:50]) is None  # ...and is refused when read


@pytest.mark.parametrize(
    ("where", "tag", "words"), [("certificate", 0x31, "not a certificate"), ("tbs", 0x04, "not a certificate"), ("serial", 0x04, "no serial")]
)
def test_wrong_tags_are_refused(pair, where: str, tag: int, words: str) -> None:
    leaf, _ca = pair
    with pytest.raises(DERError, match=words):
        summary(_patched(leaf.der, _layout(leaf.der)[where], tag))


def test_a_time_of_another_type_is_refused(pair) -> None:
    leaf, _ca = pair
    der = leaf.der
    validity = der.index(b"\x17\x0d" + NOT_BEFORE.strftime("%y%m%d%H%M%SZ").encode())  # the UTCTime of not_before
    with pytest.raises(DERError, match="unexpected time type"):
        summary(_patched(der, validity, 0x04))


def test_a_time_that_is_no_date_is_refused(pair) -> None:
    leaf, _ca = pair
    stamp = NOT_BEFORE.strftime("%y%m%d%H%M%SZ").encode()
    with pytest.raises(DERError, match="unparsable certificate"):
        summary(leaf.der.replace(stamp, b"26139901000" + b"0Z"))  # month 13


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (b"\x30\x80", "unsupported DER length"),  # indefinite length: not DER
        (b"\x30\x85\x00\x00\x00\x01\x00", "unsupported DER length"),  # a 5-byte length
        (b"\x30\x84\x7f\xff\xff\xff", "truncated DER"),  # 2 GiB announced, a few hundred bytes there
        (b"\x30\x82\xff\xff", "truncated DER"),
    ],
)
def test_lengths_it_does_not_support_or_that_overrun_are_refused(pair, header: bytes, words: str) -> None:
    leaf, _ca = pair
    with pytest.raises(DERError, match=words):
        summary(header + leaf.der[4:])


def test_an_inner_length_that_overruns_is_refused(pair) -> None:
    leaf, _ca = pair
    serial_length = _layout(leaf.der)["serial"] + 1
    with pytest.raises(DERError):
        summary(_patched(leaf.der, serial_length, 0x7F))  # the serial claims more bytes than the certificate has left
