# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: what the collection costs, measured against the emulator.

Counts (API requests, writes, bytes, bundle downloads, module runs) are exact and repeatable; times
are this machine in this run and only meaningful as ratios measured side by side. Nothing here
asserts a time: the numbers are printed for people to compare.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from conftest import ansible_env, run_playbook  # noqa: E402  (also links the collection for imports)
from modules_support import Api  # noqa: E402

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api  # noqa: E402
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient  # noqa: E402
from certctrl_emulator.testing import Emulator  # noqa: E402

ROWS: list[tuple[str, str]] = []


def row(label: str, value: str) -> None:
    ROWS.append((label, value))
    print(f"  {label:<58} {value}", flush=True)


def client(emu: Emulator) -> CertCtrlClient:
    return CertCtrlClient(api_url=emu.base_url, api_key=emu.token("full"), ca_path=emu.ca_file)


def bench_emulator(tmp: Path) -> None:
    print("emulator")
    starts = []
    for i in range(5):
        began = time.perf_counter()
        emu = Emulator(workdir=tmp / f"start{i}").start()
        starts.append(time.perf_counter() - began)
        emu.stop()
    row("start, in-process, TLS with fresh PKI (median of 5)", f"{statistics.median(starts) * 1000:.0f} ms")


def bench_client(emu: Emulator) -> None:
    print("client")
    c = client(emu)
    emu.admin.reset()
    began = time.perf_counter()
    for _i in range(300):
        api.get_device(c, 1)
    elapsed = time.perf_counter() - began
    row("300 GETs over one session (keep-alive)", f"{300 / elapsed:.0f} req/s, {emu.admin.counters()['total']} requests")
    emu.admin.create_devices(2000, name_prefix="bench")
    for page_size in (100, 1000):
        emu.admin.reset()
        devices = api.list_devices(c, page_size=page_size)
        row(f"list {len(devices)} devices, page size {page_size}", f"{emu.admin.counters()['total']} requests")


def bench_modules(emu: Emulator, tmp: Path) -> None:
    print("modules (account -> certificate -> issue -> assign, one playbook)")
    playbook = """
- name: Bench flow
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Account
      cjj365.certctrl.acme_account: {name: bench, provider: SELF_CA, ca_id: 1}
    - name: Certificate
      cjj365.certctrl.certificate: {domain_name: bench.example.com, acme_account: bench}
      register: cert
    - name: Issue
      cjj365.certctrl.issue: {certificate_id: "{{ cert.certificate.id }}"}
    - name: Assign
      cjj365.certctrl.assign: {certificate_id: "{{ cert.certificate.id }}", device_id: 1}
"""
    env = ansible_env(emu)
    for label in ("first run", "second run (idempotent)"):
        emu.admin.reset()
        began = time.perf_counter()
        run = run_playbook(playbook, env, tmp_path=tmp)
        elapsed = time.perf_counter() - began
        counters = emu.admin.counters()
        assert run.rc == 0, run.stdout + run.stderr
        row(f"{label}: 4 module runs", f"{counters['total']} requests, {counters['writes']} writes, changed={run.changed}, {elapsed:.1f} s")


def bench_issue_polling(tmp: Path) -> None:
    print("issue, asynchronous provider")
    with Emulator(workdir=tmp / "async", issue_delay=1.0) as emu:
        rest = Api(emu)
        account = rest.account(provider="letsencrypt")
        cert = rest.certificate(account["id"], "async.example.com")
        emu.admin.reset()
        began = time.perf_counter()
        playbook = f"""
- name: Bench issue
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Issue
      cjj365.certctrl.issue: {{certificate_id: {cert['id']}}}
"""
        run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp)
        assert run.rc == 0, run.stdout + run.stderr
        polls = emu.admin.counters()["by_route"]
        history_reads = sum(n for route, n in polls.items() if route.startswith("GET") and route.endswith("/issues"))
        row("issue with 2 x 1 s worker delay: history polls", f"{history_reads} polls in {time.perf_counter() - began:.1f} s")


def bench_bundle(emu: Emulator, tmp: Path) -> None:
    print("device_bundle (controller side)")
    rest = Api(emu)
    account = rest.account()
    cert = rest.certificate(account["id"], "bundle.example.com")
    rest.issue(cert["id"])
    rest.call("POST", "/certificate-assign", {"certificate_id": cert["id"], "device_id": 2})
    env = ansible_env(emu)
    fingerprint = ""
    for label in ("host without the certificate", "host already current"):
        emu.admin.reset()
        playbook = f"""
- name: Bench bundle
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Bundle
      cjj365.certctrl.device_bundle:
        device_id: 2
        certificate_id: {cert['id']}
        dest: {tmp / 'bundle'}
        deployed_fingerprint: "{fingerprint}"
"""
        run = run_playbook(playbook, env, tmp_path=tmp)
        assert run.rc == 0, run.stdout + run.stderr
        fingerprint = run.task("Bundle")["x509"]["sha256_fingerprint"]
        log = emu.admin.requests()
        downloaded = sum(entry["bytes"] for entry in log if entry["path"].endswith("/bundle"))
        row(f"{label}", f"{len(log)} requests, {downloaded} bundle bytes")


def bench_inventory(emu: Emulator, tmp: Path) -> None:
    print("inventory plugin (devices created by bench_client)")
    config = tmp / "bench.certctrl.yml"
    config.write_text(f"plugin: cjj365.certctrl.devices\ncache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp / 'inventory-cache'}\n")
    env = ansible_env(emu)
    for label in ("first listing", "second listing (cache hit)"):
        emu.admin.reset()
        began = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(config), "--list"], env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - began
        assert proc.returncode == 0, proc.stderr
        row(f"{label}: {proc.stdout.count(b'certctrl_device_public_id')} hosts", f"{emu.admin.counters()['total']} requests, {elapsed:.1f} s")


def main() -> None:
    print("cjj365.certctrl benchmarks: counts are exact; times are this machine, this run\n")
    with tempfile.TemporaryDirectory(prefix="certctrl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        bench_emulator(tmp)
        with Emulator(workdir=tmp / "main", issue_delay=0.2) as emu:
            bench_client(emu)
            bench_inventory(emu, tmp)
            bench_modules(emu, tmp)
            bench_bundle(emu, tmp)
        bench_issue_polling(tmp)


if __name__ == "__main__":
    main()
