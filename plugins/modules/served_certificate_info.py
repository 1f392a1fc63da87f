#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: served_certificate_info
short_description: Read the certificate a TLS endpoint serves, optionally waiting for an expected one
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Opens a TLS connection to O(host):O(port), sending O(server_name) as SNI, and returns the serial, validity and
    SHA-256 fingerprint of the certificate the endpoint presents. The certificate is read, not verified.
  - With O(expect_fingerprint) and O(wait_timeout) it polls until the endpoint serves that certificate, since a server that
    was just reloaded may answer the first connections with the previous one. RV(matches) tells the outcome; the module does not fail on a mismatch.
  - The C(cjj365.certctrl.deploy) role uses it to check, after the reload, that each endpoint serves the deployed certificate.
  - Runs where it is executed (the managed host by default, so V(127.0.0.1) means the host itself) and needs nothing but Python.
    It does not talk to the cert-ctrl API and is therefore not part of the C(cjj365.certctrl.certctrl) action group.
extends_documentation_fragment:
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.info_module
options:
  host:
    description: Host name or address to connect to.
    type: str
    required: true
  port:
    description: TCP port.
    type: int
    default: 443
  server_name:
    description: Name sent as SNI. When unset, no SNI is sent.
    type: str
  timeout:
    description: Seconds to wait for the connection and the handshake.
    type: float
    default: 10
  expect_fingerprint:
    description:
      - SHA-256 fingerprint of the certificate the endpoint should serve (colon-separated or plain hex).
    type: str
  wait_timeout:
    description:
      - With O(expect_fingerprint), seconds to keep polling (every half second) until the endpoint serves it.
        V(0) makes one attempt.
    type: float
    default: 0
  require_match:
    description:
      - With O(expect_fingerprint), fail when the endpoint still does not serve it after polling. The message names the
        endpoint, the serial it serves and the number of attempts.
      - By default the module does not fail on a mismatch; RV(matches) tells.
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Which certificate does the web server present for www.example.com?
  cjj365.certctrl.served_certificate_info:
    host: 127.0.0.1
    port: 443
    server_name: www.example.com
  register: served

- name: Wait up to 15 seconds for the reloaded server to present the new certificate
  cjj365.certctrl.served_certificate_info:
    host: 127.0.0.1
    port: 443
    server_name: www.example.com
    expect_fingerprint: "{{ bundle.x509.sha256_fingerprint }}"
    wait_timeout: 15
    require_match: true
"""

RETURN = r"""
endpoint:
  description: The O(host) and O(port) that were probed.
  returned: success
  type: str
  sample: 127.0.0.1:443
server_name:
  description: The SNI name sent, or V(null).
  returned: success
  type: str
  sample: www.example.com
certificate:
  description: Facts of the served leaf certificate.
  returned: success
  type: dict
  contains:
    serial:
      description: Serial number, lower-case hex.
      type: str
      sample: 3b1f0c9a7d
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      sample: "2026-01-01T00:00:00+00:00"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2026-04-01T00:00:00+00:00"
    sha256_fingerprint:
      description: SHA-256 fingerprint, colon-separated upper-case hex.
      type: str
      sample: "AB:CD:...:EF"
matches:
  description: Whether the served certificate is O(expect_fingerprint) (after polling).
  returned: when O(expect_fingerprint) is set
  type: bool
  sample: true
attempts:
  description: Number of TLS handshakes made.
  returned: success
  type: int
  sample: 2
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._host import run
from ansible_collections.cjj365.certctrl.plugins.module_utils._served_certificate import mismatch_message, served_certificate


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 443},
            "server_name": {"type": "str"},
            "timeout": {"type": "float", "default": 10},
            "expect_fingerprint": {"type": "str"},
            "wait_timeout": {"type": "float", "default": 0},
            "require_match": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["require_match"] and not p["expect_fingerprint"]:
        module.fail_json(msg="require_match needs expect_fingerprint: the fingerprint the endpoint must serve")

    def check() -> t.Dict[str, t.Any]:
        result = served_certificate(
            p["host"], p["port"], server_name=p["server_name"], timeout=p["timeout"], expect_fingerprint=p["expect_fingerprint"], wait_timeout=p["wait_timeout"]
        )
        if p["require_match"] and not result["matches"]:
            raise CertCtrlError(mismatch_message(result, p["expect_fingerprint"]), **result)
        return result

    run(module, check)


if __name__ == "__main__":
    main()
