#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: certificate
short_description: Create certificate records in cert-ctrl
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Makes sure a certificate record exists for O(domain_name) in an ACME account. Creating the record does not issue
    the certificate; use M(cjj365.certctrl.issue) for that.
  - The record is identified by O(domain_name) and the account (O(acct_id), or O(acme_account) by name); one of these
    two is required.
  - The API cannot update certificate records. When the existing record differs from the task in an option the task sets
    (O(sans), O(key_algorithm), O(policy), the subject fields), the task fails and lists the differences; it never creates
    a second record and never reports success for a record it did not match.
  - Only the options the task sets are compared, and only with fields the server returns (a field the server leaves out
    is never a difference). O(sans) are compared as a set, O(country) case-insensitively; O(key_algorithm) can be compared
    only once the certificate is issued (it is read from the certificate's public key, never from a record field).
  - The existing record is read with C(?detail=most) so that its certificate PEM comes with it.
  - The create request is never sent twice for the same record. When it fails in transit, the module reads the
    account's certificates first and adopts the record if the server did create it (with a warning).
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._api.creates
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._selectors.account
attributes:
  check_mode:
    support: full
    details:
      - When O(acme_account) names an account that does not exist yet (an earlier task of the same check run would create it),
        check mode predicts the creation and warns.
  diff_mode:
    support: full
    details:
      - The diff shows the record's fields and, once issued, the certificate's serial, expiry, SANs and fingerprint; never PEM.
options:
  domain_name:
    description:
      - Primary domain name (common name) of the certificate.
    type: str
    required: true
  state:
    description:
      - Only V(present), because the API has no delete for certificate records.
    type: str
    choices: [present]
    default: present
  sans:
    description:
      - Every DNS name of the certificate, including O(domain_name).
      - When not set, a new record covers O(domain_name) only, and the names of an existing record are not compared.
    type: list
    elements: str
  key_algorithm:
    description:
      - Key algorithm. When not set, the server uses the account's default.
    type: str
    choices: [RSA, ECDSA]
  policy:
    description:
      - How the private key is distributed to devices. Compared with the record's C(key_dist_policy).
    type: str
    choices: [HYBRID, MASTER_ONLY, DEVICE_REQUIRED]
  organization:
    description: Subject organization (O).
    type: str
  organizational_unit:
    description: Subject organizational unit (OU).
    type: str
  country:
    description: Subject country (C), an ISO-3166 alpha-2 code. Compared case-insensitively.
    type: str
  state_or_province:
    description: Subject state or province (ST). Sent as the API's C(state) field.
    type: str
    aliases: [subject_state]
  locality:
    description: Subject locality (L).
    type: str
  return_pem:
    description:
      - Also return the heavy fields C(cert) and C(csr) of the record (public certificate data).
      - C(der) is never returned (not in results, diffs or errors), because production fills it with the private key DER.
    type: bool
    default: false
seealso:
  - module: cjj365.certctrl.issue
  - module: cjj365.certctrl.certificate_info
  - module: cjj365.certctrl.assign
"""

EXAMPLES = r"""
---
- name: Certificate record for the shop
  cjj365.certctrl.certificate:
    domain_name: shop.example.com
    sans:
      - shop.example.com
      - www.shop.example.com
    acme_account: web-le
    key_algorithm: ECDSA
    policy: HYBRID
    organization: Example Ltd
    country: GB
  register: shop_cert

- name: Show when it expires (once issued)
  ansible.builtin.debug:
    msg: "{{ shop_cert.x509.not_after | default('not issued yet') }}"
"""

RETURN = r"""
certificate:
  description:
    - The certificate record, without the heavy fields C(cert) and C(csr) unless O(return_pem=true), and never with C(der).
    - In check mode, the record a real run would create (RV(certificate.id=null)).
  returned: always
  type: dict
  sample:
    id: 42
    domain_name: shop.example.com
    acct_id: 7
    sans: [shop.example.com, www.shop.example.com]
    key_dist_policy: HYBRID
    organization: Example Ltd
    country: GB
    serial_number: ""
    verified: false
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
    key_dist_policy:
      description: Key distribution policy (O(policy)).
      type: str
      returned: success
x509:
  description:
    - Facts read from the issued certificate (the leaf of the record's C(cert) PEM).
  returned: when the certificate has been issued
  type: dict
  contains:
    serial:
      description: Serial number, lower-case hex.
      type: str
      returned: success
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      returned: success
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: success
    days_remaining:
      description: Whole days until RV(x509.not_after).
      type: int
      returned: success
    sans:
      description: DNS names of the certificate's subjectAltName.
      type: list
      elements: str
      returned: success
    subject:
      description: Subject, RFC 4514.
      type: str
      returned: success
    issuer:
      description: Issuer, RFC 4514.
      type: str
      returned: success
    sha256_fingerprint:
      description: SHA-256 fingerprint of the DER, colon-separated upper-case hex.
      type: str
      returned: success
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate import ensure
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import ACCOUNT_MUTUALLY_EXCLUSIVE, ACCOUNT_REQUIRED_ONE_OF, account_selector_spec


def main() -> None:
    module = create_module(
        {
            "domain_name": {"type": "str", "required": True},
            **account_selector_spec(),
            "state": {"type": "str", "choices": ["present"], "default": "present"},
            "sans": {"type": "list", "elements": "str"},
            "key_algorithm": {"type": "str", "choices": ["RSA", "ECDSA"]},
            "policy": {"type": "str", "choices": ["HYBRID", "MASTER_ONLY", "DEVICE_REQUIRED"]},
            "organization": {"type": "str"},
            "organizational_unit": {"type": "str"},
            "country": {"type": "str"},
            "state_or_province": {"type": "str", "aliases": ["subject_state"]},
            "locality": {"type": "str"},
            "return_pem": {"type": "bool", "default": False},
        },
        required_one_of=list(ACCOUNT_REQUIRED_ONE_OF),
        mutually_exclusive=list(ACCOUNT_MUTUALLY_EXCLUSIVE),
        supports_check_mode=True,
    )
    run(module, lambda client: ensure(client, module.params, check_mode=module.check_mode, diff=module._diff, warn=module.warn))


if __name__ == "__main__":
    main()
