#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: device_bundle
short_description: Fetch, validate and unpack a device's certificate bundle on the controller
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Reads the certificate assigned to a device with one light request and compares its SHA-256 fingerprint with
    O(deployed_fingerprint), the certificate currently on the host.
  - The device is given by O(device_id) or O(device_public_id) (one more request, to read its id); exactly one is required.
  - Only when they differ does it download the device bundle zip, check it, and write the requested files to O(dest).
  - The zip is refused whole, and nothing is written, when it is not a well-formed zip (truncated, not a zip, entries
    with path traversal, absolute paths, backslashes, drive letters, symbolic links, directories, duplicates, oversized
    or decompression-bomb entries, missing C(private.key), C(certificate.pem) or C(fullchain.pem)).
  - It is also refused when the private key does not match the certificate, the certificate is expired or not valid yet,
    C(fullchain.pem) does not begin with the leaf, a chain link's issuer name or signature does not match, the
    certificate's DNS names do not cover the record's O(certificate_id) C(domain_name) and C(sans), or the certificate is
    not the server's current one.
  - B(Run it on the controller) with C(delegate_to=localhost); the API key and the private key never need to reach the
    managed hosts. The C(cjj365.certctrl.deploy) role copies the written files to the hosts.
  - Private key material is never part of the result.
extends_documentation_fragment:
  - cjj365.certctrl._api
  - cjj365.certctrl._attributes
  - cjj365.certctrl._attributes.actiongroup
  - cjj365.certctrl._selectors.device
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is downloaded or written; C(changed) and RV(needs_update) predict whether a run would deploy.
      - The bundle itself is only validated in a real run.
  diff_mode:
    support: full
    details:
      - The diff shows fingerprints, serial, expiry and names, never key material.
options:
  certificate_id:
    description:
      - Id of the certificate, which must be assigned to the device (M(cjj365.certctrl.assign)) and issued (M(cjj365.certctrl.issue)).
    type: int
    required: true
  deployed_fingerprint:
    description:
      - SHA-256 fingerprint of the leaf certificate currently on the host, as colon-separated upper-case hex
        (RV(x509.sha256_fingerprint) of an earlier run), or hex in any case with or without colons (such as the
        C(fingerprints.sha256) of C(community.crypto.x509_certificate_info) for the deployed file).
      - When it equals the fingerprint of the server's current certificate, nothing is downloaded and C(changed) is V(false).
      - Empty or omitted means nothing is deployed yet.
    type: str
  dest:
    description:
      - Directory on the controller the files are written to, created with mode V(0700) when missing.
      - Files are written with mode V(0600), first to temporary names in O(dest) and renamed only after every check passed,
        and only when the host needs an update.
      - It holds private keys; use a private temporary directory and remove it once the files are copied.
      - Required unless the host is current or the task runs in check mode, when nothing is written.
    type: path
  files:
    description:
      - The files to write to O(dest).
      - V(certificate.pem) is the leaf; V(chain.pem) the intermediate certificates (not written when there are none);
        V(fullchain.pem) the leaf followed by the intermediates; V(private.key) the unencrypted PKCS#8 PEM key;
        V(combined.pem) the key followed by the full chain, as HAProxy reads it; V(bundle.pfx) a PKCS#12 file with the
        key and full chain, friendly name the certificate's domain name, protected with O(pfx_password);
        V(certificate.der) the leaf in DER.
    type: list
    elements: str
    choices: [certificate.pem, chain.pem, fullchain.pem, private.key, combined.pem, bundle.pfx, certificate.der]
    default: [certificate.pem, chain.pem, fullchain.pem, private.key]
  pfx_password:
    description:
      - Password the V(bundle.pfx) output is protected with. Required when O(files) contains V(bundle.pfx).
      - The one-time password the server sends with the zip is never returned; it only serves to check the server's own PKCS#12.
    type: str
  max_bytes:
    description:
      - Largest bundle download accepted, in bytes. Each entry the module reads is further limited to 1 MiB, and all of them to 5 MiB.
    type: int
    default: 10485760
notes:
  - Needs the Python libraries C(requests) and C(cryptography) where it runs, normally the controller.
  - The API key needs C(devices:<id>[read]) and C(certificates:<id>[read]). The server serves bundles to C(ACTIVE) devices only.
  - The bundle's certificate must be the one the server reports as current; when the certificate is renewed between the
    light read and the download, the run fails and the next one deploys the new certificate.
seealso:
  - module: cjj365.certctrl.assign
  - module: cjj365.certctrl.issue
  - module: cjj365.certctrl.device_info
requirements:
  - cryptography >= 42.0
"""

EXAMPLES = r"""
---
# deployed_sha256 is the fingerprint of the certificate on the host, for example the fingerprints.sha256
# that community.crypto.x509_certificate_info returns for the deployed file; empty on a fresh host.
- name: Fetch the bundle on the controller when the host needs it
  cjj365.certctrl.device_bundle:
    device_id: 1
    certificate_id: 42
    deployed_fingerprint: "{{ deployed_sha256 | default('') }}"
    dest: "{{ bundle_dir }}"
    files: [fullchain.pem, private.key]
  delegate_to: localhost
  become: false
  register: bundle

- name: Show what the host gets
  ansible.builtin.debug:
    msg: "{{ bundle.x509.serial }} valid until {{ bundle.x509.not_after }}, update needed: {{ bundle.needs_update }}"

- name: Produce an HAProxy PEM and a PKCS#12 file for a device known by its public id
  cjj365.certctrl.device_bundle:
    device_public_id: 3f1c5a1e-8c1b-4d7a-9e51-0d6f2b9a7c44
    certificate_id: 42
    dest: "{{ bundle_dir }}"
    files: [combined.pem, bundle.pfx]
    pfx_password: "{{ vault_pfx_password }}"
  delegate_to: localhost
  become: false
"""

RETURN = r"""
needs_update:
  description: Whether the server's current certificate differs from O(deployed_fingerprint).
  returned: success
  type: bool
  sample: true
downloaded:
  description: Whether the bundle was downloaded. V(false) when the host is current and always in check mode.
  returned: success
  type: bool
  sample: true
certificate:
  description: The certificate record.
  returned: success
  type: dict
  contains:
    id:
      description: Certificate id.
      type: int
      sample: 42
    domain_name:
      description: Primary domain name.
      type: str
      sample: www.example.com
    sans:
      description: Names the record asks for.
      type: list
      elements: str
      sample: [www.example.com, example.com]
x509:
  description: Facts of the server's current leaf certificate, read from its PEM.
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
    days_remaining:
      description: Whole days until RV(x509.not_after).
      type: int
      sample: 89
    sans:
      description: DNS names of the certificate.
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
      sample: CN=Example Intermediate CA
    sha256_fingerprint:
      description: SHA-256 fingerprint, colon-separated upper-case hex. Pass it as O(deployed_fingerprint) next time.
      type: str
      sample: "AB:CD:...:EF"
files:
  description:
    - Output file name to its path on the controller, for the files written by this run.
    - Empty when nothing was written. V(chain.pem) is absent when the certificate has no intermediates.
  returned: success
  type: dict
  sample: {"fullchain.pem": /tmp/bundle/fullchain.pem, "private.key": /tmp/bundle/private.key}
checks:
  description:
    - The checks the downloaded bundle passed; empty when nothing was downloaded.
    - V(fullchain_starts_with_leaf), V(key_matches_certificate), V(certificate_within_validity),
      V(chain_signatures_verified), V(names_covered), V(fingerprint_matches_server).
  returned: success
  type: list
  elements: str
  sample:
    - fullchain_starts_with_leaf
    - key_matches_certificate
    - certificate_within_validity
    - chain_signatures_verified
    - names_covered
    - fingerprint_matches_server
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.cjj365.certctrl.plugins.module_utils._device_bundle import sync_device_bundle
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import DEFAULT_FILES, OUTPUT_FILES
from ansible_collections.cjj365.certctrl.plugins.module_utils._module import create_module, run
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import BUNDLE_MAX_BYTES
from ansible_collections.cjj365.certctrl.plugins.module_utils._selectors import DEVICE_MUTUALLY_EXCLUSIVE, DEVICE_REQUIRED_ONE_OF, device_selector_spec
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import CRYPTOGRAPHY_IMPORT_ERROR


def main() -> None:
    module = create_module(
        {
            **device_selector_spec(),
            "certificate_id": {"type": "int", "required": True},
            "deployed_fingerprint": {"type": "str"},
            "dest": {"type": "path"},
            "files": {"type": "list", "elements": "str", "choices": list(OUTPUT_FILES), "default": list(DEFAULT_FILES)},
            "pfx_password": {"type": "str", "no_log": True},
            "max_bytes": {"type": "int", "default": BUNDLE_MAX_BYTES},
        },
        required_one_of=list(DEVICE_REQUIRED_ONE_OF),
        mutually_exclusive=list(DEVICE_MUTUALLY_EXCLUSIVE),
        supports_check_mode=True,
    )
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    p = module.params
    options = {k: p[k] for k in ("certificate_id", "dest", "files", "device_id", "device_public_id", "deployed_fingerprint", "pfx_password", "max_bytes")}
    run(module, lambda client: sync_device_bundle(client, **options, check_mode=module.check_mode, diff=module._diff))


if __name__ == "__main__":
    main()
