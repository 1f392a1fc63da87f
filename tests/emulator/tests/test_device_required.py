"""DEVICE_REQUIRED certificates: the key stored only encrypted, sealed per enrolled device, served as production's
AEAD JSON and unwrapped here as the agent does (PyNaCl sealed box + AES-256-GCM); the pending wrap; MASTER_ONLY's
plaintext variant."""

import base64
import hashlib
import io
import uuid
import zipfile

import pytest
from conftest import Client, error_of
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.public import PrivateKey, SealedBox

from certctrl_emulator.testing import Emulator

AEAD_FIELDS = {"wrap_alg", "enc_scheme", "device_keyfp_b64", "enc_data_key_b64", "enc_privkey_b64", "privkey_nonce_b64", "privkey_tag_b64"}
WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"


def unb64(text):
    return base64.b64decode(text)


class Enrolled:
    """A device registered with a fresh X25519 key, as ``cert-ctrl login --apikey`` does."""

    def __init__(self, emu, public_id=None):
        self.sk = PrivateKey.generate()
        self.pk = bytes(self.sk.public_key)
        self.public_id = public_id or str(uuid.uuid4())
        self.id = emu.api().register_device(self.public_id, self.pk, name="dev-" + self.public_id[:8])["device"]["id"]


def unwrap(bundle, sk):
    """The agent's decrypt_private_key_pem (agent-facts §2.2): unseal the data key, then AES-256-GCM without AAD."""
    data_key = SealedBox(sk).decrypt(unb64(bundle["enc_data_key_b64"]))
    der = AESGCM(data_key).decrypt(unb64(bundle["privkey_nonce_b64"]), unb64(bundle["enc_privkey_b64"]) + unb64(bundle["privkey_tag_b64"]), None)
    return serialization.load_der_private_key(der, None)


def public_numbers(key):
    return key.public_key().public_numbers()


def leaf_numbers(client, cid):
    return x509.load_pem_x509_certificate(client.record(cid)["cert"].encode()).public_key().public_numbers()


def device_required(client, domain="dr.example.com"):
    acct = client.account(name="self-" + domain, provider="SELF_CA")
    return client.certificate(acct["id"], domain, policy="DEVICE_REQUIRED")["id"]


def issue(client, cid):
    out = client.data("POST", f"/certificates/{cid}/issues", json={})
    assert out["status"] == "SUCCESS", out
    return out


def test_issuance_encrypts_and_wraps_for_each_assigned_device(client):
    emu = client.emu
    first, second = Enrolled(emu), Enrolled(emu)
    cid = device_required(client)
    client.assign(cid, first.id)  # before the first issuance: the issuance wraps for it
    issue(client, cid)
    client.assign(cid, second.id)  # after: the assignment wraps for it
    for device in (first, second):
        bundle = emu.api().bundle(device.id, cid)
        assert set(bundle) == AEAD_FIELDS and bundle["wrap_alg"] == "x25519" and bundle["enc_scheme"] == "aes256gcm"
        assert bundle["device_keyfp_b64"] == base64.b64encode(hashlib.blake2b(device.pk, digest_size=32).digest()).decode()
        assert len(unb64(bundle["enc_data_key_b64"])) == 80 and len(unb64(bundle["privkey_nonce_b64"])) == 12
        assert len(unb64(bundle["privkey_tag_b64"])) == 16
        assert public_numbers(unwrap(bundle, device.sk)) == leaf_numbers(client, cid)
    r = client.get(f"/devices/{first.id}/certificates/{cid}/bundle?format=json")  # the same answer, whatever format
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json" and r.headers["Cache-Control"] == "no-store"
    assert set(r.json()) == {"data"} and set(r.json()["data"]) == AEAD_FIELDS
    with pytest.raises(Exception):  # noqa: B017 - a wrap sealed for one device does not open with another's key
        unwrap(emu.api().bundle(first.id, cid), second.sk)


def test_a_reissue_rotates_the_key_and_rewraps(client):
    emu = client.emu
    devices = [Enrolled(emu), Enrolled(emu)]
    cid = device_required(client)
    for device in devices:
        client.assign(cid, device.id)
    issue(client, cid)
    before = {d.id: emu.api().bundle(d.id, cid) for d in devices}
    old_key = public_numbers(unwrap(before[devices[0].id], devices[0].sk))
    issue(client, cid)
    new_numbers = leaf_numbers(client, cid)
    assert new_numbers != old_key
    for device in devices:
        after = emu.api().bundle(device.id, cid)
        assert after["enc_data_key_b64"] != before[device.id]["enc_data_key_b64"]
        assert after["enc_privkey_b64"] != before[device.id]["enc_privkey_b64"]
        assert public_numbers(unwrap(after, device.sk)) == new_numbers


def test_a_device_without_dev_pk_gets_the_pending_wrap_until_it_enrolls(client):
    emu = client.emu
    cid = device_required(client)
    client.assign(cid, 1)  # web1: seeded without a device key
    issue(client, cid)
    wrap = emu.instance.app.store.wrap_of(cid, 1)
    assert unb64(wrap["enc_data_key"]) == bytes(48) and wrap["device_keyfp"] == ""  # the sentinel (agent-facts §2.1)
    r = client.get(f"/devices/1/certificates/{cid}/bundle")
    assert r.status_code == 409 and "WRAP_PENDING" in r.text and r.json()["error"]["code"] == 409
    assert "dev_pk" in r.json()["error"]["what"]
    with pytest.raises(RuntimeError, match="-> 409: WRAP_PENDING"):
        emu.api().bundle(1, cid)
    issue(client, cid)  # a reissue re-wraps: still pending for a device without a key
    assert client.get(f"/devices/1/certificates/{cid}/bundle").status_code == 409
    web1 = Enrolled(emu, WEB1_PUBLIC_ID)  # the device enrolls: its pending wraps become real
    assert web1.id == 1
    assert public_numbers(unwrap(emu.api().bundle(1, cid), web1.sk)) == leaf_numbers(client, cid)


def test_the_wrap_pending_fault_applies_to_device_required_too(client):
    emu = client.emu
    device = Enrolled(emu)
    cid = device_required(client)
    client.assign(cid, device.id)
    issue(client, cid)
    emu.admin.add_bundle_fault("wrap_pending", certificate_id=cid, count=1)
    r = client.get(f"/devices/{device.id}/certificates/{cid}/bundle")
    assert r.status_code == 409 and "WRAP_PENDING" in r.text
    assert set(emu.api().bundle(device.id, cid)) == AEAD_FIELDS


def test_errors_before_the_wrap(client):
    emu = client.emu
    device = Enrolled(emu)
    cid = device_required(client)
    client.assign(cid, device.id)
    assert "never been issued" in error_of(client.get(f"/devices/{device.id}/certificates/{cid}/bundle"), 409, 5001)
    issue(client, cid)
    other = device_required(client, "other.example.com")
    issue(client, other)
    error_of(client.get(f"/devices/{device.id}/certificates/{other}/bundle"), 404, 5003)  # not assigned
    assert "'format'" in error_of(client.get(f"/devices/{device.id}/certificates/{cid}/bundle?format=pem"), 400, 5000)


def _served(client, cid, device_id):
    """Every answer that carries a certificate record or a bundle of ``cid`` (user and admin API)."""
    emu = client.emu
    texts = [client.get(path).text for path in (
        f"/certificates/{cid}", f"/certificates/{cid}?detail=most", f"/certificates/{cid}/export",
        f"/certificates/{cid}/issue-result?detail=most", "/certificates?detail=most", f"/devices/{device_id}/certificates?detail=most",
        f"/devices/{device_id}/certificates/{cid}?detail=most", f"/devices/{device_id}/certificates/{cid}/bundle",
        f"/devices/{device_id}/certificates/{cid}/bundle?format=json", f"/certificates/{cid}/devices",
    )]  # fmt: skip
    texts.append(client.post(f"/certificates/{cid}/issues", json={}).text)
    texts += [client.get(path, headers={"Authorization": "Bearer " + emu.admin_token}).text for path in ("/_admin/info", "/_admin/requests", "/_admin/faults")]
    return texts


def _secrets(key):
    """Prefixes of the key's DER (base64) and PEM body: what a leak would carry."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return base64.b64encode(der).decode()[:48], "".join(pem.splitlines()[1:-1])[:48]


def test_no_plaintext_key_is_reachable(client):
    emu = client.emu
    device = Enrolled(emu)
    cid = device_required(client)
    client.assign(cid, device.id)
    issue(client, cid)
    assert emu.instance.app.store.get("certificates", cid)["key_pem"] == ""  # only the encrypted form is stored
    before = unwrap(emu.api().bundle(device.id, cid), device.sk)
    texts = _served(client, cid, device.id)  # its POST .../issues reissues: the new key is checked too
    after = unwrap(emu.api().bundle(device.id, cid), device.sk)
    assert public_numbers(before) != public_numbers(after)
    secrets = (*_secrets(before), *_secrets(after), "PRIVATE KEY", "private_key")
    for text in texts:
        assert text and not any(s in text for s in secrets), text[:300]
    record = client.record(cid)
    assert record["der"] == "" if client.expect.profile == "production" else record["der"]  # contract: the leaf's DER
    assert record["key_dist_policy"] == "DEVICE_REQUIRED" and not {"enc_privkey", "key_pem", "privkey_tag"} & set(record)


def test_master_only_plaintext_variant(client):
    emu = client.emu
    acct = client.account(name="self", provider="SELF_CA")
    cid = client.certificate(acct["id"], "m.example.com", policy="MASTER_ONLY")["id"]
    client.assign(cid, 1)
    issue(client, cid)
    emu.admin.set_certificate(cid, server_decrypt_export=True)
    bundle = emu.api().bundle(1, cid, fmt="json")
    assert set(bundle) == {"enc_scheme", "private_key_der_b64", "certificate_pem"} and bundle["enc_scheme"] == "plaintext"
    key = serialization.load_der_private_key(unb64(bundle["private_key_der_b64"]), None)
    record = client.record(cid)
    assert bundle["certificate_pem"] == record["cert"] and public_numbers(key) == leaf_numbers(client, cid)
    assert zipfile.ZipFile(io.BytesIO(emu.api().bundle(1, cid))).namelist()[0] == "private.key"  # the default: the zip
    emu.admin.set_certificate(cid, server_decrypt_export=False)
    assert "EXPORT_FORBIDDEN" in error_of(client.get(f"/devices/1/certificates/{cid}/bundle?format=json"), 403, 5022)
    hybrid = client.issued("h.example.com")["id"]
    client.assign(hybrid, 1)
    assert "HYBRID" in error_of(client.get(f"/devices/1/certificates/{hybrid}/bundle?format=json"), 400, 5000)


def test_policy_changed_after_issuance(client):
    """A record whose policy changes keeps the key it was issued with until it is issued again."""
    emu = client.emu
    device = Enrolled(emu)
    cid = device_required(client)
    client.assign(cid, device.id)
    issue(client, cid)
    emu.admin.set_certificate(cid, policy="HYBRID")
    assert "only encrypted for devices" in error_of(client.get(f"/devices/{device.id}/certificates/{cid}/bundle"), 409, 5001)
    issue(client, cid)
    assert zipfile.ZipFile(io.BytesIO(emu.api().bundle(device.id, cid))).testzip() is None
    assert emu.instance.app.store.wrap_of(cid, device.id) is None  # a plaintext issuance leaves no wraps
    emu.admin.set_certificate(cid, policy="DEVICE_REQUIRED")
    assert "DEVICE_REQUIRED" in error_of(client.get(f"/devices/{device.id}/certificates/{cid}/bundle"), 403, 5022)
    if client.expect.profile == "production":
        assert client.record(cid)["der"] == ""  # the PEM it still holds is never served as der
    issue(client, cid)
    assert public_numbers(unwrap(emu.api().bundle(device.id, cid), device.sk)) == leaf_numbers(client, cid)


def test_unassign_drops_the_wrap(tmp_path):
    """Contract profile (the /me unassign route): a new assignment seals again."""
    with Emulator(profile="contract", tls=False, workdir=str(tmp_path)) as emu:
        client = Client(emu)
        device = Enrolled(emu)
        cid = device_required(client)
        client.assign(cid, device.id)
        issue(client, cid)
        assert client.delete(f"/devices/{device.id}/certificates/{cid}").status_code == 204
        assert emu.instance.app.store.wrap_of(cid, device.id) is None
        client.assign(cid, device.id)
        assert public_numbers(unwrap(emu.api().bundle(device.id, cid), device.sk)) == leaf_numbers(client, cid)


def test_state_survives_a_restart(tmp_path):
    """With --db the encrypted key, the wraps and the master key persist: the bundle still unwraps."""
    db = str(tmp_path / "state.db")
    with Emulator(db=db, workdir=str(tmp_path / "one")) as emu:
        client = Client(emu)
        device = Enrolled(emu)
        cid = device_required(client)
        client.assign(cid, device.id)
        issue(client, cid)
        first = emu.api().bundle(device.id, cid)
    with Emulator(db=db, workdir=str(tmp_path / "two")) as emu:
        assert emu.api().bundle(device.id, cid) == first
        client = Client(emu)
        other = Enrolled(emu)
        client.assign(cid, other.id)  # sealed with the data key kept under the persisted master key
        assert public_numbers(unwrap(emu.api().bundle(other.id, cid), other.sk)) == public_numbers(unwrap(first, device.sk))
