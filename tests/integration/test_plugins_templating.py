# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every plugin option from a templated variable and from a vault-encrypted one (issue 14 item 2), through real
``ansible-playbook`` and ``ansible-inventory`` runs with ``--vault-password-file``.

Each option is proven to have taken effect, not merely accepted: the key by the emulator's request log, ca_path and
validate_certs by the TLS handshake (no CA in the environment), timeout by a slowed answer, retries by the number of
requests a 503 storm receives, and the lookup's own options by what they change in the answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

LOOKUP = "cjj365.certctrl.api"
PASSWORD = "drill-vault-password"
SLOW_PATH = "/apiv1/me/devices/2"
STORM_PATH = "/apiv1/me/devices/3"
BIN = Path(sys.executable).parent


def vaulted(text: str) -> str:
    """A YAML ``!vault`` scalar of ``text``."""
    cipher = VaultLib([("default", VaultSecret(PASSWORD.encode()))]).encrypt(text).decode()
    return "!vault |\n" + textwrap.indent(cipher, "  ")


class Values:
    """How a test writes a value: as a template over a plain variable, or vault-encrypted."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.plain: dict[str, str] = {}

    def __call__(self, name: str, text: t.Any) -> str:
        if self.mode == "vaulted":
            return vaulted(str(text))
        self.plain[f"plain_{name}"] = str(text)
        return f'"{{{{ plain_{name} }}}}"'


def yaml_block(mapping: dict[str, str], indent: int) -> str:
    """``key: value`` lines where each value is already YAML (a quoted template or a !vault block)."""
    lines = []
    for key, value in mapping.items():
        first, *rest = value.split("\n")
        lines.append(" " * indent + f"{key}: {first}")
        lines.extend(" " * indent + line for line in rest)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    workdir = tmp_path_factory.mktemp("templating")
    with Emulator(tls=True, issue_delay=0.2, workdir=workdir / "emulator") as emu:
        password_file = workdir / "vault-password"
        password_file.write_text(PASSWORD)
        yield {"emu": emu, "password_file": password_file}


@pytest.fixture
def emu(world: dict[str, t.Any]) -> t.Iterator[Emulator]:
    emulator = world["emu"]
    emulator.admin.clear_faults()
    emulator.admin.add_fault(path=f"^{SLOW_PATH}$", method="GET", kind="slow", delay=2.5)
    emulator.admin.add_fault(path=f"^{STORM_PATH}$", method="GET", kind="status", status=503, retry_after=0)
    emulator.admin.reset()
    yield emulator
    emulator.admin.clear_faults()


def bare_env(emu: Emulator) -> dict[str, str]:
    """No CERTCTRL_* at all: whatever reaches the server came through the options under test."""
    return {k: v for k, v in ansible_env(emu).items() if not k.startswith("CERTCTRL_")}


def sent(emu: Emulator, path: str) -> list[str]:
    """The key names of the requests to ``path``."""
    return [entry["key"] for entry in emu.admin.requests() if entry["path"] == path]


# -- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["templated", "vaulted"])
def test_lookup_options_from_templated_and_vaulted_variables(emu: Emulator, world: dict[str, t.Any], tmp_path: Path, mode: str) -> None:
    value = Values(mode)
    base = {"certctrl_api_url": value("url", emu.base_url), "certctrl_api_key": value("key", emu.token("readonly"))}
    with_ca = {**base, "certctrl_ca_path": value("ca", emu.ca_file)}
    tasks = {
        "url key ca_path": (with_ca, f"lookup('{LOOKUP}', 'devices/1').name"),
        "validate_certs": ({**base, "certctrl_validate_certs": value("verify", "false")}, f"lookup('{LOOKUP}', 'devices/1').name"),
        "timeout": ({**with_ca, "certctrl_timeout": value("timeout", "1"), "certctrl_retries": value("no_retries", "0")}, f"lookup('{LOOKUP}', 'devices/2')"),
        "retries": ({**with_ca, "certctrl_retries": value("retries", "2")}, f"lookup('{LOOKUP}', 'devices/3')"),
        "limit page_size": (with_ca, f"query('{LOOKUP}', 'devices', limit=opt_limit, page_size=opt_page_size) | map(attribute='id') | list"),
        "on_missing": (with_ca, f"query('{LOOKUP}', 'certificates/99999', on_missing=opt_on_missing)"),
        "on_denied": (with_ca, f"query('{LOOKUP}', 'devices/1', api_key=opt_certs_only_key, on_denied=opt_on_denied)"),
        "method": (with_ca, f"query('{LOOKUP}', 'devices/1', method=opt_method)"),
    }
    play_vars = {
        "opt_limit": value("limit", "3"),
        "opt_page_size": value("page_size", "2"),
        "opt_on_missing": value("on_missing", "skip"),
        "opt_on_denied": value("on_denied", "skip"),
        "opt_certs_only_key": value("certs_only", emu.token("certs_only")),
        "opt_method": value("method", "POST"),
    }
    body = []
    for name, (task_vars, expression) in tasks.items():
        body.append(
            f"    - name: {name}\n"
            f"      ansible.builtin.debug:\n"
            f'        msg: "{{{{ {expression} }}}}"\n'
            f"      ignore_errors: true\n"
            f"      vars:\n{yaml_block(task_vars, 8)}"
        )
    playbook = tmp_path / "lookup.yml"
    playbook.write_text(
        "- name: Lookup options from variables\n  hosts: localhost\n  gather_facts: false\n"
        f"  vars:\n{yaml_block({**play_vars, **{k: json.dumps(v) for k, v in value.plain.items()}}, 4)}\n"
        "  tasks:\n" + "\n\n".join(body) + "\n"
    )

    run = run_playbook(playbook, bare_env(emu), tmp_path=tmp_path, extra_args=["--vault-password-file", str(world["password_file"])])

    output = run.stdout + run.stderr
    assert "Traceback" not in output and "ERROR! " not in output, output[-3000:]

    def ok(name: str) -> t.Any:
        result = run.task(name)
        assert result["_status"] == "ok", f"{name}: {result}"
        return result["msg"]

    def failed(name: str) -> str:
        result = run.task(name)
        assert result["_status"] == "failed", f"{name}: {result}"
        return result["msg"]

    assert ok("url key ca_path") == "web1"
    assert ok("validate_certs") == "web1"
    assert "within 1.0 s (timeout option)" in failed("timeout")
    assert "HTTP 503" in failed("retries")
    assert len(sent(emu, STORM_PATH)) == 3  # retries 2: three requests, not the default's six
    ids = ok("limit page_size")
    assert len(ids) == 3 and len(set(ids)) == 3
    assert len(sent(emu, "/apiv1/me/devices")) == 2  # page_size 2: a page of 2, then the 1 still wanted
    assert ok("on_missing") == []
    assert ok("on_denied") == []
    assert "only reads" in failed("method")
    # every request that got past the injected faults (those answer before authentication) carried the variable's key
    keys = {entry["key"] for entry in emu.admin.requests() if entry["path"] not in (SLOW_PATH, STORM_PATH)}
    assert keys == {"readonly", "certs_only"}  # certs_only: the api_key keyword of the on_denied call
    for secret in (emu.token("readonly"), emu.token("certs_only")):
        assert secret not in output and secret not in json.dumps(run.results)


def test_lookup_readme_pattern_with_a_vaulted_key(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    """The README's own pattern: ``certctrl_api_key: "{{ vault_certctrl_api_key }}"`` with the key in a vaulted vars file."""
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(f"vault_certctrl_api_key: {vaulted(emu.token('readonly'))}\n")
    playbook = tmp_path / "readme.yml"
    playbook.write_text(textwrap.dedent(f"""\
            - name: README pattern
              hosts: localhost
              gather_facts: false
              vars_files: [{secrets}]
              vars:
                certctrl_api_url: {emu.base_url}
                certctrl_ca_path: {emu.ca_file}
                certctrl_api_key: "{{{{ vault_certctrl_api_key }}}}"
              tasks:
                - name: Read
                  ansible.builtin.debug:
                    msg: "{{{{ lookup('{LOOKUP}', 'devices/1').name }}}}"
            """))
    run = run_playbook(playbook, bare_env(emu), tmp_path=tmp_path, extra_args=["--vault-password-file", str(world["password_file"])])
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Read")["msg"] == "web1"
    assert sent(emu, "/apiv1/me/devices/1") == ["readonly"]


def test_lookup_undefined_variable_names_the_variable(emu: Emulator, tmp_path: Path) -> None:
    playbook = f"""
- name: Undefined
  hosts: localhost
  gather_facts: false
  vars:
    certctrl_api_key: "{{{{ vault_key_not_loaded }}}}"
  tasks:
    - name: Read
      ansible.builtin.debug:
        msg: "{{{{ lookup('{LOOKUP}', 'devices/1') }}}}"
      ignore_errors: true
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path)
    message = run.task("Read")["msg"]
    assert "the variable certctrl_api_key could not be templated" in message and "vault_key_not_loaded" in message
    assert emu.admin.counters()["total"] == 0


# -- inventory --------------------------------------------------------------------------------


def inventory_run(
    emu: Emulator, world: dict[str, t.Any], tmp_path: Path, config: dict[str, str], extra: dict[str, str], plain: dict[str, str]
) -> tuple[int, str, dict]:
    """ansible-inventory --list --export over a config whose values (and extra vars) are YAML text."""
    source = tmp_path / f"run{len(list(tmp_path.glob('run*.certctrl.yml')))}.certctrl.yml"
    source.write_text(yaml_block({"plugin": "cjj365.certctrl.devices", **config}, 0) + "\n")
    extra_file = tmp_path / f"{source.stem}-extra.yml"
    extra_file.write_text(yaml_block({**extra, **{k: json.dumps(v) for k, v in plain.items()}, "_unused": '""'}, 0) + "\n")
    output = tmp_path / f"{source.stem}.json"
    cmd = [str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--export", "--output", str(output)]
    cmd += ["--vault-password-file", str(world["password_file"]), "-e", f"@{extra_file}"]
    proc = subprocess.run(
        cmd,
        env={**bare_env(emu), "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    data = json.loads(output.read_text()) if output.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, data


@pytest.mark.parametrize("source", ["config", "extra_vars"])
@pytest.mark.parametrize("mode", ["templated", "vaulted"])
def test_inventory_options_from_templated_and_vaulted_values(emu: Emulator, world: dict[str, t.Any], tmp_path: Path, source: str, mode: str) -> None:
    """Every connection option, written in the configuration file (as a template or !vault) or given as a certctrl_* extra var."""
    value = Values(mode)

    def options(run: str, **chosen: t.Any) -> tuple[dict[str, str], dict[str, str]]:
        rendered = {name: value(f"{run}_{name}", text) for name, text in chosen.items()}
        if source == "config":
            return rendered, {}
        return {}, {f"certctrl_{name}": text for name, text in rendered.items()}

    url_key = {"api_url": emu.base_url, "api_key": emu.token("readonly")}
    runs = {
        "url key ca_path": options("a", **url_key, ca_path=emu.ca_file),
        "validate_certs": options("b", **url_key, validate_certs="false"),
        "retries": options("d", **url_key, ca_path=emu.ca_file, retries="2"),
        "timeout": options("c", **url_key, ca_path=emu.ca_file, timeout="1", retries="0"),
    }
    results, keys = {}, {}
    for name, (config, extra) in runs.items():
        emu.admin.reset()
        emu.admin.clear_faults()
        if name == "timeout":
            emu.admin.add_fault(path="^/apiv1/me/devices$", method="GET", kind="slow", delay=2.5, count=1)
        if name == "retries":
            emu.admin.add_fault(path="^/apiv1/me/devices$", method="GET", kind="status", status=503, retry_after=0)
        results[name] = inventory_run(emu, world, tmp_path, config, extra, value.plain)
        if name == "timeout":
            # The request the client abandoned after 1 s lands 2.5 s after it started: let it, before anything else runs.
            deadline = time.monotonic() + 10
            while not sent(emu, "/apiv1/me/devices") and time.monotonic() < deadline:
                time.sleep(0.2)
        keys[name] = sent(emu, "/apiv1/me/devices")
    emu.admin.clear_faults()

    rc, output, data = results["url key ca_path"]
    assert rc == 0, output
    assert {"web1", "web2", "web3"} <= set(data["_meta"]["hostvars"])
    assert keys["url key ca_path"] == ["readonly"] and keys["validate_certs"] == ["readonly"]
    rc, output, data = results["validate_certs"]
    assert rc == 0, output
    assert "web1" in data["_meta"]["hostvars"]
    rc, output, _data = results["timeout"]
    assert rc != 0 and "within 1.0 s (timeout option)" in output, output
    rc, output, data = results["retries"]
    assert rc != 0 and "HTTP 503" in output, output
    assert len(keys["retries"]) == 3  # retries 2: three requests, not the default's six
    assert all(emu.token("readonly") not in out for _rc, out, _data in results.values())


def ansible_core() -> tuple[int, int]:
    from ansible.release import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def test_inventory_export_is_plain_json(emu: Emulator, tmp_path: Path) -> None:
    """``--list --export`` (AWX's inventory sync) loads as plain strings; only a template-like value stays marked unsafe."""
    (braces_id,) = emu.admin.create_devices(1, name_prefix="{{ lookup('env','HOME') }}", platform="Linux")
    source = tmp_path / "export.certctrl.yml"
    source.write_text(yaml.safe_dump({"plugin": "cjj365.certctrl.devices", "include_certificates": True}))
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--export"],
        env=ansible_env(emu),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    hostvars = data["_meta"]["hostvars"]
    braces = f"{{{{ lookup('env','HOME') }}}}{braces_id}"
    assert hostvars[braces]["certctrl_name"] == {"__ansible_unsafe": braces}
    for host, variables in hostvars.items():
        if host == braces:
            continue
        for name, item in variables.items():
            assert not isinstance(item, dict), (host, name, item)
        assert isinstance(variables["certctrl_name"], str) and variables["certctrl_name"] == host
    listed = [host for group in data.values() if isinstance(group, dict) for host in group.get("hosts", [])]
    # The one template-like host name stays marked unsafe: ansible-core 2.16-2.18 render inventory_hostname, and their
    # --export writes such a name as {"__ansible_unsafe": ...} in the group lists. Every other name is a plain string.
    marked = [host for host in listed if not isinstance(host, str)]
    assert all(host == {"__ansible_unsafe": braces} for host in marked), marked
    assert not marked or ansible_core() < (2, 19), marked
    assert "web1" in listed
    assert hostvars["web1"]["certctrl_certificates"] == [] or all(isinstance(c["domain_name"], str) for c in hostvars["web1"]["certctrl_certificates"])
