# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/lookup_fleet.yml: the cjj365.certctrl.api lookup in a realistic play (loops, facts, asserts)."""

from __future__ import annotations

import typing as t
from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

PLAYBOOKS = Path(__file__).parent / "playbooks"


def call(emu: Emulator, method: str, path: str, body: t.Any = None) -> t.Any:
    return emu.api().call(method, path, body)


def test_fleet_plan_with_the_lookup(fresh_emulator: Emulator, tmp_path: Path) -> None:
    emu = fresh_emulator
    account = call(emu, "POST", "/acme-accounts", {"name": "fleet", "provider": "SELF_CA", "ca_id": 1})
    shop = call(emu, "POST", "/certificates", {"domain_name": "shop.example.com", "acct_id": account["id"], "action": "create", "sans": ["shop.example.com"]})
    blog = call(emu, "POST", "/certificates", {"domain_name": "blog.example.com", "acct_id": account["id"], "action": "create", "sans": ["blog.example.com"]})
    call(emu, "POST", f"/certificates/{shop['id']}/issues", {})
    for certificate, device in ((shop, 1), (shop, 2), (blog, 1)):
        public_id = call(emu, "GET", f"/devices/{device}")["device_public_id"]  # production requires it
        call(emu, "POST", "/certificate-assign", {"certificate_id": certificate["id"], "device_public_id": public_id})
    emu.admin.reset()

    run = run_playbook(PLAYBOOKS / "lookup_fleet.yml", ansible_env(emu), tmp_path=tmp_path, extra_vars={"shop_domain": "shop.example.com"})

    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Check the plan")["_status"] == "ok"
    assert run.task("Find the shop certificate by its domain")["ansible_facts"]["shop"]["id"] == shop["id"]
    by_route = emu.admin.counters()["by_route"]
    assert by_route.pop("GET /apiv1/me/devices/:id/certificates") == 3  # one per active device
    assert by_route == {
        "GET /apiv1/me/devices": 1,
        "GET /apiv1/me/certificates": 1,
        "GET /apiv1/me/certificates/:id/devices": 1,
        "GET /apiv1/me/certificates/:id/issues": 1,
        "GET /apiv1/me/certificates/:id": 1,  # the 404 of the skipped term
    }
    assert emu.admin.counters()["writes"] == 0
