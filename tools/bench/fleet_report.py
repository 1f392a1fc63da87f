# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleets' tables, targets and the explanations of what they measured (used by tools/bench.py)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

from fleet import PHASES, Fleet, Run, profile
from report import Table, Target, kib, ratio, seconds

# The playbooks of a fleet run, in the order of the table's columns.
PLAYBOOKS = {"role": "Role", "naive": "Naive", "plain": "Straightforward"}
PHASE_TITLES = {"first": "first run", "rerun": "rerun, nothing changed"}
# The targets: the role against the naive playbook.
RERUN_RATIO = 0.3
FIRST_RATIO = 0.8
RERUN_MODULES = 1  # per host
FIRST_MODULES = 3  # per host: read the files, write them, the handler


@dataclass
class FleetResult:
    """The runs over one fleet size: `runs` keyed "<playbook> <phase>", in the order they ran."""

    fleet: Fleet
    runs: dict[str, Run]
    playbooks: list[str] = field(default_factory=lambda: list(PLAYBOOKS))  # the columns: "role" and "naive" always
    reloads: dict[str, int] = field(default_factory=dict)  # "<playbook> <phase>" -> hosts whose service was reloaded
    profile: str = "contract"  # how the emulator answered: production's known shape or the contract's

    def run(self, playbook: str, phase: str) -> Run:
        return self.runs[f"{playbook} {phase}"]

    def others(self) -> list[str]:
        """The playbooks the role is compared with, in the table's order."""
        return [name for name in self.playbooks if name != "role"]


def report(results: list[FleetResult], forks: str, startup: float, role: str, commit: str) -> tuple[list[Table], list[Target]]:
    """A table and a profile per fleet size, how the cost grows with the size, and the issue's targets at each size."""
    tables: list[Table] = []
    for result in results:
        tables += [fleet_table(result, forks, role, commit), profile_table(result)]
    if len(results) > 1:
        tables.append(growth_table(results))
    targets = [target for result in results for target in fleet_targets(result, startup)]
    return tables, targets


def per_host(value: float, hosts: int) -> str:
    return f"{value / hosts:.1f}"


def when(run: Run) -> str:
    return datetime.datetime.fromtimestamp(run.started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def figures(run: Run, fleet: Fleet, reloaded: int) -> list[tuple[str, str, float]]:
    """(figure, as shown, value for ratios) of one run: what a fleet table row holds for one playbook."""
    hosts = fleet.hosts
    modules, tasks = sum(run.modules.values()), sum(run.task_modules.values())
    return [
        ("wall time", seconds(run.seconds), run.seconds),
        ("CPU time, all processes", seconds(run.cpu_seconds), run.cpu_seconds),
        ("module executions per host", per_host(modules, hosts), modules),
        ("tasks that ran a module, per host", per_host(tasks, hosts), tasks),
        ("API requests per host", per_host(run.requests, hosts), run.requests),
        ("metadata requests per (device, certificate)", f"{run.metadata_requests / fleet.pairs:.2f}", run.metadata_requests),
        ("response bytes per host", kib(run.bytes / hosts), run.bytes),
        ("bundle downloads", str(run.bundle_downloads), run.bundle_downloads),
        ("hosts reporting a change", str(len(run.changed_hosts)), -1),
        ("hosts whose service was reloaded", str(reloaded), -1),
        ("load average (1 min) at the start", f"{run.load:.1f}", -1),
    ]


def fleet_table(result: FleetResult, forks: str, role: str, commit: str) -> Table:
    fleet = result.fleet
    hosts = fleet.hosts
    names, others = result.playbooks, result.others()
    against = " and the ".join(PLAYBOOKS[name].lower() for name in others) + " playbook" + "s" * (len(others) > 1)
    table = Table(
        f"Fleet of {hosts} hosts: the deploy role against the {against}",
        ["Figure", *(PLAYBOOKS[name] for name in names), *(f"Role / {PLAYBOOKS[name].lower()}" for name in others)],
    )
    for phase in PHASES:
        columns = {name: figures(result.run(name, phase), fleet, result.reloads.get(f"{name} {phase}", 0)) for name in names}
        for i, (label, _shown, _value) in enumerate(columns["role"]):
            cells = [columns[name][i][1] for name in names]
            role_value = columns["role"][i][2]
            ratios = [""] * len(others) if role_value < 0 else [ratio(role_value, columns[other][i][2]) for other in others]
            table.add(f"{PHASE_TITLES[phase]}: {label}", *cells, *ratios)
    runs = list(result.runs.values())
    table.notes += [
        f"Measured {when(runs[0])} at {commit}, the emulator answering in its `{result.profile}` profile: {hosts} hosts on the local"
        f" connection, forks {forks}, linear strategy; each playbook its own root directory per host; {fleet.pairs} (device, certificate)"
        " pairs: every host has its own certificate and one shared by all. Order of the runs (first runs in a random order, then the reruns in another): "
        + ", ".join(run.label for run in runs)
        + ".",
        f"Role: `ansible-playbook -i fleet.yml cjj365.certctrl.deploy`, {role}, with `certctrl_cert_root` in each host's root and one"
        " service `bench_web` (`certctrl_services`: test `test -d <root>`, reload `touch <root>/reloaded`), so no web server is needed.",
        "Naive: tools/bench/naive.yml, what a user writes first: per host and certificate (ids written in the inventory) `uri` downloads"
        " the bundle on the controller (`delegate_to: localhost`), `file` makes the directory, `unarchive` (`remote_src: false`) unpacks"
        " the zip into it. It validates nothing, sets no key mode of its own, keeps no backup and reloads nothing.",
    ]
    if "plain" in names:
        table.notes.append(
            "Straightforward: tools/bench/plain.yml, per host `uri` (list the device's certificates), `uri` (download each bundle),"
            " `unarchive` (on the controller), `file` + `copy` with modes, and a handler running the same test and reload."
        )
    table.notes += [
        "Module executions: every module Ansible ran for the host, on the host or delegated to the controller, those an action runs"
        " inside one task included (`copy` and `unarchive` run `stat` first), counted by wrapping `ActionBase._execute_module` in"
        " tools/bench/callback_plugins/bench_tasks.py. Tasks that ran a module: task results of a module, loop items one by one,"
        " skipped tasks and controller-only actions (set_fact, assert, debug, include_tasks, meta) not counted.",
        "CPU time: user and system time of ansible-playbook and of every process it started (modules included; getrusage of the"
        f" children), which other work on the machine disturbs less than wall time. {os.cpu_count()} CPUs; from the second run on,"
        " the bench's own previous run counts in the load.",
    ]
    return table


def profile_table(result: FleetResult) -> Table:
    table = Table(
        f"Fleet of {result.fleet.hosts} hosts: where the role's time goes (tasks by wall time, all hosts)", ["Run", "Task", "Runs", "Wall time", "Share"]
    )
    for phase in PHASES:
        run = result.run("role", phase)
        for task, count, secs in profile(run.tasks, top=5):
            table.add(f"role {phase}", task, count, seconds(secs), f"{secs / run.seconds:.0%}")
    table.notes.append(
        "Measured by tools/bench/callback_plugins/bench_tasks.py: the wall time from each task's start to the next one's, as profile_tasks does."
    )
    return table


def growth_table(results: list[FleetResult]) -> Table:
    """Per-host wall and CPU time at each size: whether the cost grows with the fleet faster than the fleet."""
    names = [name for name in PLAYBOOKS if all(name in result.playbooks for result in results)]
    table = Table(
        "How the cost grows with the fleet (per host)",
        ["Hosts", "Run", *(f"{PLAYBOOKS[name]}: wall / CPU" for name in names), "Role / naive: wall", "Role / naive: CPU"],
    )
    for result in results:
        hosts = result.fleet.hosts
        for phase in PHASES:
            runs = {name: result.run(name, phase) for name in names}
            cells = [f"{seconds(run.seconds / hosts)} / {seconds(run.cpu_seconds / hosts)}" for run in runs.values()]
            role, naive = runs["role"], runs["naive"]
            table.add(hosts, PHASE_TITLES[phase], *cells, ratio(role.seconds, naive.seconds), ratio(role.cpu_seconds, naive.cpu_seconds))
    return table


def fleet_targets(result: FleetResult, startup: float) -> list[Target]:
    fleet = result.fleet
    hosts = fleet.hosts
    targets: list[Target] = []
    for phase, wanted_ratio, wanted_modules in (("rerun", RERUN_RATIO, RERUN_MODULES), ("first", FIRST_RATIO, FIRST_MODULES)):
        role, naive = result.run("role", phase), result.run("naive", phase)
        title = f"{hosts} hosts, {'unchanged rerun' if phase == 'rerun' else 'first run'}"
        modules = sum(role.modules.values()) / hosts
        group = [
            Target(
                f"{title}: wall time",
                f"at most {wanted_ratio:g} x the naive playbook's",
                f"{seconds(role.seconds)} against {seconds(naive.seconds)} (ratio {ratio(role.seconds, naive.seconds)})",
                role.seconds <= wanted_ratio * naive.seconds,
            ),
            Target(
                f"{title}: CPU time",
                f"at most {wanted_ratio:g} x the naive playbook's",
                f"{seconds(role.cpu_seconds)} against {seconds(naive.cpu_seconds)} (ratio {ratio(role.cpu_seconds, naive.cpu_seconds)})",
                role.cpu_seconds <= wanted_ratio * naive.cpu_seconds,
            ),
            Target(
                f"{title}: module executions",
                f"{wanted_modules} per host" if phase == "rerun" else f"at most {wanted_modules} per host (2, and the handler's 1)",
                f"{modules:g} per host",
                modules <= wanted_modules,
            ),
        ]
        if phase == "rerun":
            allowed = fleet.pairs + hosts
            group += [
                Target(f"{title}: bundle downloads", "0", str(role.bundle_downloads), role.bundle_downloads == 0),
                Target(
                    f"{title}: API requests",
                    "at most 1 per (device, certificate) and 1 per device",
                    f"{role.requests / hosts:g} per host, allowed {allowed / hosts:g}",
                    role.requests <= allowed,
                ),
            ]
        else:
            group.append(
                Target(
                    f"{title}: bundle downloads",
                    "at most 1 per (device, certificate)",
                    f"{role.bundle_downloads} for {fleet.pairs} pairs",
                    role.bundle_downloads <= fleet.pairs,
                )
            )
        missed = [target for target in group if target.met is not True]
        if missed:
            plain = result.run("plain", phase) if "plain" in result.playbooks else None
            missed[0].why = why(role, naive, plain, hosts, startup, [target.name for target in missed])
        targets += group
    return targets


def module_mix(run: Run, hosts: int) -> str:
    """Module executions per host by module, the costliest first: `stat 2, copy 1`."""
    return ", ".join(f"{name.rsplit('.', 1)[-1]} {count / hosts:g}" for name, count in sorted(run.actions.items(), key=lambda item: (-item[1], item[0])))


def routes(run: Run, hosts: int) -> str:
    return "\n".join(f"- `{route}`: {n / hosts:g} per host" for route, n in sorted(run.by_route.items())) or "- none"


def why(role: Run, naive: Run, plain: Run | None, hosts: int, startup: float, missed: list[str]) -> str:
    """The profile behind a missed target: where the role's run spends its time, its module executions and requests."""
    role_n, naive_n = (sum(run.modules.values()) for run in (role, naive))
    straightforward = "" if plain is None else f"; straightforward {sum(plain.modules.values()) / hosts:g} ({module_mix(plain, hosts)})"
    costliest = "\n".join(f"- {task}: {seconds(secs)}, {secs / role.seconds:.0%}" for task, _runs, secs in profile(role.tasks, top=6))
    per_module = role.seconds / role_n * 1000 if role_n else 0.0
    naive_per_module = naive.seconds / naive_n * 1000 if naive_n else 0.0
    return f"""
Missed: {"; ".join(missed)}.

Where the role's run ({role.label}) spends its time (per-task wall time, tools/bench/callback_plugins/bench_tasks.py):

{costliest}

Module executions per host: role {role_n / hosts:g} ({module_mix(role, hosts) or "none"}); naive {naive_n / hosts:g}
({module_mix(naive, hosts)}){straightforward}.

The runs are bound by the controller's CPU, not by the API (it answers in milliseconds). With the local connection
every module execution is a new Python process that imports `ansible.module_utils.basic` ({seconds(startup)} alone on
this machine), started from a forked Ansible worker through a shell, with its result sent back: across the fleet the
role's run came to {per_module:.0f} ms of wall time per module execution, the naive playbook's to {naive_per_module:.0f} ms. So the
wall time follows the module executions per host; the naive playbook's unarchive also runs `unzip` on the host and
its `uri` downloads each bundle again on every run ({kib(naive.bytes / hosts)} per host here).

Requests of the role's run:

{routes(role, hosts)}
"""
