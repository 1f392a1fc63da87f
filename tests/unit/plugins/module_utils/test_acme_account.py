# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_acme_account against the live emulator: ensure (create, update, rename, delete; check mode and diff both ways;
idempotence) and read (acme_account_info). The server's state after each call is read back through its REST API."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _acme_account as acme_account
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.emulator import Warnings, client_of
from certctrl_emulator.testing import Emulator

OPTIONS = ("id", "name", *acme_account.FIELDS)


def params(**given: t.Any) -> dict:
    """The module's parameters: every option unset but the given ones, state present."""
    return {**dict.fromkeys(OPTIONS), "state": "present", **given}


def ensure(client: CertCtrlClient, *, check_mode: bool = False, diff: bool = False, warn: Warnings | None = None, **given: t.Any) -> dict:
    return acme_account.ensure(client, params(**given), check_mode=check_mode, diff=diff, warn=warn if warn is not None else Warnings())


def name() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def server_account(emu: Emulator, account_name: str) -> dict | None:
    return next((a for a in emu.api().call("GET", "/acme-accounts") if a["name"] == account_name), None)


def new_account(emu: Emulator, **fields: t.Any) -> dict:
    return emu.api().call("POST", "/acme-accounts", {"name": name(), "provider": "SELF_CA", "ca_id": 1, **fields})


# -- ensure: present ---------------------------------------------------------------------------


def test_a_new_account_is_created_and_a_second_run_changes_nothing(emu, client):
    wanted = name()
    first = ensure(client, name=wanted, provider="SELF_CA", ca_id=1, email="ops@example.com")
    assert first["changed"] is True
    assert first["acme_account"]["name"] == wanted and first["acme_account"]["email"] == "ops@example.com"
    assert server_account(emu, wanted)["id"] == first["acme_account"]["id"]

    second = ensure(client, name=wanted, provider="SELF_CA", ca_id=1, email="ops@example.com")
    assert second == {"changed": False, "acme_account": first["acme_account"]}


def test_check_mode_predicts_the_new_account_without_creating_it(emu, client):
    wanted = name()
    result = ensure(client, check_mode=True, diff=True, name=wanted, provider="SELF_CA", ca_id=1)
    assert result["changed"] is True
    assert result["acme_account"]["name"] == wanted and result["acme_account"]["id"] is None
    assert set(acme_account.TEMPLATE) <= set(result["acme_account"])
    assert result["diff"]["before"] == {} and result["diff"]["after"]["provider"] == "SELF_CA"
    assert server_account(emu, wanted) is None
    assert emu.admin.counters()["by_method"].get("POST", 0) == 0


def test_a_changed_field_is_updated_with_a_diff_and_then_unchanged(emu, client):
    account = new_account(emu, email="old@example.com")
    result = ensure(client, diff=True, name=account["name"], email="new@example.com")
    assert result["changed"] is True
    assert result["diff"]["before"]["email"] == "old@example.com" and result["diff"]["after"]["email"] == "new@example.com"
    assert server_account(emu, account["name"])["email"] == "new@example.com"
    assert ensure(client, diff=True, name=account["name"], email="new@example.com")["changed"] is False


def test_check_mode_reports_the_update_and_leaves_the_account(emu, client):
    account = new_account(emu, email="old@example.com")
    result = ensure(client, check_mode=True, name=account["name"], email="new@example.com")
    assert result["changed"] is True and result["acme_account"]["email"] == "new@example.com"
    assert "diff" not in result
    assert server_account(emu, account["name"])["email"] == "old@example.com"


def test_without_diff_no_diff_is_returned(emu, client):
    account = new_account(emu)
    assert "diff" not in ensure(client, name=account["name"])
    unchanged = ensure(client, diff=True, name=account["name"])
    assert unchanged["diff"]["before"] == unchanged["diff"]["after"]


def test_an_account_identified_by_id_is_renamed(emu, client):
    account = new_account(emu)
    renamed = name()
    result = ensure(client, id=account["id"], name=renamed)
    assert result["changed"] is True and result["acme_account"]["name"] == renamed
    assert server_account(emu, renamed)["id"] == account["id"] and server_account(emu, account["name"]) is None


def test_ca_id_zero_and_unset_are_the_same(emu, client):
    account = new_account(emu, provider="letsencrypt", ca_id=None, email="le@example.com")
    assert ensure(client, name=account["name"], ca_id=0)["changed"] is False


def test_a_new_account_needs_a_provider(client):
    wanted = name()
    with pytest.raises(CertCtrlError, match=f"'{wanted}' does not exist; provider is required"):
        ensure(client, name=wanted)


def test_an_unknown_id_is_a_404_error_not_a_new_account(emu, client):
    with pytest.raises(CertCtrlError, match="ACME account 999999 does not exist") as info:
        ensure(client, id=999999, name=name(), provider="SELF_CA")
    assert info.value.details["status"] == 404


def test_an_id_that_is_not_positive_is_refused_before_any_request(emu, client):
    with pytest.raises(CertCtrlError, match="id must be a positive integer"):
        ensure(client, id=0, name=name())
    assert emu.admin.counters()["total"] == 0


def test_fields_a_lean_server_does_not_return_are_warned_about(tmp_path):
    with Emulator(profile="production", tls=True, workdir=tmp_path / "emulator") as prod:
        account = new_account(prod)
        warnings = Warnings()
        c = client_of(prod)
        try:
            result = ensure(c, warn=warnings, name=account["name"], leaf_key_algorithm="ECDSA")
        finally:
            c.close()
    assert result["changed"] is False
    assert warnings == [
        f"ACME account {account['id']}: the server does not return leaf_key_algorithm, so the task cannot compare it and sends it only when it"
        " creates the account"
    ]


# -- ensure: absent ----------------------------------------------------------------------------


def test_absent_deletes_and_a_second_run_changes_nothing(emu, client):
    account = new_account(emu)
    result = ensure(client, diff=True, state="absent", name=account["name"])
    assert result["changed"] is True and result["acme_account"] == {}
    assert result["diff"]["before"]["id"] == account["id"] and result["diff"]["after"] == {}
    assert server_account(emu, account["name"]) is None
    assert ensure(client, state="absent", name=account["name"]) == {"changed": False, "acme_account": {}}


def test_absent_in_check_mode_keeps_the_account(emu, client):
    account = new_account(emu)
    assert ensure(client, check_mode=True, state="absent", name=account["name"])["changed"] is True
    assert server_account(emu, account["name"]) is not None


def test_an_account_with_certificates_is_not_deleted_and_the_server_says_why(emu, client):
    account = new_account(emu)
    domain = f"{account['name']}.example.com"
    emu.api().call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})
    with pytest.raises(APIError, match="still has 1 certificate") as info:
        ensure(client, state="absent", name=account["name"])
    assert info.value.status == 409
    assert server_account(emu, account["name"]) is not None


# -- read --------------------------------------------------------------------------------------


def read(client: CertCtrlClient, **given: t.Any) -> dict:
    return acme_account.read(client, {**dict.fromkeys(("id", "name", "provider")), **given})


def test_read_one_account_by_id_or_by_name(emu, client):
    account = new_account(emu)
    by_id = read(client, id=account["id"])
    assert by_id["changed"] is False and [a["id"] for a in by_id["acme_accounts"]] == [account["id"]]
    assert read(client, name=account["name"]) == by_id


def test_read_an_unknown_name_is_an_empty_list_but_an_unknown_id_is_an_error(client):
    assert read(client, name=name()) == {"changed": False, "acme_accounts": []}
    with pytest.raises(CertCtrlError, match="ACME account 999999"):
        read(client, id=999999)


def test_read_lists_every_account_and_filters_by_provider(emu, client):
    self_ca, letsencrypt = new_account(emu), new_account(emu, provider="letsencrypt", ca_id=None, email="le@example.com")
    everything = {a["id"] for a in read(client)["acme_accounts"]}
    assert {self_ca["id"], letsencrypt["id"]} <= everything
    filtered = read(client, provider="letsencrypt")["acme_accounts"]
    assert letsencrypt["id"] in {a["id"] for a in filtered} and {a["provider"] for a in filtered} == {"letsencrypt"}
    assert read(client, name=self_ca["name"], provider="letsencrypt")["acme_accounts"] == []
