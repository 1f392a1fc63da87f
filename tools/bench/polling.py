# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The issue module waiting for an asynchronous issuance of known duration.

Measured: the polls sent while waiting, and the gap between the server finishing (the history row's
completed_at) and the task's result reaching the controller. Modelled: the same two figures for any wait,
from the module's own PollSchedule and from other schedules, so the measured runs can be checked and other
waits and schedules compared.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

ISSUES_ROUTE = "GET /apiv1/me/certificates/:id/issues"


@dataclass
class ModelWait:
    polls: int  # polls up to and including the first one that sees the job finished
    lag: float  # seconds from the finish to that poll (request time not included)
    worst_lag: float  # the longest lag of any job that finishes within ``wait``: the longest gap so far


class Schedule(t.Protocol):
    def delays(self) -> t.Iterator[float]:
        """The waits between polls, in seconds."""


def model_wait(schedule: Schedule, wait: float) -> ModelWait | None:
    """Polls and lag of ``schedule`` for a job that finishes ``wait`` seconds after the wait starts; None past the timeout."""
    elapsed, longest = 0.0, 0.0
    for polls, delay in enumerate(schedule.delays(), 1):
        elapsed += delay
        longest = max(longest, delay)
        if elapsed >= wait - 1e-9:
            return ModelWait(polls=polls, lag=elapsed - wait, worst_lag=longest)
    return None


def poll_times(schedule: Schedule, count: int) -> list[float]:
    """When the first ``count`` polls happen, in seconds after the job was started."""
    times, elapsed = [], 0.0
    for delay in schedule.delays():
        elapsed += delay
        times.append(round(elapsed, 1))
        if len(times) == count:
            break
    return times


def same_schedule(a: Schedule, b: Schedule) -> bool:
    return [round(d, 6) for d in a.delays()] == [round(d, 6) for d in b.delays()]


def describe(schedule: object) -> str:
    """The fields of a schedule dataclass, as ``name value`` pairs."""
    return ", ".join(f"{name} {value:g}" for name, value in vars(schedule).items())


def with_interval_max(schedule, interval_max: float):
    """A copy of the module's PollSchedule (a plain class: it runs on Python 3.6 hosts) with another interval_max."""
    return type(schedule)(**{**vars(schedule), "interval_max": interval_max})


@dataclass(frozen=True)
class DoublingSchedule:
    """Exponential backoff: ``interval``, then ``factor`` times longer each time, at most ``interval_max`` apart."""

    interval: float = 1.0
    interval_max: float = 10.0
    timeout: float = 600.0
    factor: float = 2.0

    def delays(self) -> t.Iterator[float]:
        elapsed, step = 0.0, self.interval
        while self.timeout - elapsed > 1e-6:
            delay = min(step, self.interval_max, self.timeout - elapsed)
            yield delay
            elapsed += delay
            step = min(step * self.factor, self.interval_max)


@dataclass(frozen=True)
class ProposedSchedule:
    """Polls at most ``young_gap`` seconds apart while issuance usually ends (the first ``young`` seconds), then
    ``share`` of the time already waited apart (at most ``interval_max``). The lag stays within ``young_gap`` for
    the usual jobs and within ``share`` of the wait for long ones; polls grow with the logarithm of a long wait."""

    interval: float = 1.0
    interval_max: float = 30.0
    timeout: float = 600.0
    young: float = 60.0
    young_gap: float = 2.0
    share: float = 0.1

    def delays(self) -> t.Iterator[float]:
        elapsed = 0.0
        while self.timeout - elapsed > 1e-6:
            if elapsed == 0.0:
                gap = self.interval
            else:
                gap = min(max(self.young_gap if elapsed < self.young else self.share * elapsed, self.interval), self.interval_max)
            gap = min(gap, self.timeout - elapsed)
            yield gap
            elapsed += gap


@dataclass
class MeasuredWait:
    label: str
    wait: float  # the emulator's configured time to finish (PENDING + PROCESSING)
    polls: int  # history reads after the issuing POST
    server_seconds: float  # POST answered -> completed_at
    lag: float  # completed_at -> the task's result on the controller
    poll_lag: float  # completed_at -> the poll that saw it
    requests: int


def measure(emu, env: dict[str, str], work: Path, run_playbook: t.Callable, *, wait: float, poll_interval_max: float | None, label: str) -> MeasuredWait:
    """Issue one new certificate with a letsencrypt-like (asynchronous) account and measure the wait."""
    user = emu.api()
    tag = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    account = user.call("POST", "/acme-accounts", {"name": f"bench-{tag}", "provider": "letsencrypt", "email": "bench@example.test"})
    domain = f"{tag}.wait.example.test"
    cert = user.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": account["id"], "action": "create"})
    emu.admin.configure_issuance(delay=wait / 2)  # seconds in PENDING, then again in PROCESSING
    extra = f", poll_interval_max: {poll_interval_max}" if poll_interval_max is not None else ""
    playbook = work / f"issue-{tag}.yml"
    playbook.write_text(f"""---
- name: Bench issue wait
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Issue
      cjj365.certctrl.issue: {{certificate_id: {cert['id']}{extra}}}
""")
    run = run_playbook(emu, str(playbook), Path("localhost,"), env, work, label, ("-c", "local"))
    if run.rc != 0:
        raise RuntimeError(f"{label}: ansible-playbook failed\n{run.output}")
    result = next(r for r in run.returned if r["task"] == "Issue")
    completed = result["result"]["issue"]["completed_at"] / 1000.0
    log = emu.admin.requests()
    post = next(e for e in log if e["method"] == "POST" and e["path"].endswith("/issues"))
    polls = [e for e in log if e["route"] == ISSUES_ROUTE and e["ts"] > post["ts"]]
    seen = next(e for e in polls if e["ts"] >= completed)
    return MeasuredWait(
        label=label,
        wait=wait,
        polls=len(polls),
        server_seconds=completed - post["ts"],
        lag=result["time"] - completed,
        poll_lag=seen["ts"] - completed,
        requests=len(log),
    )
