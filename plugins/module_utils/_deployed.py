# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# What is deployed on the managed host, read in one module run for all of a host's certificates: each file's
# SHA-256, type, mode, owner, group (and SELinux type), each directory's attributes and manifest, temporary files
# a killed swap left, and private staging directories an older version of the role left in the temp directory.
# Read-only, standard library only. Certificate files are summarised (serial, expiry); keys are only hashed.

import grp
import hashlib
import os
import pwd
import re
import stat
import tempfile
import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import OUTPUT_FILES, shows_leaf
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import manifest_path, read_manifest
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import DERError, certificates_der, leaf_summary, sha256_fingerprint

MAX_BYTES = 16 * 1024 * 1024
# Temporary names of a swap (".<name>.<random>.certctrl-tmp") and of a restore (".<name>.<pid>.certctrl-restore").
STALE = re.compile(r"^\..+\.(certctrl-tmp|certctrl-restore)$")
# The private staging directories of the role of earlier development versions (ansible.builtin.tempfile, prefix certctrl-).
STAGING = re.compile(r"^certctrl-[A-Za-z0-9_]{4,}$")
STAGING_NAMES = frozenset(OUTPUT_FILES)
STAGING_MIN_AGE = 3600.0


def _name(lookup: t.Callable[[int], t.Any], ident: int) -> str:
    try:
        return lookup(ident)[0]
    except KeyError:  # an id without a name (a deleted user) is reported as the number
        return str(ident)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def attributes(st: os.stat_result) -> t.Dict[str, t.Any]:
    return {"mode": format(stat.S_IMODE(st.st_mode), "04o"), "owner": _name(pwd.getpwuid, st.st_uid), "group": _name(grp.getgrgid, st.st_gid)}


def describe_path(path: str, *, setype: t.Optional[t.Callable[[str], t.Optional[str]]] = None, digest: bool = True) -> t.Dict[str, t.Any]:
    """exists, regular, mode, owner, group, sha256 (regular files), setype (where SELinux is on) of one path, not followed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"path": path, "exists": False}
    info: t.Dict[str, t.Any] = {"path": path, "exists": True, "regular": stat.S_ISREG(st.st_mode), "directory": stat.S_ISDIR(st.st_mode), **attributes(st)}
    if digest and info["regular"]:
        info["sha256"] = sha256_file(path) if st.st_size <= MAX_BYTES else None
    if setype is not None:
        info["setype"] = setype(path)
    return info


def _summary(paths: t.List[str]) -> t.Optional[t.Dict[str, t.Any]]:
    """Serial, validity and fingerprint of the deployed leaf, from the first public certificate file (never a key file)."""
    for path in paths:
        if not shows_leaf(path):
            continue
        try:
            with open(path, "rb") as handle:
                found = leaf_summary(handle.read(1024 * 1024))
        except OSError:
            continue
        if found:
            return found
    return None


def stale_files(directory: str) -> t.List[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, n) for n in names if STALE.match(n))


def staging_dirs(root: t.Optional[str] = None, *, min_age: float = STAGING_MIN_AGE, now: t.Optional[float] = None) -> t.List[str]:
    """Private staging directories of an older role version (in the temp dir, ours, 0700, only bundle files, old)."""
    root = root or tempfile.gettempdir()
    now = now if now is not None else time.time()
    found = []
    try:
        names = os.listdir(root)
    except OSError:
        return []
    for name in names:
        path = os.path.join(root, name)
        if not STAGING.match(name):
            continue
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) != 0o700 or now - st.st_mtime < min_age:
                continue
            if set(os.listdir(path)) - STAGING_NAMES:
                continue
        except OSError:
            continue
        found.append(path)
    return sorted(found)


def describe_certificates(certificates: t.List[t.Dict[str, t.Any]], *, setype: t.Optional[t.Callable[[str], t.Optional[str]]] = None) -> t.Dict[str, t.Any]:
    """The state of every certificate (dicts with ``dest_dir`` and ``paths``) in one pass."""
    described = []
    for cert in certificates:
        directory = cert["dest_dir"]
        paths = list(cert.get("paths") or [])
        files = [describe_path(p, setype=setype) for p in paths]
        described.append(
            {
                "dest_dir": directory,
                "directory": describe_path(directory, setype=setype, digest=False),
                "files": files,
                "manifest": read_manifest(manifest_path(directory)),
                "stale": stale_files(directory),
                "deployed": _summary([f["path"] for f in files if f.get("regular")]),
            }
        )
    return {"certificates": described, "staging": staging_dirs()}


def describe_files(paths: t.List[str], fingerprint_file: t.Optional[str]) -> t.Dict[str, t.Any]:
    """What the deploy role needs to know of a certificate's files on the host, in one module run: each file's type,
    mode, owner and group, and the SHA-256 fingerprint of the first certificate in ``fingerprint_file`` ('' when it is
    missing or holds none). The files are described as they are (a link as a link); the fingerprint file is read
    through a link, as the certificate a service loads is. Only certificate blocks are decoded, never a key."""
    files = []
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            files.append({"path": path, "exists": False})
            continue
        files.append({"path": path, "exists": True, "regular": stat.S_ISREG(st.st_mode), **attributes(st)})
    fingerprint = ""
    if fingerprint_file and os.path.isfile(fingerprint_file):
        with open(fingerprint_file, "rb") as handle:
            data = handle.read(MAX_BYTES)
        try:
            ders = certificates_der(data)
        except DERError:
            ders = []
        fingerprint = sha256_fingerprint(ders[0]) if ders else ""
    return {"files": files, "fingerprint": fingerprint}


__all__ = [
    "MAX_BYTES",
    "STALE",
    "attributes",
    "describe_certificates",
    "describe_files",
    "describe_path",
    "sha256_file",
    "staging_dirs",
    "stale_files",
]
