#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: assign
short_description: Assign certificates of cert-ctrl to devices, or remove the assignment
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Makes sure a certificate is assigned to a device (O(state=present)) or is not (O(state=absent)).
    An assigned certificate is what the device's agent, or the M(cjj365.certctrl.device_bundle) module, can fetch.
  - The module reads the device's certificates first and writes only when the assignment has to change.
  - The certificate is given by O(certificate_id), or by O(domain_name) with its ACME account (O(acct_id) or O(acme_account));
    the device by O(device_id) or O(device_public_id). One of each is required.
  - The API key needs C(devices:<id>[write]) and C(certificates:<id>[read]).
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._api.creates
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._selectors.certificate
  - cjj365.certctrl._selectors.account
  - cjj365.certctrl._selectors.device
attributes:
  check_mode:
    support: full
    details:
      - When O(domain_name) names a certificate that does not exist yet (an earlier task of the same check run would create it),
        check mode predicts the assignment and warns.
  diff_mode:
    support: full
    details:
      - The diff shows whether the certificate is assigned before and after.
options:
  state:
    description:
      - V(present) assigns the certificate to the device, V(absent) removes the assignment.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: cjj365.certctrl.certificate
  - module: cjj365.certctrl.device_info
  - module: cjj365.certctrl.device_bundle
"""

EXAMPLES = r"""
---
- name: Deliver the shop certificate to web1
  cjj365.certctrl.assign:
    domain_name: shop.example.com
    acme_account: web-le
    device_id: 1

- name: Deliver a certificate to a device known by its public id
  cjj365.certctrl.assign:
    certificate_id: 42
    device_public_id: 6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1

- name: Take it away from an old host
  cjj365.certctrl.assign:
    certificate_id: 42
    device_id: 3
    state: absent
"""

RETURN = r"""
assignment:
  description:
    - The certificate and the device of the assignment (whether it now exists follows from O(state)).
    - In check mode, RV(assignment.certificate_id) is V(null) for a certificate an earlier task would create.
  returned: always
  type: dict
  sample:
    certificate_id: 42
    device_id: 1
    device_public_id: 6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1
  contains:
    certificate_id:
      description: Id of the certificate.
      type: int
      returned: success
    device_id:
      description: Id of the device.
      type: int
      returned: success
    device_public_id:
      description: Public id of the device.
      type: str
      returned: success
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._assign import ensure
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import (
    CERTIFICATE_MUTUALLY_EXCLUSIVE,
    CERTIFICATE_REQUIRED_ONE_OF,
    DEVICE_MUTUALLY_EXCLUSIVE,
    DEVICE_REQUIRED_ONE_OF,
    certificate_selector_spec,
    device_selector_spec,
)


def main() -> None:
    module = create_module(
        {
            **certificate_selector_spec(),
            **device_selector_spec(),
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_one_of=[*CERTIFICATE_REQUIRED_ONE_OF, *DEVICE_REQUIRED_ONE_OF],
        mutually_exclusive=[*CERTIFICATE_MUTUALLY_EXCLUSIVE, *DEVICE_MUTUALLY_EXCLUSIVE],
        supports_check_mode=True,
    )
    run(module, lambda client: ensure(client, module.params, check_mode=module.check_mode, diff=module._diff, warn=module.warn))


if __name__ == "__main__":
    main()
