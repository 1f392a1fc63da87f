# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.assign against the emulator."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PLAYBOOKS, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, admin_vars, route_count, unique, writes
from certctrl_emulator.testing import Emulator

WEB2_PUBLIC_ID = "6f1c2a3b-0002-4c5d-8e9f-a1b2c3d4e5f2"


def test_lifecycle_writes_only_when_needed(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    account = api.account(unique("assign"))
    domain = "assigned.example.com"
    certificate = api.certificate(account["id"], domain)
    fresh_emulator.admin.reset()
    extra = {
        "certificate_id": certificate["id"],
        "domain": domain,
        "account_name": account["name"],
        "device_id": 2,
        "device_public_id": WEB2_PUBLIC_ID,
        "unassign_may_fail": fresh_emulator.profile == "production",
        **admin_vars(fresh_emulator),
    }
    run = run_playbook(PLAYBOOKS / "assign_lifecycle.yml", ansible_env(fresh_emulator), tmp_path=tmp_path, extra_vars=extra)
    assert run.rc == 0, run.stdout + run.stderr
    expected = {"certificate_id": certificate["id"], "device_id": 2, "device_public_id": WEB2_PUBLIC_ID}

    check = run.task("Assign (check mode)")
    assert check["changed"] is True
    assert check["assignment"] == expected
    assert check["diff"] == {"before": {**expected, "assigned": False}, "after": {**expected, "assigned": True}}
    assert run.task("Read after check-mode assign")["devices"][0]["certificates"] == []
    assert writes(run, "Counters after check-mode assign") == 0

    assigned = run.task("Assign")
    assert assigned["changed"] is True
    assert assigned["assignment"] == expected
    assert writes(run, "Counters after assign") == 1
    assert route_count(run, "Counters after assign", "POST /apiv1/me/certificate-assign") == 1

    assert run.task("Rerun assign")["changed"] is False
    assert run.task("Rerun assign")["diff"]["before"] == run.task("Rerun assign")["diff"]["after"]
    by_key = run.task("Rerun by natural key and public id")
    assert by_key["changed"] is False
    assert by_key["assignment"] == expected
    assert writes(run, "Counters after reruns") == 1
    assert [c["id"] for c in run.task("Read after assign")["devices"][0]["certificates"]] == [certificate["id"]]

    check_remove = run.task("Unassign (check mode)")
    assert check_remove["changed"] is True
    assert check_remove["assignment"] == expected
    assert check_remove["diff"]["after"]["assigned"] is False
    assert [c["id"] for c in run.task("Read after check-mode unassign")["devices"][0]["certificates"]] == [certificate["id"]]
    assert writes(run, "Counters after check-mode unassign") == 1

    if fresh_emulator.profile == "production":
        # No API-key unassign route (row 10): a failure that says so, the assignment untouched.
        for task in ("Unassign", "Rerun unassign"):
            refused = run.task(task)
            # The playbook's failed_when accepts only this failure (ansible-lint refuses ignore_errors).
            assert refused["failed_when_result"] is False and refused["status"] == 405
            assert "This server has no unassign route for API keys" in refused["msg"]
            assert f"certificate {certificate['id']} is still assigned to device 2" in refused["msg"]
            assert refused["api_error"]["code"] == 5000
        assert [c["id"] for c in run.task("Read after unassign")["devices"][0]["certificates"]] == [certificate["id"]]
        return
    assert run.task("Unassign")["changed"] is True
    assert writes(run, "Counters after unassign") == 2
    assert route_count(run, "Counters after unassign", "DELETE /apiv1/me/devices/:id/certificates/:id") == 1
    assert run.task("Rerun unassign")["changed"] is False
    assert writes(run, "Counters after rerun unassign") == 2
    assert run.task("Read after unassign")["devices"][0]["certificates"] == []


def test_oldest_record_is_used_for_a_natural_key(emulator: Emulator, tmp_path: Path) -> None:
    """Two records of one domain (made directly through the API): the natural key picks the oldest (lowest id),
    as every run does (issue 14 item 3)."""
    api = Api(emulator)
    account = api.account(unique("twins"))
    domain = f"{unique('twin')}.example.com"
    oldest = api.certificate(account["id"], domain)
    api.certificate(account["id"], domain)
    playbook = f"""
- name: Assign by natural key
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Assign
      cjj365.certctrl.assign: {{domain_name: "{domain}", acct_id: {account["id"]}, device_id: 3}}
    - name: Certificate
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account["id"]}}}
"""
    run = run_playbook(playbook, ansible_env(emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Assign")["assignment"]["certificate_id"] == oldest["id"]
    assert oldest["id"] in api.device_certificate_ids(3)
    certificate = run.task("Certificate")
    assert certificate["changed"] is False
    assert certificate["certificate"]["id"] == oldest["id"]
    assert any("2 certificates for" in w and "using the oldest" in w for w in certificate["warnings"])
