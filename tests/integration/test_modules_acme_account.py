# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.acme_account and acme_account_info against the emulator."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PLAYBOOKS, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, admin_vars, route_count, unique, writes
from certctrl_emulator.testing import Emulator


def test_lifecycle_is_idempotent_and_check_mode_writes_nothing(fresh_emulator: Emulator, tmp_path: Path) -> None:
    name = unique("life")
    fresh_emulator.admin.reset()
    run = run_playbook(
        PLAYBOOKS / "acme_account_lifecycle.yml",
        ansible_env(fresh_emulator),
        tmp_path=tmp_path,
        extra_vars={"account_name": name, **admin_vars(fresh_emulator)},
    )
    assert run.rc == 0, run.stdout + run.stderr

    # Check-mode create: changed, a predicted object, nothing on the server, no write.
    check = run.task("Create (check mode)")
    assert check["changed"] is True
    assert check["acme_account"]["id"] is None
    assert check["acme_account"]["name"] == name
    assert check["acme_account"]["email"] == "ops@example.com"
    assert check["diff"]["before"] == {}
    assert check["diff"]["after"]["provider"] == "letsencrypt"
    assert run.task("Read after check-mode create")["acme_accounts"] == []
    assert writes(run, "Counters after check-mode create") == 0

    # Create: one POST; the real object has the predicted object's keys.
    created = run.task("Create")
    assert created["changed"] is True
    assert created["acme_account"]["id"] > 0
    assert set(check["acme_account"]) <= set(created["acme_account"])
    assert writes(run, "Counters after create") == 1
    assert route_count(run, "Counters after create", "POST /apiv1/me/acme-accounts") == 1

    # Rerun: unchanged, no write, same object.
    rerun = run.task("Rerun create")
    assert rerun["changed"] is False
    assert rerun["acme_account"] == created["acme_account"]
    assert rerun["diff"]["before"] == rerun["diff"]["after"]
    assert writes(run, "Counters after rerun create") == 1

    # Check-mode update: predicts the new values, the server keeps the old ones.
    check_update = run.task("Update (check mode)")
    assert check_update["changed"] is True
    assert check_update["acme_account"]["email"] == "security@example.com"
    if fresh_emulator.profile == "production":
        # Production does not return leaf_* (row 6): not compared, not predicted, said in a warning.
        assert "leaf_rsa_bits" not in check_update["acme_account"]
        assert any("does not return leaf_key_algorithm, leaf_rsa_bits" in w for w in check_update["warnings"])
    else:
        assert check_update["acme_account"]["leaf_rsa_bits"] == 3072
    assert check_update["diff"]["before"]["email"] == "ops@example.com"
    assert check_update["diff"]["after"]["email"] == "security@example.com"
    assert run.task("Read after check-mode update")["acme_accounts"][0]["email"] == "ops@example.com"
    assert writes(run, "Counters after check-mode update") == 1

    # Update: one PUT, the check-mode prediction was right.
    update = run.task("Update")
    assert update["changed"] is True
    assert update["acme_account"] == check_update["acme_account"]
    if fresh_emulator.profile == "contract":
        assert update["acme_account"]["leaf_key_algorithm"] == "RSA"
    assert writes(run, "Counters after update") == 2
    assert route_count(run, "Counters after update", "PUT /apiv1/me/acme-accounts/:id") == 1
    assert run.task("Rerun update")["changed"] is False
    assert writes(run, "Counters after rerun update") == 2

    # Delete: check mode predicts, the real run deletes once, the rerun does nothing.
    check_delete = run.task("Delete (check mode)")
    assert check_delete["changed"] is True
    assert check_delete["acme_account"] == {}
    assert check_delete["diff"]["before"]["name"] == name
    assert check_delete["diff"]["after"] == {}
    assert writes(run, "Counters after check-mode delete") == 2
    assert run.task("Delete")["changed"] is True
    assert writes(run, "Counters after delete") == 3
    assert run.task("Rerun delete")["changed"] is False
    assert writes(run, "Counters after rerun delete") == 3
    assert run.task("Read after delete")["acme_accounts"] == []


def test_self_ca_account_by_id_rename_and_info_filters(emulator: Emulator, tmp_path: Path) -> None:
    api = Api(emulator)
    other = api.account(unique("le"), provider="letsencrypt")
    name, renamed = unique("own-ca"), unique("renamed")
    playbook = f"""
- name: SELF_CA account, identified by id, and the info filters
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      cjj365.certctrl.acme_account: {{name: {name}, provider: SELF_CA, ca_id: 1, cert_valid_seconds: 86400}}
      register: created
    - name: Rerun
      cjj365.certctrl.acme_account: {{name: {name}, provider: SELF_CA, ca_id: 1, cert_valid_seconds: 86400}}
    - name: Rename by id
      cjj365.certctrl.acme_account: {{id: "{{{{ created.acme_account.id }}}}", name: {renamed}}}
    - name: Rerun rename
      cjj365.certctrl.acme_account: {{id: "{{{{ created.acme_account.id }}}}", name: {renamed}}}
    - name: By id
      cjj365.certctrl.acme_account_info: {{id: "{{{{ created.acme_account.id }}}}"}}
    - name: By old name
      cjj365.certctrl.acme_account_info: {{name: {name}}}
    - name: SELF_CA only
      cjj365.certctrl.acme_account_info: {{provider: SELF_CA}}
    - name: All
      cjj365.certctrl.acme_account_info:
    - name: Delete unknown id
      cjj365.certctrl.acme_account: {{id: 99999, state: absent}}
"""
    run = run_playbook(playbook, ansible_env(emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    created = run.task("Create")["acme_account"]
    assert (created["provider"], created["ca_id"]) == ("SELF_CA", 1)
    # Production does not return cert_valid_seconds (row 6): the rerun cannot compare it and changes nothing.
    assert created.get("cert_valid_seconds") == (None if emulator.profile == "production" else 86400)
    assert run.task("Rerun")["changed"] is False
    assert run.task("Rename by id")["changed"] is True
    assert run.task("Rename by id")["acme_account"]["name"] == renamed
    assert run.task("Rerun rename")["changed"] is False
    assert [a["name"] for a in run.task("By id")["acme_accounts"]] == [renamed]
    assert run.task("By old name")["acme_accounts"] == []
    self_ca = run.task("SELF_CA only")["acme_accounts"]
    assert {a["provider"] for a in self_ca} == {"SELF_CA"}
    assert created["id"] in [a["id"] for a in self_ca]
    everything = [a["id"] for a in run.task("All")["acme_accounts"]]
    assert {created["id"], other["id"]} <= set(everything)
    assert everything == sorted(everything, reverse=True)
    assert run.task("Delete unknown id")["changed"] is False


def test_every_page_is_read(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    for index in range(105):
        api.account(f"page-{index}")
    fresh_emulator.admin.reset()
    playbook = """
- name: More accounts than one page
  hosts: localhost
  gather_facts: false
  tasks:
    - name: All
      cjj365.certctrl.acme_account_info:
"""
    run = run_playbook(playbook, ansible_env(fresh_emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    assert len(run.task("All")["acme_accounts"]) == 105
    assert fresh_emulator.admin.counters()["by_route"]["GET /apiv1/me/acme-accounts"] == 2


def test_create_lost_in_transit_is_adopted(fresh_emulator: Emulator, tmp_path: Path) -> None:
    fresh_emulator.admin.add_fault(path="^/apiv1/me/acme-accounts$", method="POST", kind="drop_after", count=1)
    playbook = """
- name: Account created although the answer was lost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      cjj365.certctrl.acme_account: {name: dropped, provider: SELF_CA, ca_id: 1}
"""
    run = run_playbook(playbook, ansible_env(fresh_emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    result = run.task("Create")
    assert result["changed"] is True
    assert result["acme_account"]["name"] == "dropped"
    assert any("adopted" in w for w in result["warnings"])
    assert fresh_emulator.admin.counters()["by_route"]["POST /apiv1/me/acme-accounts"] == 1
