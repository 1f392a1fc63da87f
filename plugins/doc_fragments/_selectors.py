# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.

from __future__ import annotations


class ModuleDocFragment:
    # How a task names a certificate, its ACME account or a device: the options of module_utils/_selectors.py
    # (*_selector_spec). A module that requires one of them, or gives an option another meaning, says so in its
    # own description; a module's entry for an option replaces the fragment's keys it sets.

    # certificate_id / domain_name. Modules that use it also use ACCOUNT.
    CERTIFICATE = r"""
options:
  certificate_id:
    description:
      - Id of the certificate. An id that does not exist, or that the API key may not read, is an error.
      - Mutually exclusive with O(domain_name), O(acct_id) and O(acme_account).
    type: int
  domain_name:
    description:
      - Primary domain name (common name) of the certificate. With its ACME account (O(acct_id) or O(acme_account))
        it names one certificate.
      - When several certificates of that account have this domain name, the oldest (lowest id) is used, as every run does,
        and the task warns naming the others.
    type: str
"""

    # acct_id / acme_account: the ACME account a certificate belongs to.
    ACCOUNT = r"""
options:
  acct_id:
    description:
      - Id of the ACME account the certificate belongs to. Mutually exclusive with O(acme_account).
    type: int
  acme_account:
    description:
      - Name of the ACME account the certificate belongs to, resolved to its id by reading the list of accounts.
      - A name that no account visible to the API key has is an error. In check mode, M(cjj365.certctrl.certificate) and
        M(cjj365.certctrl.assign) assume instead that an earlier task of the same run creates the account, and warn.
    type: str
"""

    # device_id / device_public_id.
    DEVICE = r"""
options:
  device_id:
    description:
      - Id of the device. An id that no device visible to the API key has is an error.
      - Mutually exclusive with O(device_public_id).
    type: int
  device_public_id:
    description:
      - Public id (UUID) of the device, as its agent registers it. A public id that no device visible to the API key has is an error.
    type: str
"""
