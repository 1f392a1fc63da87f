#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: device
short_description: Register a host's device key with cert-ctrl as a device
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Makes sure a device with the public key O(public_key) is registered for the user of the API key, as the cert-ctrl
    agent's C(cert-ctrl login --apikey) registers its host (C(POST /apiv1/me/devices)).
  - cert-ctrl wraps the private key of a C(DEVICE_REQUIRED) certificate for the key of each device it is assigned to;
    only the host that holds the matching private key (see M(cjj365.certctrl.device_key)) can decrypt it.
  - The module reads the device by its public id first. A new device is registered (changed). A known one is registered
    again (not changed), so that the server confirms it has this key; the server answers a known id with another key
    with an error, and the task fails saying what to do.
  - The device tokens of the server's answer (access and refresh token) are neither returned nor kept.
  - The API key needs C(devices:*[write]), and C(devices:*[read]) to read the device.
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the device but sends no registration, so it cannot tell whether a known O(device_public_id)
        holds another key.
  diff_mode:
    support: full
    details:
      - The diff shows the device record before and after (never keys or tokens).
options:
  public_key:
    description:
      - The host's device public key, standard base64 of its 32-byte X25519 public key, as RV(cjj365.certctrl.device_key#module:public_key)
        returns it.
      - A value that is not standard base64 of 32 bytes fails the task before any request.
    type: str
    required: true
  device_public_id:
    description:
      - Public id (UUID-shaped, 8-4-4-4-12 hex digits) of the device; upper case is accepted and lower-cased.
      - Defaults to an id derived from O(public_key), which stays the same as long as the host keeps its key.
      - A device key is never replaced; a new key needs a new public id (the default gives it one).
    type: str
  name:
    description:
      - Name of the device in cert-ctrl, used when the device is registered.
      - Defaults to C(device-) and the first 8 characters of the public id (the module cannot know the inventory name
        of the host it registers). The C(cjj365.certctrl.deploy) role passes the host's C(inventory_hostname).
    type: str
  platform:
    description:
      - Platform of the host, as the agent sends it (V(Linux), V(macOS), V(Windows), V(Android), V(Unknown)).
    type: str
    default: Linux
  model:
    description:
      - Model of the host; the agent sends C(PRETTY_NAME) of C(/etc/os-release) on Linux. Not sent when unset.
    type: str
  app_version:
    description:
      - Version of the registering software. Defaults to the version of this collection.
    type: str
  ip:
    description:
      - IP address of the host. Not sent when unset.
    type: str
  user_agent:
    description:
      - User agent of the registering software. Defaults to the one this collection's requests send,
        C(cjj365.certctrl/<version> ansible-core/<version>).
    type: str
  state:
    description:
      - V(present) registers the device. Removing a device is done in cert-ctrl.
    type: str
    choices: [present]
    default: present
notes:
  - The server does not update the O(name), O(platform) or other fields of a device that is registered already.
  - A device registered without a key (by an older agent, for example) gets O(public_key) on the first run; its record
    does not show keys, so the module reports that run as not changed.
seealso:
  - module: cjj365.certctrl.device_key
  - module: cjj365.certctrl.device_info
  - module: cjj365.certctrl.assign
"""

EXAMPLES = r"""
---
- name: Make sure the host has a device key
  cjj365.certctrl.device_key:
  register: key

- name: Register it as a cert-ctrl device
  cjj365.certctrl.device:
    public_key: "{{ key.public_key }}"
    name: "{{ inventory_hostname }}"
  delegate_to: localhost
  register: device

- name: Keep the device for the assign and deploy tasks
  ansible.builtin.set_fact:
    certctrl_device_id: "{{ device.device_id }}"
    certctrl_device_public_id: "{{ device.device_public_id }}"
"""

RETURN = r"""
device:
  description:
    - The device record as the server returns it, without keys or tokens.
    - In check mode, the record a real run would create for a new device, with RV(device.id) V(null).
  returned: always
  type: dict
  sample:
    id: 7
    user_id: 1
    device_public_id: f7cec875-d071-42b3-4250-17d5231a24a2
    name: web1
    status: ACTIVE
    platform: Linux
    model: Debian GNU/Linux 12 (bookworm)
  contains:
    id:
      description: Id of the device.
      type: int
      returned: success
    device_public_id:
      description: Public id of the device.
      type: str
      returned: success
    name:
      description: Name of the device.
      type: str
      returned: success
device_id:
  description:
    - Id of the device. V(null) in check mode for a device that is not registered yet.
  returned: always
  type: int
  sample: 7
device_public_id:
  description:
    - Public id of the device.
  returned: always
  type: str
  sample: f7cec875-d071-42b3-4250-17d5231a24a2
fingerprint:
  description:
    - Standard base64 of the BLAKE2b-256 digest of the public key, the C(device_keyfp_b64) that C(DEVICE_REQUIRED) bundles
      for this device carry.
  returned: always
  type: str
  sample: RB7cVs68jihdAiZ6plCBnxWt17Bu+bQbJpASjc5lWSQ=
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._device import ensure
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run


def main() -> None:
    module = create_module(
        {
            "public_key": {"type": "str", "required": True},
            "device_public_id": {"type": "str"},
            "name": {"type": "str"},
            "platform": {"type": "str", "default": "Linux"},
            "model": {"type": "str"},
            "app_version": {"type": "str"},
            "ip": {"type": "str"},
            "user_agent": {"type": "str"},
            "state": {"type": "str", "choices": ["present"], "default": "present"},
        },
        supports_check_mode=True,
    )
    run(module, lambda client: ensure(client, module.params, check_mode=module.check_mode, diff=module._diff))


if __name__ == "__main__":
    main()
