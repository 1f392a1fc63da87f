# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: what the collection costs, measured against the emulator, printed and written to docs/benchmarks.md.

Counts (API requests, bytes, bundle downloads, module executions, polls) are exact and repeatable; times are this
machine in this run and only meaningful as ratios measured side by side.

  BENCH_HOSTS=200   hosts of the fleet runs (default 50)
  BENCH_QUICK=1     skip the 60 s issuance wait
  BENCH_FORKS=20    ansible forks of the fleet runs (default: Ansible's own, 5)

The helpers live in tools/bench/:
  fleet.py           the fleet, and one measured ansible-playbook run over it
  fleet_report.py    its tables, targets and explanations
  plain.yml          the playbook a user would write without the collection
  polling.py         the issue module's wait, measured and modelled
  polling_report.py  its tables, targets and the trade-off between them
  listing.py         the api lookup and the devices inventory on a large account
  report.py          tables, targets, the machine, docs/benchmarks.md
  callback_plugins/bench_tasks.py  module executions per host, wall time per task
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tools" / "bench"))

import fleet as fleet_mod  # noqa: E402
import fleet_report  # noqa: E402
import listing  # noqa: E402
import polling  # noqa: E402
import polling_report  # noqa: E402
from conftest import ansible_env, run_playbook  # noqa: E402  (also links the collection for imports)
from modules_support import Api  # noqa: E402
from report import Table, Target, machine, print_table, print_targets, seconds, write_markdown  # noqa: E402

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api  # noqa: E402
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient  # noqa: E402
from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import PollSchedule  # noqa: E402
from certctrl_emulator.testing import Emulator  # noqa: E402

DOC = REPO / "docs" / "benchmarks.md"
BLOCKS = Table("Building blocks", ["Figure", "Value"])


def row(label: str, value: str) -> None:
    BLOCKS.add(label, value)
    print(f"  {label:<58} {value}", flush=True)


def client(emu: Emulator) -> CertCtrlClient:
    return CertCtrlClient(api_url=emu.base_url, api_key=emu.token("full"), ca_path=emu.ca_file)


# -- building blocks -------------------------------------------------------------------------------------------------


def bench_emulator(tmp: Path) -> None:
    print("emulator")
    starts = []
    for i in range(5):
        began = time.perf_counter()
        emu = Emulator(workdir=tmp / f"start{i}").start()
        starts.append(time.perf_counter() - began)
        emu.stop()
    row("emulator start, in-process, TLS with fresh PKI (median of 5)", f"{statistics.median(starts) * 1000:.0f} ms")


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
        row(f"modules, {label}: 4 module runs", f"{counters['total']} requests, {counters['writes']} writes, changed={run.changed}, {elapsed:.1f} s")


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
        row("issue with 2 x 1 s worker delay: history reads", f"{history_reads} in {time.perf_counter() - began:.1f} s")


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
        row(f"device_bundle, {label}", f"{len(log)} requests, {downloaded} bundle bytes")


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
        row(f"inventory, {label}: {proc.stdout.count(b'certctrl_device_public_id')} hosts", f"{emu.admin.counters()['total']} requests, {elapsed:.1f} s")


# -- the fleet: the role against the straightforward playbook -----------------------------------------------------


def bench_fleet(tmp: Path, hosts: int, startup: float) -> tuple[list[Table], list[Target]]:
    forks = os.environ.get("BENCH_FORKS")
    print(f"\nfleet of {hosts} hosts (local connection, one root each), 2 certificates per host (its own + one shared)")
    runs: dict[str, fleet_mod.Run] = {}
    reloads: dict[str, int] = {}
    loads: dict[str, float] = {}  # the machine's load when each run started: other work on it skews wall times
    with Emulator(workdir=tmp / "fleet-emulator") as emu:
        fleet = fleet_mod.make_fleet(emu, hosts, tmp / "fleet")
        env = ansible_env(emu, **({"ANSIBLE_FORKS": forks} if forks else {}))
        playbooks = {"role": "cjj365.certctrl.deploy", "plain": str(REPO / "tools" / "bench" / "plain.yml")}
        for name, playbook in playbooks.items():
            for host_root in (tmp / "fleet" / "hosts").iterdir():  # every host starts empty
                shutil.rmtree(host_root / "certs", ignore_errors=True)
                (host_root / "reloaded").unlink(missing_ok=True)
            for phase in ("first", "rerun"):
                began = time.time()
                loads[f"{name} {phase}"] = os.getloadavg()[0]
                run = fleet_mod.run_playbook(emu, playbook, fleet.inventory, env, tmp, f"{name} {phase}")
                if run.rc != 0:
                    raise SystemExit(f"{name} {phase} failed:\n{run.output}")
                runs[f"{name} {phase}"] = run
                reloads[f"{name} {phase}"] = sum(1 for mark in (tmp / "fleet" / "hosts").glob("*/reloaded") if mark.stat().st_mtime >= began)
                print(f"  {name:<5} {phase:<5} {seconds(run.seconds):>8}, {run.requests} requests, {run.bundle_downloads} bundle downloads", flush=True)
    return fleet_report.report(runs, reloads, loads, fleet, forks, startup)


# -- the issue module's wait -------------------------------------------------------------------------------------


def bench_issue_wait(tmp: Path, quick: bool) -> tuple[list[Table], list[Target], str]:
    print("\nissue module waiting for an asynchronous issuance")
    waits = (5.0,) if quick else (5.0, 60.0)
    measured: list[polling.MeasuredWait] = []
    with Emulator(workdir=tmp / "wait-emulator") as emu:
        env = ansible_env(emu)
        for wait in waits:
            for interval_max in (None, 2.0):
                label = f"{wait:.0f} s, {'defaults' if interval_max is None else f'poll_interval_max={interval_max:g}'}"
                result = polling.measure(emu, env, tmp, fleet_mod.run_playbook, wait=wait, poll_interval_max=interval_max, label=label)
                measured.append(result)
                print(f"  {label:<32} {result.polls} polls, finished -> result {seconds(result.lag)}", flush=True)
    return polling_report.report(measured, PollSchedule())


# -- large accounts: lookup and inventory ----------------------------------------------------------------------------


def bench_listings(tmp: Path) -> tuple[list[Table], list[Target]]:
    print("\nlookup over 1,000 certificates, inventory over 5,000 devices")
    results: list[listing.Listing] = []
    with Emulator(workdir=tmp / "listing-emulator") as emu:
        account = emu.api().call("POST", "/acme-accounts", {"name": "bench-listing", "provider": "SELF_CA", "ca_id": 1})
        emu.admin.create_certificates(1000, account["id"], name_prefix="c", domain="lookup.example.test")
        seeded = len(api.list_devices(client(emu)))
        emu.admin.create_devices(5000 - seeded, name_prefix="inv")
        env = ansible_env(emu)
        for page_size in (100, 1000):
            results.append(listing.lookup_certificates(emu, env, tmp, page_size=page_size))
        results.append(listing.inventory_devices(emu, env, tmp, label="inventory, page size 100", page_size=100))
        results.append(listing.inventory_devices(emu, env, tmp, label="inventory, page size 1000", page_size=1000))
        cache = tmp / "inventory-cache-5000"
        results.append(listing.inventory_devices(emu, env, tmp, label="inventory, cache on: first listing", cache_dir=cache))
        results.append(listing.inventory_devices(emu, env, tmp, label="inventory, cache on: second listing (cache hit)", cache_dir=cache))
    for r in results:
        print(f"  {r.label:<48} {r.items} items, {r.requests} requests, {seconds(r.seconds)}", flush=True)
    return listing.report(results)


def module_startup() -> float:
    """Seconds for a Python process to import ansible.module_utils.basic: the floor of every module execution."""
    times = []
    for _i in range(3):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ansible.module_utils.basic"], check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    hosts = int(os.environ.get("BENCH_HOSTS", "50"))
    quick = os.environ.get("BENCH_QUICK") == "1"
    print("cjj365.certctrl benchmarks: counts are exact; times are this machine, this run\n")
    startup = module_startup()
    with tempfile.TemporaryDirectory(prefix="certctrl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        bench_emulator(tmp)
        with Emulator(workdir=tmp / "main", issue_delay=0.2) as emu:
            bench_client(emu)
            bench_inventory(emu, tmp)
            bench_modules(emu, tmp)
            bench_bundle(emu, tmp)
        bench_issue_polling(tmp)
        fleet_tables, fleet_targets = bench_fleet(tmp, hosts, startup)
        wait_tables, wait_targets, polling_text = bench_issue_wait(tmp, quick)
        listing_tables, listing_targets = bench_listings(tmp)
    tables = [BLOCKS, *fleet_tables, *wait_tables, *listing_tables]
    targets = [*fleet_targets, *wait_targets, *listing_targets]
    for table in tables:
        print_table(table)
    print_targets(targets)
    facts = machine()
    facts["Module start-up"] = f"{seconds(startup)} (a Python process importing ansible.module_utils.basic: the floor of every module execution)"
    sections = [("The issue module's polling", polling_text), ("Running it", RUNNING)]
    write_markdown(DOC, intro=INTRO, facts=facts, tables=tables, targets=targets, sections=sections)
    print(f"\nwritten to {DOC.relative_to(REPO)}")


INTRO = """
What the collection costs, measured by `make bench` (tools/bench.py) against the bundled emulator on the machine below.
Counts (requests, bytes, downloads, module executions, polls) are exact and repeatable. Times are this machine in this
run: compare them side by side, not across machines.
"""

RUNNING = """
`make bench` (or `.venv/bin/python tools/bench.py`) prints these tables and rewrites this page. `BENCH_HOSTS=200` sets
the size of the fleet (default 50), `BENCH_FORKS=20` Ansible's forks for the fleet runs (default 5), `BENCH_QUICK=1`
skips the 60 s issuance. Everything runs against in-process emulators in a temporary directory that is removed at the
end; nothing outside it is touched. The bench is not part of `make test`: it asserts nothing about time.
"""


if __name__ == "__main__":
    main()
