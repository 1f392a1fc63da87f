# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure tests of the issue module's decisions: the renewal decision, the poll schedule, the record filter."""

from __future__ import annotations

import datetime
import math

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import (
    EXPIRING,
    FORCED,
    IN_FLIGHT,
    NEVER_ISSUED,
    VALID,
    PollSchedule,
    find_row,
    public_record,
    renewal_reason,
)

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def facts(days_left: float) -> dict:
    return {"serial": "abc", "not_after": (NOW + datetime.timedelta(days=days_left)).isoformat()}


@pytest.mark.parametrize(
    ("x509", "renew_before_days", "force", "in_flight", "expected"),
    [
        (None, 30, False, False, NEVER_ISSUED),
        ({}, 30, False, False, NEVER_ISSUED),
        (None, 30, True, False, NEVER_ISSUED),  # never issued says more than "forced"
        (facts(10), 30, False, False, EXPIRING),
        (facts(10), 5, False, False, VALID),
        (facts(30), 30, False, False, EXPIRING),  # the boundary counts as inside the window
        (facts(30.001), 30, False, False, VALID),
        (facts(-3), 0, False, False, EXPIRING),  # already expired
        (facts(0), 0, False, False, EXPIRING),
        (facts(89), 30, True, False, FORCED),
        (facts(10), 30, True, False, FORCED),
        (facts(89), 30, False, True, IN_FLIGHT),  # a running job always wins: attach, never double
        (None, 30, True, True, IN_FLIGHT),
    ],
)
def test_renewal_reason(x509, renew_before_days, force, in_flight, expected):
    assert renewal_reason(x509=x509, renew_before_days=renew_before_days, force=force, in_flight=in_flight, now=NOW) == expected


def test_renewal_reason_reads_offsets_from_the_iso_timestamp():
    # not_after in another zone is the same instant; the decision must not depend on the rendering.
    not_after = (NOW + datetime.timedelta(days=6)).astimezone(datetime.timezone(datetime.timedelta(hours=-8)))
    assert renewal_reason(x509={"not_after": not_after.isoformat()}, renew_before_days=5, force=False, in_flight=False, now=NOW) == VALID
    assert renewal_reason(x509={"not_after": not_after.isoformat()}, renew_before_days=7, force=False, in_flight=False, now=NOW) == EXPIRING


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (PollSchedule(timeout=9), [1, 2, 2, 2, 2]),  # young job: at most 2 s apart
        (PollSchedule(timeout=30, young=3, share=0.5), [1, 2, 1.5, 2.25, 3.375, 5.0625, 7.59375, 7.21875]),  # then half the wait
        (PollSchedule(interval=0.25, interval_max=1, timeout=3), [0.25] + [1.0] * 2 + [0.75]),  # young_gap 2 capped by interval_max
        (PollSchedule(interval=2, interval_max=2, timeout=7), [2, 2, 2, 1]),  # poll_interval_max 2: every 2 s
        (PollSchedule(interval=5, interval_max=10, timeout=12), [5, 5, 2]),  # never closer than interval
        (PollSchedule(interval=5, interval_max=10, timeout=2), [2]),
        (PollSchedule(interval=1, interval_max=10, timeout=0), []),
        (PollSchedule(timeout=100, young=0, share=0.5, interval_max=8), [1, 1, 1, 1.5, 2.25, 3.375, 5.0625, 7.59375, 8] + [8] * 8 + [5.21875]),
    ],
)
def test_schedule_is_fast_while_young_then_a_share_of_the_wait_capped_and_bounded(schedule, expected):
    assert list(schedule.delays()) == pytest.approx(expected)
    assert schedule.max_polls() == len(expected)


def lateness(schedule: PollSchedule, finish: float) -> float:
    """How long after a job finishing ``finish`` seconds in the module sees it (the poll at or after it)."""
    elapsed = 0.0
    for delay in schedule.delays():
        elapsed += delay
        if elapsed >= finish - 1e-9:
            return elapsed - finish
    return math.inf


def polls_until(schedule: PollSchedule, finish: float) -> int:
    elapsed, polls = 0.0, 0
    for delay in schedule.delays():
        elapsed, polls = elapsed + delay, polls + 1
        if elapsed >= finish - 1e-9:
            break
    return polls


def test_default_schedule_sees_a_young_job_end_within_2_s_and_pays_logarithmically_for_long_waits():
    schedule = PollSchedule()
    delays = list(schedule.delays())
    assert delays[:3] == [1, 2, 2]
    assert sum(delays) == pytest.approx(600)
    # Jobs that end in the first minute, whenever they end, are seen within 2 s.
    assert max(lateness(schedule, finish / 10) for finish in range(1, 600)) <= 2 + 1e-9
    # Later, within a tenth of the wait (and never more than poll_interval_max).
    assert all(lateness(schedule, finish) <= max(2, 0.1 * finish * 1.1, 0) + 1e-9 for finish in range(60, 300, 7))
    assert max(delays) == 30
    # 10 times the wait past the first minute, not 10 times the polls: 31 polls for 60 s, 58 for 600 s.
    assert polls_until(schedule, 60) == 31
    assert polls_until(schedule, 600) == len(delays) == 58
    # Between 1 and 5 minutes the polls grow with log(wait): each doubling of the wait costs about the same.
    steps = [polls_until(schedule, w) for w in (75, 150, 300)]
    assert steps[1] - steps[0] == pytest.approx(steps[2] - steps[1], abs=1)


@pytest.mark.parametrize("timeout", [0.5, 1, 7.3, 60, 3600])
@pytest.mark.parametrize(("interval", "interval_max"), [(0.1, 0.1), (0.5, 4), (1, 10), (1, 30), (3, 30)])
def test_schedule_properties(timeout, interval, interval_max):
    schedule = PollSchedule(interval=interval, interval_max=interval_max, timeout=timeout)
    delays = list(schedule.delays())
    assert sum(delays) == pytest.approx(timeout)
    assert all(0 < d <= interval_max for d in delays)
    # No gap shorter than the interval, except the last, which is shortened to end on the deadline.
    assert all(d >= interval - 1e-9 for d in delays[:-1])
    # Non-decreasing except for the last wait.
    assert all(a <= b + 1e-9 for a, b in zip(delays[1:-2], delays[2:-1]))
    # Never more polls than looking every max(interval, young_gap) in the first minute, then every interval_max
    # after growing 10% a poll.
    young = max(interval, min(2, interval_max))
    growth = math.ceil(math.log(max(interval_max / max(6, interval), 1)) / math.log(1.1)) + 1
    assert len(delays) <= math.ceil(min(timeout, 60) / young) + growth + math.ceil(max(timeout - 60, 0) / interval_max) + 2


def test_find_row_matches_by_id_whatever_the_type():
    rows = [{"id": 9, "status": "PENDING"}, {"id": 8, "status": "SUCCESS"}]
    assert find_row(rows, 8) == {"id": 8, "status": "SUCCESS"}
    assert find_row(rows, "9")["status"] == "PENDING"
    assert find_row(rows, 7) is None
    assert find_row([], 1) is None


def test_public_record_drops_heavy_and_key_fields():
    record = {
        "id": 1,
        "cert": "-----BEGIN CERTIFICATE-----...",
        "der": "MII...",
        "csr": "-----BEGIN CERTIFICATE REQUEST-----",
        "enc_privkey": "xx",
        "privkey_nonce": "yy",
        "key_pem": "-----BEGIN PRIVATE KEY-----",
        "serial_number": "0a",
    }
    assert public_record(record, return_pem=False) == {"id": 1, "serial_number": "0a"}
    assert public_record(record, return_pem=True) == {"id": 1, "serial_number": "0a", "cert": "-----BEGIN CERTIFICATE-----..."}
    assert "der" in record  # the input is not mutated


def test_public_record_drops_wrapped_key_fields_the_contract_does_not_list():
    record = {"id": 1, "enc_privkey_b64": "x", "privkey_tag_b64": "t", "csr": "c", "cert": "-----BEGIN CERTIFICATE-----..."}
    assert public_record(record, return_pem=True) == {"id": 1, "cert": "-----BEGIN CERTIFICATE-----..."}
