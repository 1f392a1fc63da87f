# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cjj365.certctrl.api lookup through the real ansible-playbook CLI against a live emulator.

Work is counted with the emulator's counters (read between tasks with ansible.builtin.uri on the admin
API, which is not counted), never timed. The path rules are tested directly in tests/unit/plugins/module_utils/test_paths.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as CORE_VERSION

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_command, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api
from certctrl_emulator.testing import Emulator

LOOKUP = "cjj365.certctrl.api"
DEVICES_ROUTE = "GET /apiv1/me/devices"
BRACES = "{{ lookup('env','HOME') }}"
WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"
# ansible-core 2.19 templates to native types; older cores render a debug msg such as `x | length` to a string.
NATIVE_TEMPLATING = tuple(int(part) for part in CORE_VERSION.split(".")[:2]) >= (2, 19)


BIN = Path(ansible_command("ansible-playbook")).parent  # beside this Python, or on PATH

# -- helpers ----------------------------------------------------------------------------------


def show(name: str, expression: str, **task: t.Any) -> dict[str, t.Any]:
    """A debug task whose msg is one Jinja expression."""
    return {"name": name, "ansible.builtin.debug": {"msg": "{{ " + expression + " }}"}, **task}


def counters(emu: Emulator, name: str) -> dict[str, t.Any]:
    """A task that records the emulator's counters at this point of the play (admin calls are not counted)."""
    return {
        "name": name,
        "ansible.builtin.uri": {
            "url": f"{emu.http_url}/_admin/counters",
            "headers": {"Authorization": f"Bearer {emu.admin_token}"},
            "return_content": True,
        },
    }


def play(*tasks: dict[str, t.Any], play_vars: dict[str, t.Any] | None = None) -> str:
    """Playbook text (JSON is YAML) with one play on localhost."""
    return json.dumps([{"name": "lookup test", "hosts": "localhost", "gather_facts": False, "vars": play_vars or {}, "tasks": list(tasks)}], indent=1)


def routes(run: PlaybookRun, name: str) -> dict[str, int]:
    return run.task(name)["json"]["data"]["by_route"]


def delta(run: PlaybookRun, before: str, after: str) -> dict[str, int]:
    first, second = routes(run, before), routes(run, after)
    return {route: second.get(route, 0) - first.get(route, 0) for route in set(first) | set(second) if second.get(route, 0) != first.get(route, 0)}


def msg(run: PlaybookRun, name: str) -> t.Any:
    result = run.task(name)
    assert result["_status"] == "ok", f"{name}: {result}\n{run.stdout}\n{run.stderr}"
    return result["msg"]


def rendered(value: t.Any) -> t.Any:
    """What a template evaluating to the number ``value`` gives on this core."""
    return value if NATIVE_TEMPLATING else str(value)


def failure(run: PlaybookRun, name: str) -> str:
    result = run.task(name)
    assert result["_status"] == "failed", f"{name} should have failed: {result}"
    return result["msg"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    """An emulator of this module only: seed + one SELF_CA account, two certificates (one issued and
    assigned to web1 and web2) and a device whose name is a template."""
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("lookup-emulator")) as emu:
        rest = Api(emu)  # direct REST calls arrange state, not the code under test
        account = rest.call("POST", "/acme-accounts", {"name": "lookup-acct", "provider": "SELF_CA", "ca_id": 1})
        shop = rest.call(
            "POST",
            "/certificates",
            {"domain_name": "shop.example.com", "acct_id": account["id"], "action": "create", "sans": ["shop.example.com", "www.shop.example.com"]},
        )
        blog = rest.call(
            "POST", "/certificates", {"domain_name": "blog.example.com", "acct_id": account["id"], "action": "create", "sans": ["blog.example.com"]}
        )
        rest.call("POST", f"/certificates/{shop['id']}/issues", {})
        for device_id in (1, 2):
            public_id = rest.call("GET", f"/devices/{device_id}")["device_public_id"]  # production requires it
            rest.call("POST", "/certificate-assign", {"certificate_id": shop["id"], "device_public_id": public_id})
        (braces_id,) = emu.admin.create_devices(1, name_prefix=BRACES, platform="Linux")
        yield {"emu": emu, "account": account, "shop": shop, "blog": blog, "braces_id": braces_id}


@pytest.fixture
def emu(world: dict[str, t.Any]) -> Emulator:
    world["emu"].admin.reset()
    return world["emu"]


# -- through ansible-playbook ------------------------------------------------------------------


def test_every_term_form(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    shop, account = world["shop"]["id"], world["account"]["id"]
    run = run_playbook(
        play(
            show("certificates", f"query('{LOOKUP}', 'certificates')"),
            show("one certificate", f"lookup('{LOOKUP}', '/apiv1/me/certificates/{shop}')"),
            show("issues", f"query('{LOOKUP}', 'apiv1/me/certificates/{shop}/issues')"),
            show("certificate devices", f"query('{LOOKUP}', 'certificates/{shop}/devices')"),
            show("devices", f"query('{LOOKUP}', 'devices')"),
            show("one device", f"lookup('{LOOKUP}', 'devices/1')"),
            show("device certificates", f"query('{LOOKUP}', 'devices/1/certificates')"),
            show("device certificate", f"lookup('{LOOKUP}', 'devices/1/certificates/{shop}')"),
            show("by public id", f"lookup('{LOOKUP}', 'devices/by-public-id/{WEB1_PUBLIC_ID}')"),
            show("accounts", f"query('{LOOKUP}', 'acme-accounts')"),
            show("account certificates", f"query('{LOOKUP}', 'acme-accounts/{account}/certificates')"),
            show("several terms", f"query('{LOOKUP}', 'devices/1', 'devices/2', 'certificates/{shop}/devices')"),
            show("empty list", f"query('{LOOKUP}', 'devices/3/certificates')"),
            show("lookup of a list", f"lookup('{LOOKUP}', 'devices/1/certificates')"),
            show("lookup wantlist", f"lookup('{LOOKUP}', 'devices/1/certificates', wantlist=true)"),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert {c["domain_name"] for c in msg(run, "certificates")} == {"shop.example.com", "blog.example.com"}
    record = msg(run, "one certificate")
    assert record["id"] == shop
    if emu.profile == "contract":
        assert record["cert"].startswith("-----BEGIN CERTIFICATE-----")
    else:  # production: a single read carries no PEM (nor the der key) without ?detail=most
        assert "cert" not in record and "der" not in record
    assert [row["status"] for row in msg(run, "issues")] == ["SUCCESS"]
    assert sorted(d["id"] for d in msg(run, "certificate devices")) == [1, 2]
    assert [d["id"] for d in msg(run, "devices")] == [world["braces_id"], 5, 4, 3, 2, 1]  # id-descending, user 1 only
    assert msg(run, "one device")["name"] == "web1"
    assert [c["id"] for c in msg(run, "device certificates")] == [shop]
    detail = msg(run, "device certificate")
    assert detail["id"] == shop
    assert detail["cert"].startswith("-----BEGIN CERTIFICATE-----") if emu.profile == "contract" else "cert" not in detail
    assert msg(run, "by public id")["id"] == 1
    assert [a["name"] for a in msg(run, "accounts")] == ["lookup-acct"]
    assert len(msg(run, "account certificates")) == 2
    # flat list, term after term: two objects, then the items of the list term
    assert [d["name"] for d in msg(run, "several terms")] == ["web1", "web2", "web2", "web1"]
    assert msg(run, "empty list") == []
    # plain lookup() unwraps a one-item list (documented); wantlist keeps it
    assert msg(run, "lookup of a list")["id"] == shop
    assert [c["id"] for c in msg(run, "lookup wantlist")] == [shop]


def test_filters(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    run = run_playbook(
        play(
            show("active", f"query('{LOOKUP}', 'devices', status='ACTIVE') | map(attribute='name') | list"),
            show("two statuses", f"query('{LOOKUP}', 'devices', status=['REVOKED', 'LOST']) | map(attribute='name') | list"),
            show("two filters", f"query('{LOOKUP}', 'devices', status='ACTIVE', name='web2') | map(attribute='id') | list"),
            show("platform", f"query('{LOOKUP}', 'devices', platform='macOS') | map(attribute='name') | list"),
            show("id as text", f"query('{LOOKUP}', 'devices', id='3') | map(attribute='name') | list"),
            show("domain", f"query('{LOOKUP}', 'certificates', domain_name='blog.example.com') | map(attribute='id') | list"),
            show("san", f"query('{LOOKUP}', 'certificates', sans='www.shop.example.com') | map(attribute='id') | list"),
            show("no pattern", f"query('{LOOKUP}', 'devices', name='web*')"),
            show("limit", f"query('{LOOKUP}', 'devices', status='ACTIVE', limit=2) | map(attribute='name') | list"),
            show("typo", f"query('{LOOKUP}', 'devices', stauts='ACTIVE')"),
            show("object filter", f"lookup('{LOOKUP}', 'devices/1', status='ACTIVE')", ignore_errors=True),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
    )
    braces_name = f"{BRACES}{world['braces_id']}"
    assert msg(run, "active") == [braces_name, "web3", "web2", "web1"]
    assert msg(run, "two statuses") == ["lost-laptop", "old-box"]
    assert msg(run, "two filters") == [2]
    assert msg(run, "platform") == ["lost-laptop"]
    assert msg(run, "id as text") == ["web3"]
    assert msg(run, "domain") == [world["blog"]["id"]]
    assert msg(run, "san") == [world["shop"]["id"]]
    assert msg(run, "no pattern") == []
    assert msg(run, "limit") == [braces_name, "web3"]
    assert msg(run, "typo") == []
    assert "no item has the field(s) stauts" in run.stdout + run.stderr
    assert "filters (status) apply to lists only" in failure(run, "object filter")


def test_reads_every_page(fresh_emulator: Emulator, tmp_path: Path) -> None:
    emu = fresh_emulator
    emu.admin.create_devices(250, name_prefix="bulk", platform="BulkOS")  # 255 devices with the seed
    run = run_playbook(
        play(
            counters(emu, "c0"),
            show("all", f"query('{LOOKUP}', 'devices') | length"),
            counters(emu, "c1"),
            show("big pages", f"query('{LOOKUP}', 'devices', page_size=1000) | length"),
            counters(emu, "c2"),
            show("limited", f"query('{LOOKUP}', 'devices', limit=120) | map(attribute='id') | list"),
            counters(emu, "c3"),
            show("filtered", f"query('{LOOKUP}', 'devices', platform='Linux', page_size=50) | map(attribute='name') | list"),
            counters(emu, "c4"),
            show("filtered and limited", f"query('{LOOKUP}', 'devices', platform='BulkOS', limit=3) | map(attribute='id') | list"),
            counters(emu, "c5"),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert msg(run, "all") == rendered(255)
    assert delta(run, "c0", "c1") == {DEVICES_ROUTE: 3}  # 100 + 100 + 55
    assert msg(run, "big pages") == rendered(255)
    # production caps a page at 100 without saying so: read to the end all the same
    assert delta(run, "c1", "c2") == {DEVICES_ROUTE: 1 if emu.profile == "contract" else 3}
    limited = msg(run, "limited")
    assert len(limited) == 120 and limited == sorted(limited, reverse=True) and len(set(limited)) == 120
    assert delta(run, "c2", "c3") == {DEVICES_ROUTE: 2}  # 100 + the 20 still wanted
    assert msg(run, "filtered") == ["old-box", "web3", "web2", "web1"]
    assert delta(run, "c3", "c4") == {DEVICES_ROUTE: 6}  # 255 items at 50 per page, filtered locally
    assert msg(run, "filtered and limited") == [256, 255, 254]
    assert delta(run, "c4", "c5") == {DEVICES_ROUTE: 1}  # stops as soon as the limit is reached


def test_on_missing_and_on_denied(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    certs_only = {"api_key": world["emu"].token("certs_only")}
    run = run_playbook(
        play(
            show("missing error", f"lookup('{LOOKUP}', 'certificates/99999')", ignore_errors=True),
            show("missing warn", f"query('{LOOKUP}', 'devices/1', 'certificates/99998', on_missing='warn')"),
            show("missing skip", f"query('{LOOKUP}', 'devices/99997/certificates', 'devices/2', on_missing='skip')"),
            show("denied error", f"query('{LOOKUP}', 'devices/1', api_key=certs_only_key)", ignore_errors=True),
            show("denied warn", f"query('{LOOKUP}', 'devices/2', 'certificates', api_key=certs_only_key, on_denied='warn') | length"),
            show("denied skip", f"query('{LOOKUP}', 'devices/3', api_key=certs_only_key, on_denied='skip')"),
            show("denied is not missing", f"query('{LOOKUP}', 'devices/3', api_key=certs_only_key, on_missing='skip')", ignore_errors=True),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
        extra_vars={"certs_only_key": certs_only["api_key"]},
    )
    output = run.stdout + run.stderr
    error = failure(run, "missing error")
    assert "certificates/99999" in error and "HTTP 404" in error and "check the id" in error
    assert [d["name"] for d in msg(run, "missing warn")] == ["web1"]
    assert "certificates/99998 skipped (on_missing=warn)" in output
    assert [d["name"] for d in msg(run, "missing skip")] == ["web2"]
    assert "99997" not in output  # skip is silent
    assert "HTTP 403" in failure(run, "denied error") and "devices:1[read]" in failure(run, "denied error")
    assert msg(run, "denied warn") == rendered(2)  # the certificates of the list term still arrive
    assert "devices/2 skipped (on_denied=warn)" in output
    assert msg(run, "denied skip") == []
    assert "HTTP 403" in failure(run, "denied is not missing")
    assert certs_only["api_key"] not in output


def test_option_precedence(emu: Emulator, tmp_path: Path) -> None:
    """kwargs > certctrl_* variables > CERTCTRL_* environment > [certctrl] in ansible.cfg; never the key from ansible.cfg."""
    bogus = "https://127.0.0.1:9"  # nothing listens there: a wrong URL fails at once (retries 0)
    base_env = {k: v for k, v in ansible_env(emu).items() if k not in ("CERTCTRL_API_URL", "CERTCTRL_CA_PATH")}

    def config(**section: str) -> str:
        path = tmp_path / f"ansible-{len(list(tmp_path.glob('ansible-*.cfg')))}.cfg"
        path.write_text("[certctrl]\n" + "".join(f"{k} = {v}\n" for k, v in section.items()))
        return str(path)

    tasks = (
        show("plain", f"lookup('{LOOKUP}', 'devices/1').name"),
        show("var beats env", f"lookup('{LOOKUP}', 'devices/1').name", vars={"certctrl_api_url": bogus}, ignore_errors=True),
        show("kwarg beats var", f"lookup('{LOOKUP}', 'devices/1', api_url=good_url).name", vars={"certctrl_api_url": bogus}),
        show("key var beats env", f"lookup('{LOOKUP}', 'devices/2').name", vars={"certctrl_api_key": emu.token("readonly")}),
        show("key kwarg beats var", f"lookup('{LOOKUP}', 'devices/6', api_key=other_key).name", vars={"certctrl_api_key": emu.token("readonly")}),
    )
    extra = {"good_url": emu.base_url, "other_key": emu.token("other")}

    # 1. Only ansible.cfg names the server: it is used.
    ini_only = config(api_url=emu.base_url, ca_path=emu.ca_file, retries="0")
    run = run_playbook(play(tasks[0]), {**base_env, "ANSIBLE_CONFIG": ini_only}, tmp_path=tmp_path)
    assert msg(run, "plain") == "web1"

    # 2. ansible.cfg is wrong, the environment right: the environment wins; then vars and kwargs on top.
    emu.admin.reset()
    ini_wrong = config(api_url=bogus, ca_path=emu.ca_file, retries="0")
    env = {**base_env, "ANSIBLE_CONFIG": ini_wrong, "CERTCTRL_API_URL": emu.base_url}
    run = run_playbook(play(*tasks), env, tmp_path=tmp_path, extra_vars=extra)
    assert msg(run, "plain") == "web1"
    assert "127.0.0.1:9" in failure(run, "var beats env")
    assert msg(run, "kwarg beats var") == "web1"
    assert msg(run, "key var beats env") == "web2"
    assert msg(run, "key kwarg beats var") == "other-host"  # device 6 belongs to the user of the 'other' key
    keys = [(entry["path"], entry["key"]) for entry in emu.admin.requests()]
    assert keys == [
        ("/apiv1/me/devices/1", "full"),
        ("/apiv1/me/devices/1", "full"),
        ("/apiv1/me/devices/2", "readonly"),
        ("/apiv1/me/devices/6", "other"),
    ]

    # 3. The key is never read from ansible.cfg.
    emu.admin.reset()
    key_in_ini = config(api_url=emu.base_url, ca_path=emu.ca_file, api_key=emu.token("full"))
    env = {k: v for k, v in base_env.items() if k != "CERTCTRL_API_KEY"}
    run = run_playbook(play(tasks[0]), {**env, "ANSIBLE_CONFIG": key_in_ini}, tmp_path=tmp_path)
    assert run.rc != 0
    assert "api_key" in failure(run, "plain")
    assert emu.admin.counters()["total"] == 0
    assert emu.token("full") not in run.stdout + run.stderr


def test_refuses_anything_but_get(emu: Emulator, tmp_path: Path) -> None:
    refused = {
        "method kwarg": f"query('{LOOKUP}', 'devices', method='POST')",
        "method in term": f"query('{LOOKUP}', 'devices method=POST')",
        "assign": f"query('{LOOKUP}', 'certificate-assign')",
        "bundle": f"query('{LOOKUP}', 'devices/1/certificates/1/bundle')",
        "query string": f"query('{LOOKUP}', 'certificates?status=x')",
        "traversal": f"query('{LOOKUP}', 'devices/../../_admin/counters')",
        "outside me": f"query('{LOOKUP}', '/_admin/counters')",
        "second term bad": f"query('{LOOKUP}', 'devices/1', 'devices/1/certificates/1/bundle')",
    }
    run = run_playbook(
        play(
            counters(emu, "before"),
            *(show(name, expr, ignore_errors=True) for name, expr in refused.items()),
            show("method GET is fine", f"lookup('{LOOKUP}', 'devices/1', method='get').name"),
            counters(emu, "after"),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
    )
    assert "only reads" in failure(run, "method kwarg")
    assert "only reads" in failure(run, "method in term")
    assert "accepts POST only" in failure(run, "assign")
    assert "private key" in failure(run, "bundle")
    assert "query strings" in failure(run, "query string")
    assert "'..'" in failure(run, "traversal")
    assert "not a readable" in failure(run, "outside me")
    assert "private key" in failure(run, "second term bad")
    assert msg(run, "method GET is fine") == "web1"
    # nothing was sent for any refused call (terms are checked before the first request)
    assert delta(run, "before", "after") == {"GET /apiv1/me/devices/:id": 1}
    assert run.task("after")["json"]["data"]["writes"] == 0


def test_server_values_are_never_templated(emu: Emulator, world: dict[str, t.Any], tmp_path: Path) -> None:
    braces_name = f"{BRACES}{world['braces_id']}"
    run = run_playbook(
        play(
            show("direct", f"lookup('{LOOKUP}', 'devices/{world['braces_id']}').name"),
            {"name": "keep", "ansible.builtin.set_fact": {"device": "{{ lookup('" + LOOKUP + "', 'devices/" + str(world["braces_id"]) + "') }}"}},
            {"name": "reuse", "ansible.builtin.debug": {"msg": "name is {{ device.name }}"}},
            {
                "name": "as list",
                "ansible.builtin.set_fact": {"names": "{{ query('" + LOOKUP + "', 'devices', status='ACTIVE') | map(attribute='name') | list }}"},
            },
            {"name": "reuse list", "ansible.builtin.debug": {"msg": "{{ names | first }}"}},
        ),
        ansible_env(emu, HOME=str(tmp_path / "home-should-not-appear")),
        tmp_path=tmp_path,
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert msg(run, "direct") == braces_name
    assert msg(run, "reuse") == f"name is {braces_name}"
    assert msg(run, "reuse list") == braces_name
    assert "home-should-not-appear" not in run.stdout + run.stderr


def test_no_secret_at_vvvv(emu: Emulator, tmp_path: Path) -> None:
    token = emu.token("full")
    run = run_playbook(
        play(
            show("ok", f"query('{LOOKUP}', 'devices/1', 'certificates')"),
            show("missing", f"lookup('{LOOKUP}', 'certificates/99999')", ignore_errors=True),
            show("bad url", f"lookup('{LOOKUP}', 'devices', api_url='https://127.0.0.1:9', retries=0)", ignore_errors=True),
        ),
        ansible_env(emu),
        tmp_path=tmp_path,
        verbosity=4,
    )
    assert run.rc == 0, run.stdout + run.stderr
    output = run.stdout + run.stderr
    assert "cert-ctrl api lookup: 2 path(s)" in output  # -vvv shows the work done...
    assert token not in output and token[8:] not in output  # ...never the key
    assert token not in json.dumps(run.results)


def test_one_connection_pool_per_call(emu: Emulator, tmp_path: Path) -> None:
    """Every term of one call shares one requests.Session (counted by a spy on requests, in every process)."""
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    sessions = tmp_path / "sessions.log"
    (spy_dir / "sitecustomize.py").write_text(
        "import os\n"
        "try:\n"
        "    import requests\n"
        "except ImportError:\n"
        "    requests = None\n"
        "if requests is not None and os.environ.get('SESSION_LOG'):\n"
        "    _init = requests.Session.__init__\n"
        "    def _spy(self, *args, **kwargs):\n"
        "        with open(os.environ['SESSION_LOG'], 'a') as log:\n"
        "            log.write('session\\n')\n"
        "        _init(self, *args, **kwargs)\n"
        "    requests.Session.__init__ = _spy\n"
    )
    env = ansible_env(emu, PYTHONPATH=os.pathsep.join(filter(None, [str(spy_dir), os.environ.get("PYTHONPATH")])), SESSION_LOG=str(sessions))
    run = run_playbook(
        play(
            show("three terms", f"query('{LOOKUP}', 'devices/1', 'devices/2', 'devices/3') | length"),
            show("two terms", f"query('{LOOKUP}', 'devices', 'certificates') | length"),
        ),
        env,
        tmp_path=tmp_path,
    )
    assert msg(run, "three terms") == rendered(3)
    assert emu.admin.counters()["total"] == 5
    assert sessions.read_text().count("session") == 2


def test_documentation_renders_and_examples_are_valid(emu: Emulator, tmp_path: Path) -> None:
    env = ansible_env(emu)
    doc = subprocess.run([str(BIN / "ansible-doc"), "-t", "lookup", "--json", LOOKUP], env=env, capture_output=True, text=True, check=False)
    assert doc.returncode == 0, doc.stderr
    entry = json.loads(doc.stdout)[LOOKUP]
    options = entry["doc"]["options"]
    assert {"_terms", "api_url", "api_key", "on_missing", "on_denied", "limit", "page_size", "method"} <= set(options)
    assert options["api_key"].get("ini") is None and options["api_url"]["ini"] == [{"section": "certctrl", "key": "api_url"}]
    text = subprocess.run([str(BIN / "ansible-doc"), "-t", "lookup", LOOKUP], env=env, capture_output=True, text=True, check=False)
    assert text.returncode == 0 and "on_missing" in text.stdout, text.stderr

    tasks = yaml.safe_load(entry["examples"])
    assert all(task.get("name") and any(key.startswith("ansible.builtin.") for key in task) for task in tasks)
    assert all(LOOKUP in json.dumps(task) for task in tasks)
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"name": "examples", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    check = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
