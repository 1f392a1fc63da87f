# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The issue module's wait: modelled schedules, targets and the trade-off between them (used by tools/bench.py).

``defaults`` is the module's PollSchedule(), passed in by the caller once the collection is importable; other
settings of the module are derived from it with polling.with_interval_max.
"""

from __future__ import annotations

import typing as t

import polling
from report import Table, Target, seconds

if t.TYPE_CHECKING:
    from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import PollSchedule


def report(measured: list[polling.MeasuredWait], defaults: PollSchedule) -> tuple[list[Table], list[Target], str]:
    """The measured waits, the modelled schedules, the targets, and the section on the trade-off."""
    return [measured_table(measured, defaults), model_table(defaults)], wait_targets(measured, defaults), polling_section(defaults)


def measured_table(measured: list[polling.MeasuredWait], defaults: PollSchedule) -> Table:
    table = Table(
        "issue: waiting for an asynchronous issuance",
        ["Issuance takes", "Settings", "Polls while waiting", "Server finished -> poll saw it", "Server finished -> task result", "Requests"],
    )
    for m in measured:
        settings = m.label.split(", ", 1)[1]
        table.add(f"{m.wait:.0f} s (measured {m.server_seconds:.1f} s)", settings, m.polls, seconds(m.poll_lag), seconds(m.lag), m.requests)
    table.notes.append(
        "The emulator's letsencrypt-like provider keeps the job PENDING, then PROCESSING, for half the time each. The module's defaults:"
        f" {polling.describe(defaults)}; its first polls are {', '.join(f'{x:g}' for x in polling.poll_times(defaults, 8))} ... s after the job started."
        " 'Task result' is when the result reached the controller, after the module also read the issued record."
    )
    return table


def model_table(defaults: PollSchedule) -> Table:
    waits = (5, 60, 120, 300, 600)
    model = Table("issue: polling schedules for other waits (modelled)", ["Schedule", *(f"{w} s: polls / worst lag" for w in waits)])
    schedules = [
        (f"the module's defaults ({polling.describe(defaults)})", defaults),
        ("the module with poll_interval_max 2", polling.with_interval_max(defaults, 2.0)),
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
    for settings, schedule in (("defaults", defaults), ("poll_interval_max=2", polling.with_interval_max(defaults, 2.0))):
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
{polling.model_wait(polling.with_interval_max(schedule, 2.0), 600).polls} polls in 600 s.
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
