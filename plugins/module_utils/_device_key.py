# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The device's X25519 key pair, kept on the host in the official agent's layout (<runtime_dir>/keys/dev_pk.bin and
# dev_sk.bin, raw 32 bytes, 0600), its BLAKE2b-256 fingerprint, the device_public_id derived from it, and the unwrap of
# a DEVICE_REQUIRED private key (sealed box + AES-256-GCM). Runs on managed hosts.

import base64
import binascii
import hashlib
import os
import re
import stat
import traceback
import typing as t
import urllib.parse

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cjj365.certctrl.plugins.module_utils import _errors as errors
from ansible_collections.cjj365.certctrl.plugins.module_utils._atomic import discard, fsync_dir, stage
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

try:
    from nacl.exceptions import CryptoError
    from nacl.public import PrivateKey, SealedBox
except ImportError:  # pragma: no cover - reported through missing_libraries
    NACL_IMPORT_ERROR: t.Optional[str] = traceback.format_exc()
else:
    NACL_IMPORT_ERROR = None

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover - reported through missing_libraries
    CRYPTOGRAPHY_IMPORT_ERROR: t.Optional[str] = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

try:
    import sqlite3
except ImportError:  # pragma: no cover - a Python built without it; only an agent-enrolled host needs it
    sqlite3 = None  # type: ignore[assignment]

KEY_BYTES = 32
# The agent's runtime directory on Linux (agent-facts §2.6); the keys live in its keys/ subdirectory.
DEFAULT_KEY_DIR = "/var/lib/certctrl/keys"
SECRET_FILE = "dev_sk.bin"
PUBLIC_FILE = "dev_pk.bin"
_PUBLIC_ID_DOMAIN = b"cjj365.certctrl device_public_id v1\0"
# A device_public_id as the server and the agent spell it (agent-facts §5.2).
PUBLIC_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NONCE_BYTES = 12
_TAG_BYTES = 16
_PENDING_WRAP = bytes(48)  # the server's sentinel of a wrap it has not made yet (agent-facts §2.1)
_WRAP_FIELDS = ("enc_data_key_b64", "enc_privkey_b64", "privkey_nonce_b64", "privkey_tag_b64")
_MAX_KEY_FILE = 4096  # a key file is 32 bytes, or its base64; anything larger is not one
_PACKAGES = {
    "PyNaCl": "PyNaCl [Debian/Ubuntu python3-nacl, Fedora/RHEL/EPEL python3-pynacl, Alpine py3-pynacl]",
    "cryptography": "cryptography [python3-cryptography, Alpine py3-cryptography]",
}


class DeviceKeyError(CertCtrlError):
    """The device key pair or a wrapped private key cannot be used; the message never holds key bytes."""


class WrapPendingError(DeviceKeyError, errors.WrapPendingError):
    """The bundle carries the pending sentinel: the server has not sealed the data key for this device yet."""


def missing_libraries(for_unwrap: bool) -> t.Optional[str]:
    """None when the host can do the job, else what to install: key generation needs PyNaCl or cryptography,
    the unwrap both (the sealed box is XSalsa20-Poly1305, which cryptography lacks; AES-GCM and PEM need cryptography)."""
    missing = [name for name, error in (("PyNaCl", NACL_IMPORT_ERROR), ("cryptography", CRYPTOGRAPHY_IMPORT_ERROR)) if error]
    if for_unwrap and missing:
        libraries, job = " and ".join(_PACKAGES[name] for name in missing), "to open the private key cert-ctrl wrapped for this device"
    elif not for_unwrap and len(missing) == 2:
        libraries, job = " or ".join(_PACKAGES.values()), "for the host's device key pair"
    else:
        return None
    return missing_required_lib(libraries, reason=f"{job} (needed on the host only for DEVICE_REQUIRED certificates)")


def decode_public_key(value: t.Union[str, bytes]) -> bytes:
    """The 32 raw bytes of a device public key given as standard base64 (what the API calls ``dev_pk``)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CertCtrlError("the device public key is not standard base64") from None
    if len(raw) != KEY_BYTES:
        raise CertCtrlError(f"the device public key is {len(raw)} bytes, not {KEY_BYTES} (an X25519 public key)")
    return raw


def fingerprint(public_key: bytes) -> bytes:
    """BLAKE2b-256 of the raw public key: the server's ``device_keyfp`` (agent-facts §2.2)."""
    return hashlib.blake2b(public_key, digest_size=32).digest()


def public_id_for(public_key: bytes) -> str:
    """A UUID-shaped device_public_id (8-4-4-4-12 lower-case hex) that stays the same as long as the host keeps its key."""
    digest = hashlib.sha256(_PUBLIC_ID_DOMAIN + public_key).hexdigest()[:32]
    return "-".join((digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32]))


def _public_key_of(secret_key: bytes) -> bytes:
    """crypto_scalarmult_base(sk), as the agent recomputes it: libsodium's crypto_box secret key is the raw X25519 scalar."""
    if NACL_IMPORT_ERROR is None:
        return bytes(PrivateKey(secret_key).public_key)
    if CRYPTOGRAPHY_IMPORT_ERROR is None:
        public = X25519PrivateKey.from_private_bytes(secret_key).public_key()
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise DeviceKeyError(missing_libraries(for_unwrap=False) or "")


def _generate() -> bytes:
    """A new secret key (PyNaCl's crypto_box_keypair as the agent makes it, else cryptography's X25519)."""
    if NACL_IMPORT_ERROR is None:
        return bytes(PrivateKey.generate())
    if CRYPTOGRAPHY_IMPORT_ERROR is None:
        return X25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    raise DeviceKeyError(missing_libraries(for_unwrap=False) or "")


def _read_key_file(path: str, *, secret: bool) -> bytes:
    """The 32 bytes of a key file the agent's way: raw, or base64 text with whitespace stripped. A secret key file
    must be a regular file only its owner can read: anything else may have been exposed or swapped."""
    st = os.lstat(path)
    kind = "device secret key" if secret else "device public key"
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode) else "a special file"
        raise DeviceKeyError(f"{path} is not a regular file ({what}); a {kind} must be one")
    if secret and st.st_mode & 0o077:
        raise DeviceKeyError(
            f"{path} has mode {stat.S_IMODE(st.st_mode):04o}: a device secret key must be readable by its owner only (0600). It may have"
            " been read by others; chmod 0600 it if you trust it, or remove the key pair and enroll the host again"
        )
    with open(path, "rb") as handle:
        data = handle.read(_MAX_KEY_FILE + 1)
    if len(data) == KEY_BYTES:
        return data
    try:
        raw = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise DeviceKeyError(f"{path} holds {len(data)} bytes: neither a raw {KEY_BYTES}-byte X25519 key nor its base64")
    return raw


class _Pair(t.NamedTuple):
    secret_path: str
    secret: bytes
    public: bytes
    public_path: t.Optional[str]  # None when dev_pk.bin is missing next to the secret key


def _secret_paths(key_dir: str) -> t.Tuple[str, str]:
    """Where the agent looks for the secret key: keys/dev_sk.bin, then state/dev_sk.bin of the same runtime dir."""
    return os.path.join(key_dir, SECRET_FILE), os.path.join(os.path.dirname(key_dir), "state", SECRET_FILE)


def _load(key_dir: str) -> t.Optional[_Pair]:
    for secret_path in _secret_paths(key_dir):
        if not os.path.lexists(secret_path):
            continue
        secret = _read_key_file(secret_path, secret=True)
        public = _public_key_of(secret)
        public_path = os.path.join(os.path.dirname(secret_path), PUBLIC_FILE)
        if not os.path.lexists(public_path):
            return _Pair(secret_path, secret, public, None)
        if _read_key_file(public_path, secret=False) != public:
            raise DeviceKeyError(
                f"{public_path} and {secret_path} do not belong together: the public key computed from the secret key is not the"
                " one in the file; restore the matching pair, or remove both and enroll the host again"
            )
        return _Pair(secret_path, secret, public, public_path)
    return None


def read_keypair(key_dir: str) -> t.Optional[t.Tuple[bytes, bytes]]:
    """(secret key, public key) of the host's device key pair in the agent's layout, None when it has no secret key."""
    pair = _load(os.path.abspath(key_dir))
    return None if pair is None else (pair.secret, pair.public)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _agent_public_id(key_dir: str) -> t.Optional[str]:
    """The device_public_id the official agent persisted (state/session_state.db, table kv_store), if any."""
    db = os.path.join(os.path.dirname(os.path.abspath(key_dir)), "state", "session_state.db")
    if not os.path.isfile(db):
        return None
    if sqlite3 is None:
        raise DeviceKeyError(f"{db} is the official agent's state, but this host's Python has no sqlite3 module to read its device_public_id")
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(db)}?mode=ro", uri=True, timeout=5)
        try:
            value = _kv_value(connection, "device_public_id")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise DeviceKeyError(f"cannot read the device_public_id from the official agent's state {db}: {exc}") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = value.strip().strip('"').lower() if isinstance(value, str) else ""
    return value if PUBLIC_ID.match(value) else None


def _kv_value(connection: t.Any, key: str) -> t.Any:
    """kv_store's value for ``key``; the schema is the agent's, so the columns are found by their names."""
    columns = [row[1] for row in connection.execute("PRAGMA table_info(kv_store)")]
    key_column = next((c for c in columns if c.lower() in ("key", "k", "name")), None) or next((c for c in columns if "key" in c.lower()), None)
    value_column = next((c for c in columns if c.lower() in ("value", "v", "val")), None) or next((c for c in columns if "value" in c.lower()), None)
    if not key_column or not value_column:
        return None
    quoted = ['"' + name.replace('"', '""') + '"' for name in (value_column, key_column)]
    row = connection.execute(f"SELECT {quoted[0]} FROM kv_store WHERE {quoted[1]} = ?", (key,)).fetchone()
    return row[0] if row else None


def device_public_id(key_dir: str, public_key: bytes) -> str:
    """The id an agent-enrolled host already has (kept by the agent), else the one derived from the public key."""
    return _agent_public_id(key_dir) or public_id_for(public_key)


def _result(key_dir: str, public: t.Optional[bytes], *, changed: bool, created: bool) -> t.Dict[str, t.Any]:
    return {
        "changed": changed,
        "created": created,
        "path": key_dir,
        "public_key": None if public is None else _b64(public),
        "fingerprint": None if public is None else _b64(fingerprint(public)),
        "device_public_id": _agent_public_id(key_dir) if public is None else device_public_id(key_dir, public),
    }


def _set_mode(path: str, mode: int, *, check_mode: bool) -> bool:
    if stat.S_IMODE(os.stat(path).st_mode) == mode:
        return False
    if not check_mode:
        os.chmod(path, mode)
    return True


def _make_dirs(key_dir: str) -> None:
    """key_dir 0700 and any missing parent 0755, exactly (mkdir's mode passes through the umask)."""
    missing = []
    path = key_dir
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        mode = 0o700 if path == key_dir else 0o755
        os.mkdir(path, mode)
        os.chmod(path, mode)


def _write_pair(key_dir: str, files: t.Dict[str, bytes]) -> None:
    """Both files staged (0600) before either is renamed into place, so a failure leaves no half pair behind."""
    temps: t.List[str] = []
    try:
        for name, data in files.items():
            temps.append(stage(os.path.join(key_dir, name), data))
            os.chmod(temps[-1], 0o600)
    except BaseException:
        discard(temps)
        raise
    for name, temp in zip(files, temps):
        os.replace(temp, os.path.join(key_dir, name))
    fsync_dir(key_dir)


def _tighten(key_dir: str, pair: _Pair, *, check_mode: bool) -> bool:
    """Modes of an existing pair back to the agent's (dir 0700, files 0600); a missing dev_pk.bin of keys/ is written."""
    changed = _set_mode(pair.secret_path, 0o600, check_mode=check_mode)
    if os.path.dirname(pair.secret_path) != key_dir:
        return changed  # the agent's state/ fallback: its directory is the agent's (0750), left as it is
    changed = _set_mode(key_dir, 0o700, check_mode=check_mode) or changed
    if pair.public_path is not None:
        return _set_mode(pair.public_path, 0o600, check_mode=check_mode) or changed
    if not check_mode:
        _write_pair(key_dir, {PUBLIC_FILE: pair.public})
    return True


def ensure_keypair(key_dir: str, *, check_mode: bool = False) -> t.Dict[str, t.Any]:
    """The host's device key pair in the agent's layout: an existing one (the agent's or ours) is reused, else one is made.

    ``public_key`` and ``fingerprint`` are None in check mode when the pair would be created.
    """
    key_dir = os.path.abspath(key_dir)
    if os.path.exists(key_dir) and not os.path.isdir(key_dir):
        raise DeviceKeyError(f"{key_dir} exists and is not a directory")
    pair = _load(key_dir)
    if pair is not None:
        return _result(key_dir, pair.public, changed=_tighten(key_dir, pair, check_mode=check_mode), created=False)
    if check_mode:
        return _result(key_dir, None, changed=True, created=True)
    secret = _generate()
    public = _public_key_of(secret)
    _make_dirs(key_dir)
    _set_mode(key_dir, 0o700, check_mode=False)
    _write_pair(key_dir, {SECRET_FILE: secret, PUBLIC_FILE: public})
    return _result(key_dir, public, changed=True, created=True)


def _field(material: t.Dict[str, t.Any], name: str) -> bytes:
    try:
        return base64.b64decode(material[name], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise DeviceKeyError(f"the bundle's {name} is not standard base64") from None


def _check_scheme(material: t.Dict[str, t.Any]) -> None:
    """aes256gcm, 1 or missing, as the agent reads it; the plaintext variant (plaintext, 0) has no wrapped key."""
    scheme = material.get("enc_scheme")
    name = scheme.strip().lower() if isinstance(scheme, str) else scheme
    if name in (None, "aes256gcm", 1, "1"):
        return
    if name in ("plaintext", 0, "0"):
        raise DeviceKeyError(f"the bundle's key is not wrapped for a device (enc_scheme {scheme!r}): there is nothing to unwrap")
    raise DeviceKeyError(f"the bundle's enc_scheme {scheme!r} is not one this collection can open (aes256gcm)")


def _wrapped_fields(material: t.Dict[str, t.Any]) -> t.Tuple[bytes, bytes, bytes, bytes]:
    """enc_data_key, ciphertext, nonce, tag: all four required, the nonce 12 bytes and the tag exactly 16."""
    missing = [name for name in _WRAP_FIELDS if not material.get(name)]
    if missing:
        raise DeviceKeyError(f"the bundle lacks {', '.join(missing)}: it does not hold a key wrapped for a device")
    enc_data_key, ciphertext, nonce, tag = (_field(material, name) for name in _WRAP_FIELDS)
    if len(nonce) != _NONCE_BYTES:
        raise DeviceKeyError(f"the bundle's privkey_nonce_b64 is {len(nonce)} bytes, not {_NONCE_BYTES} (an AES-256-GCM nonce)")
    if len(tag) != _TAG_BYTES:
        raise DeviceKeyError(f"the bundle's privkey_tag_b64 is {len(tag)} bytes, not {_TAG_BYTES} (an AES-256-GCM tag)")
    if enc_data_key == _PENDING_WRAP:
        raise WrapPendingError(
            "cert-ctrl has not wrapped this certificate's key for this device yet (the bundle holds the pending sentinel);"
            " it does once the device is registered with its public key: run cjj365.certctrl.device, then retry"
        )
    return enc_data_key, ciphertext, nonce, tag


def _check_fingerprint(material: t.Dict[str, t.Any], public_key: bytes) -> None:
    if not material.get("device_keyfp_b64"):
        return
    ours = fingerprint(public_key)
    if _field(material, "device_keyfp_b64") != ours:
        raise DeviceKeyError(
            f"this host's device key is not the one cert-ctrl wrapped the key for: fingerprint {_b64(ours)}, the bundle's"
            f" {material['device_keyfp_b64']}; was the host re-enrolled?"
        )


def _to_pkcs8_der(plaintext: bytes) -> bytes:
    """The decrypted key as PKCS#8 DER; the agent accepts PEM as well as DER there."""
    try:
        if plaintext.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(plaintext, password=None)
        else:
            key = serialization.load_der_private_key(plaintext, password=None)
    except (ValueError, TypeError):
        raise DeviceKeyError("the unwrapped private key is neither DER nor PEM of an unencrypted private key") from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def unwrap_private_key(material: t.Dict[str, t.Any], secret_key: bytes) -> bytes:
    """The PKCS#8 DER private key of a DEVICE_REQUIRED bundle (its AEAD JSON fields), as the agent's
    decrypt_private_key_pem opens it: sealed box with the device key, then AES-256-GCM without AAD."""
    missing = missing_libraries(for_unwrap=True)
    if missing:
        raise DeviceKeyError(missing)
    _check_fingerprint(material, _public_key_of(secret_key))
    _check_scheme(material)
    enc_data_key, ciphertext, nonce, tag = _wrapped_fields(material)
    try:
        data_key = SealedBox(PrivateKey(secret_key)).decrypt(enc_data_key)
    except CryptoError:
        raise DeviceKeyError("the bundle's data key does not open with this host's device key: it was sealed for another key, or it is corrupt") from None
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext + tag, None)
    except (InvalidTag, ValueError):
        raise DeviceKeyError("the bundle's private key does not decrypt with its data key: the bundle is corrupt or was tampered with") from None
    return _to_pkcs8_der(plaintext)


def private_key_pem(der: bytes) -> bytes:
    """PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) of a DER private key."""
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise DeviceKeyError("the private key is not DER of an unencrypted private key") from None
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


__all__ = [
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "DEFAULT_KEY_DIR",
    "KEY_BYTES",
    "NACL_IMPORT_ERROR",
    "PUBLIC_FILE",
    "PUBLIC_ID",
    "SECRET_FILE",
    "DeviceKeyError",
    "WrapPendingError",
    "decode_public_key",
    "device_public_id",
    "ensure_keypair",
    "fingerprint",
    "missing_libraries",
    "private_key_pem",
    "public_id_for",
    "read_keypair",
    "unwrap_private_key",
]
