# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The device bundle zip: parse it defensively, validate what it holds, render the output files.
# Pure functions: bytes in, bytes out. Writing files and talking to the API are the caller's job.

import datetime
import io
import re
import stat
import typing as t
import zipfile
import zlib

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib (_x509.CRYPTOGRAPHY_IMPORT_ERROR)
    pass

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import OUTPUT_FILES, SECRET_FILES
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import normalize_fingerprint
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import (
    dns_names,
    load_pem_chain,
    not_valid_after,
    not_valid_before,
    sha256_fingerprint,
    utcnow,
)

MiB = 1024 * 1024
REQUIRED_ENTRIES = ("private.key", "certificate.pem", "fullchain.pem")
# Entries we read. Anything else (meta.json, future additions) is ignored and never decompressed.
KNOWN_ENTRIES = (*REQUIRED_ENTRIES, "chain.pem", "certificate.der", "bundle.pfx")
# render() produces the OUTPUT_FILES of _file_kinds (the module's ``files`` choices); DEFAULT_FILES unless told.
_DRIVE = re.compile(r"^[A-Za-z]:")
_SUFFIX = "; nothing was changed"


class CorruptBundleError(CertCtrlError):
    """The download is empty, truncated or corrupt (not hostile): downloading it again may help."""


# The bundle zip's answer carries the PKCS#12 password in this header (DESIGN.md, device bundle zip).
PASSWORD_HEADER = "X-Export-Password"


def _rejected(reason: str) -> CertCtrlError:
    return CertCtrlError(f"bundle rejected: {reason}{_SUFFIX}")


def _corrupt(reason: str) -> CorruptBundleError:
    return CorruptBundleError(f"bundle rejected: {reason}{_SUFFIX}")


class Bundle:
    """The entries of a bundle zip that we use, as raw bytes, plus the names we ignored."""

    def __init__(self, entries: t.Dict[str, bytes], ignored: t.Optional[t.List[str]] = None) -> None:
        self.entries = entries
        self.ignored = [] if ignored is None else ignored

    def get(self, name: str) -> t.Optional[bytes]:
        return self.entries.get(name)


# -- parse ------------------------------------------------------------------------------------


def _unsafe_name(name: str) -> t.Optional[str]:
    """Why an entry name may not appear in a bundle, or None when it is harmless."""
    if not name or "\0" in name:
        return "an empty name or a NUL byte"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/"):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a drive letter"
    if ".." in name.split("/"):
        return "path traversal ('..')"
    return None


def _describe_start(data: bytes) -> str:
    """The start of a body that is not a zip (a proxy's error page?), unless it may be key material."""
    if b"-----BEGIN" in data[:200] or b"PRIVATE" in data[:200]:
        return "it starts with a PEM block, not shown"
    return f"it starts {data[:40]!r}"


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Decompress one entry, stopping as soon as it passes ``limit`` bytes (decompression bombs lie about their size)."""
    chunks, size = [], 0
    with zf.open(info) as handle:
        while True:
            chunk = handle.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise _rejected(f"entry {info.filename!r} inflates past the {limit} byte limit")
            chunks.append(chunk)
    return b"".join(chunks)


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """One entry we use: refused when it declares more than ``limit`` bytes or is encrypted, else decompressed."""
    if info.file_size > limit:
        raise _rejected(f"entry {info.filename!r} declares {info.file_size} bytes, more than the {limit} byte limit")
    if info.flag_bits & 0x1:
        raise _rejected(f"entry {info.filename!r} is encrypted")
    try:
        return _inflate(zf, info, limit)
    except CertCtrlError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise _corrupt(f"entry {info.filename!r} is corrupt, truncated or larger than it declares ({exc})") from None


def _open_zip(data: bytes) -> zipfile.ZipFile:
    if not data:
        raise _corrupt("the download is empty")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        if data[:4] == b"PK\x03\x04":
            raise _corrupt(f"the download is a truncated zip ({exc}; {len(data)} bytes)") from None
        raise _corrupt(f"the download is not a zip file ({exc}; {_describe_start(data)})") from None
    except (OSError, ValueError, EOFError) as exc:
        raise _corrupt(f"the download is not a readable zip file ({exc})") from None


def _check_entry(info: zipfile.ZipInfo, seen: t.Set[str]) -> None:
    """Refuse a hostile or odd entry (``seen``: the names before it)."""
    name = info.filename
    why = _unsafe_name(name)
    if why:
        raise _rejected(f"entry {name!r} has {why}")
    if name.endswith("/") or info.is_dir():
        raise _rejected(f"entry {name!r} is a directory; a bundle holds plain files only")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _rejected(f"entry {name!r} is a symbolic link")
    if name in seen:
        raise _rejected(f"entry {name!r} appears twice")


def _entry_names(infos: t.List[zipfile.ZipInfo], max_entries: int) -> t.Set[str]:
    """The names of the zip's entries, once every entry passed _check_entry and the required ones are there."""
    if len(infos) > max_entries:
        raise _rejected(f"the zip has {len(infos)} entries, more than the {max_entries} allowed")
    seen: t.Set[str] = set()
    for info in infos:
        _check_entry(info, seen)
        seen.add(info.filename)
    missing = [n for n in REQUIRED_ENTRIES if n not in seen]
    if missing:
        raise _rejected(f"required entr{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)} missing (the zip holds {', '.join(sorted(seen))})")
    return seen


def parse_bundle(data: bytes, *, max_entry_bytes: int = MiB, max_total_bytes: int = 5 * MiB, max_entries: int = 64) -> Bundle:
    """Read a bundle zip held in memory. Raises CertCtrlError saying what is wrong with a hostile or broken zip.

    Every entry name is checked (traversal, absolute paths, backslashes, drive letters, symlinks, directories,
    duplicates) although only KNOWN_ENTRIES are decompressed; a bundle with any such entry is refused whole.
    """
    with _open_zip(data) as zf:
        infos = zf.infolist()
        seen = _entry_names(infos, max_entries)
        entries: t.Dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.filename not in KNOWN_ENTRIES:
                continue
            entries[info.filename] = _read_entry(zf, info, max_entry_bytes)
            total += len(entries[info.filename])
            if total > max_total_bytes:
                raise _rejected(f"the entries we read exceed the {max_total_bytes} byte total limit")
    return Bundle(entries=entries, ignored=sorted(seen.difference(entries)))


# -- validate ---------------------------------------------------------------------------------


def name_covered(name: str, sans: t.Iterable[str]) -> bool:
    """RFC 6125: exact match (case-insensitive), or a ``*.`` wildcard standing for exactly one left-most label."""
    name = name.lower().rstrip(".")
    for san in sans:
        san = san.lower().rstrip(".")
        if san == name:
            return True
        if san.startswith("*.") and "." in name:
            label, rest = name.split(".", 1)
            if label and label != "*" and rest == san[2:]:
                return True
    return False


def _load_key(data: bytes) -> t.Any:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise _rejected("private.key is encrypted; the bundle must carry an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise _rejected("private.key is not a PEM private key") from None


def _load_certs(bundle: Bundle, name: str) -> t.List[t.Any]:
    try:
        return load_pem_chain(bundle.entries[name])
    except CertCtrlError as exc:
        raise _rejected(f"{name}: {exc.msg}") from None


def _spki(private_key_or_cert: t.Any) -> bytes:
    """The DER SubjectPublicKeyInfo of a private key or a certificate: equal when they belong together."""
    public = private_key_or_cert.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _der(cert: t.Any) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _materials(bundle: Bundle) -> t.Tuple[t.Any, t.Any, t.List[t.Any]]:
    """(key, leaf, intermediates) after the structural checks: one leaf, fullchain begins with it, chain.pem agrees.

    The key is None in a public bundle (public_bundle: DEVICE_REQUIRED, whose key only the host can decrypt).
    """
    key = _load_key(bundle.entries["private.key"]) if "private.key" in bundle.entries else None
    leafs = _load_certs(bundle, "certificate.pem")
    if len(leafs) != 1:
        raise _rejected(f"certificate.pem holds {len(leafs)} certificates; it must hold the leaf only")
    leaf = leafs[0]
    full = _load_certs(bundle, "fullchain.pem")
    if _der(full[0]) != _der(leaf):
        raise _rejected("fullchain.pem does not begin with the certificate of certificate.pem")
    chain = full[1:]
    if bundle.get("chain.pem") and bundle.entries["chain.pem"].strip():
        listed = _load_certs(bundle, "chain.pem")
        if [_der(c) for c in listed] != [_der(c) for c in chain]:
            raise _rejected("chain.pem differs from the certificates after the leaf in fullchain.pem")
    return key, leaf, chain


def _validity(cert: t.Any, now: datetime.datetime, what: str) -> None:
    not_before, not_after = not_valid_before(cert), not_valid_after(cert)
    if now < not_before:
        raise _rejected(f"{what} ({cert.subject.rfc4514_string()}) is not valid yet: not_before {not_before.isoformat()}")
    if now >= not_after:
        raise _rejected(f"{what} ({cert.subject.rfc4514_string()}) has expired: not_after {not_after.isoformat()}")


def expected_names(record: t.Dict[str, t.Any]) -> t.List[str]:
    """The names a certificate record asks for (domain name, then SANs), each once, case-insensitively."""
    names: t.List[str] = []
    for name in [record.get("domain_name"), *(record.get("sans") or [])]:
        if name and name.lower() not in (n.lower() for n in names):
            names.append(name)
    return names


def public_bundle(pem: t.Union[str, bytes]) -> Bundle:
    """The certificate files of a certificate record's PEM (leaf first, then its chain), without a private key."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        blocks = load_pem_chain(data)
    except CertCtrlError as exc:
        raise _rejected(f"the certificate record's PEM: {exc.msg}") from None
    encoding = serialization.Encoding.PEM
    leaf, chain = blocks[0].public_bytes(encoding), b"".join(c.public_bytes(encoding) for c in blocks[1:])
    return Bundle({"certificate.pem": leaf, "chain.pem": chain, "fullchain.pem": leaf + chain})


def validate(
    bundle: Bundle,
    *,
    expected_names: t.List[str],
    expected_fingerprint: t.Optional[str],
    now: t.Optional[datetime.datetime] = None,
    key_on_host: bool = False,
) -> t.List[str]:
    """Check the bundle's key, certificate and chain; return the names of the checks that passed.

    Each failure raises CertCtrlError with a message naming the problem. The chain is checked link by link
    (issuer name and signature, validity dates); anchoring it in a trust store is left to the TLS clients.
    ``key_on_host``: a public bundle, whose key the host decrypts and matches to the certificate itself.
    """
    now = now or utcnow()
    key, leaf, chain = _materials(bundle)
    checks = ["fullchain_starts_with_leaf"]
    if key is None and not key_on_host:
        raise _rejected("the bundle holds no private.key")
    if key is not None:
        if _spki(key) != _spki(leaf):
            raise _rejected("private.key does not match the certificate's public key")
        checks.append("key_matches_certificate")
    _validity(leaf, now, "the certificate")
    checks.append("certificate_within_validity")
    path = [leaf, *chain]
    for index, (child, parent) in enumerate(zip(path, path[1:]), start=1):
        if child.issuer != parent.subject:
            raise _rejected(
                f"chain link {index} is broken: {child.subject.rfc4514_string()} was issued by {child.issuer.rfc4514_string()},"
                f" but the next certificate is {parent.subject.rfc4514_string()}"
            )
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise _rejected(
                f"chain link {index}: the signature of {child.subject.rfc4514_string()} does not verify with the key of"
                f" {parent.subject.rfc4514_string()} ({exc or type(exc).__name__})"
            ) from None
        _validity(parent, now, f"chain certificate {index}")
    checks.append("chain_signatures_verified")
    sans = dns_names(leaf)
    uncovered = [n for n in expected_names if n and not name_covered(n, sans)]
    if uncovered:
        raise _rejected(f"the certificate's DNS names ({', '.join(sans) or 'none'}) do not cover {', '.join(uncovered)}")
    checks.append("names_covered")
    if expected_fingerprint:
        actual = sha256_fingerprint(leaf)
        if normalize_fingerprint(actual) != normalize_fingerprint(expected_fingerprint):
            raise _rejected(
                f"the bundle's certificate (SHA-256 {actual}) is not the server's current certificate ({expected_fingerprint});"
                " it may have been renewed meanwhile, run again"
            )
        checks.append("fingerprint_matches_server")
    return checks


def check_key(bundle: Bundle) -> None:
    """The structural checks and that private.key belongs to the certificate, no more: what the host checks after it
    decrypted a DEVICE_REQUIRED key (the controller validated the chain, names and fingerprint before)."""
    key, leaf, _chain = _materials(bundle)
    if key is None or _spki(key) != _spki(leaf):
        raise _rejected("the decrypted private key does not match the certificate's public key")


# -- render -----------------------------------------------------------------------------------


def _friendly_name(leaf: t.Any) -> str:
    names = dns_names(leaf)
    if names:
        return names[0]
    common = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else "Certificate"


def _check_bundle_pfx(bundle: Bundle, password: str, key: t.Any, leaf: t.Any) -> None:
    """The server's own PKCS#12 must open with X-Export-Password and hold the same key and leaf."""
    try:
        their_key, their_leaf, _cas = pkcs12.load_key_and_certificates(bundle.entries["bundle.pfx"], password.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _rejected("bundle.pfx does not open with the X-Export-Password of the download") from None
    if their_leaf is None or _der(their_leaf) != _der(leaf) or their_key is None or _spki(their_key) != _spki(key):
        raise _rejected("bundle.pfx holds another key or certificate than private.key and certificate.pem")


def _pfx(
    bundle: Bundle, key: t.Any, leaf: t.Any, chain: t.List[t.Any], *, pfx_password: str, bundle_password: t.Optional[str], friendly_name: t.Optional[str]
) -> bytes:
    """A new PKCS#12 of the key and certificates, after checking the bundle's own bundle.pfx when its password is known."""
    if bundle_password and bundle.get("bundle.pfx"):
        _check_bundle_pfx(bundle, bundle_password, key, leaf)
    encryption = serialization.BestAvailableEncryption(pfx_password.encode())
    return pkcs12.serialize_key_and_certificates((friendly_name or _friendly_name(leaf)).encode(), key, leaf, chain or None, encryption)


def render(
    bundle: Bundle,
    files: t.List[str],
    *,
    pfx_password: t.Optional[str],
    bundle_password: t.Optional[str],
    friendly_name: t.Optional[str] = None,
) -> t.Dict[str, bytes]:
    """The requested output files, name -> content, built from the validated key and certificates.

    ``chain.pem`` is left out of the answer when the certificate has no intermediates. ``bundle.pfx`` is a new
    PKCS#12 protected with ``pfx_password`` (required for it); when the bundle carries its own ``bundle.pfx`` and
    ``bundle_password`` (the X-Export-Password header) is given, that file must hold the same key and leaf.
    """
    unknown = [f for f in files if f not in OUTPUT_FILES]
    if unknown:
        raise CertCtrlError(f"unknown output file(s) {', '.join(unknown)}; choose from {', '.join(OUTPUT_FILES)}")
    if "bundle.pfx" in files and not pfx_password:
        raise CertCtrlError("bundle.pfx was requested without pfx_password: set pfx_password, the password the PKCS#12 file is protected with")
    key, leaf, chain = _materials(bundle)
    if key is None and SECRET_FILES.intersection(files):
        raise CertCtrlError(f"{', '.join(sorted(SECRET_FILES.intersection(files)))}: the bundle holds no private key to render them from")
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) if key is not None else b""
    leaf_pem = leaf.public_bytes(pem)
    chain_pem = b"".join(c.public_bytes(pem) for c in chain)
    # An empty chain.pem (no intermediates) is left out.
    contents = {
        "certificate.pem": leaf_pem,
        "chain.pem": chain_pem,
        "fullchain.pem": leaf_pem + chain_pem,
        "private.key": key_pem,
        "combined.pem": key_pem + leaf_pem + chain_pem,
        "certificate.der": _der(leaf),
    }
    out: t.Dict[str, bytes] = {}
    for name in files:
        if name == "bundle.pfx":
            out[name] = _pfx(bundle, key, leaf, chain, pfx_password=t.cast(str, pfx_password), bundle_password=bundle_password, friendly_name=friendly_name)
        elif contents[name]:
            out[name] = contents[name]
    return out


__all__ = [
    "KNOWN_ENTRIES",
    "PASSWORD_HEADER",
    "REQUIRED_ENTRIES",
    "Bundle",
    "CorruptBundleError",
    "check_key",
    "expected_names",
    "name_covered",
    "parse_bundle",
    "public_bundle",
    "render",
    "validate",
]
