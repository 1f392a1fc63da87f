# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The JSON answers of the device bundle endpoint (production-shape.md, "DEVICE_REQUIRED as the agent implements it"):
# the AEAD variant (the private key encrypted under a data key sealed for the device; only the host can open it) and
# the plaintext variant (MASTER_ONLY with server_decrypt_export). Parsed defensively, as the zip is in _bundle.

import base64
import binascii
import json
import typing as t

try:
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - reported by the caller (_x509.CRYPTOGRAPHY_IMPORT_ERROR)
    pass

from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import CorruptBundleError
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

# field -> exact decoded length (None: any, up to MAX_CIPHERTEXT). enc_data_key is crypto_box_seal of 32 bytes.
AEAD_FIELDS: t.Dict[str, t.Optional[int]] = {
    "enc_data_key_b64": 80,
    "enc_privkey_b64": None,
    "privkey_nonce_b64": 12,
    "privkey_tag_b64": 16,
}
AEAD_OPTIONAL: t.Dict[str, t.Optional[int]] = {"device_keyfp_b64": 32, "wrap_alg": None, "enc_scheme": None}
WRAP_ALGORITHMS = ("x25519", "x25519-v1")
# The agent accepts numeric schemes too: 0 plaintext, 1 aes256gcm; a missing one is aes256gcm.
PLAINTEXT_SCHEMES = ("plaintext", 0)
AEAD_SCHEMES = ("aes256gcm", 1, None)
MAX_CIPHERTEXT = 16 * 1024  # a PKCS#8 RSA-4096 key is about 2.4 KB
_SUFFIX = "; nothing was changed"


def _rejected(reason: str) -> CertCtrlError:
    return CertCtrlError(f"bundle rejected: {reason}{_SUFFIX}")


def is_json(content: bytes, headers: t.Optional[t.Mapping[str, str]] = None) -> bool:
    """Whether a bundle download is one of the JSON variants rather than the zip (by its type, else its first byte)."""
    ctype = ((headers or {}).get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return True
    return ctype != "application/zip" and content.lstrip()[:1] == b"{"


def _b64(data: t.Dict[str, t.Any], name: str, length: t.Optional[int]) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise _rejected(f"field {name} is {'missing' if value is None else 'not a string'}")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _rejected(f"field {name} is not standard base64") from None
    if length is not None and len(raw) != length:
        raise _rejected(f"field {name} holds {len(raw)} bytes, not {length}")
    if length is None and not 0 < len(raw) <= MAX_CIPHERTEXT:
        raise _rejected(f"field {name} holds {len(raw)} bytes (1 to {MAX_CIPHERTEXT} expected)")
    return raw


def _data(content: bytes) -> t.Dict[str, t.Any]:
    try:
        answer = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptBundleError(f"bundle rejected: the JSON bundle does not parse ({exc}; {len(content)} bytes){_SUFFIX}") from None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise _rejected("the JSON bundle has no data object")
    return data


def _scheme(data: t.Dict[str, t.Any]) -> t.Any:
    scheme = data.get("enc_scheme")
    scheme = scheme.lower() if isinstance(scheme, str) else scheme
    if scheme not in PLAINTEXT_SCHEMES + AEAD_SCHEMES or isinstance(scheme, bool):
        raise _rejected(f"enc_scheme {scheme!r} is not one this collection can read (plaintext, aes256gcm)")
    return scheme


def _aead(data: t.Dict[str, t.Any]) -> t.Dict[str, str]:
    for name, length in AEAD_FIELDS.items():
        _b64(data, name, length)
    if data.get("device_keyfp_b64") is not None:
        _b64(data, "device_keyfp_b64", 32)
    wrap_alg = data.get("wrap_alg")
    if wrap_alg is not None and str(wrap_alg).lower() not in WRAP_ALGORITHMS:
        raise _rejected(f"wrap_alg {wrap_alg!r} is not one this collection can unwrap ({', '.join(WRAP_ALGORITHMS)})")
    return {name: data[name] for name in (*AEAD_FIELDS, *AEAD_OPTIONAL) if data.get(name) is not None and name != "enc_scheme"}


def _plaintext_key(data: t.Dict[str, t.Any]) -> bytes:
    """The plaintext variant's key as PKCS#8 PEM (from private_key_der_b64, or private_key_pem as the agent also accepts)."""
    try:
        if isinstance(data.get("private_key_pem"), str):
            key = serialization.load_pem_private_key(data["private_key_pem"].encode("ascii", "replace"), password=None)
        else:
            key = serialization.load_der_private_key(_b64(data, "private_key_der_b64", None), password=None)
    except (TypeError, ValueError):
        raise _rejected("the plaintext bundle's private key does not load") from None
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def parse_json_bundle(content: bytes) -> t.Dict[str, t.Any]:
    """``{"scheme": "aead", "material": {...}}`` (the wrapped fields, for the host) or ``{"scheme": "plaintext",
    "private_key_pem": bytes, "certificate_pem": str or None}``. Raises CertCtrlError naming what is wrong."""
    data = _data(content)
    scheme = _scheme(data)
    if scheme in PLAINTEXT_SCHEMES:
        pem = data.get("certificate_pem")
        return {"scheme": "plaintext", "private_key_pem": _plaintext_key(data), "certificate_pem": pem if isinstance(pem, str) and pem else None}
    return {"scheme": "aead", "material": _aead(data)}


__all__ = ["AEAD_FIELDS", "is_json", "parse_json_bundle"]
