# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The deploy action's planning step (formerly the deploy_plan filter): the certificates assigned to a device plus
# the role's certctrl_certificates and defaults -> one entry per certificate with its directory, each file's path,
# owner, group and mode, its services (definitions resolved) and endpoints. Pure: input in, plan out. Every bad
# input raises PlanError naming the option, before anything is read from the host or downloaded.

from __future__ import annotations

import posixpath
import re
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import DEFAULT_FILES, OUTPUT_FILES, SECRET_FILES

ENTRY_KEYS = (
    "id",
    "domain_name",
    "dest_dir",
    "files",
    "owner",
    "group",
    "cert_mode",
    "key_mode",
    "key_group_mode",
    "directory_mode",
    "setype",
    "services",
    "verify_endpoints",
    "pfx_password",
)
FILE_KEYS = ("name", "path", "owner", "group", "mode", "setype")
_ENDPOINT = re.compile(r"^(?:\[(?P<ip6>[^\]]+)\]|(?P<host>[^:/\[\]]+))(?::(?P<port>\d+))?(?:/(?P<sni>[^/\s]+))?$")
_MODE = re.compile(r"^[0-7]{3,4}$")


class PlanError(CertCtrlError):
    """Bad role input; the message names the option to fix."""


def _fail(msg: str) -> t.NoReturn:
    raise PlanError(f"certctrl deploy: {msg}")


def normalize_mode(value: t.Any, option: str) -> str:
    """An octal mode as four digits ('0640'). YAML's unquoted 0640 arrives as the integer 416, taken as those bits."""
    if isinstance(value, bool):
        _fail(f"{option}: {value!r} is not an octal mode such as '0640'")
    if isinstance(value, int):
        if not 0 <= value <= 0o7777:
            _fail(f"{option}: {value!r} is not an octal mode such as '0640'")
        return format(value, "04o")
    text = str(value if value is not None else "").strip()
    if text.lower().startswith("0o"):
        text = text[2:]
    if not _MODE.match(text):
        _fail(f"{option}: {value!r} is not an octal mode such as '0640' (quote it in YAML)")
    return text.zfill(4)[-4:]


def _kind(value: t.Any) -> str:
    """A type's plain name (templated strings are str subclasses)."""
    for kind in (bool, str, int, float, dict, list):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _label(index: int, entry: dict) -> str:
    name = entry.get("domain_name") or entry.get("id")
    return f"certctrl_certificates[{index}]" + (f" ({name})" if name not in (None, "") else "")


def _entries(certificates: t.Any) -> list[dict]:
    if certificates in (None, ""):
        return []
    if not isinstance(certificates, (list, tuple)):
        _fail(f"certctrl_certificates must be a list of certificate entries (dicts or ids), not {_kind(certificates)} {str(certificates)[:60]!r}")
    entries = []
    for index, entry in enumerate(certificates):
        if isinstance(entry, bool) or not isinstance(entry, (dict, int, str)):
            _fail(f"certctrl_certificates[{index}] must be a dict or a certificate id, not {_kind(entry)}")
        if not isinstance(entry, dict):
            entry = {"id": entry}
        unknown = sorted(str(k) for k in entry if k not in ENTRY_KEYS)
        if unknown:
            _fail(f"{_label(index, entry)} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(ENTRY_KEYS)}")
        entries.append(entry)
    return entries


def _select(assigned: list[dict], entry: dict, label: str) -> dict:
    listing = ", ".join(f"{c.get('id')} ({c.get('domain_name')})" for c in assigned) or "none"
    hint = f"(assigned: {listing}); assign it with cjj365.certctrl.assign"
    if entry.get("id") not in (None, ""):
        match = next((c for c in assigned if str(c.get("id")) == str(entry["id"])), None)
        if match is None:
            _fail(f"{label}: certificate {entry['id']} is not assigned to this device {hint}")
        return match
    if not entry.get("domain_name"):
        _fail(f"{label} needs an id or a domain_name; this one has: {', '.join(sorted(entry)) or 'nothing'}")
    matches = [c for c in assigned if c.get("domain_name") == entry["domain_name"]]
    if not matches:
        _fail(f"no certificate for {entry['domain_name']!r} is assigned to this device {hint}")
    if len(matches) > 1:
        _fail(f"several certificates for {entry['domain_name']!r} are assigned to this device ({', '.join(str(c['id']) for c in matches)}); give the id")
    return matches[0]


def _endpoint(value: t.Any, domain_name: str) -> dict:
    default_sni = None if domain_name.startswith("*") else domain_name
    if isinstance(value, dict):
        if not value.get("host"):
            _fail(f"verify endpoint {value!r} needs a host")
        try:
            port = int(value.get("port") or 443)
        except (TypeError, ValueError):
            _fail(f"verify endpoint {value!r}: port must be a number")
        host, sni = value["host"], value.get("server_name", default_sni)
    else:
        match = _ENDPOINT.match(str(value).strip())
        if not match:
            _fail(f"verify endpoint {value!r} is not host:port[/server_name]")
        host = match.group("ip6") or match.group("host")
        port, sni = int(match.group("port") or 443), match.group("sni") or default_sni
    return {"host": host, "port": port, "server_name": sni, "label": f"{host}:{port}" + (f"/{sni}" if sni else "")}


def _service(name: t.Any, definitions: dict, label: str) -> dict:
    definition = definitions.get(name) if isinstance(name, str) else None
    if not isinstance(definition, dict):
        _fail(f"{label}: unknown service {name!r}; known: {', '.join(sorted(definitions))} (define it in certctrl_services)")
    if not definition.get("reload"):
        _fail(f"service {name!r} has no reload command")
    return {"name": name, "validate": definition.get("validate") or None, "reload": definition["reload"]}


def _file(spec: t.Any, *, dest_dir: str, defaults: dict, label: str) -> dict:
    if isinstance(spec, dict):
        unknown = sorted(str(k) for k in spec if k not in FILE_KEYS)
        if unknown:
            _fail(f"{label}: file {spec.get('name')!r} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(FILE_KEYS)}")
        spec = dict(spec)
    elif isinstance(spec, str):
        spec = {"name": spec}
    else:
        _fail(f"{label}: each file is a name or a dict with name, not {spec!r}")
    name = spec.get("name")
    if name not in OUTPUT_FILES:
        _fail(f"{label}: unknown file {name!r}; choose from {', '.join(OUTPUT_FILES)}")
    owner = spec.get("owner", defaults["owner"])
    group = spec.get("group", defaults["group"])
    secret = name in SECRET_FILES
    if spec.get("mode") not in (None, ""):
        mode = normalize_mode(spec["mode"], f"{label}: mode of {name}")
    elif secret:
        mode = defaults["key_group_mode"] if group else defaults["key_mode"]
    else:
        mode = defaults["cert_mode"]
    path = posixpath.normpath(posixpath.join(dest_dir, spec.get("path") or name))
    setype = spec.get("setype", defaults["setype"])
    return {"name": name, "path": path, "owner": owner or None, "group": group or None, "mode": mode, "setype": setype or None, "secret": secret}


def deploy_plan(
    assigned: list[dict],
    certificates: t.Any = None,
    cert_root: str = "/etc/certctrl/certs",
    files: list | None = None,
    owner: str | None = None,
    group: str | None = None,
    cert_mode: t.Any = "0644",
    key_mode: t.Any = "0600",
    key_group_mode: t.Any = "0640",
    directory_mode: t.Any = "0750",
    services: list | None = None,
    definitions: dict | None = None,
    verify_endpoints: dict | None = None,
    pfx_password: str | None = None,
) -> list[dict]:
    """One entry per certificate to deploy: id, domain_name, dest_dir, directory, files, services, verify_endpoints, pfx_password."""
    assigned = list(assigned or [])
    role_modes = {
        "cert_mode": normalize_mode(cert_mode, "certctrl_cert_mode"),
        "key_mode": normalize_mode(key_mode, "certctrl_key_mode"),
        "key_group_mode": normalize_mode(key_group_mode, "certctrl_key_group_mode"),
        "directory_mode": normalize_mode(directory_mode, "certctrl_directory_mode"),
    }
    if files is not None and not isinstance(files, (list, tuple)):
        _fail(f"certctrl_files must be a list of file names, not {files!r}")
    if verify_endpoints is not None and not isinstance(verify_endpoints, dict):
        _fail(f"certctrl_verify_endpoints must be a dict (domain name or id -> endpoints), not {_kind(verify_endpoints)}")
    labelled = [(_label(i, e), e) for i, e in enumerate(_entries(certificates))]
    if not labelled:
        labelled = [(f"certificate {c['id']}", {"id": c["id"]}) for c in assigned]
    role = {
        "cert_root": cert_root,
        "files": files,
        "owner": owner,
        "group": group,
        "modes": role_modes,
        "services": services or [],
        "definitions": definitions or {},
        "verify_endpoints": verify_endpoints or {},
        "pfx_password": pfx_password,
    }
    paths: dict[str, str] = {}
    return [_plan_entry(label, entry, _select(assigned, entry, label), role=role, paths=paths) for label, entry in labelled]


def _entry_files(label: str, entry: dict, *, role_files: list | None, dest_dir: str, defaults: dict, domain: str, paths: dict[str, str]) -> list[dict]:
    """The entry's planned files; each path is claimed in ``paths`` (path -> domain), so no two certificates write one file."""
    file_specs = entry.get("files") or role_files or list(DEFAULT_FILES)
    if not isinstance(file_specs, (list, tuple)):
        _fail(f"{label}: files must be a list, not {file_specs!r}")
    planned_files = [_file(f, dest_dir=dest_dir, defaults=defaults, label=label) for f in file_specs]
    for f in planned_files:
        if f["path"] in paths:
            _fail(f"{f['path']} is written for both {paths[f['path']]} and {domain}")
        paths[f["path"]] = domain
    names = [f["name"] for f in planned_files]
    if len(set(names)) != len(names):
        _fail(f"{label}: a file is listed twice ({', '.join(names)})")
    return planned_files


def _plan_entry(label: str, entry: dict, record: dict, *, role: dict, paths: dict[str, str]) -> dict:
    """One certificate's plan: the entry's own settings over the role's (``role``: deploy_plan's arguments)."""
    domain = str(record.get("domain_name") or record["id"])
    dest_dir = entry.get("dest_dir") or posixpath.join(role["cert_root"], domain.replace("*", "_"))
    if not posixpath.isabs(str(dest_dir)):
        _fail(f"{label}: dest_dir {dest_dir!r} of {domain} must be an absolute path (certctrl_cert_root too)")
    modes = {k: normalize_mode(entry[k], f"{label}: {k}") if entry.get(k) not in (None, "") else v for k, v in role["modes"].items()}
    defaults = {"owner": entry.get("owner", role["owner"]), "group": entry.get("group", role["group"]), "setype": entry.get("setype"), **modes}
    planned_files = _entry_files(label, entry, role_files=role["files"], dest_dir=dest_dir, defaults=defaults, domain=domain, paths=paths)
    names = [f["name"] for f in planned_files]
    password = entry.get("pfx_password", role["pfx_password"])
    if "bundle.pfx" in names and not password:
        _fail(f"{label}: bundle.pfx of {domain} needs a pfx_password (entry or certctrl_pfx_password)")
    entry_services = entry.get("services", role["services"])
    if not isinstance(entry_services, (list, tuple)):
        _fail(f"{label}: services must be a list of service names, not {entry_services!r}")
    endpoints = entry.get("verify_endpoints") or []
    if not isinstance(endpoints, (list, tuple)):
        _fail(f"{label}: verify_endpoints must be a list, not {endpoints!r}")
    endpoints = list(endpoints) + list(role["verify_endpoints"].get(domain) or role["verify_endpoints"].get(str(record["id"])) or [])
    return {
        "id": int(record["id"]),
        "domain_name": domain,
        "dest_dir": posixpath.normpath(dest_dir),
        "directory": {"mode": modes["directory_mode"], "owner": defaults["owner"] or None, "group": defaults["group"] or None},
        "files": planned_files,
        "services": [_service(s, role["definitions"], label) for s in entry_services],
        "verify_endpoints": [_endpoint(e, domain) for e in endpoints],
        "pfx_password": password if "bundle.pfx" in names else None,
    }


__all__ = ["ENTRY_KEYS", "PlanError", "deploy_plan", "normalize_mode"]
