# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.device against the emulator: registration of a host's X25519 key, reruns, check mode, a known id
with another key, bad input before any request, scopes, and the fingerprint a DEVICE_REQUIRED bundle carries."""

from __future__ import annotations

import base64
import json
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ansible_collections.cjj365.certctrl.plugins.module_utils._device_key import public_id_for
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, admin_vars, route_count, unique
from certctrl_emulator.testing import Emulator

REGISTER = "POST /apiv1/me/devices"
READ = "GET /apiv1/me/devices/by-public-id/:id"
TOKEN_WORDS = ("session", "access_token", "refresh_token")


@pytest.fixture
def emu(emulator: Emulator) -> t.Iterator[Emulator]:
    emulator.admin.reset()  # counters only: the state stays
    yield emulator


def new_key() -> tuple[str, str]:
    """(standard base64 of a fresh X25519 public key, the device_public_id the module derives from it)."""
    raw = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode(), public_id_for(raw)


def no_tokens(run: PlaybookRun) -> None:
    text = json.dumps(run.results) + run.stdout + run.stderr
    assert not [word for word in TOKEN_WORDS if word in text], text[-3000:]


def test_register_rerun_check_mode_and_another_key(emu: Emulator, tmp_path: Path) -> None:
    key, public_id = new_key()
    other_key, _other_id = new_key()
    check_only_key, check_only_id = new_key()
    playbook = f"""
- name: Device registration
  hosts: localhost
  gather_facts: false
  vars:
    counters: &counters
      url: "{{{{ admin_url }}}}/_admin/counters"
      headers:
        Authorization: "Bearer {{{{ admin_token }}}}"
    device: &device
      public_key: "{key}"
      name: web-{public_id[:8]}
      model: Debian GNU/Linux 12 (bookworm)
      ip: 192.0.2.10
  tasks:
    - name: Register (check mode)
      cjj365.certctrl.device: *device
      check_mode: true
    - name: Counters after check mode
      ansible.builtin.uri: *counters
    - name: Register
      cjj365.certctrl.device: *device
    - name: Counters after register
      ansible.builtin.uri: *counters
    - name: Register again
      cjj365.certctrl.device: *device
    - name: Register again (check mode)
      cjj365.certctrl.device: *device
      check_mode: true
    - name: Register by the upper-case public id
      cjj365.certctrl.device: {{public_key: "{key}", device_public_id: "{public_id.upper()}"}}
    - name: Another key for the same public id
      cjj365.certctrl.device: {{public_key: "{other_key}", device_public_id: "{public_id}"}}
      ignore_errors: true
    - name: Only in check mode
      cjj365.certctrl.device: {{public_key: "{check_only_key}"}}
      check_mode: true
    - name: Devices
      cjj365.certctrl.device_info:
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, extra_vars=admin_vars(emu), diff=True)
    assert run.rc == 0, run.stdout + run.stderr
    no_tokens(run)
    fingerprint = run.task("Register")["fingerprint"]

    check = run.task("Register (check mode)")
    assert check["changed"] is True
    assert check["device_id"] is None
    assert check["device_public_id"] == public_id
    assert check["device"] == {
        "id": None,
        "device_public_id": public_id,
        "name": f"web-{public_id[:8]}",
        "platform": "Linux",
        "model": "Debian GNU/Linux 12 (bookworm)",
    }
    assert check["fingerprint"] == fingerprint
    assert check["diff"]["before"] == {}
    assert route_count(run, "Counters after check mode", REGISTER) == 0
    assert route_count(run, "Counters after check mode", READ) == 1

    registered = run.task("Register")
    assert registered["changed"] is True
    device_id = registered["device_id"]
    assert isinstance(device_id, int) and device_id == registered["device"]["id"]
    assert registered["device_public_id"] == registered["device"]["device_public_id"] == public_id
    assert registered["device"]["name"] == f"web-{public_id[:8]}"
    assert registered["diff"] == {"before": {}, "after": registered["device"]}
    assert route_count(run, "Counters after register", REGISTER) == 1

    for task in ("Register again", "Register again (check mode)", "Register by the upper-case public id"):
        again = run.task(task)
        assert again["changed"] is False, task
        assert (again["device_id"], again["device_public_id"], again["fingerprint"]) == (device_id, public_id, fingerprint), task
        assert again["diff"]["before"] == again["diff"]["after"], task
    assert route_count(run, "Counters after register", REGISTER) == 1

    refused = run.task("Another key for the same public id")
    assert refused["_status"] == "failed"
    assert refused["status"] == 409
    assert "is registered with another dev_pk" in refused["msg"]  # the server's words
    assert "cert-ctrl never replaces a device key: give this key its own device_public_id" in refused["msg"]
    assert "or remove the device in cert-ctrl" in refused["msg"]

    check_only = run.task("Only in check mode")
    assert check_only["changed"] is True and check_only["device_public_id"] == check_only_id
    assert check_only["device"]["name"] == f"device-{check_only_id[:8]}"
    listed = {d["device_public_id"]: d for d in run.task("Devices")["devices"]}
    assert listed[public_id]["id"] == device_id
    assert check_only_id not in listed

    # What the agent's registration would have sent arrived too.
    record = Api(emu).call("GET", f"/devices/by-public-id/{public_id}")
    assert (record["platform"], record["model"]) == ("Linux", "Debian GNU/Linux 12 (bookworm)")


def test_bad_input_fails_before_any_request_and_scopes_are_named(emu: Emulator, tmp_path: Path) -> None:
    key, _public_id = new_key()
    short = base64.b64encode(b"\x01" * 16).decode()
    playbook = f"""
- name: Refused registrations
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Not base64
      cjj365.certctrl.device: {{public_key: "not base64!"}}
      ignore_errors: true
    - name: Too short
      cjj365.certctrl.device: {{public_key: "{short}"}}
      ignore_errors: true
    - name: Bad public id
      cjj365.certctrl.device: {{public_key: "{key}", device_public_id: not-a-uuid}}
      ignore_errors: true
    - name: Counters after bad input
      ansible.builtin.uri:
        url: "{{{{ admin_url }}}}/_admin/counters"
        headers:
          Authorization: "Bearer {{{{ admin_token }}}}"
    - name: Read-only key
      cjj365.certctrl.device: {{public_key: "{key}", api_key: "{emu.token("readonly")}"}}
      ignore_errors: true
    - name: Revoked key
      cjj365.certctrl.device: {{public_key: "{key}", api_key: "{emu.token("revoked")}"}}
      ignore_errors: true
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, extra_vars=admin_vars(emu))
    assert run.rc == 0, run.stdout + run.stderr
    no_tokens(run)
    by_route = run.task("Counters after bad input")["json"]["data"]["by_route"]
    assert not [route for route in by_route if " /apiv1/" in route], by_route

    assert "public_key: the device public key is not standard base64" in run.task("Not base64")["msg"]
    assert "public_key: the device public key is 16 bytes, not 32" in run.task("Too short")["msg"]
    assert "device_public_id must be UUID-shaped (8-4-4-4-12 hex digits), got 'not-a-uuid'" in run.task("Bad public id")["msg"]
    for task in ("Not base64", "Too short", "Bad public id"):
        assert run.task(task)["_status"] == "failed", task

    readonly = run.task("Read-only key")
    assert readonly["status"] == 403
    assert "API key lacks scope devices:*[write]" in readonly["msg"]
    assert "registering a device needs the API key scope devices:*[write]" in readonly["msg"]
    revoked = run.task("Revoked key")
    assert revoked["status"] == 401 and "check api_key" in revoked["msg"]


def test_device_required_bundle_carries_the_fingerprint(emu: Emulator, tmp_path: Path) -> None:
    api = Api(emu)
    account = api.account(unique("device-key"))
    certificate = api.certificate(account["id"], f"{unique('sealed')}.example.com", policy="DEVICE_REQUIRED")
    api.issue(certificate["id"])
    key, public_id = new_key()
    playbook = f"""
- name: Register, then keep the ids
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Register
      cjj365.certctrl.device: {{public_key: "{key}", name: sealed-host}}
      register: device
    - name: Keep the ids
      ansible.builtin.set_fact:
        certctrl_device_id: "{{{{ device.device_id }}}}"
        certctrl_device_public_id: "{{{{ device.device_public_id }}}}"
    - name: Assign
      cjj365.certctrl.assign: {{certificate_id: {certificate["id"]}, device_public_id: "{{{{ certctrl_device_public_id }}}}"}}
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path)
    assert run.rc == 0, run.stdout + run.stderr
    registered = run.task("Register")
    assert registered["device_public_id"] == public_id
    assert run.task("Assign")["assignment"]["device_id"] == registered["device_id"]
    bundle = api.bundle(registered["device_id"], certificate["id"])
    assert bundle["device_keyfp_b64"] == registered["fingerprint"]
    assert set(bundle) >= {"enc_data_key_b64", "enc_privkey_b64", "privkey_nonce_b64", "privkey_tag_b64"}
