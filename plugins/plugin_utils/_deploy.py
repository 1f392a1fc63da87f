# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The deploy action's decisions, as pure functions over plain data (a plan entry of _deploy_plan, the host's state
# from certificate_files_info, the server's record): is the host current, which files drift, what each file's fate
# is, the diff (metadata only), the per-certificate result and the deploy__pending fact the handler reads.
# "Current" is decided from the manifest the last complete swap wrote plus what the server always sends (the
# record's serial_number, or the certificate PEM when it is there): never from a field production leaves out.

from __future__ import annotations

import base64
import hashlib
import os
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _x509
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import OPTIONAL_FILES
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import normalize_fingerprint

EMPTY_PENDING: dict[str, t.Any] = {"services": [], "restore": [], "manifests": [], "certificates": [], "planned": False}


def normalize_serial(value: t.Any) -> str:
    """Lower-case hex without separators or leading zeros ('04:A1:B2' -> '4a1b2'); '' when there is none."""
    return _x509.normalize_serial(value) or ""


def _by_path(state: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return {f["path"]: f for f in state.get("files") or []}


def host_matches_manifest(entry: dict[str, t.Any], state: dict[str, t.Any]) -> tuple[bool, str]:
    """Whether the files on the host are exactly what the last complete swap of this certificate wrote."""
    manifest = state.get("manifest")
    if not manifest:
        return False, "no deploy manifest"
    if str(manifest.get("certificate_id")) != str(entry["id"]):
        return False, f"the manifest is of certificate {manifest.get('certificate_id')}"
    recorded = manifest.get("files") or {}
    found = _by_path(state)
    for planned in entry["files"]:
        path = planned["path"]
        on_host = found.get(path) or {"exists": False}
        if planned["name"] in OPTIONAL_FILES and not on_host["exists"] and path not in recorded:
            continue  # a certificate without intermediates has no chain.pem
        if not on_host["exists"]:
            return False, f"{path} is missing"
        if not on_host.get("regular"):
            return False, f"{path} is not a regular file"
        if path not in recorded:
            return False, f"{path} is not in the manifest"
        if not on_host.get("sha256") or on_host["sha256"] != (recorded[path] or {}).get("sha256"):
            return False, f"{path} differs from what was deployed (a partial swap, a hand edit or a truncated file)"
    return True, "the files match the manifest"


def server_matches(manifest: dict[str, t.Any] | None, facts: dict[str, t.Any]) -> bool | None:
    """Whether the manifest's certificate is the server's current one: by fingerprint (PEM known) or serial; None: unknown."""
    if not manifest:
        return False
    if facts.get("sha256_fingerprint"):
        return normalize_fingerprint(facts["sha256_fingerprint"], strict=False) == normalize_fingerprint(manifest.get("sha256_fingerprint"), strict=False)
    if facts.get("serial"):
        return normalize_serial(facts["serial"]) == normalize_serial(manifest.get("serial"))
    return None


def _differs(planned: dict[str, t.Any], found: dict[str, t.Any], mode: str | None) -> bool:
    if mode is not None and found.get("mode") != mode:
        return True
    if planned.get("owner") and found.get("owner") != planned["owner"]:
        return True
    if planned.get("group") and found.get("group") != planned["group"]:
        return True
    return bool(planned.get("setype") and "setype" in found and found["setype"] != planned["setype"])


def drift(entry: dict[str, t.Any], state: dict[str, t.Any]) -> dict[str, t.Any]:
    """Existing files and the directory whose owner, group, mode or SELinux type is not the planned one."""
    found = _by_path(state)
    files = [f["path"] for f in entry["files"] if found.get(f["path"], {}).get("regular") and _differs(f, found[f["path"]], f["mode"])]
    directory = state.get("directory") or {}
    dir_drift = bool(directory.get("directory")) and _differs(entry["directory"], directory, entry["directory"]["mode"])
    return {"files": files, "directory": dir_drift}


def file_actions(entry: dict[str, t.Any], state: dict[str, t.Any], contents: dict[str, bytes | None] | None) -> dict[str, str]:
    """path -> created, replaced, unchanged, removed or absent. ``contents`` None: not downloaded (check mode), planned;
    a name whose content is None is rendered on the host (a DEVICE_REQUIRED key), planned too: the host says what it did."""
    found = _by_path(state)
    actions = {}
    for planned in entry["files"]:
        on_host = found.get(planned["path"]) or {"exists": False}
        if contents is None or (planned["name"] in contents and contents[planned["name"]] is None):
            actions[planned["path"]] = "replaced" if on_host["exists"] else "created"
        elif planned["name"] not in contents:
            actions[planned["path"]] = "removed" if on_host["exists"] else "absent"
        elif not on_host["exists"]:
            actions[planned["path"]] = "created"
        else:
            same = on_host.get("sha256") == hashlib.sha256(contents[planned["name"]]).hexdigest()
            actions[planned["path"]] = "unchanged" if same else "replaced"
    return actions


def apply_files(entry: dict[str, t.Any], contents: dict[str, bytes | None] | None, drifted: list[str]) -> list[dict[str, t.Any]]:
    """The O(files) of certificate_files for this certificate: new content (base64) or, when only attributes drift, keep.
    A file whose content is None gets it on the host (certificate_files' O(unwrap))."""
    items = []
    for planned in entry["files"]:
        spec = {k: planned[k] for k in ("path", "owner", "group", "mode", "setype")}
        if contents is not None:
            content = contents.get(planned["name"], b"")
            if planned["name"] not in contents:
                spec["state"] = "absent"
            elif content is not None:  # None: rendered on the host
                spec["content"] = base64.b64encode(content).decode("ascii")
        elif planned["path"] in drifted:
            spec["keep"] = True
        else:
            continue
        items.append(spec)
    return items


def _certificate_line(facts: dict[str, t.Any] | None, domain_name: str | None = None) -> str:
    if not facts:
        return "certificate: none"
    parts = [f"{k} {facts[k]}" for k in ("serial", "not_after", "sha256_fingerprint") if facts.get(k)]
    if facts.get("sans"):
        parts.append("sans " + ",".join(facts["sans"]))
    if facts.get("issuer"):
        parts.append(f"issuer {facts['issuer']}")
    if domain_name:
        parts.append(f"domain_name {domain_name}")
    return "certificate: " + ", ".join(parts)


def _owner_group(item: dict[str, t.Any]) -> str:
    return f"{item.get('owner') or '-'}:{item.get('group') or '-'}"


def diff(entry: dict[str, t.Any], state: dict[str, t.Any], facts: dict[str, t.Any], actions: dict[str, str], drifted: list[str]) -> dict[str, str]:
    """Metadata only: the certificate (serial, expiry, fingerprint, SANs, issuer) and each path's action, mode and owner."""
    found = _by_path(state)
    before = [_certificate_line(state.get("deployed"))]
    after = [_certificate_line(facts, entry["domain_name"])]
    for planned in entry["files"]:
        on_host = found.get(planned["path"]) or {"exists": False}
        before.append(f"{planned['path']}: {on_host['mode']} {_owner_group(on_host)}" if on_host["exists"] else f"{planned['path']}: absent")
        action = actions.get(planned["path"], "unchanged")
        if action == "unchanged" and planned["path"] in drifted:
            action = "attributes"
        attrs = f" ({planned['mode']} {_owner_group(planned)})" if action not in ("removed", "absent") else ""
        after.append(f"{planned['path']}: {action}{attrs}")
    return {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n", "before_header": entry["dest_dir"], "after_header": entry["dest_dir"]}


def certificate_result(
    entry: dict[str, t.Any], facts: dict[str, t.Any], *, downloaded: bool, planned: bool, changed: bool, files_changed: list[str]
) -> dict[str, t.Any]:
    """One element of certctrl_deploy_result.certificates (the keys the role has always published)."""
    return {
        "id": entry["id"],
        "domain_name": entry["domain_name"],
        "dest_dir": entry["dest_dir"],
        "serial": facts.get("serial"),
        "not_after": facts.get("not_after"),
        "sha256_fingerprint": facts.get("sha256_fingerprint"),
        "downloaded": downloaded,
        "planned": planned,
        "changed": changed,
        "files_changed": files_changed,
        "services": [s["name"] for s in entry["services"]],
        "services_reloaded": [],
        "verified_endpoints": [],
    }


def pending_certificate(entry: dict[str, t.Any], facts: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "id": entry["id"],
        "domain_name": entry["domain_name"],
        "serial": facts.get("serial"),
        "sha256_fingerprint": facts.get("sha256_fingerprint"),
        "verify_endpoints": [{k: e[k] for k in ("host", "port", "server_name", "label")} for e in entry["verify_endpoints"]],
    }


def merge_pending(earlier: t.Any, new: dict[str, t.Any], *, settled: t.Iterable[dict[str, t.Any]] = ()) -> dict[str, t.Any]:
    """deploy__pending after this run: the earlier runs' (same play, handler not flushed yet) with this one's added.

    ``settled`` are the planned entries whose manifest this run read on the host with no reload pending: the handler
    already finished what earlier runs left for them, so their entries go (a later rollback must not restore files from
    before a deployment that succeeded, and a run with nothing new must not wake the handler).
    """
    merged = {**EMPTY_PENDING, **(earlier if isinstance(earlier, dict) else {})}
    settled = list(settled)
    if settled:
        done_dirs = {e["dest_dir"] for e in settled}
        done_ids = {e["id"] for e in settled}
        done_paths = {f["path"] for e in settled for f in e["files"]}
        kept = [m for m in merged.get("manifests") or [] if os.path.dirname(m) not in done_dirs]
        merged = {
            **merged,
            "manifests": kept,
            "restore": [r for r in merged.get("restore") or [] if r["path"] not in done_paths],
            "certificates": [c for c in merged.get("certificates") or [] if c.get("id") not in done_ids],
            # Services belong to the entries: none left, none to reload for earlier runs.
            "services": merged.get("services") if kept else [],
        }
    services = {s["name"]: s for s in merged.get("services") or []}
    for service in new["services"]:
        services.setdefault(service["name"], service)
    restore = list(merged.get("restore") or [])
    restore += [r for r in new["restore"] if r["path"] not in {x["path"] for x in restore}]
    manifests = list(merged.get("manifests") or [])
    manifests += [m for m in new["manifests"] if m not in manifests]
    certificates = [c for c in merged.get("certificates") or [] if c["id"] not in {n["id"] for n in new["certificates"]}]
    return {
        "services": list(services.values()),
        "restore": restore,
        "manifests": manifests,
        "certificates": certificates + new["certificates"],
        "planned": bool(merged.get("planned")) or bool(new["planned"]),
    }


__all__ = [
    "EMPTY_PENDING",
    "apply_files",
    "certificate_result",
    "diff",
    "drift",
    "file_actions",
    "host_matches_manifest",
    "merge_pending",
    "normalize_serial",
    "pending_certificate",
    "server_matches",
]
