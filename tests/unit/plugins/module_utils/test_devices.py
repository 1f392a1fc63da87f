# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_devices.read (device_info) against the live emulator's seeded devices: one by id or public id, every device
over several pages, the status filter on both forms, and the assigned certificates on request."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _devices as devices
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_PAGE_SIZE, CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.emulator import client_of

WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"
OTHER_USERS_DEVICE = 6  # seeded for user 2
SEEDED_OWN = {1: "ACTIVE", 2: "ACTIVE", 3: "ACTIVE", 4: "REVOKED", 5: "LOST"}


def read(client: CertCtrlClient, **given: t.Any) -> dict:
    return devices.read(client, {"device_id": None, "device_public_id": None, "status": None, "include_certificates": False, **given})


def ids(result: dict) -> list[int]:
    return [d["id"] for d in result["devices"]]


def test_one_device_by_id(client):
    result = read(client, device_id=1)
    assert result["changed"] is False and ids(result) == [1]
    assert result["devices"][0]["name"] == "web1" and result["devices"][0]["device_public_id"] == WEB1_PUBLIC_ID
    assert "certificates" not in result["devices"][0]


def test_one_device_by_public_id(client):
    assert ids(read(client, device_public_id=WEB1_PUBLIC_ID)) == [1]


def test_an_unknown_device_is_an_error_in_both_forms(client):
    with pytest.raises(CertCtrlError, match="device 999999"):
        read(client, device_id=999999)
    with pytest.raises(CertCtrlError, match="device 'no-such-device' does not exist") as info:
        read(client, device_public_id="no-such-device")
    assert info.value.details["status"] == 404


def test_another_users_device_is_not_visible(client):
    with pytest.raises(CertCtrlError, match=f"device {OTHER_USERS_DEVICE}"):
        read(client, device_id=OTHER_USERS_DEVICE)
    assert OTHER_USERS_DEVICE not in ids(read(client))


def test_a_device_id_that_is_not_positive_is_refused_before_any_request(emu, client):
    with pytest.raises(CertCtrlError, match="device_id must be a positive integer"):
        read(client, device_id=0)
    assert emu.admin.counters()["total"] == 0


def test_the_status_filter_applies_to_one_device_too(client):
    assert ids(read(client, device_id=4, status="REVOKED")) == [4]
    assert read(client, device_id=4, status="ACTIVE") == {"changed": False, "devices": []}


def test_every_device_and_the_status_filter(client):
    everything = {d["id"]: d["status"] for d in read(client)["devices"]}
    assert SEEDED_OWN.items() <= everything.items()
    for status in ("ACTIVE", "REVOKED", "LOST"):
        listed = read(client, status=status)["devices"]
        assert {d["status"] for d in listed} == {status}
        assert {i for i, s in SEEDED_OWN.items() if s == status} <= {d["id"] for d in listed}


def test_every_device_is_read_over_several_pages(fresh_emulator):
    created = fresh_emulator.admin.create_devices(DEFAULT_PAGE_SIZE + 5, name_prefix="page")
    c = client_of(fresh_emulator)
    try:
        listed = ids(read(c))
    finally:
        c.close()
    assert len(listed) == len(set(listed)) and set(created) | set(SEEDED_OWN) == set(listed)
    pages = [r for r in fresh_emulator.admin.requests() if r["method"] == "GET" and r["path"].endswith("/me/devices")]
    assert len(pages) >= 2


def test_assigned_certificates_are_included_on_request_without_pem(emu, client):
    api = emu.api()
    account = api.call("POST", "/acme-accounts", {"name": f"dev-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})
    domain = f"dev-{uuid.uuid4().hex[:8]}.example.com"
    cid = api.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})["id"]
    assert api.call("POST", f"/certificates/{cid}/issues", {})["status"] == "SUCCESS"
    api.call("POST", "/certificate-assign", {"certificate_id": cid, "device_public_id": "6f1c2a3b-0003-4c5d-8e9f-a1b2c3d4e5f3"})

    (device,) = read(client, device_id=3, include_certificates=True)["devices"]
    certificate = next(c for c in device["certificates"] if c["id"] == cid)
    assert certificate["domain_name"] == domain
    assert not {"cert", "der", "csr", "private_key"} & set(certificate)
    listed = read(client, status="ACTIVE", include_certificates=True)["devices"]
    assert all("certificates" in d for d in listed)
