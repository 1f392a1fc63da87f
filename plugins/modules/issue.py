#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: issue
short_description: Issue or renew a certificate with cert-ctrl when it needs it, and wait for the job
version_added: 0.1.0
description:
  - Decides whether a cert-ctrl certificate needs issuing and, if so, starts the issuance job with
    C(POST /apiv1/me/certificates/{id}/issues) and waits until the job ends.
  - The certificate is given by O(certificate_id), or by O(domain_name) with its ACME account (O(acct_id) or
    O(acme_account)); one of O(certificate_id) and O(domain_name) is required.
  - The certificate needs issuing when it was never issued, when it expires within O(renew_before_days)
    (read from the certificate PEM, not from any API field), or when O(force=true). Otherwise nothing is
    sent and the task reports C(changed=false) with RV(reason=valid).
  - The certificate is read with C(?detail=most), the only way production sends its PEM. Whether it was ever issued is
    decided from the PEM, its C(serial_number) and its issue history, never from a field the server leaves out; a
    certificate that is issued but comes without a PEM is left alone (with a warning) unless O(force=true).
  - cert-ctrl runs at most one issuance job per certificate. When one is already running, the task
    attaches to it instead of starting another, also after an earlier run of the task timed out.
  - Asynchronous providers (Let's Encrypt, ZeroSSL) are polled for at most O(wait_timeout) seconds, first after
    O(poll_interval), then at most 2 seconds apart during the first minute, when issuance usually ends, so the task
    returns within about 2 seconds of the server finishing; after that, every tenth of the time already waited
    (at most O(poll_interval_max) apart), so a long wait costs few requests (about 60 for 10 minutes).
    HTTP 429 and 502/503/504 answers while polling are retried, not failures. C(SELF_CA) accounts issue inline.
  - When the answer to the issuing request is lost (dropped connection, 5xx, a malformed answer), the request is not
    sent again blindly; the issue history is read to learn whether the job was queued. The task then attaches to that
    job (or takes its result when it already ended); when the history shows no new job, the request is sent again,
    at most O(retries) more times. There is never a second job.
author: cjj365.certctrl contributors (@cjj365)
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._selectors.certificate
  - cjj365.certctrl._selectors.account
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the certificate would be issued (C(changed) and RV(reason)) without starting a job.
  diff_mode:
    support: full
    details:
      - Shows the serial number and expiry of the certificate before and after. Never any PEM.
options:
  renew_before_days:
    description:
      - Issue again when the current certificate expires within this many days.
    type: int
    default: 30
  force:
    description:
      - Issue even when the current certificate is still valid for longer than O(renew_before_days).
      - A job that is already running is attached to, never doubled.
    type: bool
    default: false
  wait:
    description:
      - Wait until the issuance job ends, then return the new certificate's facts.
      - With V(false), return right after the job was started; RV(status) is what the server answered.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the job to end. When they run out, the task fails with the RV(issue_history_id)
        and the last status; running it again attaches to the same job.
    type: float
    default: 600
  poll_interval:
    description:
      - Seconds before the first look at the job's status, and the shortest wait between two looks.
    type: float
    default: 1
  poll_interval_max:
    description:
      - The longest wait between two looks at the job's status, in seconds. V(2) looks every 2 seconds for the
        whole wait (at most 2 seconds late, at the cost of one request every 2 seconds).
    type: float
    default: 30
  return_pem:
    description:
      - Include the certificate chain PEM (C(cert)) in RV(certificate). It holds no private key.
    type: bool
    default: false
notes:
  - The API key needs the scope C(certificates:<id>[write]) to start a job; C(certificates:<id>[read]) is enough
    in check mode or when the certificate is still valid.
seealso:
  - name: cert-ctrl API reference
    description: Issuance and its polling guidance.
    link: https://api.cjj365.cc
"""

EXAMPLES = r"""
---
- name: Issue the certificate if it was never issued or expires within 30 days
  cjj365.certctrl.issue:
    certificate_id: 42
  register: issued

- name: Show the new expiry
  ansible.builtin.debug:
    msg: "{{ issued.x509.not_after }} ({{ issued.reason }})"

- name: Renew by domain name, two weeks before expiry, waiting up to 20 minutes
  cjj365.certctrl.issue:
    domain_name: www.example.com
    acme_account: production
    renew_before_days: 14
    wait_timeout: 1200

- name: Start a renewal now and do not wait for it
  cjj365.certctrl.issue:
    certificate_id: 42
    force: true
    wait: false
  register: job

- name: Later, wait for the same job (attaches to it, starts nothing new)
  cjj365.certctrl.issue:
    certificate_id: 42
    force: true

- name: Set the API connection once for all tasks of the collection
  module_defaults:
    group/cjj365.certctrl.certctrl:
      api_url: https://api.cjj365.cc
      api_key: "{{ vault_certctrl_api_key }}"
  block:
    - name: Issue when needed
      cjj365.certctrl.issue:
        certificate_id: 42
"""

RETURN = r"""
reason:
  description:
    - Why the certificate was (or would be) issued, or V(valid) when it was left alone.
    - V(in_flight) when a job was already running and the task attached to it.
  returned: always
  type: str
  choices: [never_issued, expiring, forced, in_flight, valid]
  sample: expiring
issue_history_id:
  description: Id of the issuance job (its history row); null when no job was started or attached to.
  returned: always
  type: int
  sample: 17
status:
  description:
    - Status of the job (V(PENDING), V(PROCESSING), V(SUCCESS), V(FAILED) or V(CANCELLED)); null when no job was started or attached to.
    - With O(wait=false), the status the server answered.
  returned: always
  type: str
  sample: SUCCESS
issue:
  description:
    - The job's issue history row, as the API returns it, once the job ended (or the running job attached to).
    - Null when no job was started or attached to, and right after O(wait=false) started one.
  returned: always
  type: dict
  sample:
    id: 17
    cert_record_id: 42
    issue_attempt_number: 3
    status: SUCCESS
    acme_order_id: https://acme.example/order/17
    error_message: ""
    started_at: 1759490596000
    completed_at: 1759490599000
certificate:
  description:
    - The certificate record as the API returns it, without C(der) (the private key DER in production) and C(csr).
    - C(cert) (the chain PEM) only with O(return_pem=true).
  returned: always
  type: dict
  sample:
    id: 42
    domain_name: www.example.com
    acct_id: 7
    sans: [www.example.com, example.com]
    serial_number: 5f3a9c...
    verified: true
x509:
  description: Facts read from the certificate PEM; null when the certificate was never issued.
  returned: always
  type: dict
  contains:
    serial:
      description: Serial number, lowercase hex.
      type: str
      sample: 5f3a9c0e1d
    not_before:
      description: Start of validity, ISO 8601 in UTC.
      type: str
      sample: "2026-01-01T00:00:00+00:00"
    not_after:
      description: End of validity, ISO 8601 in UTC.
      type: str
      sample: "2026-04-01T00:00:00+00:00"
    days_remaining:
      description: Whole days from now until RV(x509.not_after); O(renew_before_days) is compared with this.
      type: int
      sample: 89
    sans:
      description: DNS names of the subject alternative name extension.
      type: list
      elements: str
      sample: [www.example.com, example.com]
    subject:
      description: Subject, RFC 4514.
      type: str
      sample: CN=www.example.com
    issuer:
      description: Issuer, RFC 4514.
      type: str
      sample: CN=Demo Root CA
    sha256_fingerprint:
      description: SHA-256 fingerprint of the certificate, colon-separated uppercase hex.
      type: str
      sample: "AB:CD:..."
"""

from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import ensure_issued
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import (
    CERTIFICATE_MUTUALLY_EXCLUSIVE,
    CERTIFICATE_REQUIRED_ONE_OF,
    certificate_selector_spec,
)


def main() -> None:
    module = create_module(
        {
            **certificate_selector_spec(),
            "renew_before_days": {"type": "int", "default": 30},
            "force": {"type": "bool", "default": False},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "float", "default": 600},
            "poll_interval": {"type": "float", "default": 1},
            "poll_interval_max": {"type": "float", "default": 30},
            "return_pem": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
        required_one_of=list(CERTIFICATE_REQUIRED_ONE_OF),
        mutually_exclusive=list(CERTIFICATE_MUTUALLY_EXCLUSIVE),
    )
    run(module, lambda client: ensure_issued(client, module.params, check_mode=module.check_mode, diff=module._diff, warn=module.warn))


if __name__ == "__main__":
    main()
