# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drills: parallel creates of one natural key (issue 14 item 3), on both emulator profiles.

The server has no uniqueness check for certificates and answers 409 to a second account of one name, and the
common trigger is ours: one task over many hosts in parallel forks. Every create is slowed down by an injected
``slow`` fault, so all runs read "absent" before any create lands: without the per-key lock each run creates
(N certificates, N-1 failed account creates, N changed assigns); with it, exactly one record and one change.
Counted through the API and the emulator's counters, never timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._lock import natural_key_lock
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api, unique
from certctrl_emulator.testing import Emulator

N = 4  # parallel runs: forks over N localhost aliases, or N ansible-playbook processes
SLOW = 1.0  # seconds every create waits on the server: the window in which unserialized runs collide
CREATES = ("^/apiv1/me/acme-accounts$", "^/apiv1/me/certificates$", "^/apiv1/me/certificate-assign$")

FLOW = """
- name: One natural key from every host at once
  hosts: "{{ target | default('drill') }}"
  gather_facts: false
  tasks:
    - name: Account
      cjj365.certctrl.acme_account: {name: "{{ account }}", provider: SELF_CA, ca_id: 1}
      register: account_result

    - name: Certificate
      cjj365.certctrl.certificate: {domain_name: "{{ domain }}", acme_account: "{{ account }}"}
      register: certificate_result

    - name: Assign
      cjj365.certctrl.assign: {certificate_id: "{{ certificate_result.certificate.id }}", device_id: 1}
"""


@pytest.fixture(scope="module", params=["production", "contract"])
def emu(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(tls=True, issue_delay=0.2, profile=request.param, workdir=tmp_path_factory.mktemp(f"drill-{request.param}")) as emulator:
        yield emulator


@pytest.fixture
def slow_creates(emu: Emulator) -> t.Iterator[None]:
    emu.admin.clear_faults()
    for path in CREATES:
        emu.admin.add_fault(path=path, method="POST", kind="slow", delay=SLOW)
    emu.admin.reset()
    yield
    emu.admin.clear_faults()


def aliases(tmp_path: Path, count: int = N) -> Path:
    inventory = tmp_path / "aliases.ini"
    hosts = "\n".join(f"drill{i} ansible_connection=local ansible_python_interpreter={sys.executable}" for i in range(1, count + 1))
    inventory.write_text(f"[drill]\n{hosts}\n")
    return inventory


def changed_hosts(run: PlaybookRun, task: str) -> list[str]:
    rows = [r for r in run.results if r["task"] == task]
    assert len(rows) == N and all(r["status"] == "ok" for r in rows), json.dumps(rows, indent=1)[:3000]
    return sorted(r["host"] for r in rows if r["result"].get("changed"))


def posts(emu: Emulator, route: str) -> int:
    return emu.admin.counters()["by_route"].get(f"POST /apiv1/me/{route}", 0)


def accounts_named(api: Api, name: str) -> list[dict]:
    return [a for a in api.call("GET", "/acme-accounts", params={"limit": 100}) if a["name"] == name]


def test_parallel_forks_create_one_record_and_report_one_change(emu: Emulator, slow_creates: None, tmp_path: Path) -> None:
    api = Api(emu)
    names = {"account": unique(f"forks-{emu.profile}"), "domain": f"{unique('forks')}.example.com"}

    run = run_playbook(FLOW, ansible_env(emu), tmp_path=tmp_path, inventory=aliases(tmp_path), extra_vars=names, extra_args=["-f", str(N)])

    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for task in ("Account", "Certificate", "Assign"):
        assert len(changed_hosts(run, task)) == 1, task
    (account,) = accounts_named(api, names["account"])
    (certificate,) = api.certificates(account["id"], names["domain"])
    assert {run.task("Certificate", f"drill{i}")["certificate"]["id"] for i in range(1, N + 1)} == {certificate["id"]}
    assert api.device_certificate_ids(1).count(certificate["id"]) == 1
    # one create of each kind reached the server: the other runs waited for the lock and found the record
    assert (posts(emu, "acme-accounts"), posts(emu, "certificates"), posts(emu, "certificate-assign")) == (1, 1, 1)


def test_parallel_processes_create_one_record(emu: Emulator, slow_creates: None, tmp_path: Path) -> None:
    """N ansible-playbook processes started together (N operators, or N CI jobs), one host each."""
    api = Api(emu)
    names = {"account": unique(f"procs-{emu.profile}"), "domain": f"{unique('procs')}.example.com", "target": "localhost"}
    playbook = tmp_path / "flow.yml"
    playbook.write_text(FLOW)
    env = ansible_env(emu)
    procs = []
    for index in range(N):
        results = tmp_path / f"proc-{index}.json"
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local", "-e", json.dumps(names)]
        procs.append(
            (results, subprocess.Popen(cmd, env={**env, "CERTCTRL_TEST_RESULTS": str(results)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        )
    outputs = [(results, proc.communicate(timeout=600)[0], proc.returncode) for results, proc in procs]

    assert all(rc == 0 for _results, _out, rc in outputs), "\n".join(out[-2000:] for _results, out, _rc in outputs)
    rows = [row for results, _out, _rc in outputs for row in json.loads(results.read_text())]
    for task in ("Account", "Certificate", "Assign"):
        assert sum(1 for r in rows if r["task"] == task and r["result"].get("changed")) == 1, task
    (account,) = accounts_named(api, names["account"])
    (certificate,) = api.certificates(account["id"], names["domain"])
    assert {r["result"]["certificate"]["id"] for r in rows if r["task"] == "Certificate"} == {certificate["id"]}
    assert (posts(emu, "acme-accounts"), posts(emu, "certificates"), posts(emu, "certificate-assign")) == (1, 1, 1)


def test_existing_duplicates_converge_on_the_lowest_id(emu: Emulator, tmp_path: Path) -> None:
    """Duplicates made elsewhere (another controller, by hand): every run chooses the same record and creates none."""
    api = Api(emu)
    account = api.account(unique(f"dups-{emu.profile}"))
    domain = f"{unique('dups')}.example.com"
    ids = sorted(api.certificate(account["id"], domain)["id"] for _attempt in range(3))
    emu.admin.reset()
    playbook = """
- name: Duplicates exist already
  hosts: drill
  gather_facts: false
  tasks:
    - name: Certificate
      cjj365.certctrl.certificate: {domain_name: "{{ domain }}", acct_id: "{{ acct_id }}"}

    - name: Assign by natural key
      cjj365.certctrl.assign: {domain_name: "{{ domain }}", acct_id: "{{ acct_id }}", device_id: 2}
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=aliases(tmp_path), extra_vars={"domain": domain, "acct_id": account["id"]})

    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert changed_hosts(run, "Certificate") == []
    assert {run.task("Certificate", f"drill{i}")["certificate"]["id"] for i in range(1, N + 1)} == {ids[0]}
    warning = " ".join(run.task("Certificate", "drill1")["warnings"])
    assert f"(ids {', '.join(map(str, ids))})" in warning and f"using the oldest, {ids[0]}" in warning
    assert len(changed_hosts(run, "Assign by natural key")) == 1
    assert ids[0] in api.device_certificate_ids(2) and not set(ids[1:]) & set(api.device_certificate_ids(2))
    assert posts(emu, "certificates") == 0


def test_concurrent_account_create_elsewhere_is_adopted_not_a_409(emu: Emulator, tmp_path: Path) -> None:
    """A create racing a run on another machine (no shared lock): the server's 409 means "exists", so it is adopted."""
    api = Api(emu)
    name = unique(f"elsewhere-{emu.profile}")
    emu.admin.clear_faults()
    # The module's read says "absent"; while its POST is held back, "another machine" creates the account.
    emu.admin.add_fault(path="^/apiv1/me/acme-accounts$", method="POST", kind="slow", delay=3 * SLOW, count=1)
    playbook = tmp_path / "account.yml"
    playbook.write_text(FLOW.split("    - name: Certificate", maxsplit=1)[0])
    env = {**ansible_env(emu), "CERTCTRL_TEST_RESULTS": str(tmp_path / "account.json")}
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(playbook),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        json.dumps({"account": name, "target": "localhost"}),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_post(emu, "acme-accounts")
        api.account(name)  # lands first: the module's POST then answers 409
        output = proc.communicate(timeout=600)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        emu.admin.clear_faults()
    assert proc.returncode == 0, output[-3000:]
    (result,) = json.loads((tmp_path / "account.json").read_text())
    assert result["status"] == "ok" and result["result"]["changed"] is False
    assert any("answered HTTP 409" in w and "adopted" in w for w in result["result"]["warnings"])
    assert len(accounts_named(api, name)) == 1


def test_lock_wait_is_bounded_with_a_clear_message(emu: Emulator, tmp_path: Path) -> None:
    api = Api(emu)
    account = api.account(unique(f"held-{emu.profile}"))
    domain = f"{unique('held')}.example.com"
    emu.admin.reset()
    playbook = """
- name: The lock is held by another run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Certificate
      cjj365.certctrl.certificate: {domain_name: "{{ domain }}", acct_id: "{{ acct_id }}"}
      ignore_errors: true
"""
    with natural_key_lock(emu.base_url, "certificate", (account["id"], domain), what="the test") as path:
        run = run_playbook(playbook, ansible_env(emu, CERTCTRL_LOCK_TIMEOUT="1"), tmp_path=tmp_path, extra_vars={"domain": domain, "acct_id": account["id"]})
    result = run.task("Certificate")
    assert result["_status"] == "failed"
    assert result["msg"].startswith(f"gave up waiting for the certificate for {domain!r} in ACME account {account['id']} after 1 s")
    assert f"(process {os.getpid()}) holds the lock file {path}" in result["msg"] and "CERTCTRL_LOCK_TIMEOUT" in result["msg"]
    assert "Traceback" not in run.stdout + run.stderr
    assert posts(emu, "certificates") == 0 and api.certificates(account["id"], domain) == []
    lock_dir = Path(path).parent
    assert lock_dir.stat().st_mode & 0o777 == 0o700 and lock_dir.stat().st_uid == os.getuid()


def _wait_for_post(emu: Emulator, route: str, timeout: float = 60) -> None:
    """Until the emulator has taken the POST (the slow fault of count 1 is used up while the POST is held back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not emu.admin.call("GET", "/_admin/faults")["faults"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"POST {route} never arrived")
