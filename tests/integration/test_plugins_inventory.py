# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Playbooks over the cjj365.certctrl.devices inventory: device_info per host through module_defaults,
and host variables that are never rendered as templates."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

PLAYBOOKS = Path(__file__).parent / "playbooks"
BRACES = "{{ lookup('env','HOME') }}"


def call(emu: Emulator, method: str, path: str, body: t.Any = None) -> t.Any:
    return emu.api().call(method, path, body)


@pytest.fixture
def fleet(fresh_emulator: Emulator, tmp_path: Path) -> dict[str, t.Any]:
    """Seed devices, a certificate on web1 and web2, a device whose name is a template, and an inventory file."""
    emu = fresh_emulator
    account = call(emu, "POST", "/acme-accounts", {"name": "fleet", "provider": "SELF_CA", "ca_id": 1})
    shop = call(emu, "POST", "/certificates", {"domain_name": "shop.example.com", "acct_id": account["id"], "action": "create", "sans": ["shop.example.com"]})
    for device in (1, 2):
        public_id = call(emu, "GET", f"/devices/{device}")["device_public_id"]  # production requires it
        call(emu, "POST", "/certificate-assign", {"certificate_id": shop["id"], "device_public_id": public_id})
    (braces_id,) = emu.admin.create_devices(1, name_prefix=BRACES, platform="Linux")
    inventory = tmp_path / "fleet.certctrl.yml"
    inventory.write_text(yaml.safe_dump({"plugin": "cjj365.certctrl.devices", "include_certificates": True}))
    emu.admin.reset()
    return {"emu": emu, "inventory": inventory, "braces_name": f"{BRACES}{braces_id}"}


def test_device_info_for_every_inventory_host(fleet: dict[str, t.Any], tmp_path: Path) -> None:
    emu = fleet["emu"]
    # No CERTCTRL_* environment: the inventory and module_defaults both take the extra variables.
    env = {k: v for k, v in ansible_env(emu).items() if not k.startswith("CERTCTRL_")}
    extra = {"certctrl_api_url": emu.base_url, "certctrl_api_key": emu.token(), "certctrl_ca_path": emu.ca_file}

    run = run_playbook(PLAYBOOKS / "inventory_device_info.yml", env, tmp_path=tmp_path, inventory=fleet["inventory"], extra_vars=extra)

    assert run.rc == 0, run.stdout + run.stderr
    hosts = sorted(r["host"] for r in run.results if r["task"] == "Read the device of this host")
    assert hosts == sorted(["web1", "web2", "web3", fleet["braces_name"]])
    assert all(run.task("The API and the inventory agree", host)["_status"] == "ok" for host in hosts)
    web1 = run.task("Read the device of this host", "web1")
    assert web1["devices"][0]["id"] == 1 and [c["domain_name"] for c in web1["devices"][0]["certificates"]] == ["shop.example.com"]
    by_route = emu.admin.counters()["by_route"]
    # inventory: 1 page + 6 certificate lists; device_info: 1 device read + 1 certificate list per active host
    assert by_route == {"GET /apiv1/me/devices": 1, "GET /apiv1/me/devices/:id/certificates": 6 + 4, "GET /apiv1/me/devices/:id": 4}


def test_host_variables_are_never_templated(fleet: dict[str, t.Any], tmp_path: Path) -> None:
    env = ansible_env(fleet["emu"], HOME=str(tmp_path / "home-must-not-appear"))
    run = run_playbook(PLAYBOOKS / "inventory_hostvars.yml", env, tmp_path=tmp_path, inventory=fleet["inventory"])

    assert run.rc == 0, run.stdout + run.stderr
    name = fleet["braces_name"]
    assert run.task("Show the device name", name)["msg"] == name
    assert run.task("Show the label", name)["msg"] == f"{name} (active, 0 certificates)"
    assert run.task("Show the label", "web1")["msg"] == "web1 (active, 1 certificates)"
    assert "home-must-not-appear" not in run.stdout + run.stderr
