# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure parts of `make bench` (tools/bench/): the polling model, page counts, tables, the machine facts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools" / "bench"))

import fleet
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
