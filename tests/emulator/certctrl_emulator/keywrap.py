"""The private key of a DEVICE_REQUIRED certificate: encrypted at issuance, its data key sealed per device.

As the agent implements it (production-shape.md "DEVICE_REQUIRED as the agent implements it"; agent-facts §2.1-2.2):
a 32-byte data key encrypts the key's PKCS#8 DER with AES-256-GCM (12-byte nonce, no AAD, the 16-byte tag stored
apart); per assigned device the data key is sealed to its ``dev_pk`` with libsodium's ``crypto_box_seal`` (80 bytes),
a device without ``dev_pk`` gets the pending wrap, 48 zero bytes. The fingerprint is BLAKE2b-256 of the raw key.

The server keeps the data key only under its master key (agent-facts §2.2, ``Certificate_Encryption_System.md``'s
master-key fallback), so that it can seal for a device assigned or enrolled later; no route serves it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import pki
from .store import Row, Store

DEV_PK_BYTES = 32
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
PENDING_WRAP = bytes(48)  # the sentinel of a wrap not made yet (agent-facts §2.1)
WRAP_ALG = "x25519"  # the DB's and most docs' value; one API example says "x25519-v1" (agent-facts §8, conflict 2)
ENC_AES256GCM = 1  # CertRecord.enc_scheme: 0 legacy plaintext, 1 AES-256-GCM (agent-facts §5.1)
MASTER_KEY = "master_key"  # the emulator's master key, kept in the store's meta table
PLAIN_COLUMNS = {"enc_scheme": 0, "enc_privkey": "", "privkey_nonce": "", "privkey_tag": "", "master_wrapped_key": ""}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def decode_dev_pk(value: Any) -> bytes:
    """The raw X25519 public key of a ``dev_pk`` (standard base64 of 32 bytes); ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("must be a string (standard base64 of the 32-byte X25519 public key)")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not standard base64") from None
    if len(raw) != DEV_PK_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, an X25519 public key has {DEV_PK_BYTES}")
    return raw


def keyfp_b64(dev_pk: bytes) -> str:
    """``device_keyfp_b64``: base64 of BLAKE2b-256 of the raw public key (agent-facts §2.1)."""
    return b64(hashlib.blake2b(dev_pk, digest_size=32).digest())


def _master(store: Store) -> AESGCM:
    return AESGCM(store.secret(MASTER_KEY, DATA_KEY_BYTES))


def key_columns(store: Store, policy: str, key_pem: str) -> Row:
    """The certificate columns that hold a newly issued key: DEVICE_REQUIRED only encrypted, else the PEM."""
    if policy != "DEVICE_REQUIRED":
        return {"key_pem": key_pem, **PLAIN_COLUMNS}
    der = pki.load_key(key_pem).private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    data_key, nonce, master_nonce = os.urandom(DATA_KEY_BYTES), os.urandom(NONCE_BYTES), os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, der, None)  # ciphertext || tag; stored apart like production
    return {
        "key_pem": "",
        "enc_scheme": ENC_AES256GCM,
        "enc_privkey": b64(sealed[:-TAG_BYTES]),
        "privkey_nonce": b64(nonce),
        "privkey_tag": b64(sealed[-TAG_BYTES:]),
        "master_wrapped_key": b64(master_nonce + _master(store).encrypt(master_nonce, data_key, None)),
    }


def _data_key(store: Store, cert: Row) -> bytes:
    blob = unb64(cert["master_wrapped_key"])
    return _master(store).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)


def _seal(data_key: bytes, device: Row) -> tuple[str, bytes]:
    """(fingerprint, wrap) for one device: the sealed data key, or the pending wrap when it has no ``dev_pk``."""
    if not device["dev_pk"]:
        return "", PENDING_WRAP
    from nacl.public import PublicKey, SealedBox  # PyNaCl only once a key is sealed (cryptography has no XSalsa20)

    dev_pk = unb64(device["dev_pk"])
    return keyfp_b64(dev_pk), SealedBox(PublicKey(dev_pk)).encrypt(data_key)


def is_pending(wrap: Row | None) -> bool:
    return wrap is None or unb64(wrap["enc_data_key"]) == PENDING_WRAP


def rewrap(store: Store, cert_id: int) -> None:
    """A wrap per assigned device of the key now stored (after each issuance); none when it is not encrypted."""
    with store.lock:
        cert = store.get("certificates", cert_id)
        rows = []
        if cert and cert["enc_privkey"]:
            data_key = _data_key(store, cert)
            for device in store.devices_of_certificate(cert_id, cert["user_id"]):
                rows.append((device["id"], *_seal(data_key, device)))
        store.set_wraps(cert_id, [(d, WRAP_ALG, fp, b64(w)) for d, fp, w in rows])


def ensure_wrap(store: Store, cert_id: int, device_id: int) -> None:
    """Seal the stored key for one device unless it has a real wrap already (assignment, enrollment)."""
    with store.lock:
        cert, device = store.get("certificates", cert_id), store.get("devices", device_id)
        if not (cert and device and cert["enc_privkey"]) or not is_pending(store.wrap_of(cert_id, device_id)):
            return
        fp, wrap = _seal(_data_key(store, cert), device)
        store.set_wrap(cert_id, device_id, WRAP_ALG, fp, b64(wrap))


def enroll(store: Store, device: Row) -> None:
    """A device that has just got its ``dev_pk``: its pending wraps become real ones (agent-facts §4.1: the
    server's sentinel -> wrap transition)."""
    for cert in store.certificates_of_device(device["id"], device["user_id"]):
        ensure_wrap(store, cert["id"], device["id"])


def aead_bundle(cert: Row, wrap: Row) -> dict[str, str]:
    """The AEAD bundle of agent-facts §2.1: no certificate and no chain (the agent reads those from the record)."""
    return {
        "wrap_alg": wrap["wrap_alg"],
        "enc_scheme": "aes256gcm",
        "device_keyfp_b64": wrap["device_keyfp"],
        "enc_data_key_b64": wrap["enc_data_key"],
        "enc_privkey_b64": cert["enc_privkey"],
        "privkey_nonce_b64": cert["privkey_nonce"],
        "privkey_tag_b64": cert["privkey_tag"],
    }
