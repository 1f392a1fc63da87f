#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: acme_account_info
short_description: Read ACME accounts of cert-ctrl
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Returns one ACME account by O(id) or O(name), or every account the API key can read (all pages), optionally of one O(provider).
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._attributes.info_module
options:
  id:
    description:
      - Id of one account. An id that does not exist is an error.
    type: int
  name:
    description:
      - Name of one account. A name that does not exist gives an empty list.
    type: str
  provider:
    description:
      - Only accounts of this provider, for example V(letsencrypt) or V(SELF_CA).
    type: str
seealso:
  - module: cjj365.certctrl.acme_account
"""

EXAMPLES = r"""
---
- name: Every ACME account
  cjj365.certctrl.acme_account_info:
  register: all_accounts

- name: The accounts that issue from our own CAs
  cjj365.certctrl.acme_account_info:
    provider: SELF_CA
  register: self_ca_accounts

- name: One account by name
  cjj365.certctrl.acme_account_info:
    name: web-le
  register: web_le

- name: Show its id
  ansible.builtin.debug:
    msg: "{{ web_le.acme_accounts[0].id }}"
  when: web_le.acme_accounts | length > 0
"""

RETURN = r"""
acme_accounts:
  description:
    - The matching accounts, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 7
      user_id: 1
      name: web-le
      email: ops@example.com
      provider: letsencrypt
      ca_id: 0
      kid: null
  contains:
    id:
      description: Id of the account.
      type: int
      returned: success
    name:
      description: Name of the account.
      type: str
      returned: success
    email:
      description: Contact email.
      type: str
      returned: success
    provider:
      description: Certificate authority of the account.
      type: str
      returned: success
    ca_id:
      description: The issuing CA's id for provider V(SELF_CA), otherwise V(0).
      type: int
      returned: success
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._acme_account import read
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run


def main() -> None:
    module = create_module(
        {
            "id": {"type": "int"},
            "name": {"type": "str"},
            "provider": {"type": "str"},
        },
        mutually_exclusive=[("id", "name")],
        supports_check_mode=True,
    )
    run(module, lambda client: read(client, module.params))


if __name__ == "__main__":
    main()
