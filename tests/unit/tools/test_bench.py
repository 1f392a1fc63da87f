# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure parts of `make bench` (tools/bench/): the polling model, page counts, the fleets' order and report, tables, the machine facts."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "bench"))

import fleet
import fleet_report
import listing
import polling
import report

from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import PollSchedule


def test_model_of_a_doubling_schedule() -> None:
    doubling = polling.DoublingSchedule()  # polls at 1, 3, 7, 15, 25, 35 ... s
    assert polling.poll_times(doubling, 6) == [1, 3, 7, 15, 25, 35]
    five = polling.model_wait(doubling, 5)
    assert (five.polls, five.lag, five.worst_lag) == (3, 2.0, 4.0)
    sixty = polling.model_wait(doubling, 60)
    assert (sixty.polls, sixty.lag, sixty.worst_lag) == (9, 5.0, 10.0)
    assert polling.model_wait(doubling, 7).lag == 0.0  # a poll exactly at the finish sees it
    assert polling.model_wait(polling.DoublingSchedule(timeout=30), 60) is None


def test_a_bounded_lag_needs_polls_in_proportion_to_the_wait() -> None:
    for schedule in (PollSchedule(interval_max=2), polling.DoublingSchedule(interval_max=2)):
        for wait in (60, 300, 600):
            model = polling.model_wait(schedule, wait)
            assert model.worst_lag <= 2 and model.polls >= wait / 2


def test_the_proposed_schedule() -> None:
    proposal = polling.ProposedSchedule()
    delays = list(proposal.delays())
    assert sum(delays) == pytest.approx(proposal.timeout)
    elapsed = 0.0
    for delay in delays:
        assert delay <= (2 if elapsed < 60 else 30)
        elapsed += delay
    assert polling.model_wait(proposal, 60).worst_lag <= 2
    long = polling.model_wait(proposal, 600)
    assert long.polls < polling.model_wait(polling.DoublingSchedule(), 600).polls
    assert long.polls / polling.model_wait(proposal, 60).polls < 2


def test_schedules_compared_and_described() -> None:
    assert polling.same_schedule(polling.DoublingSchedule(), polling.DoublingSchedule(interval=1.0))
    assert not polling.same_schedule(polling.DoublingSchedule(), polling.ProposedSchedule())
    assert polling.describe(polling.DoublingSchedule()) == "interval 1, interval_max 10, timeout 600, factor 2"


def test_pages_end_with_a_short_page() -> None:
    assert listing.pages(5000, 100) == 51  # 50 full pages and the empty one that ends the list
    assert listing.pages(5005, 100) == 51
    assert listing.pages(0, 100) == 1
    assert listing.pages(2005, 1000) == 3


def test_markdown_table_lines_up() -> None:
    table = report.Table("t", ["Figure", "Value"])
    table.add("a long figure", 1)
    table.add("b", "22")
    lines = report.markdown(table)
    assert lines == [
        "| Figure        | Value |",
        "|---------------|-------|",
        "| a long figure | 1     |",
        "| b             | 22    |",
    ]


def test_target_results() -> None:
    assert [report.Target("t", "w", "m", met).result for met in (True, False, "partly")] == ["met", "missed", "partly"]


def test_formatting() -> None:
    assert report.ratio(1, 4) == "0.25" and report.ratio(1, 0) == "-"
    assert report.seconds(0.0421) == "42 ms" and report.seconds(12.34) == "12.3 s"
    assert report.kib(2048) == "2.0 KiB"


def test_machine_facts_from_proc() -> None:
    cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Other\n"
    assert report.cpu_model(cpuinfo) == "Intel(R) Xeon(R) Processor"
    assert report.mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == "23.4 GiB"
    assert report.mem_total("") == "unknown"


def test_profile_adds_up_the_runs_of_one_task_line() -> None:
    stat = "ansible.builtin.stat | cjj365.certctrl.deploy : Look at the deployed files of certificate {} (tasks/certificate.yml:6)"
    slurp = "ansible.builtin.slurp | cjj365.certctrl.deploy : Read the deployed certificate from the host: certificate 1 (tasks/certificate.yml:36)"
    tasks = [
        {"task": stat.format(1), "runs": 1, "seconds": 2.0},
        {"task": stat.format(2), "runs": 1, "seconds": 1.5},
        {"task": slurp, "runs": 1, "seconds": 1.0},
    ]
    assert fleet.profile(tasks) == [
        ("Look at the deployed files (stat, tasks/certificate.yml:6)", 2, 3.5),
        ("Read the deployed certificate from the host (slurp, tasks/certificate.yml:36)", 1, 1.0),
    ]


def test_sizes_are_positive_numbers_of_hosts() -> None:
    assert fleet.parse_sizes("20,50,200") == [20, 50, 200]
    assert fleet.parse_sizes(" 5 ") == [5]
    for bad in ("", "20,,50", "0", "-3", "20,x"):
        with pytest.raises(ValueError, match="BENCH_SIZES"):
            fleet.parse_sizes(bad)


def test_every_first_run_comes_before_every_rerun_in_a_seeded_random_order() -> None:
    names = ["role", "naive", "plain"]
    order = fleet.run_order(names, random.Random(1))
    assert sorted(order[:3]) == [(name, "first") for name in sorted(names)]
    assert sorted(order[3:]) == [(name, "rerun") for name in sorted(names)]
    assert order == fleet.run_order(names, random.Random(1))
    orders = {tuple(fleet.run_order(names, random.Random(seed))) for seed in range(20)}
    assert len(orders) > 1  # the order does change from run to run


def test_module_log_counted_per_host_and_module() -> None:
    lines = [
        '{"host": "h1", "module": "ansible.legacy.stat", "action": "ansible.builtin.copy"}',
        '{"host": "h1", "module": "ansible.legacy.copy", "action": "ansible.builtin.copy"}',
        "",
        '{"host": "h2", "module": "cjj365.certctrl.device_bundle", "action": "cjj365.certctrl.device_bundle"}',
    ]
    hosts, modules = fleet.count_modules(lines)
    assert hosts == {"h1": 2, "h2": 1}
    assert modules == {"ansible.builtin.stat": 1, "ansible.builtin.copy": 1, "cjj365.certctrl.device_bundle": 1}


def fake_run(label: str, seconds: float, cpu: float, modules: int, hosts: int = 10, requests: int = 0, downloads: int = 0) -> fleet.Run:
    per_host = {f"h{i}": modules for i in range(hosts)}
    return fleet.Run(
        label=label,
        rc=0,
        seconds=seconds,
        cpu_seconds=cpu,
        requests=requests,
        bytes=1024 * hosts,
        bundle_downloads=downloads,
        by_route={"GET /apiv1/me/devices/:id/certificates": requests},
        modules=per_host,
        actions={"ansible.builtin.stat": modules * hosts},
        task_modules=per_host,
        changed={},
        load=1.5,
        started=0.0,
        tasks=[{"task": "ansible.builtin.stat | cjj365.certctrl.deploy : Look at the files (tasks/main.yml:3)", "runs": 1, "seconds": seconds / 2}],
    )


def fleet_of_ten(role_rerun: fleet.Run) -> fleet_report.FleetResult:
    size = fleet.Fleet(hosts=10, inventories={}, roots={})
    runs = {
        "role first": fake_run("role first", 40.0, 40.0, 3, requests=40, downloads=20),
        "naive first": fake_run("naive first", 50.0, 50.0, 8, requests=20, downloads=20),
        "plain first": fake_run("plain first", 90.0, 90.0, 28, requests=30, downloads=20),
        "role rerun": role_rerun,
        "naive rerun": fake_run("naive rerun", 50.0, 50.0, 8, requests=20, downloads=20),
        "plain rerun": fake_run("plain rerun", 90.0, 90.0, 27, requests=30, downloads=20),
    }
    return fleet_report.FleetResult(fleet=size, runs=runs, reloads={"role first": 10})


def test_targets_compare_the_role_with_the_naive_playbook() -> None:
    met = {t.name: t for t in fleet_report.fleet_targets(fleet_of_ten(fake_run("role rerun", 15.0, 14.0, 1, requests=30)), startup=0.13)}
    assert met["10 hosts, unchanged rerun: wall time"].measured == "15.0 s against 50.0 s (ratio 0.30)"
    assert all(t.met is True for t in met.values()), [t.name for t in met.values() if t.met is not True]
    assert not any(t.why for t in met.values())
    missed = fleet_report.fleet_targets(fleet_of_ten(fake_run("role rerun", 16.0, 14.0, 2, requests=31)), startup=0.13)
    results = {t.name: t.met for t in missed}
    assert results["10 hosts, unchanged rerun: wall time"] is False
    assert results["10 hosts, unchanged rerun: CPU time"] is True
    assert results["10 hosts, unchanged rerun: module executions"] is False
    assert results["10 hosts, unchanged rerun: API requests"] is False  # 31 > 2 pairs + 1 device per host
    assert results["10 hosts, first run: wall time"] is True  # 40 s against 50 s: 0.8
    explained = [t for t in missed if t.why]
    assert [t.name for t in explained] == ["10 hosts, unchanged rerun: wall time"]  # one profile for the phase's misses
    why = " ".join(explained[0].why.split())  # the explanation is wrapped like the page around it
    assert "unchanged rerun: module executions" in why and "- Look at the files (stat, tasks/main.yml:3): 8.0 s, 50%" in why
    assert "role 2 (stat 2); naive 8 (stat 8)" in why
    assert "`GET /apiv1/me/devices/:id/certificates`: 3.1 per host" in why


def test_fleet_table_has_the_ratios_to_both_playbooks() -> None:
    table = fleet_report.fleet_table(fleet_of_ten(fake_run("role rerun", 15.0, 14.0, 1, requests=30)), "10", "whose core is tasks", "commit abc")
    assert table.headers == ["Figure", "Role", "Naive", "Straightforward", "Role / naive", "Role / straightforward"]
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows["first run: wall time"] == ["40.0 s", "50.0 s", "90.0 s", "0.80", "0.44"]
    assert rows["rerun, nothing changed: module executions per host"] == ["1.0", "8.0", "27.0", "0.12", "0.04"]
    assert rows["first run: hosts whose service was reloaded"] == ["10", "0", "0", "", ""]
    assert "at commit abc" in table.notes[0]


def test_growth_table_shows_the_cost_per_host_at_each_size() -> None:
    table = fleet_report.growth_table([fleet_of_ten(fake_run("role rerun", 15.0, 14.0, 1))])
    assert table.rows[1] == ["10", "rerun, nothing changed", "1.5 s / 1.4 s", "5.0 s / 5.0 s", "9.0 s / 9.0 s", "0.30", "0.28"]
