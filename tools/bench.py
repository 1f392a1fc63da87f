# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: what the collection costs, measured against the emulator, printed and written to docs/benchmarks.md.

Counts (API requests, bytes, bundle downloads, module executions, polls) are exact and repeatable; times are this
machine in this run and only meaningful as ratios measured side by side.

  BENCH_HOSTS=200   hosts of the fleet runs (default 50)
  BENCH_QUICK=1     skip the 60 s issuance wait
  BENCH_FORKS=20    ansible forks of the fleet runs (default: Ansible's own, 5)

The helpers live in tools/bench/: fleet.py (the fleet and one measured playbook run), plain.yml (the playbook a
user would write without the collection), polling.py (the issue module's wait), listing.py (lookup and inventory
at scale), report.py (tables, targets, the machine) and callback_plugins/bench_tasks.py (per-host counts, per-task time).
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
import listing  # noqa: E402
import polling  # noqa: E402
from conftest import ansible_env, run_playbook  # noqa: E402  (also links the collection for imports)
from modules_support import Api  # noqa: E402
from report import Table, Target, kib, machine, print_table, print_targets, ratio, seconds, write_markdown  # noqa: E402

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
    tables = [fleet_table(runs, reloads, loads, fleet, forks), profile_table(runs)]
    return tables, fleet_targets(runs, fleet, startup)


def fleet_table(runs: dict[str, fleet_mod.Run], reloads: dict[str, int], loads: dict[str, float], fleet: fleet_mod.Fleet, forks: str | None) -> Table:
    hosts = fleet.hosts

    def per_host(value: float) -> str:
        return f"{value / hosts:.1f}"

    table = Table(
        f"Fleet of {hosts} hosts: the deploy role against the straightforward playbook",
        ["Figure", "Role", "Straightforward", "Role / straightforward"],
    )
    for phase, title in (("first", "first run"), ("rerun", "rerun, nothing changed")):
        role, plain = runs[f"role {phase}"], runs[f"plain {phase}"]
        table.add(f"{title}: wall time", seconds(role.seconds), seconds(plain.seconds), ratio(role.seconds, plain.seconds))
        table.add(f"{title}: CPU time, all processes", seconds(role.cpu_seconds), seconds(plain.cpu_seconds), ratio(role.cpu_seconds, plain.cpu_seconds))
        table.add(f"{title}: API requests per host", per_host(role.requests), per_host(plain.requests), ratio(role.requests, plain.requests))
        table.add(f"{title}: response bytes per host", kib(role.bytes / hosts), kib(plain.bytes / hosts), ratio(role.bytes, plain.bytes))
        table.add(f"{title}: bundle downloads", role.bundle_downloads, plain.bundle_downloads, ratio(role.bundle_downloads, plain.bundle_downloads))
        table.add(
            f"{title}: metadata requests per (device, certificate)",
            f"{role.metadata_requests / fleet.pairs:.2f}",
            f"{plain.metadata_requests / fleet.pairs:.2f}",
            ratio(role.metadata_requests, plain.metadata_requests),
        )
        role_modules, plain_modules = sum(role.modules.values()), sum(plain.modules.values())
        table.add(f"{title}: module executions per host", per_host(role_modules), per_host(plain_modules), ratio(role_modules, plain_modules))
        table.add(f"{title}: hosts reporting a change", len(role.changed_hosts), len(plain.changed_hosts), "")
        table.add(f"{title}: hosts whose service was reloaded", reloads[f"role {phase}"], reloads[f"plain {phase}"], "")
    table.notes += [
        f"{hosts} hosts on the local connection, forks {forks or '5 (Ansible default)'}, linear strategy; each host its own root directory;"
        f" {fleet.pairs} (device, certificate) pairs: every host has its own certificate and one shared by all. Certificate files:"
        " certificate.pem, chain.pem, fullchain.pem, private.key.",
        "Role: `ansible-playbook -i fleet.yml cjj365.certctrl.deploy` with `certctrl_cert_root` in each host's root and one service"
        " `bench_web` (`certctrl_services`: test `test -d <root>`, reload `touch <root>/reloaded`), so no web server is needed.",
        "Straightforward: tools/bench/plain.yml, per host `uri` (list the device's certificates), `uri` (download each bundle),"
        " `unarchive` (on the controller), `file` + `copy` with modes, and a handler running the same test and reload.",
        "Module executions: task results that ran a module, loop items counted one by one; skipped tasks and controller-only"
        " actions (set_fact, assert, include_tasks, meta) not counted. Bytes: response bodies as the emulator sent them.",
        "The straightforward playbook reports a change on every rerun: `uri` downloads each bundle again (a new zip) and `unarchive`"
        " unpacks it again; `copy` then finds the same content, so its handler does not run.",
        first_run_note(runs["role first"], runs["plain first"]),
        "CPU time: user and system time of ansible-playbook and of every process it started (modules included), which other work"
        " on the machine disturbs less than wall time. Load average (1 min) when each run started: "
        + ", ".join(f"{label} {load:.1f}" for label, load in loads.items())
        + f" ({os.cpu_count()} CPUs).",
    ]
    return table


def first_run_note(role: fleet_mod.Run, plain: fleet_mod.Run) -> str:
    shares = {task.split(" (", 1)[0]: secs / role.seconds for task, _runs, secs in fleet_mod.profile(role.tasks, top=20)}
    staging = sum(share for task, share in shares.items() if task.startswith(("Copy the validated files", "Make a private staging", "Remove the staging")))
    return (
        f"On a first run the role takes {ratio(role.seconds, plain.seconds)} times the straightforward playbook's time. The difference is what"
        f" the straightforward playbook leaves out: the role validates each bundle on the controller, stages the files on the host in a private"
        f" directory ({staging:.0%} of its run: make it, `copy` each file, remove it) and replaces them together with a backup, so it can"
        " roll back when the service's test or reload fails."
    )


def profile_table(runs: dict[str, fleet_mod.Run]) -> Table:
    profile = Table("Where the role's time goes (tasks by wall time, all hosts)", ["Run", "Task", "Runs", "Wall time", "Share"])
    for phase in ("first", "rerun"):
        run = runs[f"role {phase}"]
        for task, count, secs in fleet_mod.profile(run.tasks, top=6):
            profile.add(f"role {phase}", task, count, seconds(secs), f"{secs / run.seconds:.0%}")
    profile.notes.append(
        "Measured by tools/bench/callback_plugins/bench_tasks.py: the wall time from each task's start to the next one's, as profile_tasks does."
    )
    return profile


def fleet_targets(runs: dict[str, fleet_mod.Run], fleet: fleet_mod.Fleet, startup: float) -> list[Target]:
    hosts = fleet.hosts
    role_rerun, plain_rerun, role_first = runs["role rerun"], runs["plain rerun"], runs["role first"]
    reads = {route.split(" ", 1)[1]: n for route, n in sorted(role_rerun.by_route.items())}
    targets = [
        Target("Unchanged fleet: bundle downloads on a rerun", "0", str(role_rerun.bundle_downloads), role_rerun.bundle_downloads == 0),
        Target(
            "Unchanged fleet: metadata requests on a rerun",
            "at most 1 per (device, certificate)",
            f"{role_rerun.metadata_requests / fleet.pairs:.2f} per (device, certificate)",
            role_rerun.metadata_requests <= fleet.pairs,
            why=metadata_why(reads, hosts, fleet.pairs),
        ),
        Target(
            "Unchanged fleet: rerun wall time",
            "at most half of the straightforward playbook's rerun",
            f"{seconds(role_rerun.seconds)} against {seconds(plain_rerun.seconds)} (ratio {ratio(role_rerun.seconds, plain_rerun.seconds)});"
            f" CPU time ratio {ratio(role_rerun.cpu_seconds, plain_rerun.cpu_seconds)}",
            role_rerun.seconds <= plain_rerun.seconds / 2,
            why=rerun_why(role_rerun, plain_rerun, hosts, startup),
        ),
        Target(
            "First run: bundle downloads",
            "at most 1 per (device, certificate)",
            f"{role_first.bundle_downloads} for {fleet.pairs} pairs",
            role_first.bundle_downloads <= fleet.pairs,
        ),
    ]
    return targets


def metadata_why(reads: dict[str, int], hosts: int, pairs: int) -> str:
    listed = "\n".join(f"- `GET {route}`: {n / hosts:g} per host" for route, n in reads.items())
    return f"""
Requests of the rerun:

{listed}

Per host that is the `device_info` task (`GET /devices/:id`, then
`GET /devices/:id/certificates` for the list of assigned certificates) and one light read per certificate by
`device_bundle` (`GET /devices/:id/certificates/:cid`, whose PEM is compared with the host's fingerprint). The
per-certificate read is the one the target allows; the contract's list of a device's certificates is light (no PEM),
so it cannot be folded into the list.

What would close it (not in the role, so not changed here): `device_info` addressed by `device_id` with
`include_certificates` could skip `GET /devices/:id` (the list answers 404 for an unknown device too), which makes
{(sum(reads.values()) - hosts) / pairs:.2f} per (device, certificate). Reaching 1.00 also needs the list itself to go:
the certificates named up front (the devices inventory with `include_certificates` already knows them) and
`device_bundle` trusting those ids, or a list that carries each certificate's fingerprint.
"""


def rerun_why(role: fleet_mod.Run, plain: fleet_mod.Run, hosts: int, startup: float) -> str:
    top = fleet_mod.profile(role.tasks, top=4)
    costliest = "\n".join(f"- {task}: {secs / role.seconds:.0%}" for task, _runs, secs in top)

    def executions(run: fleet_mod.Run) -> str:
        return ", ".join(f"{name.rsplit('.', 1)[-1]} {count / hosts:g}" for name, count in sorted(run.actions.items(), key=lambda item: -item[1]))

    role_n, plain_n = sum(role.modules.values()), sum(plain.modules.values())
    return f"""
Where the role's rerun spends its time (per-task wall time, tools/bench/callback_plugins/bench_tasks.py):

{costliest}

The runs are bound by the controller's CPU, not by the API (it answers in milliseconds). With the local connection
every module execution is a new Python process that imports `ansible.module_utils.basic` ({seconds(startup)} alone on
this machine), started from a forked Ansible worker through a shell, with its result sent back: across the fleet that
came to {role.seconds / role_n * 1000:.0f} ms of wall time per module execution for the role. So the wall time follows
the module executions per host: role {role_n / hosts:g} ({executions(role)}), straightforward {plain_n / hosts:g}
({executions(plain)}; each `copy` item runs two modules, a stat and then copy or file).

Changed in the role while measuring this (tasks/main.yml, tasks/certificate.yml):
- The per-certificate include loops over positions (`certificate 1`, `certificate 2`, ...) instead of over each host's
  own plan entries. An `include_tasks` whose loop item differs between hosts is a separate include per host, and the
  linear strategy then runs its tasks one host at a time: every host's own certificate was deployed host by host,
  without any parallelism from forks. Now the same position on every host is one include that runs on all hosts
  in parallel (task names say `certificate N`; the loop labels still show each host's paths).
- `ansible.builtin.file` (keep owner, group and mode) runs only for files whose owner, group or mode differ (or that
  cannot be vouched for: symbolic modes, an SELinux type, not a regular file), instead of once per file on every run.
- One `cjj365.certctrl.certificate_files_info` run per certificate (a new host-side module) describes the files and
  fingerprints the deployed certificate, instead of a `stat` per file and a `slurp`.

Still possible: creating the controller's temporary directory only when a bundle is downloaded would save 2 more
module executions per host. On a remote API the role's advantage grows: the straightforward playbook downloads every
bundle on every run ({kib(plain.bytes / hosts)} per host here), the role none.
"""


# -- the issue module's wait -------------------------------------------------------------------------------------


def bench_issue_wait(tmp: Path, quick: bool) -> tuple[list[Table], list[Target], list[polling.MeasuredWait]]:
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
    table = Table(
        "issue: waiting for an asynchronous issuance",
        ["Issuance takes", "Settings", "Polls while waiting", "Server finished -> poll saw it", "Server finished -> task result", "Requests"],
    )
    for m in measured:
        settings = m.label.split(", ", 1)[1]
        table.add(f"{m.wait:.0f} s (measured {m.server_seconds:.1f} s)", settings, m.polls, seconds(m.poll_lag), seconds(m.lag), m.requests)
    defaults = PollSchedule()
    table.notes.append(
        "The emulator's letsencrypt-like provider keeps the job PENDING, then PROCESSING, for half the time each. The module's defaults:"
        f" {polling.describe(defaults)}; its first polls are {', '.join(f'{x:g}' for x in polling.poll_times(defaults, 8))} ... s after the job started."
        " 'Task result' is when the result reached the controller, after the module also read the issued record."
    )
    return [table, model_table(defaults)], wait_targets(measured, defaults), measured


def model_table(defaults: PollSchedule) -> Table:
    waits = (5, 60, 120, 300, 600)
    model = Table("issue: polling schedules for other waits (modelled)", ["Schedule", *(f"{w} s: polls / worst lag" for w in waits)])
    schedules = [
        (f"the module's defaults ({polling.describe(defaults)})", defaults),
        ("the module with poll_interval_max 2", PollSchedule(interval_max=2.0)),
        ("doubling from 1 s, at most 10 s apart", polling.DoublingSchedule()),
        ("doubling from 1 s without a cap", polling.DoublingSchedule(interval_max=600.0)),
    ]
    if not polling.same_schedule(defaults, polling.ProposedSchedule()):
        schedules.append(("proposal: at most 2 s apart for 60 s, then 10% of the time waited, at most 30 s", polling.ProposedSchedule()))
    for label, schedule in schedules:
        cells = []
        for wait in waits:
            m = polling.model_wait(schedule, wait)
            cells.append(f"{m.polls} / {round(m.worst_lag):g} s" if m else "timeout")
        model.add(label, *cells)
    model.notes.append(
        "Worst lag: the longest time between the server finishing and the next poll, for a job that finishes at any moment up to that wait."
        " Without a hint from the server, a lag of at most L seconds needs a poll at least every L seconds, so at least wait / L polls."
    )
    return model


def wait_targets(measured: list[polling.MeasuredWait], defaults: PollSchedule) -> list[Target]:
    targets = []
    for settings, schedule in (("defaults", defaults), ("poll_interval_max=2", PollSchedule(interval_max=2.0))):
        runs = [m for m in measured if m.label.endswith(settings)]
        m60, m600 = polling.model_wait(schedule, 60), polling.model_wait(schedule, 600)
        lag_ok = max(m.lag for m in runs) <= 2.0 and m60.worst_lag <= 2.0
        targets += [
            Target(
                f"issue returns within 2 s of the server finishing ({settings})",
                "within 2 s",
                ", ".join(f"{m.wait:.0f} s job: {seconds(m.lag)}" for m in runs)
                + f"; modelled worst case for jobs up to 60 s: {round(m60.worst_lag):g} s, up to 600 s: {round(m600.worst_lag):g} s",
                (True if m600.worst_lag <= 2.0 else "partly") if lag_ok else False,
                why=lag_why(schedule) if settings == "defaults" else "",
            ),
            Target(
                f"issue polls grow logarithmically with the wait ({settings})",
                "polls(600 s) / polls(60 s) near log(600) / log(60) = 1.6, not 10 (linear)",
                ", ".join(f"{m.wait:.0f} s job: {m.polls} polls" for m in runs)
                + f"; modelled 60 s: {m60.polls}, 600 s: {m600.polls} (ratio {m600.polls / m60.polls:.1f})",
                m600.polls / m60.polls <= 2.0,
                why=polls_why(schedule) if settings == "defaults" else "",
            ),
        ]
    return targets


def lag_why(schedule: PollSchedule) -> str:
    worst = {w: polling.model_wait(schedule, w) for w in (60, 120, 600)}
    return f"""
The module's defaults ({polling.describe(schedule)}) look at the job
{", ".join(f"{x:g}" for x in polling.poll_times(schedule, 12))} ... s after starting it. The longest gap between two
looks is how late the module can see the end: {round(worst[60].worst_lag):g} s for a job that ends within 60 s,
{round(worst[120].worst_lag):g} s within 120 s and {round(worst[600].worst_lag):g} s within 600 s (see the modelled table).
`poll_interval_max: 2` keeps every gap, and so the lag, within 2 s, for
{polling.model_wait(PollSchedule(interval_max=2.0), 600).polls} polls in 600 s.
"""


def polls_why(schedule: PollSchedule) -> str:
    m60, m600 = polling.model_wait(schedule, 60), polling.model_wait(schedule, 600)
    d60, d600 = polling.model_wait(polling.DoublingSchedule(), 60), polling.model_wait(polling.DoublingSchedule(), 600)
    return f"""
Modelled with the module's defaults: {m60.polls} polls for a job of 60 s, {m600.polls} for 600 s, {m600.polls / m60.polls:.1f} times as many
for ten times the wait. A fixed gap gives 10 times as many; doubling from 1 s with a 10 s cap (the usual "exponential
backoff") gives {d600.polls / d60.polls:.1f} times, because its gap stops growing after four polls.
"""


def polling_section(defaults: PollSchedule) -> str:
    proposal = polling.ProposedSchedule()
    m60, m600 = polling.model_wait(proposal, 60), polling.model_wait(proposal, 600)
    text = """
The two targets of the issue cannot both hold for every wait while the server gives no hint of when a job will end
(the contract has no `Retry-After`, estimate or long poll on `GET .../issues`): to see the end of a job within L
seconds whenever it happens, the module must look at least every L seconds, so a wait of W seconds costs at least
W / L polls. Within 2 s means at least W / 2 polls: linear. Logarithmic polls mean gaps that grow with the wait, and
the lag with them. The modelled table shows each schedule's side of that trade: doubling with a 10 s cap meets
neither target; a fixed 2 s gap (`poll_interval_max: 2`) meets the 2 s target at 30 polls a minute; doubling without
a cap gives few polls and a lag of up to half the wait.
"""
    middle = f"""
polls at most 2 s apart during the first 60 s, when ACME issuance usually ends ({m60.polls} polls for a 60 s job, each a
light read of ten history rows, and the end seen within 2 s), then 10% of the time already waited apart, at most 30 s
({m600.polls} polls for 600 s; a job that ends after the first minute is seen within a tenth of its time, at most 30 s later)."""
    if polling.same_schedule(defaults, proposal):
        text += f"""
The module's defaults take the middle way: it{middle}
"""
    else:
        text += f"""
Recommendation (`plugins/module_utils/_issue.py` is not changed by the bench): a schedule that{middle} It is the
last row of the modelled table (`ProposedSchedule` in tools/bench/polling.py). The smaller step is the default
`poll_interval_max: 2` (meets the 2 s target, linear polls), with the cost written in the module's documentation.
"""
    return text + """
`poll_interval_max: 2` remains the choice for a playbook that must react within 2 s whatever the wait. Only a hint
from the server (`Retry-After` on the history read, or a long poll) would meet both targets for every wait.
"""


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
    table = Table("Large accounts: the api lookup and the devices inventory", ["Read", "Items", "Requests", "Response bytes", "API time", "Wall time"])
    for r in results:
        table.add(r.label, r.items, r.requests, kib(r.bytes), seconds(r.api_seconds), seconds(r.seconds))
    table.notes += [
        "Lookup: `query('cjj365.certctrl.api', 'certificates')` in a playbook. Inventory: `ansible-inventory -i bench.certctrl.yml --list`"
        " with the `cjj365.certctrl.devices` plugin; its cache is `ansible.builtin.jsonfile`.",
        "API time: from the first request reaching the emulator to the last answer. Wall time: the whole command, Ansible's start-up included.",
        "Lists are read page by page until a short page: the API sends no total, so a count that is a multiple of the page size costs one more (empty) page.",
    ]
    inventory = next(r for r in results if r.label == "inventory, page size 100")
    cached = results[-1]
    targets = [
        Target(
            "Inventory over 5,000 devices",
            "requests = pages of 100 (50)",
            f"{inventory.requests} requests for {inventory.items} devices",
            inventory.requests <= 50,
            why=INVENTORY_WHY.format(requests=inventory.requests, devices=inventory.items),
        ),
        Target("Inventory from its cache", "0 requests", f"{cached.requests} requests for {cached.items} devices", cached.requests == 0),
    ]
    return [table], targets


INVENTORY_WHY = """
{requests} requests for {devices} devices: 50 full pages of 100, then the empty page that tells the client the list has ended.
The contract sends no total count, and the client stops at the first short page, so a count that is an exact multiple
of the page size costs one more request (5,001 to 5,099 devices take 51 requests, which is their number of pages).
What would close it (in the client, `_client.paginate`, not changed here): a total from the server, or asking for
`page_size + 1` items and moving on by `page_size`, so the extra item tells whether another page exists (1% more
items; it must stay within the server's largest page, so `page_size: 1000` could not use it). With `page_size: 1000`
the same 5,000 devices take 6 requests today.
"""


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
        wait_tables, wait_targets, _measured = bench_issue_wait(tmp, quick)
        listing_tables, listing_targets = bench_listings(tmp)
    tables = [BLOCKS, *fleet_tables, *wait_tables, *listing_tables]
    targets = [*fleet_targets, *wait_targets, *listing_targets]
    for table in tables:
        print_table(table)
    print_targets(targets)
    facts = machine()
    facts["Module start-up"] = f"{seconds(startup)} (a Python process importing ansible.module_utils.basic: the floor of every module execution)"
    sections = [("The issue module's polling", polling_section(PollSchedule())), ("Running it", RUNNING)]
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
