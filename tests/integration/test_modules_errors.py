# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Error paths of acme_account, acme_account_info, certificate, certificate_info, assign and device_info:
401, 403, 404 and 400 wording, 503/429 storms, and no secret in the output at -vvvv."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PLAYBOOKS, PlaybookRun, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, admin_vars, unique
from certctrl_emulator.testing import Emulator


@pytest.fixture(scope="module")
def error_run(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> PlaybookRun:
    """One run of modules_errors.yml (each task may fail) against the session emulator."""
    api = Api(emulator)
    account = api.account(unique("err-acct"))
    certificate = api.certificate(account["id"], f"{unique('err')}.example.com")
    devices_only = emulator.admin.create_api_key(unique("devices-only"), ["devices:*[*]"])
    extra = {
        "readonly_key": emulator.token("readonly"),
        "certs_only_key": emulator.token("certs_only"),
        "devices_only_key": devices_only,
        "account_id": account["id"],
        "account_name": account["name"],
        "certificate_id": certificate["id"],
    }
    run = run_playbook(PLAYBOOKS / "modules_errors.yml", ansible_env(emulator), tmp_path=tmp_path_factory.mktemp("errors"), extra_vars=extra)
    assert run.rc == 0, run.stdout + run.stderr  # every task ignores its error
    return run


def failure(run: PlaybookRun, task: str) -> str:
    result = run.task(task)
    assert result["_status"] == "failed", result
    assert result.get("changed") is False
    return result["msg"]


@pytest.mark.parametrize("module", ["acme_account", "acme_account_info", "certificate", "certificate_info", "assign", "device_info"])
def test_unknown_key_says_check_api_key(error_run: PlaybookRun, module: str) -> None:
    msg = failure(error_run, f"Bad key - {module}")
    assert "HTTP 401" in msg
    assert "check api_key" in msg
    assert "ak_this_key_does_not_exist" not in msg


@pytest.mark.parametrize(
    ("task", "scope"),
    [
        ("Missing scope - acme_account", "acme_accounts:*[write]"),
        ("Missing scope - acme_account_info", "acme_accounts:"),
        ("Missing scope - certificate", "certificates:*[write]"),
        ("Missing scope - certificate_info", "certificates:"),
        ("Missing scope - assign", "devices:1[write]"),
        ("Missing scope - device_info", "devices:1[read]"),
    ],
)
def test_missing_scope_is_named(error_run: PlaybookRun, task: str, scope: str) -> None:
    msg = failure(error_run, task)
    assert "HTTP 403" in msg
    assert scope in msg
    assert "grant it to the API key" in msg


@pytest.mark.parametrize(
    ("task", "words"),
    [
        ("Unknown id - acme_account", "ACME account 99999 does not exist"),
        ("Unknown id - acme_account_info", "ACME account 99999 does not exist"),
        ("Unknown account id - certificate", "ACME account 99999 not found"),
        ("Unknown id - certificate_info", "certificate 99999 does not exist"),
        ("Unknown device - assign", "device 99999 does not exist"),
        ("Unknown certificate - assign", "certificate 99999 does not exist"),
        ("Unknown id - device_info", "device 99999 does not exist"),
        ("Unknown public id - device_info", "device '00000000-0000-0000-0000-000000000000' does not exist"),
    ],
)
def test_unknown_ids_say_404(error_run: PlaybookRun, task: str, words: str) -> None:
    msg = failure(error_run, task)
    assert words in msg
    assert "404" in msg
    assert "check the id" in msg


def test_unknown_account_name_is_named(error_run: PlaybookRun) -> None:
    assert "no ACME account named 'no-such-account'" in failure(error_run, "Unknown account name - certificate")


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ("Invalid argument - acme_account", "field 'email'"),
        ("Provider the server does not accept - acme_account", "field 'provider'"),
        ("Invalid argument - certificate", "field 'domain_name': 'bad..name'"),
    ],
)
def test_server_400_names_the_field(error_run: PlaybookRun, task: str, field: str) -> None:
    msg = failure(error_run, task)
    assert "HTTP 400" in msg
    assert field in msg


@pytest.mark.parametrize(
    ("task", "words"),
    [
        ("SELF_CA without ca_id - acme_account", "provider is SELF_CA but all of the following are missing: ca_id"),
        ("Invalid argument - acme_account_info", "parameters are mutually exclusive: id|name"),
        ("Invalid argument - certificate_info", "parameters are mutually exclusive: certificate_id|domain_name"),
        ("Invalid argument - assign", "one of the following is required: device_id, device_public_id"),
        ("Invalid argument - device_info", "value of status must be one of: ACTIVE, REVOKED, LOST, got: RETIRED"),
    ],
)
def test_invalid_arguments_are_refused_before_any_request(error_run: PlaybookRun, task: str, words: str) -> None:
    assert words in failure(error_run, task)


def test_delete_refusal_reaches_the_user_verbatim(error_run: PlaybookRun) -> None:
    result = error_run.task("Delete refused - acme_account")
    assert result["_status"] == "failed"
    assert result["status"] == 409
    assert "still has 1 certificate(s); the account cannot be deleted while certificates reference it" in result["msg"]
    assert result["api_error"]["what"] in result["msg"]


def test_storms_are_retried_and_retries_zero_fails_clearly(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    account = api.account(unique("storm"))
    certificate = api.certificate(account["id"], "storm.example.com")
    extra = {
        **admin_vars(fresh_emulator),
        "account_id": account["id"],
        "certificate_id": certificate["id"],
        "new_account": unique("storm-new"),
        "new_domain": "storm-new.example.com",
    }
    fresh_emulator.admin.reset()
    run = run_playbook(PLAYBOOKS / "modules_storms.yml", ansible_env(fresh_emulator), tmp_path=tmp_path, extra_vars=extra)
    assert run.rc == 0, run.stdout + run.stderr

    def warnings(task: str) -> str:
        result = run.task(task)
        assert result["_status"] == "ok", result
        return "\n".join(result.get("warnings", []))

    assert "HTTP 503" in warnings("Through a 503 storm - acme_account_info")
    assert "retry 2/5" in warnings("Through a 503 storm - acme_account_info")
    assert "HTTP 429" in warnings("Through a 429 storm - acme_account")
    assert run.task("Through a 429 storm - acme_account")["acme_account"]["id"] > 0
    cert_warnings = warnings("Through a 503 storm - certificate")
    assert "retry 2/5" in cert_warnings  # the GETs of the account's certificates
    assert "the re-read shows it was not created; retry 1/5" in cert_warnings  # the POST, re-read first
    assert "retry" in warnings("Through a 429 storm - certificate_info")
    assert "retry" in warnings("Through a storm - assign")
    assert "retry 2/5" in warnings("Through a 503 storm - device_info")
    assert len(run.task("Through a 503 storm - device_info")["devices"]) == 5

    # Exactly one certificate and one assignment despite the failed writes.
    assert len(api.certificates(account["id"], "storm-new.example.com")) == 1
    assert api.device_certificate_ids(1) == [certificate["id"]]
    counters = fresh_emulator.admin.counters()
    assert counters["by_route"]["POST /apiv1/me/certificates"] == 2  # one 503, then the one that created it
    assert counters["by_route"]["POST /apiv1/me/acme-accounts"] == 3  # two 429, then the one that created it
    assert counters["by_route"]["POST /apiv1/me/certificate-assign"] == 2  # one 503, then the one that assigned

    for task, status in (("With retries 0 - device_info", 503), ("With retries 0 - acme_account_info", 429)):
        result = run.task(task)
        assert result["_status"] == "failed"
        assert result["status"] == status
        assert f"HTTP {status}" in result["msg"]
        assert "retries option" in result["msg"]


def test_vvvv_output_has_no_api_key_and_no_private_key(fresh_emulator: Emulator, tmp_path: Path) -> None:
    api = Api(fresh_emulator)
    account = api.account(unique("vvvv"))
    issued = api.certificate(account["id"], "issued.example.com")
    api.issue(issued["id"])
    key = fresh_emulator.token("full")
    playbook = f"""
- name: A full run at -vvvv
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/cjj365.certctrl.certctrl:
      api_key: "{{{{ lookup('ansible.builtin.env', 'TEST_SECRET_KEY') }}}}"
  tasks:
    - name: Account
      cjj365.certctrl.acme_account: {{name: vvvv-new, provider: SELF_CA, ca_id: 1}}
      diff: true
    - name: Certificate
      cjj365.certctrl.certificate: {{domain_name: issued.example.com, acct_id: {account['id']}, return_pem: true}}
      diff: true
    - name: Certificate info
      cjj365.certctrl.certificate_info: {{certificate_id: {issued['id']}, return_pem: true}}
    - name: Assign
      cjj365.certctrl.assign: {{certificate_id: {issued['id']}, device_id: 2}}
      diff: true
    - name: Devices
      cjj365.certctrl.device_info: {{include_certificates: true}}
    - name: Accounts
      cjj365.certctrl.acme_account_info:
    - name: Unknown key
      cjj365.certctrl.device_info: {{api_key: ak_unknown_but_secret_value_42}}
      ignore_errors: true
"""
    env = ansible_env(fresh_emulator)
    env["TEST_SECRET_KEY"] = env.pop("CERTCTRL_API_KEY")  # the key reaches the modules as an option, through module_defaults
    run = run_playbook(playbook, env, tmp_path=tmp_path, verbosity=4, diff=True)
    assert run.rc == 0, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "BEGIN CERTIFICATE" in output  # return_pem shows the public certificate, so the check below is meaningful
    assert run.task("Certificate")["x509"]["serial"]
    assert key not in output
    assert "ak_unknown_but_secret_value_42" not in output
    assert "PRIVATE KEY" not in output
    assert run.task("Unknown key")["_status"] == "failed"
