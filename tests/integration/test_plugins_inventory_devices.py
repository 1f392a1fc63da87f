# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cjj365.certctrl.devices inventory through the real ansible-inventory CLI against a live emulator.

The --list output is compared with a golden file (CERTCTRL_UPDATE_GOLDEN=1 rewrites it). Work is counted
with the emulator's counters; nothing is timed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as CORE_VERSION

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import REPO, ansible_command, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api
from certctrl_emulator.testing import Emulator

PLUGIN = "cjj365.certctrl.devices"
DEVICES_ROUTE = "GET /apiv1/me/devices"
DEVICE_CERTS_ROUTE = "GET /apiv1/me/devices/:id/certificates"
GOLDEN = REPO / "tests" / "integration" / "golden" / "devices_inventory.json"
BRACES = "{{ lookup('env','HOME') }}"
# ansible-core 2.19 templates to native types; older cores render a compose expression such as `x | length` to a string.
NATIVE_TEMPLATING = tuple(int(part) for part in CORE_VERSION.split(".")[:2]) >= (2, 19)


BIN = Path(ansible_command("ansible-playbook")).parent  # beside this Python, or on PATH

# -- helpers ----------------------------------------------------------------------------------


@dataclass
class Listing:
    rc: int
    stdout: str
    stderr: str
    raw: dict[str, t.Any]  # the JSON as ansible-inventory printed it (unsafe markers included)

    @property
    def data(self) -> dict[str, t.Any]:
        return plain(self.raw)

    @property
    def hostvars(self) -> dict[str, dict[str, t.Any]]:
        return self.data.get("_meta", {}).get("hostvars", {})

    def hosts(self, group: str = "all") -> list[str]:
        """Hosts of a group and its children, sorted."""
        found: set[str] = set()
        pending = [group]
        while pending:
            entry = self.data.get(pending.pop(), {})
            found.update(entry.get("hosts", []))
            pending.extend(entry.get("children", []))
        return sorted(found)

    @property
    def output(self) -> str:
        return unwrapped(self.stdout + self.stderr)


def unwrapped(text: str) -> str:
    """Output with the line wrapping of ansible-core 2.16-2.18's warnings undone (textwrap at 80 columns: it drops the
    space at a break, and also breaks after a hyphen inside a word such as cert-ctrl)."""
    return re.sub(r"(?<=\w-)\n(?=\w)", "", text).replace("\n", " ")


def rendered(value: t.Any) -> t.Any:
    """What a compose expression evaluating to ``value`` sets on this core."""
    return value if NATIVE_TEMPLATING else str(value)


@functools.cache
def inventory_cli_flushes() -> bool:
    """ansible-inventory has --flush-cache from ansible-core 2.19 on (ansible-playbook always had it)."""
    usage = subprocess.run([str(BIN / "ansible-inventory"), "--help"], capture_output=True, text=True, check=False).stdout
    return "--flush-cache" in usage


def plain(value: t.Any) -> t.Any:
    """The value without ansible-core 2.19's {"__ansible_unsafe": ...} markers."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def normalize(data: dict[str, t.Any]) -> dict[str, t.Any]:
    """Stable form for the golden file: sorted host and child lists, timestamps blanked, no core-version profile."""
    data = json.loads(json.dumps(data))
    data.get("_meta", {}).pop("profile", None)
    for hostvars in data.get("_meta", {}).get("hostvars", {}).values():
        for name in list(hostvars):
            if name.endswith(("_at", "_at_ms")):
                hostvars[name] = "<timestamp>"
    for group in data.values():
        for key in ("hosts", "children"):
            if key in group:
                group[key] = sorted(group[key])
    return data


def list_inventory(
    emu: Emulator, tmp_path: Path, config: dict[str, t.Any], *args: str, env: dict[str, str] | None = None, name: str = "test.certctrl.yml"
) -> Listing:
    source = tmp_path / name
    source.write_text(yaml.safe_dump({"plugin": PLUGIN, **config}, sort_keys=False))
    result = tmp_path / f"{source.stem}.json"
    result.unlink(missing_ok=True)
    proc = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list", "--output", str(result), *args],
        env=env if env is not None else ansible_env(emu),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    raw = json.loads(result.read_text()) if result.exists() else {}
    return Listing(proc.returncode, proc.stdout, proc.stderr, raw)


def flush_playbook(emu: Emulator, source: Path) -> None:
    """``ansible-playbook --flush-cache`` on the inventory ``source`` (as written by list_inventory), with a no-op play."""
    playbook = source.parent / "flush.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.meta": "noop"}]}]))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(source), "-c", "local", "--flush-cache", str(playbook)],
        env=ansible_env(emu),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 and "Failed to parse" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def populate(emu: Emulator) -> dict[str, int]:
    """Two certificates: shop on web1 and web2, blog on web1 (deterministic ids on a fresh emulator)."""
    rest = Api(emu)
    account = rest.call("POST", "/acme-accounts", {"name": "inventory-acct", "provider": "SELF_CA", "ca_id": 1})
    ids = {}
    for domain in ("shop.example.com", "blog.example.com"):
        ids[domain] = rest.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})["id"]
    for cert, device in (("shop.example.com", 1), ("shop.example.com", 2), ("blog.example.com", 1)):
        public_id = rest.call("GET", f"/devices/{device}")["device_public_id"]  # production requires it
        rest.call("POST", "/certificate-assign", {"certificate_id": ids[cert], "device_public_id": public_id})
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("inventory-emulator")) as emu:
        certs = populate(emu)
        (braces_id,) = emu.admin.create_devices(1, name_prefix=BRACES, platform="Linux")
        yield {"emu": emu, "certs": certs, "braces_id": braces_id}


@pytest.fixture
def emu(world: dict[str, t.Any]) -> t.Iterator[Emulator]:
    world["emu"].admin.reset()
    world["emu"].admin.clear_faults()
    yield world["emu"]
    world["emu"].admin.clear_faults()


# -- tests ------------------------------------------------------------------------------------


def test_list_matches_golden_file(fresh_emulator: Emulator, tmp_path: Path) -> None:
    populate(fresh_emulator)
    fresh_emulator.admin.reset()
    listing = list_inventory(fresh_emulator, tmp_path, {"include_certificates": True}, name="golden.certctrl.yml")
    assert listing.rc == 0, listing.output
    got = normalize(listing.data)
    if os.environ.get("CERTCTRL_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text()), f"rerun with CERTCTRL_UPDATE_GOLDEN=1 if the change is intended:\n{json.dumps(got, indent=2)}"
    # one page of devices, then one certificate list per device
    assert fresh_emulator.admin.counters()["by_route"] == {DEVICES_ROUTE: 1, DEVICE_CERTS_ROUTE: 5}


def test_only_template_like_values_are_marked_unsafe(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    """As community.general and community.docker do (issue 15): a value with a brace is marked, every other one is plain."""
    listing = list_inventory(emu, tmp_path, {"hostname": "public_id", "include_certificates": True})
    assert listing.rc == 0, listing.output
    raw_hostvars = listing.raw["_meta"]["hostvars"]
    braces = [vars_ for vars_ in raw_hostvars.values() if vars_["certctrl_device_id"] == world["braces_id"]]
    assert braces and braces[0]["certctrl_name"] == {"__ansible_unsafe": f"{BRACES}{world['braces_id']}"}
    braces[0].pop("certctrl_name")

    def strings(value: t.Any) -> t.Iterator[t.Any]:
        if isinstance(value, dict) and set(value) != {"__ansible_unsafe"}:
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, (str, dict)):
            yield value

    found = [s for host in raw_hostvars.values() for s in strings(host)]
    assert found and all(isinstance(s, str) for s in found), [s for s in found if not isinstance(s, str)]
    web1 = listing.hostvars["6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"]
    assert sorted(c["domain_name"] for c in web1["certctrl_certificates"]) == ["blog.example.com", "shop.example.com"]


def test_template_like_host_names_are_never_rendered(fresh_emulator: Emulator, tmp_path: Path) -> None:
    """A host name from server data stays a name when a play uses inventory_hostname, also once a clash renames it."""
    home = tmp_path / "home-should-not-appear"
    first, second = fresh_emulator.admin.create_devices(2, name_prefix="clash", platform=BRACES)
    config = {"hostname": "{{ platform }}", "name_patterns": ["clash*"]}
    listing = list_inventory(fresh_emulator, tmp_path, config)
    assert listing.hosts() == sorted([BRACES, f"{BRACES}_{min(first, second)}"]), listing.output  # the older device is renamed
    playbook = json.dumps([{"hosts": "all", "gather_facts": False, "tasks": [{"name": "name", "ansible.builtin.debug": {"msg": "{{ inventory_hostname }}"}}]}])
    run = run_playbook(playbook + "\n", ansible_env(fresh_emulator, HOME=str(home)), tmp_path=tmp_path, inventory=tmp_path / "test.certctrl.yml")
    assert run.rc == 0, run.stdout + run.stderr
    assert sorted(r["result"]["msg"] for r in run.results) == listing.hosts()
    assert str(home) not in run.stdout + run.stderr


def test_compose_groups_and_keyed_groups(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    config = {
        "include_certificates": True,
        "strict": True,
        "compose": {"ansible_host": "certctrl_name ~ '.example.net'", "cert_count": "certctrl_certificates | length"},
        "groups": {"webservers": "certctrl_name is match('web')", "uncovered": "certctrl_certificates | length == 0"},
        "keyed_groups": [
            {"key": "certctrl_certificates | map(attribute='domain_name') | list", "prefix": "cert"},
            {"key": "certctrl_status", "prefix": "state"},
        ],
    }
    listing = list_inventory(emu, tmp_path, config)
    assert listing.rc == 0, listing.output
    assert listing.hostvars["web1"]["ansible_host"] == "web1.example.net"
    assert listing.hostvars["web1"]["cert_count"] == rendered(2) and listing.hostvars["web3"]["cert_count"] == rendered(0)
    assert listing.hosts("webservers") == ["web1", "web2", "web3"]
    assert listing.hosts("uncovered") == sorted(["web3", "old-box", "lost-laptop", f"{BRACES}{world['braces_id']}"])
    assert listing.hosts("cert_shop_example_com") == ["web1", "web2"]
    assert listing.hosts("cert_blog_example_com") == ["web1"]
    assert listing.hosts("state_REVOKED") == ["old-box"]
    # the built-in groups, sanitized and lower case
    assert listing.hosts("certctrl_status_active") == sorted(["web1", "web2", "web3", f"{BRACES}{world['braces_id']}"])
    assert listing.hosts("certctrl_status_lost") == ["lost-laptop"]
    assert listing.hosts("certctrl_platform_macos") == ["lost-laptop"]
    assert len(listing.hosts("certctrl_platform_linux")) == 5


def test_filters_prefixes_and_host_names(emu: Emulator, tmp_path: Path) -> None:
    web = list_inventory(emu, tmp_path, {"status": ["ACTIVE"], "name_patterns": ["web[12]", "nothing*"], "hostname": "id"})
    assert web.rc == 0, web.output
    assert web.hosts() == ["1", "2"]
    assert web.hostvars["1"]["certctrl_name"] == "web1"

    inactive = list_inventory(emu, tmp_path, {"status": ["REVOKED", "LOST"], "hostvars_prefix": "cc_", "group_prefix": "fleet_"})
    assert inactive.hosts() == ["lost-laptop", "old-box"]
    assert inactive.hostvars["old-box"] == {
        "cc_device_id": 4,
        "cc_device_public_id": "6f1c2a3b-0004-4c5d-8e9f-a1b2c3d4e5f4",
        "cc_name": "old-box",
        "cc_status": "REVOKED",
        "cc_platform": "Linux",
    }
    assert inactive.hosts("fleet_status_revoked") == ["old-box"] and inactive.hosts("fleet_platform_macos") == ["lost-laptop"]

    templated = list_inventory(emu, tmp_path, {"hostname": "{{ name }}-{{ id }}", "name_patterns": ["web*"]})
    assert templated.hosts() == ["web1-1", "web2-2", "web3-3"]

    by_public_id = list_inventory(emu, tmp_path, {"hostname": "public_id", "name_patterns": ["web3"]})
    assert by_public_id.hosts() == ["6f1c2a3b-0003-4c5d-8e9f-a1b2c3d4e5f3"]

    clashing = list_inventory(emu, tmp_path, {"hostname": "{{ platform }}", "name_patterns": ["web*"]})
    assert clashing.hosts() == ["Linux", "Linux_1", "Linux_2"]  # devices 3, 2, 1 in API order
    assert clashing.hostvars["Linux"]["certctrl_device_id"] == 3
    assert "has the host name 'Linux' of device 3; added as 'Linux_2'" in clashing.output

    bad = list_inventory(emu, tmp_path, {"hostname": "label"})
    assert bad.hosts() == [] and "hostname must be name, public_id, id or a Jinja2 template" in bad.output


def test_cache_hit_sends_no_request(emu: Emulator, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    config = {
        "include_certificates": True,
        "cache": True,
        "cache_plugin": "ansible.builtin.jsonfile",
        "cache_connection": str(cache_dir),
        "cache_timeout": 3600,
    }

    first = list_inventory(emu, tmp_path, config)
    assert first.rc == 0, first.output
    miss = emu.admin.counters()["total"]
    assert miss == 1 + 6  # one page of devices + the certificates of each device
    (cache_file,) = list(cache_dir.iterdir())
    written = cache_file.stat().st_mtime_ns
    assert emu.token("full") not in cache_file.read_text()

    second = list_inventory(emu, tmp_path, config)
    assert emu.admin.counters()["total"] == miss  # a hit: zero requests
    assert second.data == first.data
    assert cache_file.stat().st_mtime_ns == written  # serving from the cache does not extend its lifetime

    if inventory_cli_flushes():
        flushed = list_inventory(emu, tmp_path, config, "--flush-cache")
    else:  # older ansible-inventory has no --flush-cache: flush through a playbook run, then list what it cached
        flush_playbook(emu, tmp_path / "test.certctrl.yml")
        assert emu.admin.counters()["total"] == 2 * miss
        flushed = list_inventory(emu, tmp_path, config)
        assert cache_file.stat().st_mtime_ns != written  # the flush rewrote the entry
    assert flushed.data == first.data
    assert emu.admin.counters()["total"] == 2 * miss

    # other filters: the cached entry does not answer for them
    active = list_inventory(emu, tmp_path, {**config, "status": ["ACTIVE"]})
    assert active.hosts("certctrl_status_revoked") == []
    assert emu.admin.counters()["total"] == 2 * miss + 1 + 4

    # another key: not served from the entry written for the first one
    readonly = list_inventory(emu, tmp_path, {**config, "status": ["ACTIVE"]}, env=ansible_env(emu, key="readonly"))
    assert readonly.hosts() == active.hosts()
    assert [e["key"] for e in emu.admin.requests()][-5:] == ["readonly"] * 5


def test_thousands_of_devices_are_paged(fresh_emulator: Emulator, tmp_path: Path) -> None:
    fresh_emulator.admin.create_devices(2000, name_prefix="node", platform="Linux")
    listing = list_inventory(fresh_emulator, tmp_path, {})
    assert listing.rc == 0, listing.output
    assert len(listing.hostvars) == 2005
    assert len(listing.hosts("certctrl_status_active")) == 2003
    assert fresh_emulator.admin.counters()["by_route"] == {DEVICES_ROUTE: 21}  # 20 full pages of 100, then a short one

    fresh_emulator.admin.reset()
    big_pages = list_inventory(fresh_emulator, tmp_path, {"page_size": 1000})
    assert len(big_pages.hostvars) == 2005
    # production caps a page at 100 without saying so: the pages are read to the end all the same
    assert fresh_emulator.admin.counters()["by_route"] == {DEVICES_ROUTE: 3 if fresh_emulator.profile == "contract" else 21}


def test_bad_key_or_unreachable_server_fails_clearly(emu: Emulator, tmp_path: Path) -> None:
    wrong = "ak_wrong_0123456789abcdef"
    env = ansible_env(emu, CERTCTRL_API_KEY=wrong)
    listing = list_inventory(emu, tmp_path, {"include_certificates": True}, env=env)
    assert listing.hosts() == []
    assert "listing devices: GET /apiv1/me/devices failed: HTTP 401" in listing.output and "unknown API key" in listing.output
    assert emu.admin.counters()["total"] == 1  # the first request fails, nothing else is tried

    strict_env = {**env, "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"}
    assert list_inventory(emu, tmp_path, {}, env=strict_env).rc != 0

    scope = list_inventory(emu, tmp_path, {}, env={**ansible_env(emu, key="certs_only"), "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"})
    assert scope.rc != 0 and "HTTP 403" in scope.output and "devices" in scope.output

    down = list_inventory(emu, tmp_path, {"api_url": "https://127.0.0.1:9", "retries": 0}, env=strict_env)
    assert down.rc != 0 and "connection to https://127.0.0.1:9 failed" in down.output
    for output in (listing.output, down.output):
        assert wrong not in output and emu.token("full") not in output


def test_templated_credentials(emu: Emulator, tmp_path: Path) -> None:
    env = {k: v for k, v in ansible_env(emu).items() if k not in ("CERTCTRL_API_KEY", "CERTCTRL_API_URL")}
    config = {"api_url": "{{ server }}", "api_key": "{{ lookup('ansible.builtin.env', 'MY_CERTCTRL_KEY') }}", "name_patterns": ["web1"]}
    listing = list_inventory(emu, tmp_path, config, "-e", f"server={emu.base_url}", env={**env, "MY_CERTCTRL_KEY": emu.token("readonly")})
    assert listing.rc == 0, listing.output
    assert listing.hosts() == ["web1"]
    assert [e["key"] for e in emu.admin.requests()] == ["readonly"]

    # extra vars named like the options work too (the vars entries of the options)
    by_vars = list_inventory(emu, tmp_path, {}, "-e", f"certctrl_api_url={emu.base_url} certctrl_api_key={emu.token('other')}", env=env)
    assert by_vars.hosts() == ["other-host"]  # the 'other' key belongs to user 2
    assert emu.admin.requests()[-1]["key"] == "other"


def test_certificates_not_readable_degrade_with_a_warning(emu: Emulator, tmp_path: Path) -> None:
    emu.admin.add_fault(path="^/apiv1/me/devices/1/certificates$", kind="status", status=403)
    listing = list_inventory(emu, tmp_path, {"include_certificates": True, "name_patterns": ["web*"]})
    assert listing.rc == 0, listing.output
    assert "certctrl_certificates" not in listing.hostvars["web1"]
    assert [c["domain_name"] for c in listing.hostvars["web2"]["certctrl_certificates"]] == ["shop.example.com"]
    assert "certificates of device 1 not read" in listing.output and "HTTP 403" in listing.output


def test_no_secret_at_vvvv(emu: Emulator, tmp_path: Path) -> None:
    token = emu.token("full")
    listing = list_inventory(emu, tmp_path, {"include_certificates": True}, "-vvvv")
    assert listing.rc == 0
    assert "cert-ctrl devices inventory: 6 devices, 7 requests" in listing.output
    assert token not in listing.output and token[8:] not in listing.output


def documented_examples(text: str) -> list[dict]:
    """Every inventory file of EXAMPLES, in order: the live YAML document and the files shown as comments
    (a `# name.certctrl.yml - ...` line, then the file's lines indented by `#   `)."""
    files: list[tuple[int, str]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^# \S+\.certctrl\.yml - ", line) and number + 1 < len(lines) and lines[number + 1].startswith("#   "):
            body = []
            for following in lines[number + 1 :]:
                if not following.startswith("#   "):
                    break
                body.append(following[4:])
            files.append((number, "\n".join(body)))
    live = yaml.safe_load(text)
    live_at = next(number for number, line in enumerate(lines) if line.startswith("plugin:"))
    files.append((live_at, text))
    return [yaml.safe_load(body) if body is not text else live for _at, body in sorted(files, key=lambda item: item[0])]


def test_documentation_renders_and_examples_work(emu: Emulator, tmp_path: Path) -> None:
    env = ansible_env(emu)
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "inventory", "--json", PLUGIN], env=env, capture_output=True, text=True, check=False)
    assert doc.returncode == 0, doc.stderr
    entry = json.loads(doc.stdout)[PLUGIN]
    options = entry["doc"]["options"]
    assert {"plugin", "hostname", "hostvars_prefix", "group_prefix", "status", "name_patterns", "include_certificates", "page_size"} <= set(options)
    assert {"compose", "keyed_groups", "groups", "strict", "cache", "cache_plugin", "api_url", "api_key"} <= set(options)
    text = subprocess.run([str(BIN / "ansible-doc"), "-t", "inventory", PLUGIN], env=env, capture_output=True, text=True, check=False)
    assert text.returncode == 0 and "include_certificates" in text.stdout, text.stderr

    examples = documented_examples(entry["examples"])
    assert len(examples) == 3
    listings = []
    for number, example in enumerate(examples):
        assert example["plugin"] == PLUGIN and set(example) <= set(options), example
        config = {k: v for k, v in example.items() if k != "plugin"}
        config["api_url"] = emu.base_url  # the examples name the real service
        if "cache_connection" in config:
            config["cache_connection"] = str(tmp_path / "cache")
        listing = list_inventory(emu, tmp_path, config, "-e", f"vault_certctrl_api_key={emu.token('full')}", name=f"example{number}.certctrl.yml")
        assert listing.rc == 0 and "Failed to parse" not in listing.output, listing.output
        listings.append(listing)
    every, by_id, active = listings
    assert len(every.hosts()) == 6
    assert active.hosts() == ["web1", "web2", "web3"]
    assert active.hostvars["web2"]["ansible_host"] == "web2.example.net"
    assert active.hosts("cert_shop_example_com") == ["web1", "web2"] and active.hosts("without_certificate") == ["web3"]
    assert {"web1-1", "web2-2", "web3-3"} <= set(by_id.hosts("cc_status_active"))
