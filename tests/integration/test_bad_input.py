# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad connection input (issue 14 item 9, issue 15): each gets a clear message naming the option, never a traceback,
in modules (through ansible-playbook) and in the lookup and inventory plugins. Plain http warns that the key
travels in clear text, except on a loopback address; an ``api_url`` ending in ``/apiv1`` is accepted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import cleartext, normalize_api_url
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

BIN = Path(sys.executable).parent
LOOKUP = "cjj365.certctrl.api"
# Not loopback for the address check, yet connecting to it fails at once on Linux (nothing is sent anywhere).
CLEARTEXT_URL = "http://0.0.0.0:9"
CLEAR_WARNING = "uses plain http: the API key and every answer travel unencrypted"


@pytest.fixture
def emu(emulator: Emulator) -> t.Iterator[Emulator]:
    emulator.admin.clear_faults()
    emulator.admin.reset()
    yield emulator


def unwrapped(text: str) -> str:
    """Output as one line: ansible-core 2.16-2.18 wrap warnings at 80 columns, also right after a hyphen."""
    return " ".join(re.sub(r"(?<=\w-)\n(?=\w)", "", text).split())


def clean(run: PlaybookRun) -> str:
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "urllib3" not in output, output[-3000:]
    return output


# -- pure functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.cjj365.cc", "https://api.cjj365.cc"),
        ("https://api.cjj365.cc/", "https://api.cjj365.cc"),
        ("https://api.cjj365.cc/apiv1", "https://api.cjj365.cc"),
        ("https://api.cjj365.cc/apiv1/", "https://api.cjj365.cc"),
        ("HTTPS://api.cjj365.cc/APIv1", "https://api.cjj365.cc"),
        ("https://gw.example.net/certctrl/apiv1", "https://gw.example.net/certctrl"),  # a proxy prefix stays
        ("  https://127.0.0.1:8443  ", "https://127.0.0.1:8443"),
    ],
)
def test_normalize_api_url(given: str, expected: str) -> None:
    assert normalize_api_url(given) == expected


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("api.cjj365.cc", "must be an http:// or https:// URL"),
        ("ftp://api.cjj365.cc", "must be an http:// or https:// URL"),
        ("https://", "must be an http:// or https:// URL"),
        ("", "must be an http:// or https:// URL"),
        ("https://api.cjj365.cc/?x=1", "query string"),
    ],
)
def test_bad_api_url_is_named(given: str, words: str) -> None:
    with pytest.raises(CertCtrlError) as info:
        normalize_api_url(given)
    assert info.value.msg.startswith("api_url must") and words in info.value.msg


@pytest.mark.parametrize(
    ("url", "clear"),
    [
        ("http://api.example.net", True),
        ("http://10.0.0.5:8080", True),
        ("http://0.0.0.0:9", True),
        ("http://127.0.0.1:8080", False),
        ("http://127.1.2.3", False),
        ("http://[::1]:8080", False),
        ("http://localhost:8080", False),
        ("http://emulator.localhost", False),
        ("https://api.example.net", False),
    ],
)
def test_cleartext(url: str, clear: bool) -> None:
    assert cleartext(url) is clear


# -- modules ----------------------------------------------------------------------------------

MODULE_CASES = {
    "timeout zero": ({"timeout": 0}, "timeout must be a positive number of seconds, got 0.0"),
    "timeout negative": ({"timeout": -5}, "timeout must be a positive number of seconds, got -5.0"),
    "retries negative": ({"retries": -1}, "retries must be 0 or more (0 sends each request once), got -1"),
    "api_url without scheme": ({"api_url": "api.cjj365.cc"}, "api_url must be an http:// or https:// URL such as https://api.cjj365.cc, got 'api.cjj365.cc'"),
}


def test_modules_bad_connection_options(emu: Emulator, tmp_path: Path) -> None:
    tasks = [{"name": name, "cjj365.certctrl.device_info": args, "ignore_errors": True} for name, (args, _message) in MODULE_CASES.items()]
    tasks += [
        {"name": "api_url with /apiv1", "cjj365.certctrl.device_info": {"api_url": emu.base_url + "/apiv1/", "device_id": 1}},
        {"name": "plain http on loopback", "cjj365.certctrl.device_info": {"api_url": emu.http_url, "device_id": 1}},
        {"name": "plain http elsewhere", "cjj365.certctrl.device_info": {"api_url": CLEARTEXT_URL, "retries": 0, "timeout": 2}, "ignore_errors": True},
        {"name": "timeout from the environment", "cjj365.certctrl.device_info": {}, "environment": {"CERTCTRL_TIMEOUT": "0"}, "ignore_errors": True},
    ]
    run = run_playbook(
        json.dumps([{"name": "bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], indent=1) + "\n", ansible_env(emu), tmp_path=tmp_path
    )
    output = clean(run)

    for name, (_args, message) in MODULE_CASES.items():
        result = run.task(name)
        assert result["_status"] == "failed" and result["msg"] == message, (name, result)
    assert run.task("timeout from the environment")["msg"] == "timeout must be a positive number of seconds, got 0.0"
    assert run.task("api_url with /apiv1")["devices"][0]["id"] == 1
    loopback = run.task("plain http on loopback")
    assert loopback["_status"] == "ok" and not any(CLEAR_WARNING in w for w in loopback.get("warnings", []))
    elsewhere = run.task("plain http elsewhere")
    assert elsewhere["_status"] == "failed" and "connection to http://0.0.0.0:9 failed" in elsewhere["msg"]
    assert any(w.startswith(f"api_url {CLEARTEXT_URL} {CLEAR_WARNING}") for w in elsewhere["warnings"]), elsewhere
    assert emu.token() not in output
    assert emu.admin.counters()["total"] == 2  # only the two good tasks reached the server


def test_module_missing_key_names_the_environment_variable(emu: Emulator, tmp_path: Path) -> None:
    """AnsibleModule's own "missing required arguments: api_key" would hide CERTCTRL_API_KEY (issue 15)."""
    env = {k: v for k, v in ansible_env(emu).items() if k != "CERTCTRL_API_KEY"}
    playbook = """
- name: No key at all
  hosts: localhost
  gather_facts: false
  tasks:
    - name: No key
      cjj365.certctrl.device_info:
      ignore_errors: true
"""
    run = run_playbook(playbook, env, tmp_path=tmp_path)
    clean(run)
    assert run.task("No key")["msg"] == "api_key is required: set the api_key option or the CERTCTRL_API_KEY environment variable"
    assert emu.admin.counters()["total"] == 0


def test_module_docs_do_not_show_api_key_as_required(emu: Emulator) -> None:
    modules = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))
    proc = subprocess.run(
        [str(BIN / "ansible-doc"), "--json", *(f"cjj365.certctrl.{m}" for m in modules)], env=ansible_env(emu), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    api_modules = [name for name, entry in docs.items() if "api_key" in entry["doc"]["options"]]
    assert len(api_modules) >= 7
    for name in api_modules:
        option = docs[name]["doc"]["options"]["api_key"]
        assert not option.get("required"), name
        description = option["description"]
        assert "CERTCTRL_API_KEY" in (description if isinstance(description, str) else " ".join(description)), name


# -- plugins ----------------------------------------------------------------------------------

PLUGIN_CASES = {
    "timeout zero": ("timeout=0", "timeout must be a positive number of seconds, got 0.0"),
    "retries negative": ("retries=-2", "retries must be 0 or more (0 sends each request once), got -2"),
    "api_url without scheme": ("api_url='api.cjj365.cc'", "api_url must be an http:// or https:// URL"),
}


def test_lookup_bad_connection_options(emu: Emulator, tmp_path: Path) -> None:
    def show(name: str, expression: str, **task: t.Any) -> dict[str, t.Any]:
        return {"name": name, "ansible.builtin.debug": {"msg": "{{ " + expression + " }}"}, "ignore_errors": True, **task}

    tasks = [show(name, f"lookup('{LOOKUP}', 'devices/1', {kwarg})") for name, (kwarg, _message) in PLUGIN_CASES.items()]
    tasks += [
        show("timeout variable", f"lookup('{LOOKUP}', 'devices/1')", vars={"certctrl_timeout": "{{ -1 }}"}),
        show("timeout not a number", f"lookup('{LOOKUP}', 'devices/1', timeout='soon')"),
        show("api_url with /apiv1", f"lookup('{LOOKUP}', 'devices/1', api_url=url ~ '/apiv1').name", vars={"url": emu.base_url}),
        show("plain http on loopback", f"lookup('{LOOKUP}', 'devices/1', api_url='{emu.http_url}').name"),
        show("plain http elsewhere", f"lookup('{LOOKUP}', 'devices/1', api_url='{CLEARTEXT_URL}', retries=0, timeout=2)"),
    ]
    run = run_playbook(
        json.dumps([{"name": "bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], indent=1) + "\n", ansible_env(emu), tmp_path=tmp_path
    )
    output = unwrapped(clean(run))

    for name, (_kwarg, message) in PLUGIN_CASES.items():
        result = run.task(name)
        assert result["_status"] == "failed" and f"cert-ctrl: configuring the cert-ctrl client: {message}" in result["msg"], (name, result)
    assert "timeout must be a positive number of seconds, got -1.0" in run.task("timeout variable")["msg"]
    assert "timeout" in run.task("timeout not a number")["msg"] and run.task("timeout not a number")["_status"] == "failed"
    assert run.task("api_url with /apiv1")["msg"] == "web1"
    assert run.task("plain http on loopback")["msg"] == "web1"
    assert run.task("plain http elsewhere")["_status"] == "failed"
    assert output.count(f"cert-ctrl: api_url {CLEARTEXT_URL} {CLEAR_WARNING}") == 1
    assert f"api_url {emu.http_url} {CLEAR_WARNING}" not in output
    assert emu.admin.counters()["total"] == 2


def test_inventory_bad_connection_options(emu: Emulator, tmp_path: Path) -> None:
    env = {**ansible_env(emu), "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"}

    def listing(**config: t.Any) -> tuple[int, str]:
        source = tmp_path / "bad.certctrl.yml"
        source.write_text(yaml.safe_dump({"plugin": "cjj365.certctrl.devices", **config}))
        proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), "--list"], env=env, capture_output=True, text=True, timeout=600, check=False)
        return proc.returncode, unwrapped(proc.stdout + proc.stderr)

    for config, message in (
        ({"timeout": 0}, "timeout must be a positive number of seconds, got 0.0"),
        ({"retries": -1}, "retries must be 0 or more"),
        ({"api_url": "api.cjj365.cc"}, "api_url must be an http:// or https:// URL"),
    ):
        rc, output = listing(**config)
        assert rc != 0 and f"cert-ctrl: configuring the cert-ctrl client: {message}" in output, (config, output)
        assert "Traceback" not in output
    rc, output = listing(api_url=emu.base_url + "/apiv1")
    assert rc == 0 and '"web1"' in output, output
    rc, output = listing(api_url=CLEARTEXT_URL, retries=0, timeout=2)
    assert rc != 0 and f"cert-ctrl: api_url {CLEARTEXT_URL} {CLEAR_WARNING}" in output.replace("\n", " ").replace("  ", " "), output
