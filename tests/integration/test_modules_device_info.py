# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.device_info against the emulator, in playbooks and ad hoc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"


def adhoc(env: dict[str, str], module: str, args: str, *options: str) -> tuple[int, dict]:
    """``ansible localhost -m <module> -a <args>``; returns rc and the JSON result the CLI prints."""
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", module, "-a", args, *options]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    _host, sep, body = proc.stdout.partition(" => ")
    assert sep, proc.stdout + proc.stderr
    return proc.returncode, json.loads(body)


def test_adhoc_with_environment_only(emulator: Emulator) -> None:
    env = ansible_env(emulator)
    rc, result = adhoc(env, "cjj365.certctrl.device_info", "device_id=1")
    assert rc == 0, result
    assert result["changed"] is False
    assert [(d["id"], d["name"], d["device_public_id"]) for d in result["devices"]] == [(1, "web1", WEB1_PUBLIC_ID)]

    rc, result = adhoc(env, "cjj365.certctrl.device_info", "status=REVOKED", "--check")
    assert rc == 0, result
    assert [d["name"] for d in result["devices"]] == ["old-box"]

    rc, result = adhoc({**env, "CERTCTRL_API_KEY": emulator.token("revoked")}, "cjj365.certctrl.device_info", "device_id=1")
    assert rc != 0
    assert "HTTP 401" in result["msg"]
    assert "check api_key" in result["msg"]


def test_lookups_filters_and_certificates(emulator: Emulator, tmp_path: Path) -> None:
    api = Api(emulator)
    account = api.account(unique("dev-info"))
    certificate = api.certificate(account["id"], f"{unique('dev')}.example.com")
    api.call("POST", "/certificate-assign", {"certificate_id": certificate["id"], "device_public_id": api.call("GET", "/devices/3")["device_public_id"]})
    playbook = f"""
- name: Device reads
  hosts: localhost
  gather_facts: false
  tasks:
    - name: All
      cjj365.certctrl.device_info:
    - name: Active
      cjj365.certctrl.device_info: {{status: ACTIVE}}
    - name: Lost
      cjj365.certctrl.device_info: {{status: LOST}}
    - name: By id
      cjj365.certctrl.device_info: {{device_id: 3, include_certificates: true}}
    - name: By public id
      cjj365.certctrl.device_info: {{device_public_id: {WEB1_PUBLIC_ID}}}
    - name: By id with another status
      cjj365.certctrl.device_info: {{device_id: 3, status: REVOKED}}
    - name: All with certificates
      cjj365.certctrl.device_info: {{include_certificates: true}}
"""
    run = run_playbook(playbook, ansible_env(emulator), tmp_path=tmp_path, check=True)
    assert run.rc == 0, run.stdout + run.stderr
    everything = run.task("All")["devices"]
    assert [d["id"] for d in everything][-5:] == [5, 4, 3, 2, 1]
    assert all(d["user_id"] == 1 for d in everything)
    assert all("certificates" not in d for d in everything)
    assert {d["status"] for d in run.task("Active")["devices"]} == {"ACTIVE"}
    assert [d["name"] for d in run.task("Lost")["devices"]] == ["lost-laptop"]
    web3 = run.task("By id")["devices"]
    assert [d["name"] for d in web3] == ["web3"]
    assert certificate["id"] in [c["id"] for c in web3[0]["certificates"]]
    assert all("cert" not in c for c in web3[0]["certificates"])
    assert [d["id"] for d in run.task("By public id")["devices"]] == [1]
    assert run.task("By id with another status")["devices"] == []
    with_certs = {d["id"]: d for d in run.task("All with certificates")["devices"]}
    assert certificate["id"] in [c["id"] for c in with_certs[3]["certificates"]]
    assert with_certs[5]["certificates"] == []


def test_every_page_is_read(fresh_emulator: Emulator, tmp_path: Path) -> None:
    fresh_emulator.admin.create_devices(120, name_prefix="fleet")
    fresh_emulator.admin.reset()
    playbook = """
- name: A fleet larger than one page
  hosts: localhost
  gather_facts: false
  tasks:
    - name: All
      cjj365.certctrl.device_info:
    - name: Active
      cjj365.certctrl.device_info: {status: ACTIVE}
"""
    run = run_playbook(playbook, ansible_env(fresh_emulator), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    ids = [d["id"] for d in run.task("All")["devices"]]
    assert len(ids) == len(set(ids)) == 125
    assert len(run.task("Active")["devices"]) == 123
    counters = fresh_emulator.admin.counters()
    assert counters["by_route"]["GET /apiv1/me/devices"] == 4  # two pages per task
    assert counters["writes"] == 0
