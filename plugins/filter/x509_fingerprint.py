# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: x509_fingerprint
short_description: SHA-256 fingerprint of the first certificate of a PEM or DER file
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Returns the SHA-256 fingerprint of the first certificate found in the input, as colon-separated upper-case hex,
    the format M(cjj365.certctrl.device_bundle) takes as O(cjj365.certctrl.device_bundle#module:deployed_fingerprint)
    and returns as RV(cjj365.certctrl.device_bundle#module:x509.sha256_fingerprint).
  - The input is a PEM text (a certificate, a full chain, or an HAProxy file with the key first; other PEM blocks are skipped,
    never decoded), or, with O(encoding=base64), the RV(ansible.builtin.slurp#module:content) of such a file or of a DER certificate.
  - Pure Python standard library; the C(cjj365.certctrl.deploy) role uses it to decide from the host's files whether a host needs a bundle.
options:
  _input:
    description: PEM text, or base64 of a PEM or DER file when O(encoding=base64).
    type: string
    required: true
  encoding:
    description:
      - V(text) for PEM text, V(base64) for base64-encoded file content (what M(ansible.builtin.slurp) returns).
    type: string
    choices: [text, base64]
    default: text
  strict:
    description:
      - When V(true), input without a readable certificate is an error.
      - When V(false), such input gives an empty string, which the role passes on as "nothing deployed".
    type: boolean
    default: true
"""

EXAMPLES = r"""
---
- name: Read the certificate deployed on the host (public data)
  ansible.builtin.slurp:
    src: /etc/certctrl/certs/www.example.com/certificate.pem
  register: deployed

- name: Fetch the bundle on the controller only when the host's certificate is not the current one
  cjj365.certctrl.device_bundle:
    device_id: 1
    certificate_id: 42
    deployed_fingerprint: "{{ deployed.content | cjj365.certctrl.x509_fingerprint(encoding='base64', strict=false) }}"
    dest: "{{ bundle_dir }}"
  delegate_to: localhost
  become: false

- name: Fingerprint a PEM text
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'fullchain.pem') | cjj365.certctrl.x509_fingerprint }}"
"""

RETURN = r"""
_value:
  description:
    - SHA-256 fingerprint of the first certificate, colon-separated upper-case hex.
    - Empty when there is no readable certificate and O(strict=false).
  type: string
  sample: "5E:0B:6C:...:9A"
"""

import base64
import binascii

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import DERError, certificates_der, sha256_fingerprint


def x509_fingerprint(data: object, encoding: str = "text", strict: bool = True) -> str:
    if encoding not in ("text", "base64"):
        raise AnsibleFilterError(f"x509_fingerprint: encoding must be 'text' or 'base64', not {encoding!r}")
    if not isinstance(data, (str, bytes)):
        raise AnsibleFilterError(f"x509_fingerprint: the input must be a string, not {type(data).__name__}")
    raw = to_bytes(data)
    try:
        if encoding == "base64":
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        ders = certificates_der(raw)
    except (binascii.Error, ValueError, DERError) as exc:
        if strict:
            raise AnsibleFilterError(f"x509_fingerprint: {exc}") from None
        return ""
    if not ders:
        if strict:
            raise AnsibleFilterError("x509_fingerprint: the input holds no certificate")
        return ""
    return sha256_fingerprint(ders[0])


class FilterModule:
    def filters(self) -> dict:
        return {"x509_fingerprint": x509_fingerprint}
