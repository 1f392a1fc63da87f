#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: certificate_info
short_description: Read certificate records of cert-ctrl
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Returns one certificate record by O(certificate_id), the records of O(domain_name) in one ACME account,
    or every record the API key can read (all pages), optionally filtered by O(domain_name) or account.
  - The API's list endpoints leave out the heavy fields (C(cert), C(der), C(csr)), so RV(certificates[].x509) is present
    for single-certificate lookups (O(certificate_id), or O(domain_name) together with O(acct_id) or O(acme_account))
    and, for lists, when O(include_x509=true) reads each record in full (one request per certificate, with C(?detail=most)).
    It is present only once the certificate has been issued.
  - C(der) is never returned, because production fills it with the private key DER.
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._attributes.info_module
  - cjj365.certctrl._selectors.certificate
  - cjj365.certctrl._selectors.account
options:
  domain_name:
    # A filter here: every matching record is returned. The type comes from the _selectors.certificate fragment.
    description:
      - Only records of this primary domain name. With an account, this is the natural key of a certificate.
  include_x509:
    description:
      - Read every listed record in full, so that each issued one carries RV(certificates[].x509).
    type: bool
    default: false
  return_pem:
    description:
      - Keep the heavy fields C(cert) and C(csr) of records read in full (public data). C(der) is never returned.
    type: bool
    default: false
seealso:
  - module: cjj365.certctrl.certificate
"""

EXAMPLES = r"""
---
- name: One certificate with its expiry
  cjj365.certctrl.certificate_info:
    certificate_id: 42
  register: cert42

- name: Fail when it expires within 30 days
  ansible.builtin.assert:
    that:
      - cert42.certificates[0].x509.days_remaining > 30

- name: Every certificate of one account, with expiry facts
  cjj365.certctrl.certificate_info:
    acme_account: web-le
    include_x509: true
  register: web_certs
"""

RETURN = r"""
certificates:
  description:
    - The matching certificate records, newest first, without the heavy fields unless O(return_pem=true).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 42
      domain_name: shop.example.com
      acct_id: 7
      sans: [shop.example.com, www.shop.example.com]
      key_dist_policy: HYBRID
      x509:
        serial: 3f9a0c
        not_before: "2026-01-01T00:00:00+00:00"
        not_after: "2026-04-01T00:00:00+00:00"
        days_remaining: 60
        sans: [shop.example.com, www.shop.example.com]
        subject: CN=shop.example.com
        issuer: CN=Emulated ACME Intermediate R1
        sha256_fingerprint: "AB:CD:..."
  contains:
    id:
      description: Id of the certificate record.
      type: int
      returned: success
    domain_name:
      description: Primary domain name.
      type: str
      returned: success
    acct_id:
      description: Id of the ACME account.
      type: int
      returned: success
    sans:
      description: DNS names of the certificate.
      type: list
      elements: str
      returned: success
    x509:
      description:
        - Facts of the issued certificate - C(serial), C(not_before), C(not_after), C(days_remaining), C(sans), C(subject),
          C(issuer), C(sha256_fingerprint) - as M(cjj365.certctrl.certificate) returns them.
      type: dict
      returned: when issued, for single-certificate lookups or with O(include_x509=true)
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate import read
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import CERTIFICATE_MUTUALLY_EXCLUSIVE, certificate_selector_spec


def main() -> None:
    module = create_module(
        {
            **certificate_selector_spec(),
            "include_x509": {"type": "bool", "default": False},
            "return_pem": {"type": "bool", "default": False},
        },
        mutually_exclusive=list(CERTIFICATE_MUTUALLY_EXCLUSIVE),
        supports_check_mode=True,
    )
    run(module, lambda client: read(client, module.params))


if __name__ == "__main__":
    main()
