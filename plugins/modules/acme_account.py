#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: acme_account
short_description: Create, update or delete ACME accounts of cert-ctrl
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Makes sure an ACME account of the cert-ctrl control plane exists with the given settings, or does not exist.
  - The account is identified by O(name), or by O(id) when given (then O(name) renames it).
  - Only the options the task sets are compared; a second run with the same options sends no write request.
  - Only fields the server returns are compared. Production returns C(id), C(user_id), C(name), C(email), C(provider),
    C(kid) and C(ca_id) only, so O(leaf_key_algorithm), O(leaf_rsa_bits), O(leaf_ec_curve) and O(cert_valid_seconds)
    are sent when the account is created and never cause a change or a C(PUT) later (the task warns that it cannot
    compare them).
  - Changed settings are sent with one C(PUT); the account is never deleted and re-created.
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._api.creates
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff is the account before and after, key by key.
options:
  name:
    description:
      - Name of the account, unique within the user. Identifies the account unless O(id) is given.
      - One of O(name) and O(id) is required; creating an account needs O(name).
    type: str
  id:
    description:
      - Id of an existing account. When given, O(name) is a setting (the account is renamed to it).
      - An O(id) that does not exist is an error with O(state=present), and nothing to do with O(state=absent).
      - An account of another user is an error with the server's words (HTTP 403 in production), never "absent".
    type: int
  state:
    description:
      - V(present) creates the account when it is missing and updates the settings that differ.
      - V(absent) deletes it. The server refuses while certificates still use the account; its message is shown as is.
    type: str
    choices: [present, absent]
    default: present
  email:
    description:
      - Contact email of the ACME account. The server requires it for the public ACME providers.
    type: str
  provider:
    description:
      - Certificate authority of the account, for example V(letsencrypt), V(zerossl) or V(SELF_CA) (one of the user's own CAs, see O(ca_id)).
      - Any other string is passed to the server, which decides whether it accepts it.
      - Required to create an account.
    type: str
  ca_id:
    description:
      - Id of the user's CA that issues the certificates. Required when O(provider=SELF_CA).
    type: int
  leaf_key_algorithm:
    description:
      - Key algorithm of the certificates the account issues, unless a certificate sets its own.
    type: str
    choices: [RSA, ECDSA]
  leaf_rsa_bits:
    description:
      - RSA key size of issued certificates, for example V(2048).
    type: int
  leaf_ec_curve:
    description:
      - Elliptic curve of issued certificates, for example V(prime256v1).
    type: str
  cert_valid_seconds:
    description:
      - Validity of issued certificates in seconds (used by O(provider=SELF_CA)).
    type: int
seealso:
  - module: cjj365.certctrl.acme_account_info
  - module: cjj365.certctrl.certificate
"""

EXAMPLES = r"""
---
- name: Let's Encrypt account for the web team
  cjj365.certctrl.acme_account:
    name: web-le
    provider: letsencrypt
    email: ops@example.com
    leaf_key_algorithm: ECDSA

- name: Account issuing from our own CA for five years
  cjj365.certctrl.acme_account:
    name: internal
    provider: SELF_CA
    ca_id: 1
    cert_valid_seconds: 157680000

- name: Remove an account that no certificate uses any more
  cjj365.certctrl.acme_account:
    name: old-account
    state: absent
"""

RETURN = r"""
acme_account:
  description:
    - The account after the task; in check mode the account a real run would leave.
    - An account that check mode would create has RV(acme_account.id=null).
    - Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    id: 7
    user_id: 1
    name: web-le
    email: ops@example.com
    provider: letsencrypt
    ca_id: 0
    kid: null
    leaf_key_algorithm: ECDSA
  contains:
    id:
      description: Id of the account.
      type: int
      returned: success
    name:
      description: Name of the account.
      type: str
      returned: success
    email:
      description: Contact email.
      type: str
      returned: success
    provider:
      description: Certificate authority of the account.
      type: str
      returned: success
    ca_id:
      description: The issuing CA's id for O(provider=SELF_CA), otherwise V(0).
      type: int
      returned: success
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._acme_account import ensure
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run


def main() -> None:
    module = create_module(
        {
            "name": {"type": "str"},
            "id": {"type": "int"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "email": {"type": "str"},
            "provider": {"type": "str"},
            "ca_id": {"type": "int"},
            "leaf_key_algorithm": {"type": "str", "choices": ["RSA", "ECDSA"]},
            "leaf_rsa_bits": {"type": "int"},
            "leaf_ec_curve": {"type": "str"},
            "cert_valid_seconds": {"type": "int"},
        },
        required_one_of=[("name", "id")],
        required_if=[("provider", "SELF_CA", ("ca_id",))],
        supports_check_mode=True,
    )
    run(module, lambda client: ensure(client, module.params, check_mode=module.check_mode, diff=module._diff, warn=module.warn))


if __name__ == "__main__":
    main()
