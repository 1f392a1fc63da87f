# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API modules against the emulator's production profile: one test (or more) per row of
``reference/production-shape.md`` that concerns them, each failing without its fix. Work is counted with the
emulator's counters and request log (POSTs, PUTs, pages), never inferred from the modules' own words.

Rows covered elsewhere: 2 (``der``) in test_secret_der.py; 12 and 13 (the bundle's EXPORT_FORBIDDEN and
WRAP_PENDING) in tests/unit/plugins/module_utils/test_resources.py and the deploy role's tests; 15 (405 code
5000) in test_client.py.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

OTHER_DEVICE = 6  # seeded, belongs to user 2


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(profile="production", tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("production")) as emu:
        assert emu.profile == "production" and emu.admin.info()["profile"] == "production"
        yield emu


@pytest.fixture
def prod(production: Emulator) -> t.Iterator[Emulator]:
    admin = production.admin
    admin.clear_faults()
    admin.set_shape(assign_answer="204", list_cap=100, der_marker=None, export_forbidden=False)
    admin.reset()
    yield production
    admin.set_shape(assign_answer="204", list_cap=100)


def play(emu: Emulator, tmp_path: Path, tasks: str, **extra: t.Any) -> PlaybookRun:
    playbook = f"""
- name: Production shape
  hosts: localhost
  gather_facts: false
  tasks:
{tasks}
"""
    return run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, extra_vars=extra or None)


def issued(api: Api, *, provider: str = "SELF_CA", **extra: t.Any) -> tuple[dict, dict]:
    account = api.account(unique("prod"), provider=provider)
    certificate = api.certificate(account["id"], f"{unique('prod')}.example.com", **extra)
    api.issue(certificate["id"])
    return account, certificate


def by_route(emu: Emulator) -> dict[str, int]:
    return emu.admin.counters()["by_route"]


# -- row 1: heavy fields only with ?detail=most -------------------------------------------------


def test_row1_second_issue_run_issues_nothing(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    account = api.account(unique("row1"))
    domain = f"{unique('row1')}.example.com"
    cid = api.certificate(account["id"], domain)["id"]
    assert "cert" not in api.call("GET", f"/certificates/{cid}")  # the shape under test
    tasks = f"""
    - name: First
      cjj365.certctrl.issue: {{certificate_id: {cid}}}
    - name: Second
      cjj365.certctrl.issue: {{certificate_id: {cid}}}
    - name: By natural key
      cjj365.certctrl.issue: {{domain_name: "{domain}", acme_account: "{account['name']}"}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    assert (run.task("First")["changed"], run.task("First")["reason"]) == (True, "never_issued")
    for task in ("Second", "By natural key"):
        again = run.task(task)
        assert (again["changed"], again["reason"]) == (False, "valid"), again
        assert again["x509"]["serial"] == run.task("First")["x509"]["serial"]
    assert by_route(prod)["POST /apiv1/me/certificates/:id/issues"] == 1  # counted by the server: one job only
    assert len(api.call("GET", f"/certificates/{cid}/issues")) == 1


def test_row1_asynchronous_provider_is_not_reissued(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    cid = api.certificate(api.account(unique("row1le"), provider="letsencrypt")["id"], f"{unique('row1le')}.example.com")["id"]
    tasks = f"""
    - name: First
      cjj365.certctrl.issue: {{certificate_id: {cid}, poll_interval: 0.2}}
    - name: Second
      cjj365.certctrl.issue: {{certificate_id: {cid}}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("First")["status"] == "SUCCESS" and run.task("Second")["changed"] is False
    assert by_route(prod)["POST /apiv1/me/certificates/:id/issues"] == 1


def test_row1_certificate_info_and_certificate_read_the_pem(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    account, certificate = issued(api)
    tasks = f"""
    - name: Info by id
      cjj365.certctrl.certificate_info: {{certificate_id: {certificate['id']}}}
    - name: Info by natural key
      cjj365.certctrl.certificate_info: {{domain_name: "{certificate['domain_name']}", acct_id: {account['id']}}}
    - name: Info list with x509
      cjj365.certctrl.certificate_info: {{acct_id: {account['id']}, include_x509: true}}
    - name: Certificate
      cjj365.certctrl.certificate: {{domain_name: "{certificate['domain_name']}", acct_id: {account['id']}, return_pem: true}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    serials = {
        run.task("Info by id")["certificates"][0]["x509"]["serial"],
        run.task("Info by natural key")["certificates"][0]["x509"]["serial"],
        run.task("Info list with x509")["certificates"][0]["x509"]["serial"],
        run.task("Certificate")["x509"]["serial"],
    }
    assert len(serials) == 1
    assert run.task("Certificate")["certificate"]["cert"].startswith("-----BEGIN CERTIFICATE-----")


# -- rows 3 and 4: list meta and a silent cap ----------------------------------------------------


def test_rows3_4_lists_are_read_whole_under_a_silent_cap(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    prefix = unique("row4")
    for index in range(120):
        api.account(f"{prefix}-{index}")
    prod.admin.set_shape(list_cap=50)  # lower than the client's page size: "short page = last page" would stop at 50
    prod.admin.reset()
    run = play(prod, tmp_path, "    - name: All\n      cjj365.certctrl.acme_account_info:\n")
    assert run.rc == 0, run.stdout + run.stderr
    names = [a["name"] for a in run.task("All")["acme_accounts"]]
    assert len([n for n in names if n.startswith(prefix)]) == 120
    assert by_route(prod)["GET /apiv1/me/acme-accounts"] == -(-len(names) // 50)  # pages of 50 until meta.total, no extra


# -- rows 5 and 6: fields the server does not return -------------------------------------------------


def test_row5_certificate_rerun_with_key_algorithm_changes_nothing(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    account, certificate = issued(api, key_algorithm="ECDSA")
    domain = certificate["domain_name"]
    assert "key_algorithm" not in api.call("GET", f"/certificates/{certificate['id']}?detail=most")
    tasks = f"""
    - name: Same
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account['id']}, key_algorithm: ECDSA}}
    - name: Different
      cjj365.certctrl.certificate: {{domain_name: "{domain}", acct_id: {account['id']}, key_algorithm: RSA}}
      ignore_errors: true
"""
    prod.admin.reset()
    run = play(prod, tmp_path, tasks)
    assert run.task("Same")["changed"] is False
    different = run.task("Different")  # still detected: read from the certificate's public key
    assert different["_status"] == "failed" and "key_algorithm: 'ECDSA' -> 'RSA'" in different["msg"]
    assert "POST /apiv1/me/certificates" not in by_route(prod)


def test_row6_account_rerun_with_unreturned_fields_sends_no_put(prod: Emulator, tmp_path: Path) -> None:
    name = unique("row6")
    options = f"name: {name}, provider: SELF_CA, ca_id: 1, cert_valid_seconds: 86400, leaf_key_algorithm: ECDSA, leaf_ec_curve: prime256v1"
    tasks = f"""
    - name: Create
      cjj365.certctrl.acme_account: {{{options}}}
    - name: Rerun
      cjj365.certctrl.acme_account: {{{options}}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Create")["changed"] is True and run.task("Rerun")["changed"] is False
    assert any("does not return cert_valid_seconds, leaf_ec_curve, leaf_key_algorithm" in w for w in run.task("Rerun")["warnings"])
    routes = by_route(prod)
    assert routes["POST /apiv1/me/acme-accounts"] == 1 and "PUT /apiv1/me/acme-accounts/:id" not in routes


# -- row 7: creates answer 200 -------------------------------------------------------------------


def test_row7_creates_answered_200_are_creates(prod: Emulator, tmp_path: Path) -> None:
    name = unique("row7")
    tasks = f"""
    - name: Account
      cjj365.certctrl.acme_account: {{name: {name}, provider: SELF_CA, ca_id: 1}}
    - name: Certificate
      cjj365.certctrl.certificate: {{domain_name: {name}.example.com, acme_account: {name}}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Account")["acme_account"]["id"] > 0 and run.task("Certificate")["certificate"]["id"] > 0
    created = [r for r in prod.admin.requests() if r["method"] == "POST"]
    assert [r["status"] for r in created] == [200, 200]


# -- rows 8, 9 and 10: assign and unassign -----------------------------------------------------------


@pytest.mark.parametrize("answer", ["204", "200", "202"])
def test_rows8_9_assign_by_device_id_sends_the_public_id_and_accepts_the_answer(prod: Emulator, tmp_path: Path, answer: str) -> None:
    api = Api(prod)
    _account, certificate = issued(api)
    prod.admin.set_shape(assign_answer=answer)
    tasks = f"""
    - name: Assign
      cjj365.certctrl.assign: {{certificate_id: {certificate['id']}, device_id: 2}}
    - name: Rerun
      cjj365.certctrl.assign: {{certificate_id: {certificate['id']}, device_id: 2}}
"""
    run = play(prod, tmp_path, tasks)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Assign")["changed"] is True and run.task("Rerun")["changed"] is False
    assert run.task("Assign")["assignment"]["device_public_id"] == api.call("GET", "/devices/2")["device_public_id"]
    posts = [r for r in prod.admin.requests() if r["method"] == "POST" and r["path"].endswith("/certificate-assign")]
    assert [r["status"] for r in posts] == [int(answer)]  # production answers 400 to a body without device_public_id
    assert certificate["id"] in api.device_certificate_ids(2)


def test_row10_unassign_without_the_route_says_so(prod: Emulator, tmp_path: Path) -> None:
    api = Api(prod)
    _account, certificate = issued(api)
    api.call("POST", "/certificate-assign", {"certificate_id": certificate["id"], "device_public_id": api.call("GET", "/devices/3")["device_public_id"]})
    run = play(prod, tmp_path, f"    - name: Unassign\n      cjj365.certctrl.assign: {{certificate_id: {certificate['id']}, device_id: 3, state: absent}}\n")
    result = run.task("Unassign")
    assert result["_status"] == "failed" and result["status"] == 405
    assert "This server has no unassign route for API keys" in result["msg"] and "method DELETE not allowed" in result["msg"]
    assert certificate["id"] in api.device_certificate_ids(3)


# -- row 11: another user's object is 403, never absent --------------------------------------------------


def test_row11_another_users_objects_are_errors_with_the_servers_words(prod: Emulator, tmp_path: Path) -> None:
    other = Api(prod, key="other")  # user 2, whose CA is 2
    account = other.call("POST", "/acme-accounts", {"name": unique("row11"), "provider": "SELF_CA", "ca_id": 2})
    certificate = other.certificate(account["id"], f"{unique('row11')}.example.com")
    other.issue(certificate["id"])
    tasks = f"""
    - name: Certificate info
      cjj365.certctrl.certificate_info: {{certificate_id: {certificate['id']}}}
      ignore_errors: true
    - name: Issue
      cjj365.certctrl.issue: {{certificate_id: {certificate['id']}}}
      ignore_errors: true
    - name: Account absent
      cjj365.certctrl.acme_account: {{id: {account['id']}, state: absent}}
      ignore_errors: true
    - name: Account info
      cjj365.certctrl.acme_account_info: {{id: {account['id']}}}
      ignore_errors: true
    - name: Assign
      cjj365.certctrl.assign: {{certificate_id: {certificate['id']}, device_id: 1}}
      ignore_errors: true
    - name: Device info
      cjj365.certctrl.device_info: {{device_id: {OTHER_DEVICE}}}
      ignore_errors: true
"""
    run = play(prod, tmp_path, tasks)
    for task in ("Certificate info", "Issue", "Account absent", "Account info", "Assign", "Device info"):
        result = run.task(task)
        assert result["_status"] == "failed", (task, result)
        assert result["status"] == 403 and "not owned" in result["msg"], (task, result["msg"])
        assert "belongs to another account" in result["msg"]
    assert other.call("GET", f"/acme-accounts/{account['id']}")["id"] == account["id"]  # "absent" deleted nothing
    assert "DELETE /apiv1/me/acme-accounts/:id" not in by_route(prod)


# -- issue 14 item 9: non-positive ids ----------------------------------------------------------------


def test_non_positive_ids_fail_naming_the_option(prod: Emulator, tmp_path: Path) -> None:
    cases = [
        ("issue", "certificate_id: 0", "certificate_id"),
        ("issue", "certificate_id: -3", "certificate_id"),
        ("assign", "certificate_id: 0, device_id: 1", "certificate_id"),
        ("assign", "certificate_id: 1, device_id: 0", "device_id"),
        ("certificate_info", "certificate_id: 0", "certificate_id"),
        ("certificate", "domain_name: zero.example.com, acct_id: 0", "acct_id"),
        ("acme_account", "id: 0, state: absent", "id"),
        ("acme_account_info", "id: 0", "id"),
        ("device_info", "device_id: 0", "device_id"),
    ]
    tasks = "".join(
        f"    - name: Case {n}\n      cjj365.certctrl.{module}: {{{args}}}\n      ignore_errors: true\n" for n, (module, args, _o) in enumerate(cases)
    )
    run = play(prod, tmp_path, tasks)
    for n, (module, args, option) in enumerate(cases):
        result = run.task(f"Case {n}")
        assert result["_status"] == "failed", (module, args)
        assert result["msg"].startswith(f"{option} must be a positive integer"), (module, args, result["msg"])
        assert "Traceback" not in result.get("module_stderr", "")
    assert prod.admin.counters()["total"] == 0  # refused before any request
