#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: device_key
short_description: Make sure a host has its cert-ctrl device key pair, and return its public key
version_added: 0.2.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Runs on the managed host and makes sure it has the X25519 key pair with which cert-ctrl wraps the private keys of
    C(DEVICE_REQUIRED) certificates for it. The secret key never leaves the host; the module returns the public key, which
    M(cjj365.certctrl.device) registers with cert-ctrl.
  - The layout is the official C(cert-ctrl) agent's, so a host enrolled by the agent is served by this collection and the
    other way round. The pair is the raw 32-byte files C(dev_sk.bin) and C(dev_pk.bin) in O(path), mode V(0600), in a
    directory of mode V(0700); the secret key may also be base64 text, and is looked for in the runtime directory's
    C(state/dev_sk.bin) when O(path) has none, as the agent does.
  - An existing pair is reused; its modes are set back to V(0600) and V(0700) when they differ (a secret key that others can read is refused instead).
    Otherwise a new pair is made and written atomically; missing parent directories are created with mode V(0755).
  - The RV(device_public_id) is the one the agent keeps in the runtime directory's C(state/session_state.db) when the
    agent enrolled the host, otherwise one derived from the public key, which stays the same as long as the host keeps its key.
  - Only hosts that receive C(DEVICE_REQUIRED) certificates need a device key. The module does not talk to the
    cert-ctrl API and is therefore not part of the C(cjj365.certctrl.certctrl) action group.
requirements:
  - PyNaCl or cryptography on the host (PyNaCl is preferred; opening a wrapped key later needs both).
extends_documentation_fragment:
  - cjj365.certctrl._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode a missing pair is reported as created, without RV(public_key) and RV(fingerprint).
  diff_mode:
    support: none
options:
  path:
    description:
      - The directory of the key pair, the C(keys) directory of the agent's runtime directory.
    type: path
    default: /var/lib/certctrl/keys
  state:
    description:
      - V(present) makes sure the pair exists.
    type: str
    choices: [present]
    default: present
notes:
  - The secret key is never returned, logged or shown in a diff. Removing the pair means enrolling the host again
    (cert-ctrl wraps keys for the public key it knows).
seealso:
  - module: cjj365.certctrl.device
    description: Register the host as a cert-ctrl device with this public key.
"""

EXAMPLES = r"""
---
- name: Make sure the host has its device key pair
  cjj365.certctrl.device_key:
  register: device_key

- name: Show the public key cert-ctrl will wrap keys for
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ device_key.public_key }} ({{ device_key.device_public_id }})"

- name: A key pair outside the agent's runtime directory
  cjj365.certctrl.device_key:
    path: /etc/certctrl/keys
"""

RETURN = r"""
public_key:
  description:
    - Standard base64 of the 32-byte X25519 public key, what the cert-ctrl API calls C(dev_pk).
    - V(null) in check mode when the pair would be created.
  returned: success
  type: str
  sample: vvRlosEeWAdm/moVXd1dZoucmCZ0tqQa7IIdWZoNgDM=
fingerprint:
  description:
    - Base64 of the BLAKE2b-256 hash of the public key, as the device bundle's C(device_keyfp_b64) names the key it was wrapped for.
    - V(null) in check mode when the pair would be created.
  returned: success
  type: str
  sample: BKBOLY4O9AGrykfyQ82yI2kJL3DdyPyzSaaK+suEZNk=
device_public_id:
  description:
    - The host's device id for cert-ctrl (UUID-shaped), the agent's when it enrolled the host, else derived from the public key.
    - V(null) in check mode when the pair would be created and the agent has not enrolled the host.
  returned: success
  type: str
  sample: adf6f373-7fbd-b1ae-fab6-b34fe7f87c19
path:
  description: The absolute path of the key pair's directory.
  returned: success
  type: str
  sample: /var/lib/certctrl/keys
created:
  description: Whether a new pair was made (or would be, in check mode).
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._device_key import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    DEFAULT_KEY_DIR,
    NACL_IMPORT_ERROR,
    ensure_keypair,
    missing_libraries,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._host import os_error_message, run


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": DEFAULT_KEY_DIR},
            "state": {"type": "str", "choices": ["present"], "default": "present"},
        },
        supports_check_mode=True,
    )
    missing = missing_libraries(for_unwrap=False)
    if missing:
        module.fail_json(msg=missing, exception=NACL_IMPORT_ERROR or CRYPTOGRAPHY_IMPORT_ERROR)
    run(module, lambda: ensure_keypair(module.params["path"], check_mode=module.check_mode), os_error=os_error_message)


if __name__ == "__main__":
    main()
