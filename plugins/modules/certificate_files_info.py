#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: certificate_files_info
short_description: Describe certificates' files on the host, their manifests and leftovers, in one call
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - For each of O(paths), whether it exists and, when it does, whether it is a regular file, its mode, owner and group
    (a link is described as a link, not followed).
  - With O(fingerprint_file), the SHA-256 fingerprint of the first certificate in it (PEM or DER), as colon-separated
    upper-case hex, the format of C(cjj365.certctrl.device_bundle)'s O(cjj365.certctrl.device_bundle#module:deployed_fingerprint).
    Only certificate blocks are decoded; a private key in the same file (C(combined.pem)) is neither parsed nor returned.
  - With O(certificates), all of a host's certificates at once - each file's SHA-256, type, mode, owner, group and
    SELinux type, each directory's attributes and deploy manifest (C(.certctrl-manifest.json)), the temporary files a
    killed run left in it, and the leaf certificate deployed there (serial, validity, fingerprint). Also the private
    staging directories an older version of the role left in the temporary directory (RV(staging)).
  - M(cjj365.certctrl.deploy_certificates) (the C(cjj365.certctrl.deploy) role) runs it once per host to decide, from the
    host's own files, whether the host is current; on a current host that is the role's only module run.
  - Runs where it is executed (the managed host) and needs nothing but Python. It does not talk to the cert-ctrl API and
    is therefore not part of the C(cjj365.certctrl.certctrl) action group.
extends_documentation_fragment:
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.info_module
options:
  paths:
    description:
      - Absolute paths of the files to describe (RV(files)).
      - One of O(paths) and O(certificates) is required.
    type: list
    elements: path
  certificates:
    description: Certificates to describe (RV(certificates)), each a directory and the paths of its files.
    type: list
    elements: dict
    suboptions:
      dest_dir:
        description: The certificate's directory, where its manifest is.
        type: path
        required: true
      paths:
        description: Absolute paths of its files.
        type: list
        elements: path
        default: []
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
certificates:
  description: One entry per O(certificates), in order.
  returned: when O(certificates) is given
  type: list
  elements: dict
  contains:
    dest_dir:
      description: The directory.
      type: str
    directory:
      description: C(exists), C(directory), C(mode), C(owner), C(group) (and C(setype)) of the directory.
      type: dict
    files:
      description: C(path), C(exists), C(regular), C(mode), C(owner), C(group), C(sha256) (and C(setype)) of each file.
      type: list
      elements: dict
    manifest:
      description: The deploy manifest, V(null) when missing or unusable.
      type: dict
    stale:
      description: Temporary files a killed swap or restore left in the directory.
      type: list
      elements: str
    deployed:
      description: C(serial), C(not_before), C(not_after), C(sha256_fingerprint) of the deployed leaf; V(null) when none is readable.
      type: dict
staging:
  description: Private staging directories an older version of the role left (old enough to be dead).
  returned: when O(certificates) is given
  type: list
  elements: str
files:
  description: One entry per O(paths), in order.
  returned: when O(paths) is given
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
  returned: when O(paths) is given
  type: str
  sample: "3A:7F:...:C2"
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._deployed import describe_certificates, describe_files
from ansible_collections.cjj365.certctrl.plugins.module_utils._host import run


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path"},
            "fingerprint_file": {"type": "path"},
            "certificates": {
                "type": "list",
                "elements": "dict",
                "options": {"dest_dir": {"type": "path", "required": True}, "paths": {"type": "list", "elements": "path", "default": []}},
            },
        },
        required_one_of=[("paths", "certificates")],
        supports_check_mode=True,
    )
    p = module.params

    def setype(path: str) -> t.Optional[str]:
        context = module.selinux_context(path)
        return context[2] if len(context) > 2 and context[2] else None

    def describe() -> t.Dict[str, t.Any]:
        result: t.Dict[str, t.Any] = {"changed": False}
        if p["paths"] is not None:
            result.update(describe_files(p["paths"], p["fingerprint_file"]))
        if p["certificates"] is not None:
            result.update(describe_certificates(p["certificates"], setype=setype if module.selinux_enabled() else None))
        return result

    run(module, describe, os_error=lambda exc: f"cannot read {exc.filename}: {exc.strerror}")


if __name__ == "__main__":
    main()
