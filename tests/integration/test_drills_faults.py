# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drill: the fault storm (issue 14). The whole flow, acme_account -> certificate -> issue -> assign, through a
playbook, repeated under randomly injected faults on every API request: connections dropped after the server
acted, 429 with Retry-After, 503, dropped before it acted, and malformed (truncated) 200 answers.

Every run converges within its retries, the rerun of each round changes nothing, and the API shows no duplicate:
one account, one certificate, one issuance job and one assignment per round. The figures of a run are printed
(``pytest -s``) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

ROUNDS = 3
RETRIES = 8
# (method, kind, status, retry_after, fraction): the first rule that fires answers the request.
STORM = (
    ("POST", "drop_after", None, None, 0.10),  # the server acted, the answer is lost
    ("POST", "malformed", None, None, 0.05),  # the server acted, the answer is cut in half
    ("POST", "status", 503, 0, 0.05),
    ("POST", "status", 429, 1, 0.05),
    ("GET", "status", 503, 0, 0.07),
    ("GET", "status", 429, 1, 0.03),
    ("GET", "malformed", None, None, 0.05),
    ("GET", "drop", None, None, 0.05),
)

FLOW = """
- name: The whole flow under a fault storm
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Account
      cjj365.certctrl.acme_account: {name: "{{ account }}", provider: SELF_CA, ca_id: 1}

    - name: Certificate
      cjj365.certctrl.certificate: {domain_name: "{{ domain }}", acme_account: "{{ account }}"}
      register: certificate_result

    - name: Issue
      cjj365.certctrl.issue: {certificate_id: "{{ certificate_result.certificate.id }}", wait_timeout: 120}

    - name: Assign
      cjj365.certctrl.assign: {certificate_id: "{{ certificate_result.certificate.id }}", device_id: 1}
"""
TASKS = ("Account", "Certificate", "Issue", "Assign")


def storm(emu: Emulator) -> None:
    emu.admin.clear_faults()
    for method, kind, status, retry_after, fraction in STORM:
        spec: dict[str, t.Any] = {"path": "^/apiv1/me/", "method": method, "kind": kind, "fraction": fraction}
        if status is not None:
            spec.update(status=status, retry_after=retry_after)
        emu.admin.add_fault(**spec)


def statuses(run: PlaybookRun) -> dict[str, tuple[str, bool]]:
    return {task: (run.task(task)["_status"], bool(run.task(task).get("changed"))) for task in TASKS}


def test_fault_storm_over_the_whole_flow(fresh_emulator: Emulator, tmp_path: Path) -> None:
    emu = fresh_emulator
    api = Api(emu)
    env = ansible_env(emu, CERTCTRL_RETRIES=str(RETRIES))
    storm(emu)
    rounds = []
    for number in range(ROUNDS):
        names = {"account": unique(f"storm-{emu.profile}"), "domain": f"{unique('storm')}.example.com"}
        first = run_playbook(FLOW, env, tmp_path=tmp_path, extra_vars=names)
        assert first.rc == 0, f"round {number}: {first.stdout[-4000:]}{first.stderr[-2000:]}"
        assert statuses(first) == {task: ("ok", True) for task in TASKS}, statuses(first)
        rerun = run_playbook(FLOW, env, tmp_path=tmp_path, extra_vars=names)
        assert rerun.rc == 0, f"round {number} rerun: {rerun.stdout[-4000:]}{rerun.stderr[-2000:]}"
        assert statuses(rerun) == {task: ("ok", False) for task in TASKS}, statuses(rerun)
        warnings = [w for run in (first, rerun) for r in run.results for w in r["result"].get("warnings", [])]
        rounds.append((names, sum("retry" in w for w in warnings), sum("adopted" in w for w in warnings)))
    faults = emu.admin.call("GET", "/_admin/faults")["faults"]
    counters = emu.admin.counters()
    emu.admin.clear_faults()

    # Counted through the API, without faults: nothing was created twice.
    for names, _second, _third in rounds:
        accounts = [a for a in api.call("GET", "/acme-accounts", params={"limit": 100}) if a["name"] == names["account"]]
        assert len(accounts) == 1, names
        (certificate,) = api.certificates(accounts[0]["id"], names["domain"])
        jobs = api.call("GET", f"/certificates/{certificate['id']}/issues", params={"limit": 100})
        assert [job["status"] for job in jobs] == ["SUCCESS"], jobs
        assert api.device_certificate_ids(1).count(certificate["id"]) == 1
    injected = {f"{f['method']} {f['kind']}{' ' + str(f['status']) if f['kind'] == 'status' else ''}": f["hits"] for f in faults}
    print(
        f"\nfault storm ({emu.profile} profile): {ROUNDS} rounds x 2 runs, {counters['total']} API requests,"
        f" {sum(injected.values())} faults injected {injected}, {sum(r[1] for r in rounds)} retry warnings,"
        f" {sum(r[2] for r in rounds)} adoptions; duplicates: 0"
    )
    assert sum(injected.values()) >= 10  # the storm did blow
