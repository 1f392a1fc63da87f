# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_device_required.py: the host renders a DEVICE_REQUIRED certificate's secret files from the wrapped key."""

from __future__ import annotations

import base64
import os
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from nacl.public import PublicKey, SealedBox

from ansible_collections.cjj365.certctrl.plugins.module_utils import _device_key as dk
from ansible_collections.cjj365.certctrl.plugins.module_utils._device_required import fill_files, render_job
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support import certs


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wrap(der: bytes, public_key: bytes) -> dict[str, str]:
    """What cert-ctrl sends for a device: the key under a data key, the data key sealed for the device."""
    data_key, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(data_key).encrypt(nonce, der, None)
    return {
        "wrap_alg": "x25519",
        "device_keyfp_b64": b64(dk.fingerprint(public_key)),
        "enc_data_key_b64": b64(SealedBox(PublicKey(public_key)).encrypt(data_key)),
        "enc_privkey_b64": b64(sealed[:-16]),
        "privkey_nonce_b64": b64(nonce),
        "privkey_tag_b64": b64(sealed[-16:]),
    }


@pytest.fixture
def host(tmp_path: Path) -> dict[str, t.Any]:
    """A host with its device key, and a certificate whose key cert-ctrl wrapped for it."""
    keys = tmp_path / "keys"
    public = base64.b64decode(dk.ensure_keypair(str(keys))["public_key"])
    leaf, ca = certs.chain("dr.example.test")
    der = leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"keys": str(keys), "key": leaf.key, "pem": (leaf.pem + ca.pem).decode(), "material": wrap(der, public), "root": tmp_path / "certs"}


def job(host: dict[str, t.Any], *names: str, **extra: t.Any) -> dict[str, t.Any]:
    files = [{"name": n, "path": str(host["root"] / n)} for n in names or ("private.key",)]
    return {"certificate_id": 7, "key_dir": host["keys"], "material": host["material"], "certificate_pem": host["pem"], "files": files, **extra}


def test_the_secret_files_are_rendered_from_the_unwrapped_key(host: dict[str, t.Any]) -> None:
    rendered = render_job(job(host, "private.key", "combined.pem", "bundle.pfx", pfx_password="pfx-pw", friendly_name="dr"))

    key_pem = rendered[str(host["root"] / "private.key")]
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert serialization.load_pem_private_key(key_pem, password=None).private_numbers() == host["key"].private_numbers()
    assert rendered[str(host["root"] / "combined.pem")] == key_pem + host["pem"].encode()
    pfx_key, pfx_cert, _cas = pkcs12.load_key_and_certificates(rendered[str(host["root"] / "bundle.pfx")], b"pfx-pw")
    assert pfx_key.private_numbers() == host["key"].private_numbers()
    assert host["pem"].startswith(pfx_cert.public_bytes(serialization.Encoding.PEM).decode())


def test_fill_files_gives_the_named_entries_their_content_and_leaves_the_others(host: dict[str, t.Any]) -> None:
    files = [{"path": str(host["root"] / "private.key")}, {"path": str(host["root"] / "fullchain.pem"), "content": "eA=="}]

    fill_files(files, [job(host)])

    assert base64.b64decode(files[0]["content"]).startswith(b"-----BEGIN PRIVATE KEY-----")
    assert files[1]["content"] == "eA=="


def test_a_key_that_does_not_match_the_certificate_is_refused(host: dict[str, t.Any]) -> None:
    other = certs.chain("dr.example.test")[0].pem.decode()

    with pytest.raises(CertCtrlError) as caught:
        render_job({**job(host), "certificate_pem": other})

    assert caught.value.msg == "certificate 7: bundle rejected: the decrypted private key does not match the certificate's public key; nothing was changed"


def test_a_host_without_a_device_key_is_told_to_enroll(host: dict[str, t.Any], tmp_path: Path) -> None:
    with pytest.raises(CertCtrlError) as caught:
        render_job({**job(host), "key_dir": str(tmp_path / "nowhere")})

    assert caught.value.msg.startswith(f"certificate 7: this host has no cert-ctrl device key in {tmp_path / 'nowhere'} (dev_sk.bin): enroll it first")
    assert caught.value.msg.endswith("; nothing was changed")


def test_errors_carry_no_key_material(host: dict[str, t.Any]) -> None:
    tampered = {**host["material"], "enc_privkey_b64": base64.b64encode(b"\x00" * 138).decode()}

    with pytest.raises(CertCtrlError) as caught:
        render_job({**job(host), "material": tampered})

    secret = Path(host["keys"], "dev_sk.bin").read_bytes()
    assert "does not decrypt" in caught.value.msg
    for form in (base64.b64encode(secret).decode(), secret.hex(), tampered["enc_data_key_b64"]):
        assert form not in caught.value.msg


def test_no_job_needs_no_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dk, "missing_libraries", lambda for_unwrap: "PyNaCl is missing")
    files = [{"path": "/x", "content": "eA=="}]

    fill_files(files, [])

    assert files == [{"path": "/x", "content": "eA=="}]
    with pytest.raises(CertCtrlError, match="PyNaCl is missing; nothing was changed"):
        fill_files(files, [{"files": []}])
