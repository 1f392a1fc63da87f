#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_files_info
short_description: Describe a certificate's files on the host, and which certificate they hold, in one call
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - For each of O(paths), whether it exists and, when it does, whether it is a regular file, its mode, owner and group
    (a link is described as a link, not followed).
  - With O(fingerprint_file), the SHA-256 fingerprint of the first certificate in it (PEM or DER), in the format of the
    C(cjj365.certctrl.x509_fingerprint) filter and of C(cjj365.certctrl.device_bundle)'s O(cjj365.certctrl.device_bundle#module:deployed_fingerprint).
    Only certificate blocks are decoded; a private key in the same file (C(combined.pem)) is neither parsed nor returned.
  - The C(cjj365.certctrl.deploy) role runs it once per certificate to decide, from the host's own files, whether the
    host is current; it replaces one C(ansible.builtin.stat) per file and an C(ansible.builtin.slurp).
  - Runs where it is executed (the managed host) and needs nothing but Python. It does not talk to the cert-ctrl API and
    is therefore not part of the C(cjj365.certctrl.certctrl) action group.
extends_documentation_fragment:
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.info_module
options:
  paths:
    description: Absolute paths of the files to describe.
    type: list
    elements: path
    required: true
  fingerprint_file:
    description:
      - File whose first certificate is fingerprinted, usually one of O(paths). Missing, unreadable or without a
        certificate gives an empty RV(fingerprint).
    type: path
"""

EXAMPLES = r"""
---
- name: Is the deployed certificate the one the server has?
  cjj365.certctrl.certificate_files_info:
    paths:
      - /etc/certctrl/certs/www.example.com/fullchain.pem
      - /etc/certctrl/certs/www.example.com/private.key
    fingerprint_file: /etc/certctrl/certs/www.example.com/fullchain.pem
  register: deployed

- name: Compare with the server and fetch the bundle only when it differs
  cjj365.certctrl.device_bundle:
    device_id: 7
    certificate_id: 42
    deployed_fingerprint: "{{ deployed.fingerprint }}"
    dest: /tmp/bundles/42
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: One entry per O(paths), in order.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
      sample: /etc/certctrl/certs/www.example.com/private.key
    exists:
      description: Whether something is at the path (a dangling link too).
      type: bool
      sample: true
    regular:
      description: Whether it is a regular file (not a link, directory or device). Only when RV(files[].exists).
      type: bool
      sample: true
    mode:
      description: Permission bits, four octal digits. Only when RV(files[].exists).
      type: str
      sample: "0600"
    owner:
      description: Owner's user name (the uid when it has none). Only when RV(files[].exists).
      type: str
      sample: root
    group:
      description: Group name (the gid when it has none). Only when RV(files[].exists).
      type: str
      sample: ssl-cert
fingerprint:
  description: SHA-256 fingerprint of the first certificate in O(fingerprint_file), colon-separated upper-case hex; empty when there is none.
  returned: success
  type: str
  sample: "3A:7F:...:C2"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate_files import describe_files


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "fingerprint_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    try:
        result = describe_files(module.params["paths"], module.params["fingerprint_file"])
    except OSError as exc:
        module.fail_json(msg=f"cannot read {exc.filename}: {exc.strerror}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
