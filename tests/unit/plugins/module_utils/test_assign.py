# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_assign against the live emulator: assigning and unassigning a certificate on a device (check mode and diff both
ways, idempotence), its selectors' errors, and a server without the unassign route (production profile).
Whether a certificate is assigned is read back from the emulator's REST API."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _assign as assign
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.emulator import Warnings, client_of
from certctrl_emulator.testing import Emulator

OPTIONS = ("certificate_id", "domain_name", "acct_id", "acme_account", "device_id", "device_public_id")
WEB2 = 2


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    """An emulator with the contract's unassign route (production has none, production-shape row 10)."""
    with Emulator(profile="contract", tls=True, workdir=tmp_path_factory.mktemp("contract")) as emu:
        yield emu


@pytest.fixture
def contract_client(contract: Emulator) -> t.Iterator[CertCtrlClient]:
    c = client_of(contract)
    yield c
    c.close()


def ensure(client: CertCtrlClient, *, check_mode: bool = False, diff: bool = False, warn: Warnings | None = None, **given: t.Any) -> dict:
    params = {**dict.fromkeys(OPTIONS), "state": "present", **given}
    return assign.ensure(client, params, check_mode=check_mode, diff=diff, warn=warn if warn is not None else Warnings())


def new_certificate(emu: Emulator) -> dict:
    """A certificate record (not issued) in a new SELF_CA account: ``{"id", "domain_name", "acct_id", "account"}``."""
    api = emu.api()
    account = api.call("POST", "/acme-accounts", {"name": f"asg-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})
    domain = f"asg-{uuid.uuid4().hex[:8]}.example.com"
    record = api.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})
    return {**record, "account": account["name"]}


def assigned_ids(emu: Emulator, device_id: int) -> set[int]:
    return {int(c["id"]) for c in emu.api().call("GET", f"/devices/{device_id}/certificates")}


def assign_on_server(emu: Emulator, certificate_id: int, device_id: int) -> None:
    device = emu.api().call("GET", f"/devices/{device_id}")
    emu.api().call("POST", "/certificate-assign", {"certificate_id": certificate_id, "device_public_id": device["device_public_id"]})


# -- present -----------------------------------------------------------------------------------


def test_a_certificate_is_assigned_and_a_second_run_changes_nothing(emu, client):
    cert = new_certificate(emu)
    first = ensure(client, certificate_id=cert["id"], device_id=WEB2)
    device = emu.api().call("GET", f"/devices/{WEB2}")
    assert first == {
        "changed": True,
        "assignment": {"certificate_id": cert["id"], "device_id": WEB2, "device_public_id": device["device_public_id"]},
    }
    assert cert["id"] in assigned_ids(emu, WEB2)
    assert ensure(client, certificate_id=cert["id"], device_id=WEB2) == {**first, "changed": False}


def test_the_natural_keys_select_the_certificate_and_the_device(emu, client):
    cert = new_certificate(emu)
    public_id = emu.api().call("GET", f"/devices/{WEB2}")["device_public_id"]
    result = ensure(client, domain_name=cert["domain_name"], acme_account=cert["account"], device_public_id=public_id)
    assert result["changed"] is True and result["assignment"]["certificate_id"] == cert["id"] and result["assignment"]["device_id"] == WEB2
    assert cert["id"] in assigned_ids(emu, WEB2)


def test_check_mode_reports_the_assignment_without_making_it(emu, client):
    cert = new_certificate(emu)
    emu.admin.reset()
    result = ensure(client, check_mode=True, diff=True, certificate_id=cert["id"], device_id=WEB2)
    assert result["changed"] is True
    assert result["diff"]["before"]["assigned"] is False and result["diff"]["after"]["assigned"] is True
    assert cert["id"] not in assigned_ids(emu, WEB2)
    assert emu.admin.counters()["by_method"].get("POST", 0) == 0


def test_diff_is_returned_only_when_asked_and_is_empty_when_unchanged(emu, client):
    cert = new_certificate(emu)
    assert "diff" not in ensure(client, certificate_id=cert["id"], device_id=WEB2)
    unchanged = ensure(client, diff=True, certificate_id=cert["id"], device_id=WEB2)
    assert unchanged["changed"] is False and unchanged["diff"]["before"] == unchanged["diff"]["after"]


def test_check_mode_assumes_a_certificate_an_earlier_task_creates(emu, client):
    warnings = Warnings()
    missing = f"asg-{uuid.uuid4().hex[:8]}"
    result = ensure(client, check_mode=True, warn=warnings, domain_name="later.example.com", acme_account=missing, device_id=WEB2)
    assert result["changed"] is True and result["assignment"]["certificate_id"] is None
    assert warnings == [f"no ACME account named {missing!r} is visible to this API key; check mode assumes an earlier task creates it"]


# -- absent ------------------------------------------------------------------------------------


def test_absent_unassigns_and_a_second_run_changes_nothing(contract, contract_client):
    cert = new_certificate(contract)
    assign_on_server(contract, cert["id"], WEB2)
    result = ensure(contract_client, diff=True, state="absent", certificate_id=cert["id"], device_id=WEB2)
    assert result["changed"] is True
    assert result["diff"]["before"]["assigned"] is True and result["diff"]["after"]["assigned"] is False
    assert cert["id"] not in assigned_ids(contract, WEB2)
    assert ensure(contract_client, state="absent", certificate_id=cert["id"], device_id=WEB2)["changed"] is False


def test_absent_in_check_mode_keeps_the_assignment(contract, contract_client):
    cert = new_certificate(contract)
    assign_on_server(contract, cert["id"], WEB2)
    assert ensure(contract_client, check_mode=True, state="absent", certificate_id=cert["id"], device_id=WEB2)["changed"] is True
    assert cert["id"] in assigned_ids(contract, WEB2)


def test_a_server_without_the_unassign_route_is_an_error_that_says_so(tmp_path):
    with Emulator(profile="production", tls=True, workdir=tmp_path / "emulator") as prod:
        cert = new_certificate(prod)
        assign_on_server(prod, cert["id"], WEB2)
        c = client_of(prod)
        try:
            with pytest.raises(CertCtrlError, match="This server has no unassign route for API keys") as info:
                ensure(c, state="absent", certificate_id=cert["id"], device_id=WEB2)
        finally:
            c.close()
        assert cert["id"] in assigned_ids(prod, WEB2)
    assert info.value.details["status"] == 405
    assert info.value.details["certificate_id"] == cert["id"] and info.value.details["device_id"] == WEB2
    assert f"certificate {cert['id']} is still assigned to device {WEB2}" in info.value.msg


# -- errors ------------------------------------------------------------------------------------


def test_an_unknown_certificate_is_an_error_outside_check_mode(emu, client):
    cert = new_certificate(emu)
    with pytest.raises(CertCtrlError, match=f"no certificate for 'nope.example.com' in ACME account {cert['acct_id']}"):
        ensure(client, domain_name="nope.example.com", acct_id=cert["acct_id"], device_id=WEB2)
    with pytest.raises(CertCtrlError, match="certificate 999999"):
        ensure(client, certificate_id=999999, device_id=WEB2)


def test_an_unknown_device_is_an_error(emu, client):
    cert = new_certificate(emu)
    with pytest.raises(CertCtrlError, match="device 999999"):
        ensure(client, certificate_id=cert["id"], device_id=999999)
    with pytest.raises(CertCtrlError, match="device 'no-such-device' does not exist"):
        ensure(client, check_mode=True, certificate_id=cert["id"], device_public_id="no-such-device")


@pytest.mark.parametrize("option", ["certificate_id", "device_id", "acct_id"])
def test_ids_that_are_not_positive_are_refused_before_any_request(emu, client, option):
    given = {"certificate_id": 1, "device_id": WEB2, option: -1}
    with pytest.raises(CertCtrlError, match=f"{option} must be a positive integer"):
        ensure(client, **given)
    assert emu.admin.counters()["total"] == 0
