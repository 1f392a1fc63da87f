#!/usr/bin/python
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: service_reload
short_description: Test and reload the services that use new certificate files, roll back on failure, verify the endpoints
version_added: 0.1.0
author: cjj365.certctrl contributors (@cjj365)
description:
  - Runs on the managed host, in one execution, what follows a replacement of certificate files.
  - Runs the configuration test (O(services[].validate)) of every service in O(services), each service once. When all
    pass, reloads each service once (O(services[].reload)).
  - When a test or a reload fails, it puts the previous files back (O(restore)), tests and reloads each service again,
    and fails. The message names the service, the command and its output, and says what is known of the state
    afterwards. It says that a service serves the previous certificate only when its second reload succeeded and,
    where endpoints are listed, a TLS handshake showed it. Otherwise it says what it knows, for example that the second
    reload failed too and the service may be down.
  - After a good reload, it checks that each endpoint of O(certificates) serves its new certificate. It polls for up to
    O(verify_timeout) seconds, because a server that was just reloaded may answer with the previous certificate at first.
  - Only then does it record, in each manifest of O(manifests), that no reload is pending. A failed check leaves the
    reload pending, so the next run of the C(cjj365.certctrl.deploy) role reloads and checks again.
  - It is an action plugin, as M(ansible.builtin.copy) is. The module runs on the host, once. With O(verify=controller)
    the action checks the endpoints from the controller, in its own process (no module run and no C(delegate_to)),
    then runs the module a second time to record the check in the manifests. With O(result_fact) it returns
    RV(deploy_result) as that fact. So the role's whole handler is one task.
  - This is the handler of the C(cjj365.certctrl.deploy) role, which gives it the services, backups, manifests and
    certificates of the files it replaced. Another role can use it to test and reload a service with O(services) alone;
    without O(restore) it never changes a file.
  - Commands run without a shell. A string is split like a command line; a list is the argv.
  - Needs nothing but Python on the host. It does not talk to the cert-ctrl API and is therefore not part of the
    C(cjj365.certctrl.certctrl) action group.
extends_documentation_fragment:
  - cjj365.certctrl._attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing runs. RV(msg) names the services that would be tested and reloaded, and the endpoints
        that would be checked.
  diff_mode:
    support: none
  action:
    support: full
    details:
      - The module runs on the host. The action checks the endpoints from the controller (O(verify=controller)) and
        returns the fact named by O(result_fact).
  async:
    support: none
  bypass_host_loop:
    support: none
options:
  services:
    description:
      - The services to test and reload, in this order. A service named twice runs once, with its last definition.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the service, used in messages and results.
        type: str
        required: true
      validate:
        description:
          - Command that tests the service's configuration, for example V(nginx -t). Empty for no test.
          - A string or a list of strings.
        type: raw
      reload:
        description:
          - Command that reloads the service, for example V(systemctl reload nginx).
          - A string or a list of strings.
        type: raw
        required: true
  restore:
    description:
      - How to put the previous files back when a test or a reload fails. Each entry is a file that was replaced or created.
      - When a path is listed more than once, its first entry counts. It holds the state before the first change that was not reloaded yet.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      backup:
        description:
          - The previous version of O(restore[].path), put back atomically (the backup stays where it is).
          - V(null) when the file did not exist before; it is then removed.
        type: path
  manifests:
    description:
      - Paths of the C(.certctrl-manifest.json) files of the replaced certificates.
      - After the services were reloaded and every endpoint serves its new certificate, each manifest is updated to say
        that no reload is pending.
      - A manifest that already says so marks the restore entries of its directory and its certificate as settled by an
        earlier run. They are skipped.
    type: list
    elements: path
    default: []
  certificates:
    description:
      - The new certificates, with the endpoints that must serve them.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: The certificate's id in cert-ctrl.
        type: int
      domain_name:
        description: Its domain name.
        type: str
      serial:
        description: Serial of the new certificate, for messages.
        type: str
      sha256_fingerprint:
        description: SHA-256 fingerprint of the new certificate (colon-separated or plain hex). Required with O(certificates[].verify_endpoints).
        type: str
      verify_endpoints:
        description: TLS endpoints that must serve the new certificate once the services are reloaded.
        type: list
        elements: dict
        default: []
        suboptions:
          host:
            description: Host name or address to connect to (V(127.0.0.1) is the managed host itself).
            type: str
            required: true
          port:
            description: TCP port.
            type: int
            default: 443
          server_name:
            description: Name sent as SNI; none when unset.
            type: str
          label:
            description: How the endpoint is named in messages and results; V(host:port/server_name) by default.
            type: str
  verify:
    description:
      - Where the endpoints of O(certificates) are checked.
      - V(host) checks them from the managed host after the reload.
      - V(controller) checks them from the controller after the reload, as
        M(cjj365.certctrl.served_certificate_info) with O(cjj365.certctrl.served_certificate_info#module:require_match=true)
        does. It polls each endpoint for up to O(verify_timeout) seconds. When they all serve their new certificate,
        the module runs a second time, with O(verify=verified), to update the manifests. When one does not, the host
        fails with served_certificate_info's message for each such endpoint; the services stay reloaded, the new files
        stay in place, and the reload stays pending. In check mode, or with O(planned), nothing is checked.
      - V(skip) does not check them. The manifests are then not updated when a certificate has endpoints; the caller
        checks them and then runs this module again with O(verify=verified).
      - V(verified) means the caller found that every endpoint serves its new certificate. They are reported as
        verified and the manifests are updated.
    type: str
    choices: [host, controller, skip, verified]
    default: host
  verify_timeout:
    description: Seconds to keep polling an endpoint until it serves the expected certificate.
    type: float
    default: 15
  planned:
    description:
      - The files were only planned (the deployment ran in check mode). Nothing runs, as in check mode.
    type: bool
    default: false
  result:
    description:
      - The C(cjj365.certctrl.deploy) role's result so far (C(certctrl_deploy_result)). RV(deploy_result) is this
        result with the reloaded services and checked endpoints added.
    type: dict
  result_fact:
    description:
      - Return RV(deploy_result) as the host fact of this name (C(ansible_facts)), for example
        V(certctrl_deploy_result). Only on success, and only with O(result).
    type: str
notes:
  - The services' own output is quoted in failure messages, its error stream first. Standard output is quoted only when
    the error stream is empty, and it is cut after 4000 characters.
seealso:
  - module: cjj365.certctrl.served_certificate_info
  - module: cjj365.certctrl.certificate_files
"""

EXAMPLES = r"""
---
- name: Test and reload nginx after another role changed its configuration
  cjj365.certctrl.service_reload:
    services:
      - name: nginx
        validate: nginx -t
        reload: systemctl reload nginx

- name: Reload what uses the new files, put the old ones back if nginx refuses them, and check what is served
  cjj365.certctrl.service_reload:
    services:
      - {name: nginx, validate: nginx -t, reload: systemctl reload nginx}
    restore:
      - path: /etc/certctrl/certs/www.example.com/fullchain.pem
        backup: /etc/certctrl/certs/www.example.com/.certctrl-backup/20260101T000000.000000/fullchain.pem
      - path: /etc/certctrl/certs/www.example.com/private.key
        backup: /etc/certctrl/certs/www.example.com/.certctrl-backup/20260101T000000.000000/private.key
    manifests: [/etc/certctrl/certs/www.example.com/.certctrl-manifest.json]
    certificates:
      - id: 42
        serial: 4f3a9c
        sha256_fingerprint: "AB:CD:..."
        verify_endpoints:
          - {host: 127.0.0.1, port: 443, server_name: www.example.com}
"""

RETURN = r"""
msg:
  description: What was done, or in check mode what would be done.
  returned: always
  type: str
  sample: tested and reloaded nginx; 127.0.0.1:443/www.example.com serves the new certificate
planned:
  description: Whether nothing ran because of check mode or O(planned).
  returned: always
  type: bool
services_tested:
  description: Names of the services whose configuration test ran, in order (twice for a service tested again after a rollback).
  returned: always
  type: list
  elements: str
services_reloaded:
  description: Names of the services reloaded with the new files (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [nginx]
verified_endpoints:
  description: Labels of the endpoints that serve their new certificate.
  returned: always
  type: list
  elements: str
  sample: ["127.0.0.1:443/www.example.com"]
certificates:
  description:
    - The entries of O(certificates) this run acted for, each id once, in the form O(certificates) takes.
      Those an earlier run settled (see O(manifests)) are left out.
    - The C(cjj365.certctrl.deploy) role checks their endpoints from the controller with them.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 42, "domain_name": www.example.com, "serial": 4f3a9c, "sha256_fingerprint": "AB:CD:...",
            "verify_endpoints": [{"host": 127.0.0.1, "port": 443, "server_name": www.example.com, "label": 127.0.0.1:443/www.example.com}]}]
manifests_marked:
  description: Manifests updated to say that no reload is pending.
  returned: always
  type: list
  elements: str
restored:
  description: On failure, the files put back (V(restored)) or removed (V(removed)); V(absent) when there was nothing to remove.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    backup:
      description: The backup it was restored from, or V(null).
      type: str
    action:
      description: V(restored), V(removed) or V(absent).
      type: str
deploy_result:
  description: O(result) with RV(services_reloaded) and RV(verified_endpoints) added, at the top and on each certificate this run acted for.
  returned: when O(result) is set
  type: dict
service:
  description: The service whose test or reload failed first.
  returned: failure of a test or a reload
  type: str
  sample: nginx
step:
  description: V(configuration test) or V(reload).
  returned: failure of a test or a reload
  type: str
command:
  description: The command that failed.
  returned: failure of a test or a reload
  type: str
  sample: nginx -t
rc:
  description: Its exit code; V(null) when it could not be started.
  returned: failure of a test or a reload
  type: int
output:
  description: What it printed (error stream first).
  returned: failure of a test or a reload
  type: str
"""

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cjj365.certctrl.plugins.module_utils._host import run
from ansible_collections.cjj365.certctrl.plugins.module_utils._service_reload import (
    VERIFY_CHOICES,
    ServiceReload,
    merge_result,
    parse_certificates,
    parse_restore,
    parse_services,
)

ENDPOINT = {"host": {"type": "str", "required": True}, "port": {"type": "int", "default": 443}, "server_name": {"type": "str"}, "label": {"type": "str"}}
CERTIFICATE = {
    "id": {"type": "int"},
    "domain_name": {"type": "str"},
    "serial": {"type": "str"},
    "sha256_fingerprint": {"type": "str"},
    "verify_endpoints": {"type": "list", "elements": "dict", "options": ENDPOINT, "default": []},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "services": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"name": {"type": "str", "required": True}, "validate": {"type": "raw"}, "reload": {"type": "raw", "required": True}},
            },
            "restore": {"type": "list", "elements": "dict", "default": [], "options": {"path": {"type": "path", "required": True}, "backup": {"type": "path"}}},
            "manifests": {"type": "list", "elements": "path", "default": []},
            "certificates": {"type": "list", "elements": "dict", "default": [], "options": CERTIFICATE},
            "verify": {"type": "str", "choices": [*VERIFY_CHOICES, "controller"], "default": "host"},  # controller: the action's own
            "verify_timeout": {"type": "float", "default": 15},
            "planned": {"type": "bool", "default": False},
            "result": {"type": "dict"},
            "result_fact": {"type": "str"},  # the action's own: it never reaches the module
        },
        supports_check_mode=True,
    )
    p = module.params

    def handle() -> t.Dict[str, t.Any]:
        job = ServiceReload(
            services=parse_services(p["services"]),
            restore=parse_restore(p["restore"]),
            manifests=p["manifests"],
            certificates=parse_certificates(p["certificates"]),
            run=lambda command: module.run_command(command, handle_exceptions=False),
            verify=p["verify"],
            verify_timeout=p["verify_timeout"],
            check_mode=module.check_mode or p["planned"],
        )
        result = job.execute()
        if p["result"] is not None:
            result["deploy_result"] = merge_result(p["result"], result)
        return result

    run(module, handle)


if __name__ == "__main__":
    main()
