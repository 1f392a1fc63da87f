#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: device_info
short_description: Read devices of cert-ctrl and the certificates assigned to them
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Returns one device by O(device_id) or O(device_public_id), or every device the API key can read (all pages).
  - With O(include_certificates=true), each device carries the certificates assigned to it (one more request per device).
  - Works ad hoc, for example C(ansible localhost -m cjj365.certctrl.device_info -a device_id=1) with E(CERTCTRL_API_KEY) set.
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._attributes.info_module
  - cjj365.certctrl._selectors.device
options:
  status:
    description:
      - Only devices in this status.
    type: str
    choices: [ACTIVE, REVOKED, LOST]
  include_certificates:
    description:
      - Add the certificates assigned to each device under RV(devices[].certificates).
    type: bool
    default: false
seealso:
  - module: cjj365.certctrl.assign
  - module: cjj365.certctrl.device_bundle
"""

EXAMPLES = r"""
---
- name: Every active device with its certificates
  cjj365.certctrl.device_info:
    status: ACTIVE
    include_certificates: true
  register: fleet

- name: Names of the devices without a certificate
  ansible.builtin.debug:
    msg: "{{ fleet.devices | selectattr('certificates', 'equalto', []) | map(attribute='name') | list }}"

- name: One device by the public id its agent registered
  cjj365.certctrl.device_info:
    device_public_id: 6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1
  register: web1
"""

RETURN = r"""
devices:
  description:
    - The matching devices, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 1
      user_id: 1
      device_public_id: 6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1
      name: web1
      status: ACTIVE
      platform: Linux
      certificates:
        - id: 42
          domain_name: shop.example.com
          acct_id: 7
          sans: [shop.example.com]
  contains:
    id:
      description: Id of the device.
      type: int
      returned: success
    device_public_id:
      description: Public id (UUID) of the device.
      type: str
      returned: success
    name:
      description: Name of the device.
      type: str
      returned: success
    status:
      description: V(ACTIVE), V(REVOKED) or V(LOST).
      type: str
      returned: success
    certificates:
      description: Records (without heavy PEM fields) of the certificates assigned to the device.
      type: list
      elements: dict
      returned: when O(include_certificates=true)
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._devices import read
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import DEVICE_MUTUALLY_EXCLUSIVE, device_selector_spec


def main() -> None:
    module = create_module(
        {
            **device_selector_spec(),
            "status": {"type": "str", "choices": ["ACTIVE", "REVOKED", "LOST"]},
            "include_certificates": {"type": "bool", "default": False},
        },
        mutually_exclusive=list(DEVICE_MUTUALLY_EXCLUSIVE),
        supports_check_mode=True,
    )
    run(module, lambda client: read(client, module.params))


if __name__ == "__main__":
    main()
