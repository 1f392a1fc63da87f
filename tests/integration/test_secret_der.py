# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``der`` is secret (production-shape row 2: production fills it with the private key DER).

The emulator's ``der_marker`` puts a recognizable text in every ``der`` field; each case runs at ``-vvvv`` with
``--diff`` and the marker must appear nowhere: stdout, stderr, task results (warnings and errors included).

To add a subject (the lookup, the inventory, the role ...): write a function ``(setup, tmp_path) -> Output`` and
register it with ``@case("name")``; ``setup`` carries the emulator and an issued certificate assigned to device 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

MARKER = "DERMARKER" + uuid.uuid4().hex[:12].upper()


@dataclass
class DerSetup:
    emu: Emulator
    account: dict[str, t.Any]
    certificate: dict[str, t.Any]  # issued (SELF_CA) and assigned to device 1


@dataclass
class Output:
    stdout: str
    stderr: str
    results: t.Any = None  # anything JSON-serializable the subject returned

    def text(self) -> str:
        return "\n".join((self.stdout, self.stderr, json.dumps(self.results, default=str)))


CASES: dict[str, t.Callable[[DerSetup, Path], Output]] = {}


def case(name: str) -> t.Callable[[t.Callable[[DerSetup, Path], Output]], t.Callable[[DerSetup, Path], Output]]:
    def register(function: t.Callable[[DerSetup, Path], Output]) -> t.Callable[[DerSetup, Path], Output]:
        CASES[name] = function
        return function

    return register


@pytest.fixture(scope="module")
def der_setup(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[DerSetup]:
    """An emulator of the suite's profile whose ``der`` fields carry MARKER."""
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("der")) as emu:
        emu.admin.set_shape(der_marker=MARKER)
        api = Api(emu)
        account = api.account(unique("der"))
        certificate = api.certificate(account["id"], f"{unique('der')}.example.com")
        api.issue(certificate["id"])
        device = api.call("GET", "/devices/1")
        api.call("POST", "/certificate-assign", {"certificate_id": certificate["id"], "device_public_id": device["device_public_id"]})
        # The marker is really there, so a leak would be seen.
        assert api.call("GET", f"/certificates/{certificate['id']}?detail=most")["der"] == MARKER
        assert api.call("GET", f"/certificates/{certificate['id']}/export")["der"] == MARKER
        yield DerSetup(emu, account, certificate)


def playbook_case(setup: DerSetup, tmp_path: Path, tasks: str, *, check: bool = False) -> Output:
    playbook = f"""
- name: der stays secret
  hosts: localhost
  gather_facts: false
  tasks:
{tasks}
"""
    run = run_playbook(playbook, ansible_env(setup.emu), tmp_path=tmp_path, diff=True, verbosity=4, check=check)
    assert run.rc == 0, run.stdout + run.stderr  # every task that may fail ignores its error
    assert run.results, run.stdout
    return Output(run.stdout, run.stderr, run.results)


def _module_tasks(setup: DerSetup) -> str:
    cid, acct, domain = setup.certificate["id"], setup.account["id"], setup.certificate["domain_name"]
    name = setup.account["name"]
    return f"""
    - name: acme_account
      cjj365.certctrl.acme_account: {{name: {name}, provider: SELF_CA, ca_id: 1, email: der@example.com}}
    - name: acme_account_info
      cjj365.certctrl.acme_account_info: {{id: {acct}}}
    - name: certificate
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {acct}, return_pem: true}}
    - name: certificate refused (the error carries the record)
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {acct}, policy: DEVICE_REQUIRED, return_pem: true}}
      ignore_errors: true
    - name: certificate_info by id
      cjj365.certctrl.certificate_info: {{certificate_id: {cid}, return_pem: true}}
    - name: certificate_info list
      cjj365.certctrl.certificate_info: {{acct_id: {acct}, include_x509: true, return_pem: true}}
    - name: issue (valid)
      cjj365.certctrl.issue: {{certificate_id: {cid}, return_pem: true}}
    - name: issue (forced, the inline answer carries the record)
      cjj365.certctrl.issue: {{certificate_id: {cid}, force: true, return_pem: true}}
    - name: assign
      cjj365.certctrl.assign: {{certificate_id: {cid}, device_id: 1}}
    - name: assign by natural key
      cjj365.certctrl.assign: {{domain_name: "{domain}", acct_id: {acct}, device_id: 2}}
    - name: device_info
      cjj365.certctrl.device_info: {{device_id: 1, include_certificates: true}}
    - name: device_info all
      cjj365.certctrl.device_info: {{include_certificates: true}}
"""


@case("api modules")
def _modules(setup: DerSetup, tmp_path: Path) -> Output:
    return playbook_case(setup, tmp_path, _module_tasks(setup))


@case("api modules, check mode")
def _modules_check(setup: DerSetup, tmp_path: Path) -> Output:
    return playbook_case(setup, tmp_path, _module_tasks(setup), check=True)


@case("api modules, malformed answers")
def _modules_malformed(setup: DerSetup, tmp_path: Path) -> Output:
    """A truncated certificate record is quoted in the error message: its der must be redacted there too."""
    cid = setup.certificate["id"]
    setup.emu.admin.add_fault(path=rf"^/apiv1/me/certificates/{cid}$", method="GET", kind="malformed", count=20)
    try:
        tasks = f"""
    - name: certificate_info of a garbled record
      cjj365.certctrl.certificate_info: {{certificate_id: {cid}, return_pem: true, retries: 1}}
      ignore_errors: true
"""
        return playbook_case(setup, tmp_path, tasks)
    finally:
        setup.emu.admin.clear_faults()


@case("api lookup")
def _lookup(setup: DerSetup, tmp_path: Path) -> Output:
    cid, acct = setup.certificate["id"], setup.account["id"]
    terms = [
        f"certificates/{cid}",
        f"certificates/{cid}/export",
        f"certificates/{cid}/issue-result",
        "certificates",
        f"acme-accounts/{acct}/certificates",
        "devices/1/certificates",
        f"devices/1/certificates/{cid}",
    ]
    tasks = "\n".join(f"""    - name: lookup {term}
      ansible.builtin.debug:
        msg: "{{{{ lookup('cjj365.certctrl.api', '{term}') }}}}"
""" for term in terms)
    return playbook_case(setup, tmp_path, tasks)


@case("devices inventory")
def _inventory(setup: DerSetup, tmp_path: Path) -> Output:
    source = tmp_path / "fleet.certctrl.yml"
    source.write_text("plugin: cjj365.certctrl.devices\ninclude_certificates: true\n")
    env = ansible_env(setup.emu)
    listing = tmp_path / "inventory.json"
    command = [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(source), "--list", "-vvvv", "--output", str(listing)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(listing.read_text())["_meta"]["hostvars"]  # the devices are there
    return Output(proc.stdout, proc.stderr, listing.read_text())


@case("deploy role")
def _role(setup: DerSetup, tmp_path: Path) -> Output:
    hosts = {
        "web": {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "certctrl_device_id": 1,
            "certctrl_cert_root": str(tmp_path / "root"),
            "certctrl_certificates": [{"id": setup.certificate["id"]}],
        }
    }
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    play = "- hosts: web\n  gather_facts: false\n  roles:\n    - role: cjj365.certctrl.deploy\n"
    runs = [
        run_playbook(play, ansible_env(setup.emu), tmp_path=tmp_path, inventory=inventory, diff=True, verbosity=4, check=check)
        for check in (True, False, False)
    ]
    for run in runs:
        assert run.rc == 0, run.stdout + run.stderr
    assert (tmp_path / "root" / setup.certificate["domain_name"] / "private.key").exists()
    return Output("\n".join(r.stdout for r in runs), "\n".join(r.stderr for r in runs), [r.results for r in runs])


@pytest.mark.parametrize("name", sorted(CASES))
def test_der_marker_appears_nowhere(der_setup: DerSetup, tmp_path: Path, name: str) -> None:
    output = CASES[name](der_setup, tmp_path)
    text = output.text()
    assert MARKER not in text, f"{name}: the der marker leaked:\n" + "\n".join(line for line in text.splitlines() if MARKER in line)[:2000]
    assert "PRIVATE KEY" not in text, name
