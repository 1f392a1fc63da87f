#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation of the deploy_certificates action plugin (plugins/action/deploy_certificates.py); there is no module code.

DOCUMENTATION = r"""
module: deploy_certificates
short_description: Deploy the certificates assigned to a host's cert-ctrl device, reading the host once when it is current
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - The core of the C(cjj365.certctrl.deploy) role, as an action plugin like M(ansible.builtin.copy). It runs on the
    controller, in the worker of each host. It reads the certificates assigned to the host's device from the cert-ctrl
    API, in the controller's process, so the API key never reaches a host. It then plans each certificate's directory and
    files (O(certificates) and the defaults).
  - One module run on the host (M(cjj365.certctrl.certificate_files_info)) reads the state of all those files at once -
    the SHA-256, owner, group, mode and SELinux type of each, each directory's deploy manifest
    (C(.certctrl-manifest.json)), and temporary files a killed run left.
  - A certificate is current when its files match the manifest the last complete swap wrote, and the manifest's
    certificate is the server's current one. That is checked from the record's C(serial_number) in the device's
    certificate list, or from its PEM when the list carries it, else from one C(?detail=most) read of that certificate.
    On a current host, that one module run and the one list request are the whole task.
  - Otherwise the device bundle is downloaded, checked and rendered in memory on the controller. A truncated or
    corrupt download is fetched again, up to three times. The bundle is refused whole on a hostile zip, a key that does
    not match, a broken chain, an expired certificate, names not covered, or a certificate that is not the server's
    current one. One more module run (M(cjj365.certctrl.certificate_files)) receives the files as C(no_log)
    arguments, never as a file on the controller. On the host it stages them with mode V(0600) next to their
    destination, backs up the replaced files, swaps them all, and writes the manifest last, atomically.
  - A swap killed at any point leaves a manifest that does not match the files, and the next run repairs it. Owner,
    group and mode drift of the files and the directory is corrected on every run. Temporary files and old staging
    directories of a killed run are removed.
  - It notifies its task's handlers (C(changed)) when content changed, when a swap was repaired, or when a manifest
    says the reload of an earlier run did not finish. It sets the C(deploy__pending) fact (services, backups,
    manifests, certificates to verify) that the role's handler (M(cjj365.certctrl.service_reload)) acts on.
  - It is not part of the C(cjj365.certctrl.certctrl) action group. It reads the API options from its arguments, then
    from the C(certctrl_*) variables (templated, vault-encrypted values too), then from the E(CERTCTRL_API_URL),
    E(CERTCTRL_API_KEY), E(CERTCTRL_CA_PATH), E(CERTCTRL_VALIDATE_CERTS), E(CERTCTRL_TIMEOUT) and E(CERTCTRL_RETRIES)
    environment variables of the controller.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Nothing is downloaded or written. Files that are not current are reported as created or replaced, with the
        server's serial in the diff, from the first run on an empty host.
  diff_mode:
    support: full
    details:
      - Per certificate - the deployed and the new certificate's serial, expiry, fingerprint, SANs and issuer, and each
        file's action, mode and owner:group. Never file content or key material.
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    support: full
    platforms: posix
options:
  device_id:
    description: Id of the host's cert-ctrl device. One of O(device_id) and O(device_public_id) is required.
    type: int
  device_public_id:
    description: Public id of the host's device, resolved with one more request.
    type: str
  certificates:
    description:
      - The certificates to deploy, each a certificate id or a dict with C(id) or C(domain_name) and any of
        C(dest_dir), C(files), C(owner), C(group), C(cert_mode), C(key_mode), C(key_group_mode), C(directory_mode),
        C(setype), C(services), C(verify_endpoints), C(pfx_password), as the role's C(certctrl_certificates).
        Unknown keys are an error naming the entry and the allowed keys.
      - Empty deploys every certificate assigned to the device.
    type: raw
    default: []
  cert_root:
    description: Parent of each certificate's default directory (C(<cert_root>/<domain_name>)).
    type: str
    default: /etc/certctrl/certs
  files:
    description: Default file list of a certificate (see the role's C(certctrl_files)).
    type: raw
  owner:
    description: Default owner of the files and directories.
    type: str
  group:
    description: Default group of the files and directories.
    type: str
  cert_mode:
    description: Default mode of public files, an octal string.
    type: raw
    default: "0644"
  key_mode:
    description: Default mode of files holding the key when no group is given.
    type: raw
    default: "0600"
  key_group_mode:
    description: Default mode of files holding the key when a group is given.
    type: raw
    default: "0640"
  directory_mode:
    description: Default mode of each certificate's directory.
    type: raw
    default: "0750"
  keep_backups:
    description: Backup runs kept in C(.certctrl-backup/) of each directory (at least 1).
    type: int
    default: 3
  pfx_password:
    description: Default password of C(bundle.pfx) files.
    type: str
  services:
    description: Services of a certificate entry without C(services).
    type: list
    elements: str
    default: []
  service_definitions:
    description: Service name to C({validate, reload}), the definitions the names resolve to.
    type: dict
    default: {}
  verify_endpoints:
    description: Endpoints to verify after the reload, keyed by domain name or certificate id.
    type: raw
    default: {}
  force:
    description: Download and check every bundle even when the host is current. Files whose content is right are not rewritten.
    type: bool
    default: false
  device_key_dir:
    description:
      - Where the host keeps its cert-ctrl device key pair (M(cjj365.certctrl.device_key)). Only DEVICE_REQUIRED
        certificates use it; their private key is decrypted there, by M(cjj365.certctrl.certificate_files).
    type: str
    default: /var/lib/certctrl/keys
  wrap_pending_timeout:
    description:
      - Seconds to keep asking for a bundle that cert-ctrl answers with 409 C(WRAP_PENDING) (it has not wrapped the
        key for the device yet), with waits that double from one second. Then the host fails saying so.
    type: float
    default: 60
  pending:
    description: The earlier C(deploy__pending) to merge this run's into. Default the host's C(deploy__pending) fact.
    type: raw
  api_url:
    description: Base URL of the cert-ctrl API. Default C(certctrl_api_url), E(CERTCTRL_API_URL), then V(https://api.cjj365.cc).
    type: str
  api_key:
    description: API key. Default C(certctrl_api_key), then E(CERTCTRL_API_KEY). Used on the controller only.
    type: str
  validate_certs:
    description: Verify the API's TLS certificate. Default C(certctrl_validate_certs), E(CERTCTRL_VALIDATE_CERTS), then V(true).
    type: bool
  ca_path:
    description: CA bundle for the API's TLS certificate. Default C(certctrl_ca_path), then E(CERTCTRL_CA_PATH).
    type: str
  timeout:
    description: Seconds per API request. Default C(certctrl_timeout), E(CERTCTRL_TIMEOUT), then V(30).
    type: raw
  retries:
    description: Retries of an API request. Default C(certctrl_retries), E(CERTCTRL_RETRIES), then V(5).
    type: raw
notes:
  - Needs C(requests) and C(cryptography) on the controller; nothing but Python on the host.
  - Where the connection can pipeline and no C(become) is used, the files travel over the connection's standard input,
    so no file on the host ever holds the key outside its destination directory. Otherwise they sit in the module's
    payload in the remote user's private temporary directory for the time of the run.
seealso:
  - module: cjj365.certctrl.certificate_files
  - module: cjj365.certctrl.certificate_files_info
  - module: cjj365.certctrl.device_bundle
"""

EXAMPLES = r"""
---
- name: Deploy every certificate assigned to the host's device
  cjj365.certctrl.deploy_certificates:
    device_id: "{{ certctrl_device_id }}"
  notify: certctrl certificate changed
  register: deployed

- name: Deploy one certificate for nginx, key readable by the ssl-cert group
  cjj365.certctrl.deploy_certificates:
    device_id: 7
    certificates:
      - domain_name: www.example.com
        files: [fullchain.pem, private.key]
        group: ssl-cert
        services: [nginx]
    service_definitions:
      nginx: {validate: nginx -t, reload: systemctl reload nginx}
"""

RETURN = r"""
deployment:
  description: What the role publishes as C(certctrl_deploy_result) (before the handler adds what it reloaded and verified).
  returned: success
  type: dict
  contains:
    changed:
      description: Whether a certificate's files changed (or would, in check mode).
      type: bool
    check_mode:
      description: Whether this was only a plan.
      type: bool
    certificates:
      description:
        - Per certificate - C(id), C(domain_name), C(dest_dir), C(serial), C(not_after), C(sha256_fingerprint),
          C(downloaded), C(planned), C(changed), C(files_changed), C(services), C(services_reloaded), C(verified_endpoints).
      type: list
      elements: dict
    services_reloaded:
      description: Empty here; the handler fills it.
      type: list
      elements: str
    verified_endpoints:
      description: Empty here; the handler fills it.
      type: list
      elements: str
reload_pending:
  description: Whether the handler has work - content changed, a swap was repaired, or an earlier reload did not finish.
  returned: success
  type: bool
downloaded:
  description: Whether any bundle was downloaded.
  returned: success
  type: bool
swept:
  description: Temporary files and staging directories of killed runs that were removed.
  returned: success
  type: list
  elements: str
ansible_facts:
  description: C(deploy__pending) - C(services), C(restore), C(manifests), C(certificates), C(planned), merged over the earlier value.
  returned: success
  type: dict
"""
