# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's tables, targets and the explanations of what they measured (used by tools/bench.py)."""

from __future__ import annotations

import os

from fleet import Fleet, Run, profile
from report import Table, Target, kib, ratio, seconds


def report(
    runs: dict[str, Run], reloads: dict[str, int], loads: dict[str, float], fleet: Fleet, forks: str | None, startup: float
) -> tuple[list[Table], list[Target]]:
    """The fleet table, the role's profile, and the targets of a fleet deployment with their explanations."""
    return [fleet_table(runs, reloads, loads, fleet, forks), profile_table(runs)], fleet_targets(runs, fleet, startup)


def fleet_table(runs: dict[str, Run], reloads: dict[str, int], loads: dict[str, float], fleet: Fleet, forks: str | None) -> Table:
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
        + f" ({os.cpu_count()} CPUs; from the second run on, the bench's own previous run counts in it).",
    ]
    return table


def first_run_note(role: Run, plain: Run) -> str:
    shares = {task.split(" (", 1)[0]: secs / role.seconds for task, _runs, secs in profile(role.tasks, top=20)}
    staging = sum(share for task, share in shares.items() if task.startswith(("Copy the validated files", "Make a private staging", "Remove the staging")))
    return (
        f"On a first run the role takes {ratio(role.seconds, plain.seconds)} times the straightforward playbook's time. The difference is what"
        f" the straightforward playbook leaves out: the role validates each bundle on the controller, stages the files on the host in a private"
        f" directory ({staging:.0%} of its run: make it, `copy` each file, remove it) and replaces them together with a backup, so it can"
        " roll back when the service's test or reload fails."
    )


def profile_table(runs: dict[str, Run]) -> Table:
    table = Table("Where the role's time goes (tasks by wall time, all hosts)", ["Run", "Task", "Runs", "Wall time", "Share"])
    for phase in ("first", "rerun"):
        run = runs[f"role {phase}"]
        for task, count, secs in profile(run.tasks, top=6):
            table.add(f"role {phase}", task, count, seconds(secs), f"{secs / run.seconds:.0%}")
    table.notes.append(
        "Measured by tools/bench/callback_plugins/bench_tasks.py: the wall time from each task's start to the next one's, as profile_tasks does."
    )
    return table


def fleet_targets(runs: dict[str, Run], fleet: Fleet, startup: float) -> list[Target]:
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


def rerun_why(role: Run, plain: Run, hosts: int, startup: float) -> str:
    top = profile(role.tasks, top=4)
    costliest = "\n".join(f"- {task}: {secs / role.seconds:.0%}" for task, _runs, secs in top)

    def executions(run: Run) -> str:
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
