# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_bundle_json.py: the JSON answers of the bundle endpoint (AEAD and plaintext), hostile ones refused."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import CorruptBundleError
from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle_json import is_json, parse_json_bundle
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError


def b64(n: int, byte: bytes = b"\x01") -> str:
    return base64.b64encode(byte * n).decode()


AEAD = {
    "wrap_alg": "x25519",
    "enc_scheme": "aes256gcm",
    "device_keyfp_b64": b64(32),
    "enc_data_key_b64": b64(80),
    "enc_privkey_b64": b64(138),
    "privkey_nonce_b64": b64(12),
    "privkey_tag_b64": b64(16),
}


def answer(data: object) -> bytes:
    return json.dumps({"data": data}).encode()


def test_the_aead_variant_gives_the_wrapped_fields_without_the_scheme() -> None:
    parsed = parse_json_bundle(answer(AEAD))

    assert parsed["scheme"] == "aead"
    assert parsed["material"] == {k: v for k, v in AEAD.items() if k != "enc_scheme"}


@pytest.mark.parametrize("scheme", ["aes256gcm", "AES256GCM", 1, None])
def test_the_agents_spellings_of_aes256gcm_are_read(scheme: object) -> None:
    data = {**AEAD, "enc_scheme": scheme} if scheme is not None else {k: v for k, v in AEAD.items() if k != "enc_scheme"}
    assert parse_json_bundle(answer(data))["scheme"] == "aead"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"enc_data_key_b64": b64(48)}, "enc_data_key_b64 holds 48 bytes, not 80"),
        ({"privkey_tag_b64": b64(15)}, "privkey_tag_b64 holds 15 bytes, not 16"),
        ({"privkey_nonce_b64": "not base64!"}, "privkey_nonce_b64 is not standard base64"),
        ({"enc_privkey_b64": 7}, "enc_privkey_b64 is not a string"),
        ({"enc_privkey_b64": b64(20000)}, "1 to 16384 expected"),
        ({"device_keyfp_b64": b64(31)}, "device_keyfp_b64 holds 31 bytes"),
        ({"wrap_alg": "rsa-oaep"}, "wrap_alg 'rsa-oaep' is not one this collection can unwrap"),
        ({"enc_scheme": "xchacha20"}, "enc_scheme 'xchacha20' is not one this collection can read"),
        ({"enc_scheme": True}, "enc_scheme True"),
    ],
)
def test_a_hostile_or_odd_aead_answer_is_refused(change: dict, words: str) -> None:
    with pytest.raises(CertCtrlError) as caught:
        parse_json_bundle(answer({**AEAD, **change}))

    assert words in caught.value.msg and caught.value.msg.endswith("nothing was changed")


def test_a_missing_wrapped_field_is_named() -> None:
    data = {k: v for k, v in AEAD.items() if k != "enc_privkey_b64"}

    with pytest.raises(CertCtrlError, match="field enc_privkey_b64 is missing"):
        parse_json_bundle(answer(data))


def test_the_plaintext_variant_gives_the_key_as_pkcs8_pem_and_the_certificate() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())

    parsed = parse_json_bundle(answer({"enc_scheme": "plaintext", "private_key_der_b64": base64.b64encode(der).decode(), "certificate_pem": "PEM"}))

    assert parsed["scheme"] == "plaintext" and parsed["certificate_pem"] == "PEM"
    assert parsed["private_key_pem"].startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(parsed["private_key_pem"], password=None)
    assert loaded.private_numbers() == key.private_numbers()


def test_a_plaintext_key_that_does_not_load_is_refused_without_showing_it() -> None:
    with pytest.raises(CertCtrlError) as caught:
        parse_json_bundle(answer({"enc_scheme": 0, "private_key_der_b64": b64(64, b"\x30")}))

    assert "does not load" in caught.value.msg and b64(64, b"\x30") not in caught.value.msg


@pytest.mark.parametrize("body", [b"{not json", b'{"data": ', '{"data": "\xff"}'.encode("latin-1")])
def test_a_truncated_json_answer_is_corrupt_so_downloaded_again(body: bytes) -> None:
    with pytest.raises(CorruptBundleError, match="does not parse"):
        parse_json_bundle(body)


@pytest.mark.parametrize("body", [b"[]", b'{"data": []}', b'{"error": {"code": 1}}'])
def test_json_without_a_data_object_is_refused(body: bytes) -> None:
    with pytest.raises(CertCtrlError, match="no data object"):
        parse_json_bundle(body)


@pytest.mark.parametrize(
    ("content", "headers", "expected"),
    [
        (b"PK\x03\x04", {"Content-Type": "application/zip"}, False),
        (b'{"data": {}}', {"Content-Type": "application/json; charset=utf-8"}, True),
        (b'  {"data": {}}', {}, True),
        (b"PK\x03\x04", {}, False),
        (b"{", {"Content-Type": "application/zip"}, False),
    ],
)
def test_is_json_by_type_then_by_first_byte(content: bytes, headers: dict, expected: bool) -> None:
    assert is_json(content, headers) is expected
