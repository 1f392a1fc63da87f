# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_certificate against the live emulator: ensure creates a record at most once and refuses differences the API
cannot update (check mode and diff both ways), read (certificate_info), and the key algorithm of an issued
certificate. Records are set up and read back through the emulator's REST API."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _certificate as certificate
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.emulator import Warnings
from certctrl_emulator.testing import Emulator

OPTIONS = ("domain_name", "acct_id", "acme_account", "sans", "key_algorithm", "policy", *certificate.SUBJECT_OPTIONS.values())
ASSUMES = "; check mode assumes an earlier task creates it"


@pytest.fixture
def account(emu: Emulator) -> dict:
    return emu.api().call("POST", "/acme-accounts", {"name": f"crt-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})


def domain() -> str:
    return f"crt-{uuid.uuid4().hex[:8]}.example.com"


def ensure(client: CertCtrlClient, *, check_mode: bool = False, diff: bool = False, warn: Warnings | None = None, **given: t.Any) -> dict:
    params = {**dict.fromkeys(OPTIONS), "state": "present", "return_pem": False, **given}
    return certificate.ensure(client, params, check_mode=check_mode, diff=diff, warn=warn if warn is not None else Warnings())


def read(client: CertCtrlClient, **given: t.Any) -> dict:
    params = {**dict.fromkeys(("certificate_id", "domain_name", "acct_id", "acme_account")), "include_x509": False, "return_pem": False, **given}
    return certificate.read(client, params)


def records_for(emu: Emulator, acct_id: int, name: str) -> list[dict]:
    return [c for c in emu.api().call("GET", f"/acme-accounts/{acct_id}/certificates") if c["domain_name"] == name]


def issued(emu: Emulator, acct_id: int, name: str, **fields: t.Any) -> dict:
    api = emu.api()
    record = api.call("POST", "/certificates", {"domain_name": name, "acct_id": acct_id, "action": "create", "sans": [name], **fields})
    assert api.call("POST", f"/certificates/{record['id']}/issues", {})["status"] == "SUCCESS"
    return record


# -- ensure ------------------------------------------------------------------------------------


def test_a_record_is_created_once_and_a_second_run_changes_nothing(emu, client, account):
    name = domain()
    first = ensure(client, domain_name=name, acct_id=account["id"], organization="Example Ltd")
    assert first["changed"] is True and "x509" not in first
    assert first["certificate"]["domain_name"] == name and first["certificate"]["sans"] == [name]
    assert [r["id"] for r in records_for(emu, account["id"], name)] == [first["certificate"]["id"]]

    second = ensure(client, domain_name=name, acme_account=account["name"], organization="Example Ltd")
    assert second["changed"] is False and second["certificate"]["id"] == first["certificate"]["id"]
    assert len(records_for(emu, account["id"], name)) == 1


def test_check_mode_predicts_the_record_without_creating_it(emu, client, account):
    name = domain()
    result = ensure(client, check_mode=True, diff=True, domain_name=name, acct_id=account["id"], country="de", key_algorithm="ECDSA")
    created = result["certificate"]
    assert result["changed"] is True
    assert set(certificate.TEMPLATE) <= set(created) and created["id"] is None
    assert (created["domain_name"], created["acct_id"], created["sans"], created["country"]) == (name, account["id"], [name], "DE")
    assert "key_algorithm" not in created  # not a documented record field
    assert result["diff"]["before"] == {} and result["diff"]["after"]["domain_name"] == name
    assert records_for(emu, account["id"], name) == []


def test_check_mode_assumes_an_account_an_earlier_task_creates(emu, client):
    warnings, missing = Warnings(), f"crt-{uuid.uuid4().hex[:8]}"
    result = ensure(client, check_mode=True, warn=warnings, domain_name=domain(), acme_account=missing)
    assert result["changed"] is True and result["certificate"]["acct_id"] is None
    assert warnings == [f"no ACME account named {missing!r} is visible to this API key{ASSUMES}"]


def test_an_unknown_account_is_an_error_outside_check_mode(client):
    with pytest.raises(CertCtrlError, match="no ACME account named 'crt-nobody'"):
        ensure(client, domain_name=domain(), acme_account="crt-nobody")


def test_an_acct_id_that_is_not_positive_is_refused_before_any_request(emu, client):
    with pytest.raises(CertCtrlError, match="acct_id must be a positive integer"):
        ensure(client, domain_name=domain(), acct_id=0)
    assert emu.admin.counters()["total"] == 0


def test_a_record_that_differs_is_an_error_listing_the_differences(emu, client, account):
    name = domain()
    record = emu.api().call("POST", "/certificates", {"domain_name": name, "acct_id": account["id"], "action": "create", "sans": [name]})
    with pytest.raises(CertCtrlError, match="differs from the task in fields the API cannot update") as info:
        ensure(client, check_mode=True, domain_name=name, acct_id=account["id"], sans=[name, f"www.{name}"], policy="MASTER_ONLY")
    assert set(info.value.details["differences"]) == {"sans", "policy"}
    assert info.value.details["certificate"]["id"] == record["id"]
    assert len(records_for(emu, account["id"], name)) == 1


def test_equal_values_in_another_form_are_not_differences(emu, client, account):
    name = domain()
    emu.api().call("POST", "/certificates", {"domain_name": name, "acct_id": account["id"], "action": "create", "sans": [name, f"www.{name}"], "country": "DE"})
    result = ensure(client, diff=True, domain_name=name, acct_id=account["id"], sans=[f"WWW.{name}", name], country="de")
    assert result["changed"] is False and result["diff"]["before"] == result["diff"]["after"]


def test_an_issued_record_shows_its_x509_facts_and_pem_only_on_request(emu, client, account):
    name = domain()
    record = issued(emu, account["id"], name, key_algorithm="RSA")
    quiet = ensure(client, diff=True, domain_name=name, acct_id=account["id"], key_algorithm="RSA")
    assert quiet["changed"] is False and "cert" not in quiet["certificate"]
    assert quiet["x509"]["sans"] == [name]
    assert set(quiet["diff"]["after"]["x509"]) == {"serial", "not_after", "sans", "sha256_fingerprint"}
    loud = ensure(client, domain_name=name, acct_id=account["id"], return_pem=True)
    assert loud["certificate"]["id"] == record["id"] and loud["certificate"]["cert"].startswith("-----BEGIN CERTIFICATE-----")


def test_the_key_algorithm_is_compared_once_the_certificate_is_issued(emu, client, account):
    pending, done = domain(), domain()
    emu.api().call("POST", "/certificates", {"domain_name": pending, "acct_id": account["id"], "action": "create", "sans": [pending]})
    assert ensure(client, domain_name=pending, acct_id=account["id"], key_algorithm="ECDSA")["changed"] is False
    issued(emu, account["id"], done, key_algorithm="RSA")
    with pytest.raises(CertCtrlError, match="key_algorithm: 'RSA' -> 'ECDSA'") as info:
        ensure(client, domain_name=done, acct_id=account["id"], key_algorithm="ECDSA")
    assert set(info.value.details["differences"]) == {"key_algorithm"}


# -- key_algorithm and present -----------------------------------------------------------------


def test_key_algorithm_reads_the_issued_public_key(emu, client, account):
    rsa_name, ec_name = domain(), domain()
    issued(emu, account["id"], rsa_name, key_algorithm="RSA")
    issued(emu, account["id"], ec_name, key_algorithm="ECDSA")
    records = {
        r["domain_name"]: r for r in (read(client, domain_name=n, acct_id=account["id"], return_pem=True)["certificates"][0] for n in (rsa_name, ec_name))
    }
    assert certificate.key_algorithm(records[rsa_name]) == "RSA"
    assert certificate.key_algorithm(records[ec_name]) == "ECDSA"
    assert certificate.key_algorithm({"id": 1}) is None


def test_present_keeps_pem_only_on_request():
    record = {"id": 7, "domain_name": "x.example.com", "cert": None, "private_key": "-----BEGIN PRIVATE KEY-----"}
    assert certificate.present(record, return_pem=False) == {"certificate": {"id": 7, "domain_name": "x.example.com"}}
    assert "x509" not in certificate.present(record, return_pem=True)


# -- read --------------------------------------------------------------------------------------


def test_read_by_id_and_an_unknown_id_is_an_error(emu, client, account):
    name = domain()
    record = issued(emu, account["id"], name)
    found = read(client, certificate_id=record["id"])
    assert found["changed"] is False and [c["id"] for c in found["certificates"]] == [record["id"]]
    assert found["certificates"][0]["x509"]["sans"] == [name]
    with pytest.raises(CertCtrlError, match="certificate 999999"):
        read(client, certificate_id=999999)


def test_read_by_natural_key_gives_the_full_record(emu, client, account):
    name = domain()
    record = issued(emu, account["id"], name)
    found = read(client, domain_name=name, acme_account=account["name"])["certificates"]
    assert [c["id"] for c in found] == [record["id"]] and "x509" in found[0] and "cert" not in found[0]


def test_read_lists_and_filters_and_adds_x509_on_request(emu, client, account):
    name = domain()
    issued(emu, account["id"], name)
    in_account = read(client, acct_id=account["id"])["certificates"]
    assert [c["domain_name"] for c in in_account] == [name]
    everywhere = read(client, domain_name=name, include_x509=True)["certificates"]
    assert [c["domain_name"] for c in everywhere] == [name] and everywhere[0]["x509"]["sans"] == [name]
    assert read(client, domain_name=domain())["certificates"] == []
