# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_selectors against the live emulator: the resolvers of an ACME account, a certificate and a device, their one
check-mode policy, and the option specs against the doc fragment that documents them.

State is arranged through the emulator's REST API; the requests a resolver sends are read from the emulator's
counters, never from a mock of our client.
"""

from __future__ import annotations

import uuid

import pytest
import yaml

from ansible_collections.cjj365.certctrl.plugins.doc_fragments._selectors import ModuleDocFragment
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, TransportError
from certctrl_emulator.testing import Emulator

WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"
ASSUMES = "; check mode assumes an earlier task creates it"


def requests_sent(emu: Emulator) -> int:
    return emu.admin.counters()["total"]


def new_account(emu: Emulator) -> dict:
    return emu.api().call("POST", "/acme-accounts", {"name": f"sel-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})


def new_certificate(emu: Emulator, acct_id: int, domain: str, *, issue: bool = False) -> dict:
    api = emu.api()
    record = api.call("POST", "/certificates", {"domain_name": domain, "acct_id": acct_id, "action": "create", "sans": [domain]})
    if issue:
        assert api.call("POST", f"/certificates/{record['id']}/issues", {})["status"] == "SUCCESS"
    return record


def domain() -> str:
    return f"sel-{uuid.uuid4().hex[:8]}.example.com"


# -- account ---------------------------------------------------------------------------------


def test_an_account_id_is_taken_as_given_without_a_request(emu, client):
    assert selectors.account_id(client, acct_id=12345) == 12345
    assert requests_sent(emu) == 0


def test_an_account_name_is_resolved_to_its_id(emu, client):
    account = new_account(emu)
    assert selectors.account_id(client, acme_account=account["name"]) == account["id"]


def test_an_unknown_account_name_is_an_error(client):
    with pytest.raises(CertCtrlError) as info:
        selectors.account_id(client, acme_account="no-such-account", check_mode=False, warn=pytest.fail)
    assert info.value.msg == "no ACME account named 'no-such-account' is visible to this API key"


def test_check_mode_assumes_an_unknown_account_name_is_created_earlier(client):
    warnings: list[str] = []
    assert selectors.account_id(client, acme_account="later-account", check_mode=True, warn=warnings.append) is None
    assert warnings == [f"no ACME account named 'later-account' is visible to this API key{ASSUMES}"]


def test_check_mode_does_not_take_a_failed_request_for_a_missing_account(emu, client):
    emu.admin.add_fault(path="^/apiv1/me/acme-accounts$", method="GET", kind="drop", count=1)
    with pytest.raises(TransportError):
        selectors.account_id(client, acme_account="later-account", check_mode=True, warn=pytest.fail)


# -- certificate -----------------------------------------------------------------------------


def test_a_certificate_by_id_is_read_light_or_in_full(emu, client):
    record = new_certificate(emu, new_account(emu)["id"], domain(), issue=True)
    light = selectors.certificate(client, certificate_id=record["id"])
    if emu.admin.shape()["profile"] == "production":  # production sends the PEM only with detail=most (row 1)
        assert "cert" not in light
    assert selectors.certificate(client, certificate_id=record["id"], detail=True)["cert"].startswith("-----BEGIN CERTIFICATE-----")


def test_an_unknown_certificate_id_is_an_error_in_check_mode_too(client):
    with pytest.raises(CertCtrlError) as info:
        selectors.certificate(client, certificate_id=999999, check_mode=True, warn=pytest.fail)
    assert info.value.msg.startswith("certificate 999999 does not exist or is not visible to this API key (HTTP 404")
    assert info.value.details == {"status": 404, "certificate_id": 999999}


def test_a_domain_name_needs_its_account(emu, client):
    with pytest.raises(CertCtrlError, match=r"^domain_name needs the ACME account too: set acct_id or acme_account$"):
        selectors.certificate(client, domain_name="x.example.com", check_mode=True, warn=pytest.fail)
    assert requests_sent(emu) == 0


def test_the_natural_key_picks_the_oldest_and_names_the_others(emu, client):
    account = new_account(emu)
    name = domain()
    oldest = new_certificate(emu, account["id"], name)
    newer = new_certificate(emu, account["id"], name)
    warnings: list[str] = []
    record = selectors.certificate(client, domain_name=name, acme_account=account["name"], warn=warnings.append)
    assert record["id"] == oldest["id"]
    assert warnings == [
        f"2 certificates for {name!r} exist in ACME account {account['id']} (ids {oldest['id']}, {newer['id']}); using the oldest,"
        f" {oldest['id']}, as every run does"
    ]


def test_the_natural_key_reads_the_full_record_when_asked(emu, client):
    account = new_account(emu)
    name = domain()
    new_certificate(emu, account["id"], name, issue=True)
    assert "cert" not in selectors.certificate(client, domain_name=name, acct_id=account["id"])
    assert selectors.certificate(client, domain_name=name, acct_id=account["id"], detail=True)["cert"].startswith("-----BEGIN")


def test_an_unknown_natural_key_is_an_error_naming_it(emu, client):
    account = new_account(emu)
    with pytest.raises(CertCtrlError) as info:
        selectors.certificate(client, domain_name="nowhere.example.com", acct_id=account["id"])
    assert info.value.msg == f"no certificate for 'nowhere.example.com' in ACME account {account['id']}"
    assert info.value.details == {"domain_name": "nowhere.example.com", "acct_id": account["id"]}


def test_check_mode_assumes_an_unknown_natural_key_is_created_earlier(emu, client):
    account = new_account(emu)
    warnings: list[str] = []
    assert selectors.certificate(client, domain_name="later.example.com", acct_id=account["id"], check_mode=True, warn=warnings.append) is None
    assert warnings == [f"no certificate for 'later.example.com' in ACME account {account['id']}{ASSUMES}"]


def test_check_mode_warns_once_when_the_account_is_missing_too(client):
    warnings: list[str] = []
    record = selectors.certificate(client, domain_name="later.example.com", acme_account="later-account", check_mode=True, warn=warnings.append)
    assert record is None
    assert warnings == [f"no ACME account named 'later-account' is visible to this API key{ASSUMES}"]


def test_find_certificate_is_none_for_a_natural_key_without_a_record(emu, client):
    assert selectors.find_certificate(client, domain_name="nowhere.example.com", acct_id=new_account(emu)["id"], warn=pytest.fail) is None


# -- device ----------------------------------------------------------------------------------


@pytest.mark.parametrize("selector", [{"device_id": 1}, {"device_public_id": WEB1_PUBLIC_ID}])
def test_a_device_by_id_or_public_id(client, selector):
    device = selectors.device(client, **selector)
    assert (device["id"], device["device_public_id"]) == (1, WEB1_PUBLIC_ID)


def test_an_unknown_device_id_is_an_error(client):
    with pytest.raises(CertCtrlError) as info:
        selectors.device(client, device_id=99999)
    assert info.value.msg.startswith("device 99999 does not exist or is not visible to this API key (HTTP 404")
    assert info.value.details == {"status": 404, "device_id": 99999}


def test_an_unknown_device_public_id_is_an_error_naming_it(client):
    with pytest.raises(CertCtrlError) as info:
        selectors.device(client, device_public_id="no-such-device")
    assert info.value.msg == (
        "device 'no-such-device' does not exist or is not visible to this API key (HTTP 404 not found: no device with public id 'no-such-device'; check the id)"
    )
    assert info.value.details == {"status": 404, "device_public_id": "no-such-device"}


def test_a_device_id_costs_no_request_and_a_public_id_one(emu, client):
    assert selectors.device_id(client, device_id=7) == 7
    assert requests_sent(emu) == 0
    assert selectors.device_id(client, device_public_id=WEB1_PUBLIC_ID) == 1
    assert requests_sent(emu) == 1


# -- the specs and the doc fragment ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fragments", "spec"),
    [
        ((ModuleDocFragment.CERTIFICATE, ModuleDocFragment.ACCOUNT), selectors.certificate_selector_spec()),
        ((ModuleDocFragment.ACCOUNT,), selectors.account_selector_spec()),
        ((ModuleDocFragment.DEVICE,), selectors.device_selector_spec()),
    ],
)
def test_the_doc_fragments_document_the_spec(fragments, spec):
    """The fragments a module extends for a selector document exactly the options (and types) of its spec."""
    documented = {name: option["type"] for fragment in fragments for name, option in yaml.safe_load(fragment)["options"].items()}
    assert documented == {name: option["type"] for name, option in spec.items()}


def test_the_constraints_name_only_options_of_the_specs():
    options = {**selectors.certificate_selector_spec(), **selectors.device_selector_spec()}
    groups = (
        selectors.ACCOUNT_MUTUALLY_EXCLUSIVE,
        selectors.ACCOUNT_REQUIRED_ONE_OF,
        selectors.CERTIFICATE_MUTUALLY_EXCLUSIVE,
        selectors.CERTIFICATE_REQUIRED_ONE_OF,
        selectors.DEVICE_MUTUALLY_EXCLUSIVE,
        selectors.DEVICE_REQUIRED_ONE_OF,
    )
    assert {name for group in groups for names in group for name in names} <= set(options)


def test_the_args_of_a_modules_parameters_are_the_selector_options():
    params = {"certificate_id": None, "domain_name": "x.example.com", "acme_account": "web", "device_id": 3, "state": "present"}
    assert selectors.certificate_args(params) == {"certificate_id": None, "domain_name": "x.example.com", "acct_id": None, "acme_account": "web"}
    assert selectors.device_args(params) == {"device_id": 3, "device_public_id": None}
