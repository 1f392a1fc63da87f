# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The deploy manifest, on the managed host: <dest_dir>/.certctrl-manifest.json records what the last complete
# swap of a certificate's files wrote (each file's SHA-256, mode, owner, group; the certificate's serial and
# fingerprint) and whether the services still have to be reloaded. It is written LAST and atomically, so a swap
# killed half-way leaves an old or missing manifest that does not match the files: the next run sees "not current".
# Standard library only; it never holds key material (digests of files, not their content).

import datetime
import json
import os
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._atomic import write_file

MANIFEST_NAME = ".certctrl-manifest.json"
VERSION = 1
MAX_MANIFEST_BYTES = 1024 * 1024
KEYS = ("version", "certificate_id", "domain_name", "serial", "sha256_fingerprint", "files", "reload_pending", "written_at")


def manifest_path(dest_dir: str) -> str:
    return os.path.join(dest_dir, MANIFEST_NAME)


def read_manifest(path: str) -> t.Optional[t.Dict[str, t.Any]]:
    """The manifest at ``path``; None when it is missing, unreadable, not a regular file, or not a version-1 manifest.

    An unusable manifest is reported as absent on purpose: the files it should describe are then "not current",
    and the next swap writes a good one.
    """
    try:
        if not os.path.isfile(path) or os.path.islink(path):
            return None
        with open(path, "rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_MANIFEST_BYTES:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("files"), dict):
        return None
    return data


def write_manifest(path: str, data: t.Dict[str, t.Any]) -> None:
    """Write ``data`` (the manifest's keys; ``version`` and ``written_at`` are filled in) to ``path`` atomically (_atomic)."""
    body = {k: data.get(k) for k in KEYS}
    body["version"] = VERSION
    body["files"] = dict(data.get("files") or {})
    body["reload_pending"] = bool(data.get("reload_pending"))
    body["written_at"] = data.get("written_at") or datetime.datetime.now(datetime.timezone.utc).isoformat()
    write_file(os.path.abspath(path), (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def mark_reloaded(path: str) -> bool:
    """Set ``reload_pending`` to false (the services were reloaded and verified). False when there is no usable manifest."""
    data = read_manifest(path)
    if data is None:
        return False
    if data.get("reload_pending"):
        data["reload_pending"] = False
        data["written_at"] = None
        write_manifest(path, data)
    return True


__all__ = ["KEYS", "MANIFEST_NAME", "VERSION", "manifest_path", "mark_reloaded", "read_manifest", "write_manifest"]
