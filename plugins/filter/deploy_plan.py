# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_plan
short_description: Normalize the deploy role's certificate list into one entry per certificate with every default applied
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - The C(cjj365.certctrl.deploy) role's planning step, as a filter so it is testable and the role stays readable.
  - Takes the certificates assigned to a device (RV(cjj365.certctrl.device_info#module:devices[].certificates)) and the role's
    C(certctrl_certificates); returns one entry per certificate to deploy with its destination directory, each file's path,
    owner, group and mode, the services that use it (their definitions resolved), and the endpoints to verify.
  - An empty O(certificates) list means every certificate assigned to the device.
  - Errors name the offending entry, for example a certificate not assigned to the device, an unknown file or service name,
    two certificates writing the same path, V(bundle.pfx) without a password, or a file list without a certificate to fingerprint.
options:
  _input:
    description: The certificates assigned to the device (dicts with at least C(id) and C(domain_name)).
    type: list
    elements: dict
    required: true
  certificates:
    description: The role's C(certctrl_certificates).
    type: list
    elements: raw
    default: []
  cert_root:
    description: Parent of the default destination directories (C(<cert_root>/<domain_name>)).
    type: path
    default: /etc/certctrl/certs
  files:
    description: Default file list.
    type: list
    elements: raw
    default: [certificate.pem, chain.pem, fullchain.pem, private.key]
  owner:
    description: Default owner of the files.
    type: str
  group:
    description: Default group of the files.
    type: str
  cert_mode:
    description: Default mode of public files.
    type: str
    default: "0644"
  key_mode:
    description: Default mode of files holding the private key, when no group is given.
    type: str
    default: "0600"
  key_group_mode:
    description: Default mode of files holding the private key, when a group is given.
    type: str
    default: "0640"
  directory_mode:
    description: Default mode of the destination directory.
    type: str
    default: "0750"
  services:
    description: Default services of a certificate entry without C(services).
    type: list
    elements: str
    default: []
  definitions:
    description: Service definitions, name to C({validate, reload}); built-in ones merged with the user's.
    type: dict
    default: {}
  verify_endpoints:
    description: Endpoints to verify, keyed by domain name or certificate id.
    type: dict
    default: {}
  pfx_password:
    description: Default password of V(bundle.pfx).
    type: str
"""

EXAMPLES = r"""
---
- name: Plan what to deploy to this host
  ansible.builtin.set_fact:
    plan: >-
      {{ device.devices[0].certificates | cjj365.certctrl.deploy_plan(certificates=[{'domain_name': 'www.example.com',
         'services': ['nginx']}], definitions={'nginx': {'validate': 'nginx -t', 'reload': 'systemctl reload nginx'}}) }}
"""

RETURN = r"""
_value:
  description: One entry per certificate to deploy.
  type: list
  elements: dict
  contains:
    id:
      description: Certificate id.
      type: int
    domain_name:
      description: Certificate domain name.
      type: str
    dest_dir:
      description: Destination directory.
      type: str
    directory:
      description: C(mode), C(owner), C(group) of the directory.
      type: dict
    files:
      description: C(name), C(path), C(owner), C(group), C(mode), C(setype), C(secret) of each file.
      type: list
      elements: dict
    fingerprint_file:
      description: Path of the file the deployed certificate is read from.
      type: str
    services:
      description: C(name), C(validate), C(reload) of each service that uses the certificate.
      type: list
      elements: dict
    verify_endpoints:
      description: C(host), C(port), C(server_name), C(label) of each endpoint to verify.
      type: list
      elements: dict
    pfx_password:
      description: Password of V(bundle.pfx), when it is deployed.
      type: str
"""

import posixpath
import re
import typing as t

from ansible.errors import AnsibleFilterError

OUTPUT_FILES = ("certificate.pem", "chain.pem", "fullchain.pem", "private.key", "combined.pem", "bundle.pfx", "certificate.der")
DEFAULT_FILES = ("certificate.pem", "chain.pem", "fullchain.pem", "private.key")
SECRET_FILES = frozenset({"private.key", "combined.pem", "bundle.pfx"})
# Where the deployed leaf is read from, best first (combined.pem holds the key too, but only its certificate is read).
FINGERPRINT_ORDER = ("certificate.pem", "fullchain.pem", "certificate.der", "combined.pem")
_ENDPOINT = re.compile(r"^(?:\[(?P<ip6>[^\]]+)\]|(?P<host>[^:/\[\]]+))(?::(?P<port>\d+))?(?:/(?P<sni>[^/\s]+))?$")


def _fail(msg: str) -> t.NoReturn:
    raise AnsibleFilterError(f"certctrl deploy: {msg}")


def _select(assigned: list[dict], entry: dict) -> dict:
    listing = ", ".join(f"{c.get('id')} ({c.get('domain_name')})" for c in assigned) or "none"
    hint = f"(assigned: {listing}); assign it with cjj365.certctrl.assign"
    if entry.get("id") not in (None, ""):
        match = next((c for c in assigned if str(c.get("id")) == str(entry["id"])), None)
        if match is None:
            _fail(f"certificate {entry['id']} is not assigned to this device {hint}")
        return match
    if not entry.get("domain_name"):
        _fail(f"each certctrl_certificates entry needs an id or a domain_name; this one has: {', '.join(sorted(entry)) or 'nothing'}")
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
        host, port, sni = value["host"], int(value.get("port") or 443), value.get("server_name", default_sni)
    else:
        match = _ENDPOINT.match(str(value).strip())
        if not match:
            _fail(f"verify endpoint {value!r} is not host:port[/server_name]")
        host = match.group("ip6") or match.group("host")
        port, sni = int(match.group("port") or 443), match.group("sni") or default_sni
    return {"host": host, "port": port, "server_name": sni, "label": f"{host}:{port}" + (f"/{sni}" if sni else "")}


def _service(name: str, definitions: dict) -> dict:
    definition = definitions.get(name)
    if not isinstance(definition, dict):
        _fail(f"unknown service {name!r}; known: {', '.join(sorted(definitions))} (define it in certctrl_services)")
    if not definition.get("reload"):
        _fail(f"service {name!r} has no reload command")
    return {"name": name, "validate": definition.get("validate") or None, "reload": definition["reload"]}


def _file(spec: t.Any, *, dest_dir: str, defaults: dict) -> dict:
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {})
    name = spec.get("name")
    if name not in OUTPUT_FILES:
        _fail(f"unknown file {name!r}; choose from {', '.join(OUTPUT_FILES)}")
    owner = spec.get("owner", defaults["owner"])
    group = spec.get("group", defaults["group"])
    secret = name in SECRET_FILES
    mode = spec.get("mode") or ((defaults["key_group_mode"] if group else defaults["key_mode"]) if secret else defaults["cert_mode"])
    path = posixpath.normpath(posixpath.join(dest_dir, spec.get("path") or name))
    setype = spec.get("setype", defaults["setype"])
    return {"name": name, "path": path, "owner": owner or None, "group": group or None, "mode": str(mode), "setype": setype or None, "secret": secret}


def deploy_plan(
    assigned: list[dict],
    certificates: list | None = None,
    cert_root: str = "/etc/certctrl/certs",
    files: list | None = None,
    owner: str | None = None,
    group: str | None = None,
    cert_mode: str = "0644",
    key_mode: str = "0600",
    key_group_mode: str = "0640",
    directory_mode: str = "0750",
    services: list | None = None,
    definitions: dict | None = None,
    verify_endpoints: dict | None = None,
    pfx_password: str | None = None,
) -> list[dict]:
    assigned = list(assigned or [])
    entries = [e if isinstance(e, dict) else {"id": e} for e in (certificates or [])] or [{"id": c["id"]} for c in assigned]
    definitions = definitions or {}
    verify_endpoints = verify_endpoints or {}
    plan, paths = [], {}
    for entry in entries:
        record = _select(assigned, entry)
        domain = str(record.get("domain_name") or record["id"])
        dest_dir = entry.get("dest_dir") or posixpath.join(cert_root, domain.replace("*", "_"))
        if not posixpath.isabs(dest_dir):
            _fail(f"dest_dir {dest_dir!r} of {domain} must be an absolute path")
        defaults = {
            "owner": entry.get("owner", owner),
            "group": entry.get("group", group),
            "cert_mode": entry.get("cert_mode", cert_mode),
            "key_mode": entry.get("key_mode", key_mode),
            "key_group_mode": entry.get("key_group_mode", key_group_mode),
            "setype": entry.get("setype"),
        }
        file_specs = entry.get("files") or files or list(DEFAULT_FILES)
        planned_files = [_file(f, dest_dir=dest_dir, defaults=defaults) for f in file_specs]
        names = [f["name"] for f in planned_files]
        for f in planned_files:
            if f["path"] in paths:
                _fail(f"{f['path']} is written for both {paths[f['path']]} and {domain}")
            paths[f["path"]] = domain
        source = next((n for n in FINGERPRINT_ORDER if n in names), None)
        if source is None:
            _fail(f"the files of {domain} need one of {', '.join(FINGERPRINT_ORDER)}: the role reads the deployed certificate from it")
        password = entry.get("pfx_password", pfx_password)
        if "bundle.pfx" in names and not password:
            _fail(f"bundle.pfx of {domain} needs a pfx_password (entry or certctrl_pfx_password)")
        endpoints = list(entry.get("verify_endpoints") or [])
        endpoints += list(verify_endpoints.get(domain) or verify_endpoints.get(str(record["id"])) or [])
        plan.append(
            {
                "id": int(record["id"]),
                "domain_name": domain,
                "dest_dir": posixpath.normpath(dest_dir),
                "directory": {
                    "mode": str(entry.get("directory_mode", directory_mode)),
                    "owner": defaults["owner"] or None,
                    "group": defaults["group"] or None,
                },
                "files": planned_files,
                "fingerprint_file": next(f["path"] for f in planned_files if f["name"] == source),
                "services": [_service(s, definitions) for s in entry.get("services", services or [])],
                "verify_endpoints": [_endpoint(e, domain) for e in endpoints],
                "pfx_password": password if "bundle.pfx" in names else None,
            }
        )
    return plan


class FilterModule:
    def filters(self) -> dict:
        return {"deploy_plan": deploy_plan}
