# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: what the collection costs, measured against the emulator, printed and written to docs/benchmarks.md.

Counts (API requests, bytes, bundle downloads, module executions, polls) are exact and repeatable; times are this
machine in this run and only meaningful as ratios measured side by side.

  BENCH_SIZES=20,50      fleet sizes, in hosts (default 20,50,200). Measured on 2 busy cores: 20 hosts 13 min, 50 hosts
                         28 min (about 35 s per host, two thirds of it the straightforward playbook), so the default
                         takes about 2.5 hours, the 200 hosts about 2 of them
  BENCH_FORKS=20         ansible forks of the fleet runs (default 10)
  BENCH_SEED=7           the seed of the fleet runs' random order (default: a new one, printed)
  BENCH_RUN_TIMEOUT=600  stop the bench when one ansible-playbook run takes longer (seconds, default 3600)
  BENCH_QUICK=1          skip the 60 s issuance wait
  BENCH_PLAYBOOKS=role,naive  the fleet runs' playbooks (default role,naive,plain; role and naive are always run)
  BENCH_PARTS=fleets     the parts to run, of blocks,fleets,wait,listings (default all of them)
  BENCH_DOC=docs/benchmarks-200-hosts.md  the page to write (default docs/benchmarks.md)
  CERTCTRL_EMULATOR_PROFILE=contract  the emulators' shape (default: production's)

The helpers live in tools/bench/:
  fleet.py           the fleets, the order of their runs, and one measured ansible-playbook run
  fleet_report.py    their tables, targets and explanations
  naive.yml          the playbook a user writes first: download, directory, unarchive
  plain.yml          the straightforward playbook a user would write without the collection
  polling.py         the issue module's wait, measured and modelled
  polling_report.py  its tables, targets and the trade-off between them
  listing.py         the api lookup and the devices inventory on a large account
  report.py          tables, targets, the machine, docs/benchmarks.md
  callback_plugins/bench_tasks.py  module executions per host, wall time per task
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools" / "bench"))

# conftest links the checkout as ansible_collections.cjj365.certctrl, which the imports below need.
import conftest  # noqa: E402,F401  # pylint: disable=unused-import
import fleet as fleet_mod  # noqa: E402
import fleet_report  # noqa: E402
import listing  # noqa: E402
import polling  # noqa: E402
import polling_report  # noqa: E402
from report import Table, Target, machine, print_table, print_targets, seconds, write_markdown  # noqa: E402

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api  # noqa: E402
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient  # noqa: E402
from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import PollSchedule  # noqa: E402
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook  # noqa: E402
from ansible_collections.cjj365.certctrl.tests.support.emulator import Api  # noqa: E402
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
    public_id = rest.call("GET", "/devices/2")["device_public_id"]  # production's assign keys on it (production-shape.md row 8)
    rest.call("POST", "/certificate-assign", {"certificate_id": cert["id"], "device_public_id": public_id})
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


# -- the fleets: the role against the naive and the straightforward playbooks ---------------------------------


FLEET_PLAYBOOKS = {"role": "cjj365.certctrl.deploy", "naive": str(REPO / "tools" / "bench" / "naive.yml"), "plain": str(REPO / "tools" / "bench" / "plain.yml")}


def bench_fleets(tmp: Path, sizes: list[int], names: list[str], forks: str, seed: int, timeout: float, startup: float) -> tuple[list[Table], list[Target]]:
    playbooks = {name: FLEET_PLAYBOOKS[name] for name in names}
    rng = random.Random(seed)
    results: list[fleet_report.FleetResult] = []
    for hosts in sizes:
        print(f"\nfleet of {hosts} hosts (local connection, one root each per playbook, forks {forks}), 2 certificates per host (its own + one shared)")
        began = time.perf_counter()
        with Emulator(workdir=tmp / f"fleet-{hosts}-emulator") as emu:
            fleet = fleet_mod.make_fleet(emu, hosts, tmp / f"fleet-{hosts}", list(playbooks))
            env = ansible_env(emu, ANSIBLE_FORKS=forks)
            result = fleet_report.FleetResult(fleet=fleet, runs={}, playbooks=list(playbooks), profile=getattr(emu, "profile", "contract"))
            for name, phase in fleet_mod.run_order(list(playbooks), rng):
                label = f"{name} {phase}"
                run = fleet_mod.run_playbook(emu, playbooks[name], fleet.inventories[name], env, tmp, f"{hosts} {label}", timeout=timeout)
                if run.rc != 0:
                    raise SystemExit(f"{hosts} hosts, {label} failed:\n{run.output}")
                run.label = label
                result.runs[label] = run
                result.reloads[label] = sum(1 for mark in fleet.roots[name].glob("*/reloaded") if mark.stat().st_mtime >= run.started)
                print(
                    f"  {label:<12} {seconds(run.seconds):>8} wall, {seconds(run.cpu_seconds):>8} CPU, {sum(run.modules.values()) / hosts:g} module"
                    f" executions and {run.requests / hosts:g} requests per host, {run.bundle_downloads} bundle downloads, load {run.load:.1f}",
                    flush=True,
                )
        print(f"  {hosts} hosts: {seconds(time.perf_counter() - began)} in all", flush=True)
        results.append(result)
    return fleet_report.report(results, forks, startup, role_in_tree(), commit())


def role_in_tree() -> str:
    """What `cjj365.certctrl.deploy` runs in this checkout: an action plugin, or tasks in YAML."""
    actions = sorted(path.stem for path in (REPO / "plugins" / "action").glob("*.py") if not path.name.startswith("_"))
    if actions:
        return "whose core is the action plugin " + " and ".join(f"`cjj365.certctrl.{name}`" for name in actions)
    tasks = sorted(path.name for path in (REPO / "roles" / "deploy" / "tasks").glob("*.yml"))
    return "whose core is tasks in YAML (roles/deploy/tasks/" + ", ".join(tasks) + ")"


def commit() -> str:
    """The commit measured, and whether the role's or the plugins' files differ from it."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = sorted({line[3:].split("/", 1)[0] + "/" for line in git("status", "--porcelain", "--", "roles", "plugins").splitlines() if len(line) > 3})
    return f"commit {head}" + (f" with uncommitted changes in {', '.join(dirty)}" if dirty else "")


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


def options() -> tuple[list[int], str, int, float]:
    """BENCH_SIZES, BENCH_FORKS, BENCH_SEED and BENCH_RUN_TIMEOUT, checked: a bad value stops the bench naming the variable."""
    try:
        sizes = fleet_mod.parse_sizes(os.environ.get("BENCH_SIZES", "20,50,200"))
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    values = {}
    for name, default in (("BENCH_FORKS", "10"), ("BENCH_SEED", str(random.SystemRandom().randrange(1, 10**6))), ("BENCH_RUN_TIMEOUT", "3600")):
        text = os.environ.get(name) or default
        if not text.isdigit() or int(text) < 1:
            raise SystemExit(f"{name} must be a positive whole number, not {text!r}")
        values[name] = text
    return sizes, values["BENCH_FORKS"], int(values["BENCH_SEED"]), float(values["BENCH_RUN_TIMEOUT"])


PARTS = ("blocks", "fleets", "wait", "listings")


def chosen(variable: str, allowed: tuple[str, ...] | list[str], default: str, required: tuple[str, ...] = ()) -> list[str]:
    """A comma-separated choice among `allowed`, in `allowed`'s order: a bad value stops the bench naming the variable."""
    names = [name.strip() for name in (os.environ.get(variable) or default).split(",") if name.strip()]
    unknown = sorted(set(names) - set(allowed))
    if unknown or not set(required) <= set(names) or not names:
        raise SystemExit(f"{variable} must name some of {','.join(allowed)} (always {','.join(required) or 'one'}), not {os.environ.get(variable)!r}")
    return [name for name in allowed if name in names]


def main() -> None:
    sizes, forks, seed, timeout = options()
    names = chosen("BENCH_PLAYBOOKS", list(FLEET_PLAYBOOKS), ",".join(FLEET_PLAYBOOKS), required=("role", "naive"))
    parts = chosen("BENCH_PARTS", PARTS, ",".join(PARTS))
    doc = (REPO / os.environ["BENCH_DOC"]).resolve() if os.environ.get("BENCH_DOC") else DOC
    quick = os.environ.get("BENCH_QUICK") == "1"
    began = time.perf_counter()
    print(f"cjj365.certctrl benchmarks: counts are exact; times are this machine, this run (fleets {sizes}, forks {forks}, BENCH_SEED={seed})\n")
    startup = module_startup()
    tables: list[Table] = []
    targets: list[Target] = []
    sections = []
    with tempfile.TemporaryDirectory(prefix="certctrl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "blocks" in parts:
            bench_emulator(tmp)
            with Emulator(workdir=tmp / "main", issue_delay=0.2) as emu:
                bench_client(emu)
                bench_inventory(emu, tmp)
                bench_modules(emu, tmp)
                bench_bundle(emu, tmp)
            bench_issue_polling(tmp)
            tables.append(BLOCKS)
        if "fleets" in parts:
            fleet_tables, fleet_targets = bench_fleets(tmp, sizes, names, forks, seed, timeout, startup)
            tables += fleet_tables
            targets += fleet_targets
        if "wait" in parts:
            wait_tables, wait_targets, polling_text = bench_issue_wait(tmp, quick)
            tables += wait_tables
            targets += wait_targets
            sections.append(("The issue module's polling", polling_text))
        if "listings" in parts:
            listing_tables, listing_targets = bench_listings(tmp)
            tables += listing_tables
            targets += listing_targets
    for table in tables:
        print_table(table)
    print_targets(targets)
    facts = machine()
    facts["Module start-up"] = f"{seconds(startup)} (a Python process importing ansible.module_utils.basic: the floor of every module execution)"
    facts["Measured"] = f"{commit()}; the deploy role {role_in_tree()}"
    facts["Fleet runs"] = f"sizes {', '.join(map(str, sizes))}, forks {forks}, order from BENCH_SEED={seed}"
    facts["Bench duration"] = f"{(time.perf_counter() - began) / 60:.0f} min (`make bench` in all)"
    if "fleets" in parts:
        facts["Fleet runs"] += f", playbooks {', '.join(names)}"
    else:
        del facts["Fleet runs"]
    sections.append(("Running it", RUNNING))
    write_markdown(doc, intro=INTRO, facts=facts, tables=tables, targets=targets, sections=sections)
    print(f"\nwritten to {doc}")


INTRO = """
What the collection costs, measured by `make bench` (tools/bench.py) against the bundled emulator on the machine below.
Counts (requests, bytes, downloads, module executions, polls) are exact and repeatable. Times are this machine in this
run: compare them side by side, not across machines.
"""

RUNNING = """
`make bench` (or `.venv/bin/python tools/bench.py`) prints these tables and rewrites this page. `BENCH_SIZES=20,50`
chooses the fleet sizes (default 20,50,200; the fleets cost about 35 s per host on two busy cores, two thirds of it the
straightforward playbook's, so the 200-host fleet takes about 2 hours; see "Bench duration" above),
`BENCH_FORKS=20` Ansible's forks for the fleet runs (default 10), `BENCH_SEED=7` repeats an earlier run's order (the
first runs of the three playbooks in a random order, then their reruns in another, so that other work on the machine
hits all of them alike), `BENCH_RUN_TIMEOUT=600` stops the bench when one ansible-playbook run takes longer (default
3600 s), `BENCH_QUICK=1` skips the 60 s issuance, `CERTCTRL_EMULATOR_PROFILE=contract` has the emulators answer in
the contract's lenient shape instead of production's (the fleet tables say which), `BENCH_PLAYBOOKS=role,naive` leaves
the straightforward playbook out of the fleet runs, `BENCH_PARTS=fleets` runs only some of the parts (blocks, fleets,
wait, listings) and `BENCH_DOC=docs/benchmarks-200-hosts.md` writes another page than this one. For example
`make bench BENCH_SIZES=200 BENCH_PLAYBOOKS=role,naive BENCH_PARTS=fleets BENCH_DOC=docs/benchmarks-200-hosts.md`.

Everything runs against in-process emulators in a temporary directory that is removed at the end; nothing outside it
is touched. The bench is not part of `make test`: it asserts nothing about time. The fleet runs are bound by the
controller's CPU: run the bench on a quiet machine, and compare figures of one run side by side.
"""


if __name__ == "__main__":
    main()
