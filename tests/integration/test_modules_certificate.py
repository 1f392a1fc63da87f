# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.certificate and certificate_info against the emulator."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PLAYBOOKS, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, admin_vars, route_count, unique, writes
from certctrl_emulator.testing import Emulator


def test_lifecycle_creates_once_and_refuses_what_cannot_be_updated(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    account = api.account(unique("cert-life"))
    domain = "life.example.com"
    fresh_emulator.admin.reset()
    extra = {"domain": domain, "account_name": account["name"], **admin_vars(fresh_emulator)}
    run = run_playbook(PLAYBOOKS / "certificate_lifecycle.yml", ansible_env(fresh_emulator), tmp_path=tmp_path, extra_vars=extra)
    assert run.rc == 0, run.stdout + run.stderr

    check = run.task("Create (check mode)")
    assert check["changed"] is True
    assert check["certificate"]["id"] is None
    assert check["certificate"]["acct_id"] == account["id"]
    assert check["certificate"]["sans"] == [domain, f"www.{domain}"]
    assert check["certificate"]["key_dist_policy"] == "HYBRID"
    assert check["certificate"]["country"] == "GB"
    assert "x509" not in check
    assert check["diff"]["before"] == {}
    assert check["diff"]["after"]["domain_name"] == domain
    assert run.task("Read after check-mode create")["certificates"] == []
    assert writes(run, "Counters after check-mode create") == 0

    created = run.task("Create")
    assert created["changed"] is True
    assert created["certificate"]["id"] > 0
    assert set(check["certificate"]) <= set(created["certificate"])
    for field in ("domain_name", "acct_id", "sans", "key_dist_policy", "organization", "country"):
        assert created["certificate"][field] == check["certificate"][field], field
    assert "cert" not in created["certificate"]  # heavy fields only with return_pem
    assert writes(run, "Counters after create") == 1
    assert route_count(run, "Counters after create", "POST /apiv1/me/certificates") == 1

    assert run.task("Rerun create")["changed"] is False
    assert run.task("Rerun create")["certificate"]["id"] == created["certificate"]["id"]
    assert run.task("Rerun with equivalent options")["changed"] is False
    assert writes(run, "Counters after reruns") == 1

    for task in ("Update (check mode)", "Update"):
        refused = run.task(task)
        assert refused["_status"] == "failed", refused
        assert "differs from the task in fields the API cannot update" in refused["msg"]
        assert "policy: 'HYBRID' -> 'MASTER_ONLY'" in refused["msg"]
        assert "sans:" in refused["msg"]
        assert set(refused["differences"]) == {"policy", "sans"}  # organization is equal, country not set
        assert refused["differences"]["policy"] == {"before": "HYBRID", "after": "MASTER_ONLY"}
    assert writes(run, "Counters after refused updates") == 1

    assert run.task("Rerun with the natural key only")["changed"] is False
    assert writes(run, "Counters after natural-key rerun") == 1
    records = run.task("Read after create")["certificates"]
    assert [r["id"] for r in records] == [created["certificate"]["id"]]


def test_issued_certificate_x509_diff_and_info(emulator: Emulator, tmp_path: Path) -> None:
    api = Api(emulator)
    account = api.account(unique("cert-issued"))
    domain = f"{unique('issued')}.example.com"
    record = api.certificate(account["id"], domain, sans=[domain, f"alt.{domain}"])
    api.issue(record["id"])
    pending = api.certificate(account["id"], f"pending.{domain}")
    playbook = f"""
- name: An issued certificate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Present
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account["id"]}, sans: ["alt.{domain}", "{domain}"]}}
      diff: true
    - name: With PEM
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account["id"]}, return_pem: true}}
    - name: Other key algorithm
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account["id"]}, key_algorithm: RSA}}
      ignore_errors: true
    - name: Info by id
      cjj365.certctrl.certificate_info: {{certificate_id: {record["id"]}}}
    - name: Info by natural key
      cjj365.certctrl.certificate_info: {{domain_name: "{domain}", acme_account: "{account["name"]}"}}
    - name: Info list of the account
      cjj365.certctrl.certificate_info: {{acct_id: {account["id"]}}}
    - name: Info list with x509
      cjj365.certctrl.certificate_info: {{acme_account: "{account["name"]}", include_x509: true}}
    - name: Info filtered by domain
      cjj365.certctrl.certificate_info: {{domain_name: "pending.{domain}"}}
    - name: Info of everything
      cjj365.certctrl.certificate_info:
"""
    run = run_playbook(playbook, ansible_env(emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr

    present = run.task("Present")
    assert present["changed"] is False
    x509 = present["x509"]
    assert sorted(x509["sans"]) == sorted([domain, f"alt.{domain}"])
    assert x509["days_remaining"] > 0
    assert len(x509["sha256_fingerprint"].split(":")) == 32
    assert {"serial", "not_before", "not_after", "issuer"} <= set(x509)
    assert present["diff"]["before"]["x509"] == {key: x509[key] for key in ("serial", "not_after", "sans", "sha256_fingerprint")}
    assert present["diff"]["before"] == present["diff"]["after"]
    assert "BEGIN" not in repr(present["diff"])
    assert "cert" not in present["certificate"]

    pem = run.task("With PEM")["certificate"]["cert"]
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in repr(run.task("With PEM"))

    refused = run.task("Other key algorithm")
    assert refused["_status"] == "failed"
    assert "key_algorithm: 'ECDSA' -> 'RSA'" in refused["msg"]

    by_id = run.task("Info by id")["certificates"]
    assert [c["id"] for c in by_id] == [record["id"]]
    assert by_id[0]["x509"] == {**x509, "days_remaining": by_id[0]["x509"]["days_remaining"]}
    assert "cert" not in by_id[0]
    assert run.task("Info by natural key")["certificates"][0]["x509"]["serial"] == x509["serial"]

    listed = {c["id"]: c for c in run.task("Info list of the account")["certificates"]}
    assert set(listed) == {record["id"], pending["id"]}
    assert all("x509" not in c for c in listed.values())  # list endpoints omit the PEM
    full = {c["id"]: c for c in run.task("Info list with x509")["certificates"]}
    assert full[record["id"]]["x509"]["serial"] == x509["serial"]
    assert "x509" not in full[pending["id"]]  # never issued
    assert [c["id"] for c in run.task("Info filtered by domain")["certificates"]] == [pending["id"]]
    assert {record["id"], pending["id"]} <= {c["id"] for c in run.task("Info of everything")["certificates"]}


def test_create_dropped_in_transit_is_adopted_not_duplicated(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    account = api.account(unique("dropped"))
    fresh_emulator.admin.reset()
    fresh_emulator.admin.add_fault(path="^/apiv1/me/certificates$", method="POST", kind="drop_after", count=1)
    playbook = f"""
- name: The answer to the create is lost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      cjj365.certctrl.certificate: {{domain_name: dropped.example.com, acct_id: {account["id"]}}}
    - name: Rerun
      cjj365.certctrl.certificate: {{domain_name: dropped.example.com, acct_id: {account["id"]}}}
"""
    run = run_playbook(playbook, ansible_env(fresh_emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    created = run.task("Create")
    assert created["changed"] is True
    assert any("adopted" in w for w in created["warnings"])
    assert run.task("Rerun")["changed"] is False
    assert run.task("Rerun")["certificate"]["id"] == created["certificate"]["id"]
    assert fresh_emulator.admin.counters()["by_route"]["POST /apiv1/me/certificates"] == 1
    assert [c["id"] for c in api.certificates(account["id"], "dropped.example.com")] == [created["certificate"]["id"]]


def test_check_mode_with_an_account_an_earlier_task_creates(emulator: Emulator, tmp_path: Path) -> None:
    name = unique("later")
    playbook = f"""
- name: A whole new setup in check mode
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Account
      cjj365.certctrl.acme_account: {{name: {name}, provider: SELF_CA, ca_id: 1}}
    - name: Certificate
      cjj365.certctrl.certificate: {{domain_name: later.example.com, acme_account: {name}}}
    - name: Assignment
      cjj365.certctrl.assign: {{domain_name: later.example.com, acme_account: {name}, device_id: 1}}
"""
    run = run_playbook(playbook, ansible_env(emulator), tmp_path=tmp_path, check=True)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Account")["changed"] is True
    certificate = run.task("Certificate")
    assert certificate["changed"] is True
    assert certificate["certificate"]["acct_id"] is None
    assert any("check mode assumes an earlier task creates it" in w for w in certificate["warnings"])
    assignment = run.task("Assignment")
    assert assignment["changed"] is True
    assert assignment["assignment"]["certificate_id"] is None
    assert all(a["name"] != name for a in Api(emulator).call("GET", "/acme-accounts"))
