# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: api
short_description: Read certificates, devices and ACME accounts from cert-ctrl
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Reads resources of the account that owns the API key, C(GET /apiv1/me/<path>), and returns the C(data) of each answer.
  - Each term is a path below C(/apiv1/me/), with or without that prefix - C(certificates), C(certificates/42),
    C(certificates/42/issues), C(certificates/42/devices), C(devices), C(devices/7), C(devices/7/certificates),
    C(devices/by-public-id/<public id>), C(acme-accounts), C(acme-accounts/3/certificates) and the other JSON C(GET) endpoints of the API.
  - Only reads. Paths of endpoints that change something (C(certificate-assign)) or that answer a zip with a private key
    (C(devices/<id>/certificates/<id>/bundle)) are refused, and so are query strings, C(..) and percent-encoded characters.
  - A list path is read page by page to its end (or until O(limit) matching items). Keyword arguments that are not options
    of this plugin are B(filters) applied to the items of list paths, see the notes.
  - All terms of one call share one connection to the server.
  - Everything returned is marked unsafe, so a template inside a device name or any other server value is never rendered.
options:
  _terms:
    description:
      - Paths to read, relative to C(/apiv1/me/) (a leading C(/apiv1/me/) is accepted).
    type: list
    elements: str
    required: true
  on_missing:
    description:
      - What to do when a path does not exist (HTTP 404) - V(error) fails, V(warn) warns and returns nothing for that term,
        V(skip) silently returns nothing for that term.
    type: str
    choices: [error, warn, skip]
    default: error
  on_denied:
    description:
      - What to do when the API key may not read a path (HTTP 403) - V(error), V(warn) or V(skip), as for O(on_missing).
    type: str
    choices: [error, warn, skip]
    default: error
  limit:
    description:
      - At most this many items (after filtering) from each list path. The default reads every page.
    type: int
  page_size:
    description:
      - Items requested per page when reading a list path (1 to 1000).
    type: int
    default: 100
  method:
    description:
      - The HTTP method. Only V(GET) is accepted; any other value is refused, because this lookup never changes anything.
        Use the modules of the collection to create, issue or assign.
    type: str
    default: GET
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._api.plugins
notes:
  - "B(Filters): a keyword argument such as C(domain_name='example.com') keeps the items whose field C(domain_name) equals
    V(example.com) exactly (case-sensitive, no patterns). Several filters must all match. A list of values matches any of them,
    for example C(status=['ACTIVE', 'LOST']); a list field such as C(sans) matches when it contains the value; a number or
    boolean field also matches its text, so C(id='42') and C(verified='true') work. Filters on a path that reads one object are an error.
    A filter that names a field no item has is reported with a warning."
  - "B(Results): the items of a list path and the object of an object path are returned in one flat list, term after term.
    Call the lookup through C(query) (or with C(wantlist=true)) for list paths: C(lookup) unwraps a one-item list to that item,
    as it does for every lookup. For one object path, C(lookup) returns the object itself."
  - A lookup in C(vars:) runs again each time the variable is used. Read a large list once with M(ansible.builtin.set_fact)
    or C(register) instead.
  - "The connection options are taken, highest first, from the keyword arguments of the call, the variables C(certctrl_api_url),
    C(certctrl_api_key), C(certctrl_ca_path) ..., the environment variables E(CERTCTRL_API_URL), E(CERTCTRL_API_KEY), E(CERTCTRL_CA_PATH) ...,
    and the C([certctrl]) section of C(ansible.cfg). The API key is never read from C(ansible.cfg) and never shown, at any verbosity."
  - "The C(certctrl_*) variables may be templates or vault-encrypted, for example C(certctrl_api_key: '{{ vault_certctrl_api_key }}'):
    the lookup renders them with the play's variables, as a task would."
seealso:
  - module: cjj365.certctrl.device_info
  - module: cjj365.certctrl.certificate_info
  - plugin: cjj365.certctrl.devices
    plugin_type: inventory
"""

EXAMPLES = r"""
---
- name: Show the record of certificate 42
  ansible.builtin.debug:
    msg: "{{ lookup('cjj365.certctrl.api', 'certificates/42') }}"

- name: Loop over the active Linux devices
  ansible.builtin.debug:
    msg: "{{ item.name }} ({{ item.device_public_id }})"
  loop: "{{ query('cjj365.certctrl.api', 'devices', status='ACTIVE', platform='Linux') }}"

- name: Ids of the certificates for example.com (one read of the list, kept in a fact)
  ansible.builtin.set_fact:
    example_cert_ids: "{{ query('cjj365.certctrl.api', 'certificates', domain_name='example.com') | map(attribute='id') | list }}"

- name: The newest issuance attempt of certificate 42, or nothing when the certificate is gone
  ansible.builtin.set_fact:
    last_attempt: "{{ query('cjj365.certctrl.api', 'certificates/42/issues', limit=1, on_missing='skip') | first | default(None) }}"

- name: Several paths in one call share one connection
  ansible.builtin.debug:
    msg: "{{ query('cjj365.certctrl.api', 'devices/1', 'devices/by-public-id/6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1') }}"

- name: Read with an explicit key and server (otherwise certctrl_* variables, CERTCTRL_* environment, ansible.cfg)
  ansible.builtin.debug:
    msg: "{{ query('cjj365.certctrl.api', 'acme-accounts', api_url='https://api.cjj365.cc', api_key=my_certctrl_key) }}"
"""

RETURN = r"""
_raw:
  description:
    - The items of each list path and the object of each object path, term after term, as the server's C(data) has them.
  type: list
  elements: raw
"""

import typing as t

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, NotFoundError, PermissionDeniedError
from ansible_collections.cjj365.certctrl.plugins.module_utils._paths import ApiPath, read, resolve
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._client import client_from_plugin, display, plain_options, translate_errors, var_options
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._unsafe import make_unsafe

_POLICY_BY_ERROR = ((NotFoundError, "on_missing"), (PermissionDeniedError, "on_denied"))


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[t.Any]:
        options = set(C.config.get_configuration_definitions("lookup", self._load_name) or ())
        filters = plain_options({key: kwargs.pop(key) for key in list(kwargs) if key not in options})
        # The variables arrive as written ("{{ vault_key }}", !vault): template the ones the options read.
        self.set_options(var_options=var_options(self, self._templar, variables), direct=plain_options(kwargs))

        method = str(self.get_option("method") or "GET").strip().upper()
        if method != "GET":
            raise AnsibleError(f"cert-ctrl api lookup: method={method} is refused; this lookup only reads (GET), the modules change things")
        with translate_errors("api lookup"):
            paths = [resolve(term) for term in terms]  # every term is checked before any request is sent

        client = client_from_plugin(self)
        results: list[t.Any] = []
        try:
            for api_path in paths:
                results.extend(self._read(client, api_path, filters))
            display.vvv(f"cert-ctrl api lookup: {len(paths)} path(s), {len(results)} result(s), {client.stats['requests']} request(s)")
        finally:
            client.close()
        return make_unsafe(results)

    def _read(self, client: CertCtrlClient, api_path: ApiPath, filters: dict[str, t.Any]) -> list[t.Any]:
        """The results of one term (its items, or its object), or none when on_missing/on_denied says so."""
        with translate_errors(f"reading {api_path.term}"):
            try:
                data = read(
                    client,
                    api_path,
                    filters=filters,
                    limit=self.get_option("limit"),
                    page_size=self.get_option("page_size"),
                    warn=lambda msg: display.warning(f"cert-ctrl api lookup: {msg}"),
                )
            except (NotFoundError, PermissionDeniedError) as exc:
                self._apply_policy(api_path, exc)
                return []
        return list(data) if api_path.is_list else [data]

    def _apply_policy(self, api_path: ApiPath, exc: CertCtrlError) -> None:
        option = next(name for cls, name in _POLICY_BY_ERROR if isinstance(exc, cls))
        policy = self.get_option(option)
        if policy == "error":
            raise exc  # translated with the server's words by the caller
        if policy == "warn":
            display.warning(f"cert-ctrl api lookup: {api_path.term} skipped ({option}=warn): {exc.msg}")
