#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: certificate_files
short_description: Replace certificates' files on a host as one transaction, with backup, manifest and restore
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Runs on the managed host and replaces a set of files (typically the certificate, chain and private key of one
    certificate) together, so a service never reads a new certificate with an old key.
  - Every new file is first written to a temporary name next to its destination, with its final owner, group, mode
    and SELinux context. The files it replaces are then hard-linked into a backup directory
    (C(.certctrl-backup/<timestamp>/) next to them, mode V(0700)), and all temporary files are renamed over their
    destinations. When one step fails, the files already renamed are put back and the module fails; nothing is left half-replaced.
  - Files whose content is already right are not rewritten; only their owner, group, mode and SELinux type are corrected.
  - With O(directories), each directory gets its owner, group and mode on every run, and its manifest
    (C(.certctrl-manifest.json), the SHA-256, mode, owner and group of each of its files) is written after every file is
    in place, atomically. A swap killed half-way leaves a manifest that does not match the files, which the next run of
    the C(cjj365.certctrl.deploy) role sees and repairs.
  - Each directory is locked (C(flock)) while it is changed; with O(sweep), temporary files a killed run left there are removed.
  - With O(state=restored) it undoes an earlier run. Given that run's RV(files) as O(restore_from), it puts each backup
    back and removes the files that did not exist before.
  - This is the host side of M(cjj365.certctrl.deploy_certificates) (the C(cjj365.certctrl.deploy) role), which fetches
    and validates the bundle on the controller and passes the files in O(files[].content), never through a file.
  - Needs nothing but Python on the host. It does not talk to the cert-ctrl API and is therefore not part of the
    C(cjj365.certctrl.certctrl) action group.
extends_documentation_fragment:
  - cjj365.certctrl._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode O(files[].src) and O(files[].content) may be omitted; such a file is reported as replaced (or created),
        which is how the role plans a deployment whose bundle it does not download in check mode.
  diff_mode:
    support: full
    details:
      - The diff shows the certificate's serial, expiry and fingerprint and each file's mode and owner, never file content.
options:
  state:
    description:
      - V(present) writes O(files); V(restored) undoes the run whose RV(files) is O(restore_from).
    type: str
    choices: [present, restored]
    default: present
  files:
    description:
      - The files of the transaction. Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the file. Symbolic links and directories are refused.
        type: path
        required: true
      src:
        description:
          - A file on the host holding the new content, typically copied there by M(ansible.builtin.copy) into a private
            temporary directory. It is read, not moved; remove it afterwards.
          - One of O(files[].src) and O(files[].content) is required with O(state=present) and O(files[].state=present),
            except in check mode.
        type: path
      content:
        description:
          - The new content, base64-encoded (as M(ansible.builtin.slurp) returns it). Never logged or returned.
          - Prefer O(files[].src) for private keys, so the key is not part of the task's arguments.
        type: str
      keep:
        description:
          - With no O(files[].src) or O(files[].content), an existing file keeps its content and only gets its owner, group,
            mode and SELinux type; a missing one is an error (outside check mode).
        type: bool
        default: false
      state:
        description:
          - V(absent) removes the file (after backing it up) as part of the transaction, for example a C(chain.pem)
            a certificate without intermediates no longer has.
        type: str
        choices: [present, absent]
        default: present
      owner:
        description: Owner of the file. When unset, a replaced file keeps its owner and a new one belongs to the user the module runs as.
        type: str
      group:
        description: Group of the file. When unset, a replaced file keeps its group.
        type: str
      mode:
        description:
          - Permissions, as an octal string such as V('0600') or symbolic.
          - When unset, a replaced file keeps its mode and a new one gets V(0600).
        type: raw
      setype:
        description:
          - SELinux type, for example V(cert_t). When unset, a replaced file keeps its context and a new one gets the
            policy's default context for its path. Ignored where SELinux is disabled.
        type: str
  restore_from:
    description:
      - With O(state=restored), the RV(files) of the run to undo. Entries whose C(action) is V(created), V(replaced) or
        V(removed) are undone. They get their C(backup) back, or are removed when C(backup) is V(null) (the file was new);
        the others are skipped.
      - Required with O(state=restored).
    type: list
    elements: dict
  backup:
    description:
      - Keep the replaced files in C(.certctrl-backup/<timestamp>/) next to them. Needed to restore them later.
    type: bool
    default: true
  keep_backups:
    description:
      - How many backup directories to keep per directory; older ones are removed. At least one (this run's) is kept.
    type: int
    default: 5
  directories:
    description:
      - Directories of the transaction, each with its attributes and the manifest to write. Directories not listed get
        O(directory_mode), O(directory_owner) and O(directory_group).
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      mode:
        description: Mode, set on every run (created with it when missing).
        type: raw
      owner:
        description: Owner, set on every run.
        type: str
      group:
        description: Group, set on every run.
        type: str
      manifest:
        description:
          - The manifest to write last, atomically, as C(<path>/.certctrl-manifest.json) (mode V(0600)) - C(certificate_id),
            C(domain_name), C(serial), C(sha256_fingerprint), C(reload_pending). The module adds each of the directory's
            files from O(files) as it is on disk at the end (C(sha256), C(mode), C(owner), C(group)).
          - Omitted, the manifest is left as it is.
        type: dict
  sweep:
    description:
      - Remove the temporary files (C(.*.certctrl-tmp), C(.*.certctrl-restore)) a killed run left in O(directories),
        while holding the directory's lock, so a swap that is still running is never touched.
    type: bool
    default: false
  staging:
    description:
      - Private staging directories an older version of the role left in the host's temporary directory (C(certctrl-*),
        mode V(0700), owned by the user, only bundle files, older than an hour), as RV(cjj365.certctrl.certificate_files_info#module:staging)
        reports them. Removed when they still look like one.
    type: list
    elements: path
  directory_mode:
    description:
      - Mode of the directories holding the files. Missing directories are created with it (V(0750) when unset);
        an existing directory gets it when it is set.
    type: raw
  directory_owner:
    description: Owner of the directories holding the files (created or existing).
    type: str
  directory_group:
    description: Group of the directories holding the files (created or existing).
    type: str
  unwrap:
    description:
      - DEVICE_REQUIRED certificates, whose private key cert-ctrl encrypted for this host's device key only. The
        controller passes the wrapped key it cannot open, and the module opens it with the device's secret key
        (C(dev_sk.bin), the official agent's layout), checks that it belongs to the certificate and renders the secret
        files from it. Those files are the O(files) entries whose O(files[].path) a job names; they get their content
        here, before any file is changed. The plaintext key exists only on the host.
      - Needs the Python libraries PyNaCl and cryptography on the host; nothing else of this module does.
    type: list
    elements: dict
    suboptions:
      certificate_id:
        description: The certificate's id, for messages.
        type: int
      key_dir:
        description: The directory holding the device key pair (M(cjj365.certctrl.device_key)'s O(cjj365.certctrl.device_key#module:path)).
        type: path
        required: true
      material:
        description: The AEAD fields of the bundle, as cert-ctrl sends them.
        type: dict
        required: true
        suboptions:
          enc_data_key_b64:
            description: The data key sealed for the device's public key (libsodium sealed box), base64.
            type: str
            required: true
          enc_privkey_b64:
            description: The private key (DER) encrypted with AES-256-GCM under the data key, without its tag, base64.
            type: str
            required: true
          privkey_nonce_b64:
            description: The AES-GCM nonce, base64.
            type: str
            required: true
          privkey_tag_b64:
            description: The AES-GCM tag, base64.
            type: str
            required: true
          device_keyfp_b64:
            description: The BLAKE2b-256 fingerprint of the device public key the data key was sealed for, base64.
            type: str
          wrap_alg:
            description: The wrap algorithm, V(x25519) (or V(x25519-v1)).
            type: str
      certificate_pem:
        description: The certificate and its chain (PEM, leaf first), which the key must match.
        type: str
        required: true
      files:
        description: The secret files to render, each C(name) (V(private.key), V(combined.pem) or V(bundle.pfx)) and C(path).
        type: list
        elements: dict
        required: true
      pfx_password:
        description: The password of a C(bundle.pfx) among O(unwrap[].files).
        type: str
      friendly_name:
        description: The friendly name of a C(bundle.pfx) among O(unwrap[].files).
        type: str
  certificate:
    description:
      - Facts of the certificate being deployed (for example RV(cjj365.certctrl.device_bundle#module:x509)), shown in the
        diff when the new content is not known yet (check mode). Only its C(serial), C(not_after), C(sha256_fingerprint)
        and C(domain_name) are used.
    type: dict
notes:
  - Key material is never read back into a result or a diff; the files whose name ends in C(.key), C(.pfx) or C(.p12)
    or starts with C(private) or C(combined) are not even opened for the diff.
  - The backups of private keys keep their owner and mode and sit in a V(0700) directory; lower O(keep_backups) to keep fewer old keys on disk.
seealso:
  - module: cjj365.certctrl.device_bundle
"""

EXAMPLES = r"""
---
- name: Make a private staging directory on the host
  ansible.builtin.tempfile:
    state: directory
    prefix: certctrl-
  register: staging

- name: Copy the files the controller prepared, without log or diff (one of them is the key)
  ansible.builtin.copy:
    src: "{{ bundle_dir }}/{{ item }}"
    dest: "{{ staging.path }}/{{ item }}"
    mode: "0600"
  loop: [fullchain.pem, private.key]
  no_log: true
  diff: false

- name: Replace certificate and key together
  cjj365.certctrl.certificate_files:
    files:
      - path: /etc/ssl/example/fullchain.pem
        src: "{{ staging.path }}/fullchain.pem"
        mode: "0644"
      - path: /etc/ssl/example/private.key
        src: "{{ staging.path }}/private.key"
        group: ssl-cert
        mode: "0640"
    directory_mode: "0750"
  register: replaced

- name: Put the previous files back
  cjj365.certctrl.certificate_files:
    state: restored
    restore_from: "{{ replaced.files }}"
"""

RETURN = r"""
manifests:
  description: The manifests written, one per O(directories) entry with a C(manifest).
  returned: when O(state=present)
  type: list
  elements: str
  sample: [/etc/certctrl/certs/www.example.com/.certctrl-manifest.json]
swept:
  description: Temporary files and old staging directories removed (O(sweep), O(staging)).
  returned: when O(state=present)
  type: list
  elements: str
  sample: [/etc/certctrl/certs/www.example.com/.private.key.x1y2z3.certctrl-tmp]
content_changed:
  description: Whether a file was created, replaced, removed (or restored). Attribute-only corrections do not count.
  returned: success
  type: bool
  sample: true
files:
  description: What happened to each file, in the order of O(files).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path.
      type: str
      sample: /etc/certctrl/certs/www.example.com/private.key
    action:
      description:
        - V(created), V(replaced), V(removed), V(unchanged), V(attributes) (only owner, group, mode or context changed)
          or V(absent) (to be removed and already missing).
        - With O(state=restored), V(restored), V(removed), V(unchanged) (already the backup's content) or V(absent) (already gone).
      type: str
      sample: replaced
    changed:
      description: Whether the file changed.
      type: bool
      sample: true
    existed:
      description: Whether the file existed before. Not returned with O(state=restored).
      type: bool
      sample: true
      returned: when O(state=present)
    backup:
      description: Where the previous content was kept; V(null) when there was none (the file is new) or O(backup=false).
      type: str
      sample: /etc/certctrl/certs/www.example.com/.certctrl-backup/20260101T120000.000000/private.key
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate_files import deploy, restore
from ansible_collections.cjj365.certctrl.plugins.module_utils._host import os_error_message, run


def main() -> None:
    file_spec = {
        "path": {"type": "path", "required": True},
        "src": {"type": "path"},
        "content": {"type": "str", "no_log": True},
        "keep": {"type": "bool", "default": False},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "raw"},
        "setype": {"type": "str"},
    }
    directory_spec = {
        "path": {"type": "path", "required": True},
        "mode": {"type": "raw"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "manifest": {"type": "dict"},
    }
    # The wrapped key is no secret without the host's device key; its fields are hidden from logs all the same.
    material_spec = {
        "enc_data_key_b64": {"type": "str", "required": True, "no_log": True},
        "enc_privkey_b64": {"type": "str", "required": True, "no_log": True},
        "privkey_nonce_b64": {"type": "str", "required": True, "no_log": False},
        "privkey_tag_b64": {"type": "str", "required": True, "no_log": False},
        "device_keyfp_b64": {"type": "str", "no_log": False},
        "wrap_alg": {"type": "str"},
    }
    unwrap_spec = {
        "certificate_id": {"type": "int"},
        "key_dir": {"type": "path", "required": True},
        "material": {"type": "dict", "required": True, "options": material_spec},
        "certificate_pem": {"type": "str", "required": True},
        "files": {"type": "list", "elements": "dict", "required": True},
        "pfx_password": {"type": "str", "no_log": True},
        "friendly_name": {"type": "str"},
    }
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "restored"], "default": "present"},
            "files": {"type": "list", "elements": "dict", "options": file_spec, "mutually_exclusive": [("src", "content")]},
            "restore_from": {"type": "list", "elements": "dict"},
            "directories": {"type": "list", "elements": "dict", "options": directory_spec},
            "sweep": {"type": "bool", "default": False},
            "staging": {"type": "list", "elements": "path"},
            "backup": {"type": "bool", "default": True},
            "keep_backups": {"type": "int", "default": 5},
            "directory_mode": {"type": "raw"},
            "directory_owner": {"type": "str"},
            "directory_group": {"type": "str"},
            "certificate": {"type": "dict"},
            "unwrap": {"type": "list", "elements": "dict", "options": unwrap_spec},
        },
        required_if=[("state", "present", ["files"]), ("state", "restored", ["restore_from"])],
        supports_check_mode=True,
    )
    run(module, lambda: restore(module) if module.params["state"] == "restored" else deploy(module), os_error=os_error_message)


if __name__ == "__main__":
    main()
