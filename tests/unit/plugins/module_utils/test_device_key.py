# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_device_key.py: the device key pair in the agent's layout (made, reused, modes, refusals), the
device_public_id the agent kept, and the unwrap of a DEVICE_REQUIRED key against a libsodium vector, its failures,
and the emulator's wrapping."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
import typing as t
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.public import PrivateKey, PublicKey, SealedBox

from ansible_collections.cjj365.certctrl.plugins.module_utils import _device_key as dk
from ansible_collections.cjj365.certctrl.plugins.module_utils import _errors as errors
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

VECTOR = json.loads((Path(__file__).parent / "device_key_vector.json").read_text())
SECRET = base64.b64decode(VECTOR["secret_key_b64"])
PUBLIC = base64.b64decode(VECTOR["public_key_b64"])
DATA_KEY = base64.b64decode(VECTOR["data_key_b64"])
DER = base64.b64decode(VECTOR["private_key_der_b64"])
OTHER_SECRET = hashlib.sha256(b"another host").digest()
NACL = "PyNaCl [Debian/Ubuntu python3-nacl, Fedora/RHEL/EPEL python3-pynacl, Alpine py3-pynacl]"
CRYPTOGRAPHY = "cryptography [python3-cryptography, Alpine py3-cryptography]"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def bundle(**changes: t.Any) -> dict:
    """The vector's bundle with ``changes`` (a value of None drops the field)."""
    out = {**VECTOR["bundle"], **changes}
    return {k: v for k, v in out.items() if v is not None}


def flipped(field: str, index: int = 0) -> dict:
    raw = bytearray(base64.b64decode(VECTOR["bundle"][field]))
    raw[index] ^= 0x01
    return bundle(**{field: b64(bytes(raw))})


def wrapped(plaintext: bytes, public_key: bytes = PUBLIC) -> dict:
    """A bundle wrapping ``plaintext`` for ``public_key`` the way the server does (libsodium sealed box + AES-256-GCM)."""
    nonce = os.urandom(12)
    sealed = AESGCM(DATA_KEY).encrypt(nonce, plaintext, None)
    return {
        "wrap_alg": "x25519",
        "enc_scheme": "aes256gcm",
        "device_keyfp_b64": b64(hashlib.blake2b(public_key, digest_size=32).digest()),
        "enc_data_key_b64": b64(SealedBox(PublicKey(public_key)).encrypt(DATA_KEY)),
        "enc_privkey_b64": b64(sealed[:-16]),
        "privkey_nonce_b64": b64(nonce),
        "privkey_tag_b64": b64(sealed[-16:]),
    }


def assert_no_key_bytes(exc: errors.CertCtrlError) -> None:
    text = json.dumps(exc.fail_kwargs()) + str(exc)
    for secret in (SECRET, OTHER_SECRET, DATA_KEY, DER):
        assert b64(secret) not in text and secret.hex() not in text


def write_pair(key_dir: Path, secret: bytes = SECRET, *, public: bytes | None = PUBLIC, secret_text: bytes | None = None) -> None:
    """A pair as the agent writes it (raw 32 bytes, 0600); ``secret_text`` replaces the secret file's content."""
    key_dir.mkdir(parents=True, exist_ok=True)
    (key_dir / "dev_sk.bin").write_bytes(secret if secret_text is None else secret_text)
    (key_dir / "dev_sk.bin").chmod(0o600)
    if public is not None:
        (key_dir / "dev_pk.bin").write_bytes(public)
        (key_dir / "dev_pk.bin").chmod(0o600)


# The unwrap


def test_the_vector_unwraps_to_its_pkcs8_der() -> None:
    assert dk.unwrap_private_key(bundle(), SECRET) == DER
    pem = dk.private_key_pem(DER)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert serialization.load_pem_private_key(pem, None).private_numbers() == serialization.load_der_private_key(DER, None).private_numbers()


@pytest.mark.parametrize("scheme", ["aes256gcm", "AES256GCM", 1, "1", None])
def test_the_schemes_the_agent_reads_as_aes256gcm(scheme: t.Any) -> None:
    assert dk.unwrap_private_key(bundle(enc_scheme=scheme), SECRET) == DER


def test_without_a_fingerprint_the_wrap_alone_decides() -> None:
    assert dk.unwrap_private_key(bundle(device_keyfp_b64=None), SECRET) == DER


def test_a_pem_plaintext_becomes_der() -> None:
    key = serialization.load_der_private_key(DER, None)
    traditional = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    assert dk.unwrap_private_key(wrapped(traditional), SECRET) == DER
    assert dk.unwrap_private_key(wrapped(dk.private_key_pem(DER)), SECRET) == DER


OTHER_PUBLIC = bytes(PrivateKey(OTHER_SECRET).public_key)


@pytest.mark.parametrize(
    ("material", "secret", "error", "words"),
    [
        (flipped("privkey_tag_b64"), SECRET, dk.DeviceKeyError, "does not decrypt with its data key: the bundle is corrupt or was tampered with"),
        (flipped("enc_privkey_b64", 5), SECRET, dk.DeviceKeyError, "does not decrypt with its data key"),
        (flipped("privkey_nonce_b64"), SECRET, dk.DeviceKeyError, "does not decrypt with its data key"),
        (
            flipped("enc_data_key_b64", 40),
            SECRET,
            dk.DeviceKeyError,
            "data key does not open with this host's device key: it was sealed for another key, or it is corrupt",
        ),
        (bundle(device_keyfp_b64=None), OTHER_SECRET, dk.DeviceKeyError, "sealed for another key"),
        (
            bundle(),
            OTHER_SECRET,
            dk.DeviceKeyError,
            "this host's device key is not the one cert-ctrl wrapped the key for: fingerprint "
            f"{b64(dk.fingerprint(OTHER_PUBLIC))}, the bundle's {VECTOR['bundle']['device_keyfp_b64']}; was the host re-enrolled?",
        ),
        (bundle(enc_data_key_b64=b64(bytes(48))), SECRET, dk.WrapPendingError, "has not wrapped this certificate's key for this device yet"),
        (bundle(privkey_tag_b64=None), SECRET, dk.DeviceKeyError, "the bundle lacks privkey_tag_b64: it does not hold a key wrapped for a device"),
        (bundle(enc_data_key_b64="", enc_privkey_b64=None), SECRET, dk.DeviceKeyError, "the bundle lacks enc_data_key_b64, enc_privkey_b64"),
        (bundle(privkey_tag_b64=b64(bytes(15))), SECRET, dk.DeviceKeyError, "privkey_tag_b64 is 15 bytes, not 16 (an AES-256-GCM tag)"),
        (bundle(privkey_nonce_b64=b64(bytes(16))), SECRET, dk.DeviceKeyError, "privkey_nonce_b64 is 16 bytes, not 12"),
        (bundle(enc_scheme="chacha20poly1305"), SECRET, dk.DeviceKeyError, "enc_scheme 'chacha20poly1305' is not one this collection can open (aes256gcm)"),
        (bundle(enc_scheme=2), SECRET, dk.DeviceKeyError, "enc_scheme 2 is not one"),
        (bundle(enc_scheme="plaintext"), SECRET, dk.DeviceKeyError, "is not wrapped for a device (enc_scheme 'plaintext'): there is nothing to unwrap"),
        (bundle(enc_scheme=0), SECRET, dk.DeviceKeyError, "(enc_scheme 0)"),
        (bundle(enc_privkey_b64="not base64!"), SECRET, dk.DeviceKeyError, "the bundle's enc_privkey_b64 is not standard base64"),
        (bundle(device_keyfp_b64=42), SECRET, dk.DeviceKeyError, "the bundle's device_keyfp_b64 is not standard base64"),
        (wrapped(b"not a key"), SECRET, dk.DeviceKeyError, "the unwrapped private key is neither DER nor PEM of an unencrypted private key"),
    ],
)
def test_each_failure_has_its_class_and_words_and_no_key_bytes(material: dict, secret: bytes, error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        dk.unwrap_private_key(material, secret)
    assert words in caught.value.msg
    assert_no_key_bytes(caught.value)


def test_the_pending_wrap_is_also_the_clients_wrap_pending_error() -> None:
    with pytest.raises(errors.WrapPendingError, match=r"run cjj365\.certctrl\.device, then retry"):
        dk.unwrap_private_key(bundle(enc_data_key_b64=b64(bytes(48))), SECRET)


def test_private_key_pem_refuses_what_is_not_a_key() -> None:
    with pytest.raises(dk.DeviceKeyError, match="not DER of an unencrypted private key"):
        dk.private_key_pem(b"\x30\x03\x02\x01\x00")


def test_the_unwrap_names_the_libraries_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dk, "NACL_IMPORT_ERROR", "Traceback: No module named 'nacl'")
    with pytest.raises(dk.DeviceKeyError) as caught:
        dk.unwrap_private_key(bundle(), SECRET)
    assert f"({NACL})" in caught.value.msg
    assert "cryptography" not in caught.value.msg and "needed on the host only for DEVICE_REQUIRED certificates" in caught.value.msg


@pytest.mark.parametrize(
    ("nacl", "crypto", "for_unwrap", "expected"),
    [
        (False, False, False, None),
        (False, False, True, None),
        (True, False, False, None),
        (False, True, False, None),
        (
            True,
            True,
            False,
            f"({NACL} or {CRYPTOGRAPHY})",
        ),
        (True, False, True, f"({NACL})"),
        (False, True, True, f"({CRYPTOGRAPHY})"),
        (True, True, True, "Alpine py3-pynacl] and cryptography ["),
    ],
)
def test_missing_libraries(monkeypatch: pytest.MonkeyPatch, nacl: bool, crypto: bool, for_unwrap: bool, expected: str | None) -> None:
    monkeypatch.setattr(dk, "NACL_IMPORT_ERROR", "tb" if nacl else None)
    monkeypatch.setattr(dk, "CRYPTOGRAPHY_IMPORT_ERROR", "tb" if crypto else None)
    message = dk.missing_libraries(for_unwrap)
    if expected is None:
        assert message is None
    else:
        assert expected in message and "needed on the host only for DEVICE_REQUIRED certificates" in message


# Against the emulator's wrapping


def test_a_key_the_emulator_wrapped_for_a_pair_ensure_keypair_made(emu: Emulator, tmp_path: Path) -> None:
    made = dk.ensure_keypair(str(tmp_path / "keys"))
    api = Api(emu)
    device = api.register_device(made["device_public_id"], made["public_key"], name=unique("dr-host"))["device"]
    acct = api.account(provider="SELF_CA")
    cid = api.certificate(acct["id"], unique("dr") + ".example.com", policy="DEVICE_REQUIRED")["id"]
    api.issue(cid)
    api.call("POST", "/certificate-assign", {"certificate_id": cid, "device_public_id": made["device_public_id"]})
    material = api.bundle(device["id"], cid)
    assert material["device_keyfp_b64"] == made["fingerprint"]
    secret, public = dk.read_keypair(str(tmp_path / "keys"))
    assert b64(public) == made["public_key"]
    key = serialization.load_der_private_key(dk.unwrap_private_key(material, secret), None)
    record = api.call("GET", f"/certificates/{cid}", params={"detail": "most"})
    leaf = x509.load_pem_x509_certificate(record["cert"].encode())
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()


# The key pair


@pytest.fixture
def umask_022() -> t.Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_pair_is_two_0600_files_of_32_bytes_in_a_0700_directory(tmp_path: Path, umask_022: None) -> None:
    key_dir = tmp_path / "runtime" / "keys"
    result = dk.ensure_keypair(str(key_dir))
    assert result["changed"] and result["created"] and result["path"] == str(key_dir)
    assert mode(key_dir) == 0o700 and mode(key_dir.parent) == 0o755
    assert sorted(os.listdir(key_dir)) == ["dev_pk.bin", "dev_sk.bin"]
    secret, public = (key_dir / "dev_sk.bin").read_bytes(), (key_dir / "dev_pk.bin").read_bytes()
    assert len(secret) == len(public) == 32 and mode(key_dir / "dev_sk.bin") == mode(key_dir / "dev_pk.bin") == 0o600
    assert bytes(PrivateKey(secret).public_key) == public  # a libsodium crypto_box pair
    assert result["public_key"] == b64(public)
    assert result["fingerprint"] == b64(hashlib.blake2b(public, digest_size=32).digest())
    assert result["device_public_id"] == dk.public_id_for(public)
    again = dk.ensure_keypair(str(key_dir))
    assert again == {**result, "changed": False, "created": False}
    assert (key_dir / "dev_sk.bin").read_bytes() == secret


def test_check_mode_creates_nothing(tmp_path: Path) -> None:
    key_dir = tmp_path / "runtime" / "keys"
    result = dk.ensure_keypair(str(key_dir), check_mode=True)
    assert result == {"changed": True, "created": True, "path": str(key_dir), "public_key": None, "fingerprint": None, "device_public_id": None}
    assert list(tmp_path.iterdir()) == []


def test_a_pair_made_with_cryptography_alone_is_a_libsodium_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dk, "NACL_IMPORT_ERROR", "tb")
    result = dk.ensure_keypair(str(tmp_path / "keys"))
    assert dk.read_keypair(str(tmp_path / "keys"))[1] == base64.b64decode(result["public_key"])
    monkeypatch.undo()
    secret, public = dk.read_keypair(str(tmp_path / "keys"))
    assert bytes(PrivateKey(secret).public_key) == public == base64.b64decode(result["public_key"])


def test_no_library_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dk, "NACL_IMPORT_ERROR", "tb")
    monkeypatch.setattr(dk, "CRYPTOGRAPHY_IMPORT_ERROR", "tb")
    with pytest.raises(dk.DeviceKeyError, match="required for the host's device key pair"):
        dk.ensure_keypair(str(tmp_path / "keys"))
    assert list(tmp_path.iterdir()) == []


def test_wrong_modes_are_corrected_and_reported(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    write_pair(key_dir)
    key_dir.chmod(0o755)
    (key_dir / "dev_pk.bin").chmod(0o644)
    (key_dir / "dev_sk.bin").chmod(0o400)
    planned = dk.ensure_keypair(str(key_dir), check_mode=True)
    assert planned["changed"] and not planned["created"] and planned["public_key"] == b64(PUBLIC)
    assert (mode(key_dir), mode(key_dir / "dev_pk.bin"), mode(key_dir / "dev_sk.bin")) == (0o755, 0o644, 0o400)
    result = dk.ensure_keypair(str(key_dir))
    assert result["changed"] and not result["created"]
    assert (mode(key_dir), mode(key_dir / "dev_pk.bin"), mode(key_dir / "dev_sk.bin")) == (0o700, 0o600, 0o600)
    assert (key_dir / "dev_sk.bin").read_bytes() == SECRET
    assert not dk.ensure_keypair(str(key_dir))["changed"]


@pytest.mark.parametrize(
    "secret_text",
    [
        SECRET,
        VECTOR["secret_key_b64"].encode(),
        VECTOR["secret_key_b64"].encode() + b"\n",
        b"  " + VECTOR["secret_key_b64"][:20].encode() + b"\n" + VECTOR["secret_key_b64"][20:].encode(),
    ],
    ids=["raw", "base64", "base64-newline", "base64-wrapped"],
)
def test_an_agent_pair_is_reused(tmp_path: Path, secret_text: bytes) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir(mode=0o700)
    write_pair(key_dir, secret_text=secret_text)
    result = dk.ensure_keypair(str(key_dir))
    assert result["public_key"] == b64(PUBLIC) and not result["created"] and not result["changed"]
    assert (key_dir / "dev_sk.bin").read_bytes() == secret_text  # the agent's file is left as it wrote it
    assert dk.read_keypair(str(key_dir)) == (SECRET, PUBLIC)


def test_a_missing_public_key_file_is_written(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    write_pair(key_dir, public=None)
    key_dir.chmod(0o700)
    assert dk.read_keypair(str(key_dir)) == (SECRET, PUBLIC)
    result = dk.ensure_keypair(str(key_dir))
    assert result["changed"] and not result["created"]
    assert (key_dir / "dev_pk.bin").read_bytes() == PUBLIC and mode(key_dir / "dev_pk.bin") == 0o600


def test_the_agents_state_fallback_is_reused_as_it_is(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write_pair(state, secret_text=VECTOR["secret_key_b64"].encode(), public=None)
    state.chmod(0o750)
    assert dk.read_keypair(str(tmp_path / "keys")) == (SECRET, PUBLIC)
    result = dk.ensure_keypair(str(tmp_path / "keys"))
    assert result["public_key"] == b64(PUBLIC) and not result["changed"] and not result["created"]
    assert sorted(os.listdir(tmp_path)) == ["state"] and mode(state) == 0o750


def test_the_keys_directory_wins_over_the_state_fallback(tmp_path: Path) -> None:
    write_pair(tmp_path / "state", OTHER_SECRET, public=None)
    write_pair(tmp_path / "keys")
    assert dk.read_keypair(str(tmp_path / "keys")) == (SECRET, PUBLIC)


def test_no_secret_key_no_pair(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dev_pk.bin").write_bytes(PUBLIC)
    assert dk.read_keypair(str(tmp_path / "keys")) is None
    assert dk.read_keypair(str(tmp_path / "nowhere")) is None


def test_a_public_key_of_another_pair_is_refused(tmp_path: Path) -> None:
    write_pair(tmp_path / "keys", public=OTHER_PUBLIC)
    with pytest.raises(dk.DeviceKeyError, match="do not belong together") as caught:
        dk.ensure_keypair(str(tmp_path / "keys"))
    assert_no_key_bytes(caught.value)
    assert (tmp_path / "keys" / "dev_pk.bin").read_bytes() == OTHER_PUBLIC


@pytest.mark.parametrize("secret_mode", [0o640, 0o604, 0o660])
def test_a_secret_key_others_can_read_is_refused(tmp_path: Path, secret_mode: int) -> None:
    write_pair(tmp_path / "keys")
    (tmp_path / "keys" / "dev_sk.bin").chmod(secret_mode)
    with pytest.raises(dk.DeviceKeyError) as caught:
        dk.ensure_keypair(str(tmp_path / "keys"))
    assert f"dev_sk.bin has mode {secret_mode:04o}: a device secret key must be readable by its owner only (0600)" in caught.value.msg
    assert mode(tmp_path / "keys" / "dev_sk.bin") == secret_mode  # refused, not silently fixed
    assert_no_key_bytes(caught.value)


def test_a_secret_key_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    write_pair(tmp_path / "elsewhere")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dev_sk.bin").symlink_to(tmp_path / "elsewhere" / "dev_sk.bin")
    with pytest.raises(dk.DeviceKeyError, match=r"dev_sk.bin is not a regular file \(a symbolic link\)"):
        dk.read_keypair(str(tmp_path / "keys"))


def test_a_secret_key_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys" / "dev_sk.bin").mkdir(parents=True)
    with pytest.raises(dk.DeviceKeyError, match=r"dev_sk.bin is not a regular file \(a directory\); a device secret key must be one"):
        dk.read_keypair(str(tmp_path / "keys"))


@pytest.mark.parametrize("content", [b"", b"short", bytes(33), b"bm90IDMyIGJ5dGVz\n"])
def test_a_secret_key_file_of_the_wrong_size_is_refused(tmp_path: Path, content: bytes) -> None:
    write_pair(tmp_path / "keys", secret_text=content)
    with pytest.raises(dk.DeviceKeyError, match=f"holds {len(content)} bytes: neither a raw 32-byte X25519 key nor its base64"):
        dk.read_keypair(str(tmp_path / "keys"))


def test_a_key_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").write_bytes(b"x")
    with pytest.raises(dk.DeviceKeyError, match="exists and is not a directory"):
        dk.ensure_keypair(str(tmp_path / "keys"))


# device_public_id


def agent_state(runtime: Path, rows: dict[str, t.Any], *, columns: tuple[str, str] = ("key", "value")) -> Path:
    """state/session_state.db as the agent keeps it: SQLite in WAL mode with its kv_store and locks tables."""
    (runtime / "state").mkdir(parents=True, exist_ok=True)
    db = runtime / "state" / "session_state.db"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"CREATE TABLE kv_store ({columns[0]} TEXT PRIMARY KEY, {columns[1]} TEXT NOT NULL, updated_at INTEGER)")
        connection.execute("CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT, expires_at INTEGER)")
        connection.executemany(f"INSERT INTO kv_store ({columns[0]}, {columns[1]}, updated_at) VALUES (?, ?, 0)", rows.items())
    return db


AGENT_ID = "0f3c9a7e-51b2-4d8e-9c6a-7b1e2d3f4a5b"


@pytest.mark.parametrize(
    ("columns", "value"),
    [
        (("key", "value"), AGENT_ID),
        (("k", "v"), AGENT_ID.upper()),
        (("kv_key", "kv_value"), f" {AGENT_ID}\n"),
        (("name", "value_json"), json.dumps(AGENT_ID)),
    ],
)
def test_the_agents_device_public_id_is_kept(tmp_path: Path, columns: tuple[str, str], value: str) -> None:
    agent_state(tmp_path, {"access_token": "ey.x.y", "device_public_id": value}, columns=columns)
    assert dk.device_public_id(str(tmp_path / "keys"), PUBLIC) == AGENT_ID
    write_pair(tmp_path / "keys")
    assert dk.ensure_keypair(str(tmp_path / "keys"))["device_public_id"] == AGENT_ID


def test_a_blob_value_is_read_too(tmp_path: Path) -> None:
    db = agent_state(tmp_path, {})
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO kv_store VALUES ('device_public_id', ?, 0)", (AGENT_ID.encode(),))
    assert dk.device_public_id(str(tmp_path / "keys"), PUBLIC) == AGENT_ID


def test_check_mode_of_an_agent_enrolled_host_without_keys_knows_its_id(tmp_path: Path) -> None:
    agent_state(tmp_path, {"device_public_id": AGENT_ID})
    assert dk.ensure_keypair(str(tmp_path / "keys"), check_mode=True)["device_public_id"] == AGENT_ID


@pytest.mark.parametrize(
    "arrange",
    [
        lambda runtime: None,
        lambda runtime: agent_state(runtime, {"access_token": "ey.x.y"}),
        lambda runtime: agent_state(runtime, {"device_public_id": "not-a-uuid"}),
        lambda runtime: agent_state(runtime, {"device_public_id": AGENT_ID}, columns=("a", "b")),
        lambda runtime: sqlite3.connect(agent_state(runtime, {}).as_posix()).execute("DROP TABLE kv_store"),
    ],
    ids=["no-state", "no-id", "not-uuid-shaped", "unknown-columns", "no-kv_store"],
)
def test_otherwise_the_id_is_derived_from_the_key(tmp_path: Path, arrange: t.Callable[[Path], t.Any]) -> None:
    arrange(tmp_path)
    assert dk.device_public_id(str(tmp_path / "keys"), PUBLIC) == dk.public_id_for(PUBLIC)
    assert uuid.UUID(dk.public_id_for(PUBLIC)).hex == dk.public_id_for(PUBLIC).replace("-", "")


def test_agent_state_that_cannot_be_read_fails_rather_than_inventing_a_second_id(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "session_state.db").write_bytes(b"this is not an SQLite database, but it is long enough to be read as one" * 20)
    with pytest.raises(dk.DeviceKeyError, match=r"cannot read the device_public_id from the official agent's state .*session_state.db: "):
        dk.device_public_id(str(tmp_path / "keys"), PUBLIC)


def test_a_runtime_directory_whose_name_would_break_a_uri(tmp_path: Path) -> None:
    runtime = tmp_path / "run time?mode=rw#1%"
    agent_state(runtime, {"device_public_id": AGENT_ID})
    assert dk.device_public_id(str(runtime / "keys"), PUBLIC) == AGENT_ID
