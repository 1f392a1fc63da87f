# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: devices
short_description: The devices of a cert-ctrl account as inventory hosts
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - One host per device the API key can read (C(GET /apiv1/me/devices), every page), for provisioning a fleet with certificates.
  - The configuration file must be named C(*.certctrl.yml) or C(*.certctrl.yaml) (or C(certctrl.yml)).
  - "Host variables, with the prefix O(hostvars_prefix): C(certctrl_device_id), C(certctrl_device_public_id), C(certctrl_name),
    C(certctrl_status), C(certctrl_platform), and with O(include_certificates=true) C(certctrl_certificates), a list of
    C({id, domain_name}) of the certificates assigned to the device."
  - "Groups, with the prefix O(group_prefix), by status and platform in lower case: C(certctrl_status_active),
    C(certctrl_status_revoked), C(certctrl_platform_linux) ... (characters not valid in group names become C(_))."
  - Every value read from the API that could be a template (a string with C({) or C(}), or starting with C(#jinja2:)) is marked unsafe,
    so a template inside a device name is never rendered; the other values stay plain strings, so C(ansible-inventory --list --export)
    (what AWX's inventory sync runs) shows them as they are.
  - The first request lists devices; a wrong key or an unreachable server fails there, before any host is added.
  - Thousands of devices are read page by page (see O(page_size)).
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
  - cjj365.certctrl._api
  - cjj365.certctrl._api.plugins
options:
  plugin:
    description:
      - Marks the file as a configuration of this plugin.
    type: str
    required: true
    choices: [cjj365.certctrl.devices]
  hostname:
    description:
      - The inventory host name of a device - V(name) (the device name; the public id when the name is empty),
        V(public_id) (its C(device_public_id)), V(id), or a Jinja2 template over the device's fields,
        for example C({{ name }}-{{ id }}).
      - When two devices get the same host name, the later one is added as C(<name>_<id>) with a warning.
    type: str
    default: name
  hostvars_prefix:
    description:
      - Prefix of the host variables this plugin sets.
    type: str
    default: certctrl_
  group_prefix:
    description:
      - Prefix of the status and platform groups.
    type: str
    default: certctrl_
  status:
    description:
      - Only devices in one of these statuses. Empty means every status. A single status is also sent to the server as a filter.
    type: list
    elements: str
    choices: [ACTIVE, REVOKED, LOST]
    default: []
  name_patterns:
    description:
      - Only devices whose name matches one of these shell-style patterns (C(fnmatch), case-sensitive), for example C(web*).
        Empty means every name.
    type: list
    elements: str
    default: []
  include_certificates:
    description:
      - Read the certificates assigned to each device (one more request per device) into C(certctrl_certificates).
      - When the key may not read them (HTTP 403), the variable is left out for that device and a warning names it.
    type: bool
    default: false
  page_size:
    description:
      - Devices requested per page (1 to 1000). 2,000 devices take 21 requests at V(100) and 3 at V(1000).
    type: int
    default: 100
notes:
  - "The connection options are taken, highest first, from the configuration file, the extra variables (C(-e))
    C(certctrl_api_url), C(certctrl_api_key) ..., the environment variables E(CERTCTRL_API_URL), E(CERTCTRL_API_KEY) ...,
    and the C([certctrl]) section of C(ansible.cfg) (never the API key)."
  - The connection options (O(api_url), O(api_key), O(ca_path), O(validate_certs), O(timeout), O(retries)) may be templates in the
    configuration file, for example a vaulted variable or an C(ansible.builtin.env) lookup, and so may the C(certctrl_*) extra variables.
    They are rendered with the extra variables only, as no other variables exist while the inventory is read.
  - A wrong key or an unreachable server makes this source fail with the server's message. Ansible then goes on without
    its hosts and only warns, unless C(any_unparsed_is_failed) is set in the C([inventory]) section of C(ansible.cfg)
    (E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED)); set it when a run must not continue with an empty fleet.
  - With O(cache=true), a cache hit sends no request at all. The cache is used only when it was written for the same server,
    API key and filters, and serving from it does not extend its lifetime. C(--flush-cache) reads the API again
    (C(ansible-playbook --flush-cache) on every ansible-core; C(ansible-inventory) has the option from ansible-core 2.19 on).
  - The device record has no address; set C(ansible_host) with O(compose) when the devices are managed over SSH.
seealso:
  - plugin: cjj365.certctrl.api
    plugin_type: lookup
  - module: cjj365.certctrl.device_info
"""

EXAMPLES = r"""
# One inventory source per file; ansible-core 2.16's sanity wants one YAML document here, so the two short files
# are shown as comments around the long one.
#
# devices.certctrl.yml - every device; the API key comes from CERTCTRL_API_KEY
#   plugin: cjj365.certctrl.devices
#
# by-id.certctrl.yml - host names that never collide, built from the device fields
#   plugin: cjj365.certctrl.devices
#   hostname: "{{ name }}-{{ id }}"
#   hostvars_prefix: cc_
#   group_prefix: cc_

# active.certctrl.yml - active devices with their certificates, cached for an hour
plugin: cjj365.certctrl.devices
api_url: https://api.cjj365.cc
api_key: "{{ vault_certctrl_api_key }}"  # from a vaulted file given with -e @secrets.yml
status:
  - ACTIVE
name_patterns:
  - web*
  - edge-??
include_certificates: true
page_size: 1000
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible/certctrl
cache_timeout: 3600
compose:
  ansible_host: certctrl_name ~ '.example.net'
keyed_groups:
  # one group per certificate domain, for example cert_shop_example_com
  - key: certctrl_certificates | map(attribute='domain_name') | list
    prefix: cert
groups:
  without_certificate: certctrl_certificates | length == 0
"""

import fnmatch
import hashlib
import os
import typing as t

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import check_page_size
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, NotFoundError, PermissionDeniedError
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import device_certificates, list_devices
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._client import CONNECTION_OPTIONS, client_from_plugin, plain, translate_errors, var_options
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._unsafe import make_unsafe

CONFIG_NAMES = ("certctrl.yml", "certctrl.yaml")
CONFIG_SUFFIXES = (".certctrl.yml", ".certctrl.yaml")
HOSTNAME_FIELDS = {"name": "name", "public_id": "device_public_id", "id": "id"}
CACHE_FORMAT = 1


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "cjj365.certctrl.devices"

    def verify_file(self, path: str) -> bool:
        name = os.path.basename(path)
        return super().verify_file(path) and (name in CONFIG_NAMES or name.endswith(CONFIG_SUFFIXES))

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        # Extra variables arrive as written ("{{ vault_key }}", !vault): template the ones the options read.
        self._vars = {**(self._vars or {}), **var_options(self, self.templar, self._vars)}
        self._read_config_data(path)
        connection = {name: plain(self.get_option(name)) for name in CONNECTION_OPTIONS}
        query = self._query(connection)
        hit, data = self.get_cached_result(path, cache, query)
        if not hit:
            data = self._fetch(connection, query)
            self.update_cached_result(path, data)
        self._populate(data)

    # -- options -------------------------------------------------------------------------------

    def set_options(self, task_keys: t.Any = None, var_options: t.Any = None, direct: t.Any = None) -> None:
        """The connection options of the configuration file may be templates (vault, env lookups), rendered with the extra vars
        before the options are type-checked (``timeout: "{{ t }}"`` is a number only once rendered)."""
        if direct:
            direct = {**direct, **{name: self._rendered(name, direct[name]) for name in CONNECTION_OPTIONS if name in direct}}
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)

    def _rendered(self, name: str, value: t.Any) -> t.Any:
        if isinstance(value, str) and self.templar.is_template(value):
            self.templar.available_variables = self._vars or {}
            try:
                value = self.templar.template(value)
            except AnsibleError as exc:
                raise AnsibleParserError(f"cert-ctrl devices inventory: option {name} could not be templated: {str(exc).splitlines()[0]}") from exc
        return plain(value)

    def _query(self, connection: dict[str, t.Any]) -> dict[str, t.Any]:
        """What the cached data depends on. The key is represented by a short hash, never by itself."""
        try:
            check_page_size(self.get_option("page_size"))
        except CertCtrlError as exc:
            raise AnsibleParserError(f"cert-ctrl devices inventory: {exc.msg}") from exc
        key = str(connection["api_key"] or "")
        return {
            "format": CACHE_FORMAT,
            "api_url": str(connection["api_url"] or "").rstrip("/"),
            "key_sha256": hashlib.sha256(key.encode()).hexdigest()[:16],
            "status": sorted({str(s) for s in self.get_option("status") or []}),
            "name_patterns": [str(p) for p in self.get_option("name_patterns") or []],
            "include_certificates": bool(self.get_option("include_certificates")),
        }

    # -- reading -------------------------------------------------------------------------------

    def get_cached_result(self, path: str, cache: bool, query: dict[str, t.Any]) -> tuple[bool, dict[str, t.Any] | None]:
        """(True, data) when the cache holds an entry written for the same query; ``cache`` is False with --flush-cache."""
        if not cache or not self.get_option("cache"):
            return False, None
        try:
            data = self._cache[self.get_cache_key(path)]
        except KeyError:
            return False, None
        if not isinstance(data, dict) or data.get("query") != query:
            self.display.vvv("cert-ctrl devices inventory: the cache was written for other options; reading the API")
            return False, None
        self.display.vvv(f"cert-ctrl devices inventory: {len(data.get('devices') or [])} devices from the cache")
        return True, data

    def update_cached_result(self, path: str, data: dict[str, t.Any]) -> None:
        """Store what was just read from the API. Never called for a hit, so serving from the cache keeps the entry's age."""
        if self.get_option("cache"):
            self._cache[self.get_cache_key(path)] = data

    def _fetch(self, connection: dict[str, t.Any], query: dict[str, t.Any]) -> dict[str, t.Any]:
        """Devices (filtered) and, on request, their certificates: plain JSON data, as it is cached."""
        statuses = query["status"]
        page_size = self.get_option("page_size")
        client = client_from_plugin(self, **connection)
        try:
            with translate_errors("devices inventory: listing devices"):
                devices = list_devices(client, status=statuses[0] if len(statuses) == 1 else None, page_size=page_size)
            devices = [d for d in devices if self._wanted(d, query)]
            certificates: dict[str, list[dict[str, t.Any]]] = {}
            if query["include_certificates"]:
                for device in devices:
                    rows = self._certificates_of(client, device, page_size)
                    if rows is not None:
                        certificates[str(device.get("id"))] = rows
            self.display.vvv(f"cert-ctrl devices inventory: {len(devices)} devices, {client.stats['requests']} requests")
        finally:
            client.close()
        return {"query": query, "devices": devices, "certificates": certificates}

    @staticmethod
    def _wanted(device: dict[str, t.Any], query: dict[str, t.Any]) -> bool:
        if query["status"] and device.get("status") not in query["status"]:
            return False
        name = device.get("name")
        patterns = query["name_patterns"]
        return not patterns or (isinstance(name, str) and any(fnmatch.fnmatchcase(name, p) for p in patterns))

    def _certificates_of(self, client: t.Any, device: dict[str, t.Any], page_size: int) -> list[dict[str, t.Any]] | None:
        with translate_errors(f"devices inventory: certificates of device {device.get('id')}"):
            try:
                rows = device_certificates(client, device["id"], page_size=page_size)
            except (PermissionDeniedError, NotFoundError) as exc:
                self.display.warning(f"cert-ctrl devices inventory: certificates of device {device.get('id')} not read: {exc.msg}")
                return None
        return [{"id": row.get("id"), "domain_name": row.get("domain_name")} for row in rows]

    # -- inventory -----------------------------------------------------------------------------

    def _populate(self, data: dict[str, t.Any]) -> None:
        prefix = self.get_option("hostvars_prefix")
        certificates = data.get("certificates") or {}
        taken: dict[str, t.Any] = {}
        for raw in data.get("devices") or []:
            device = make_unsafe(raw, trust_plain=True)  # a copy: the cached structure is never modified
            hostname = self._hostname(device)
            if hostname in taken:
                # an f-string drops the unsafe mark of a template-like name, and 2.16-2.18 render inventory_hostname
                unique = make_unsafe(f"{hostname}_{device.get('id')}")
                self.display.warning(
                    f"cert-ctrl devices inventory: device {device.get('id')} has the host name {hostname!r} of device {taken[hostname]}; added as {unique!r}"
                )
                hostname = unique
            taken[hostname] = device.get("id")

            hostvars = {
                f"{prefix}device_id": device.get("id"),
                f"{prefix}device_public_id": device.get("device_public_id"),
                f"{prefix}name": device.get("name"),
                f"{prefix}status": device.get("status"),
                f"{prefix}platform": device.get("platform"),
            }
            if str(device.get("id")) in certificates:
                hostvars[f"{prefix}certificates"] = make_unsafe(certificates[str(device.get("id"))], trust_plain=True)
            self._add_host(hostname, device, hostvars)

    def _add_host(self, hostname: str, device: dict[str, t.Any], hostvars: dict[str, t.Any]) -> None:
        self.inventory.add_host(hostname)
        for name, value in hostvars.items():
            self.inventory.set_variable(hostname, name, value)
        for field in ("status", "platform"):
            value = device.get(field)
            if value:
                group = self.inventory.add_group(self._sanitize_group_name(f"{self.get_option('group_prefix')}{field}_{str(value).lower()}"))
                self.inventory.add_child(group, hostname)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), hostvars, hostname, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, hostname, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, hostname, strict=strict)

    def _hostname(self, device: dict[str, t.Any]) -> str:
        choice = self.get_option("hostname")
        if choice in HOSTNAME_FIELDS:
            value = device.get(HOSTNAME_FIELDS[choice])
            if choice == "name" and not value:
                value = device.get("device_public_id")
        elif isinstance(choice, str) and self.templar.is_template(choice):
            self.templar.available_variables = device
            try:
                value = self.templar.template(choice)
            except Exception as exc:
                raise AnsibleParserError(f"cert-ctrl devices inventory: hostname template {choice!r} failed for device {device.get('id')}: {exc}") from exc
        else:
            raise AnsibleParserError(f"cert-ctrl devices inventory: hostname must be name, public_id, id or a Jinja2 template, not {choice!r}")
        if value is None or str(value).strip() == "":
            raise AnsibleParserError(f"cert-ctrl devices inventory: device {device.get('id')} has no value for hostname {choice!r}")
        return str(value)
