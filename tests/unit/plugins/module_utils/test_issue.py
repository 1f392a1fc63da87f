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
        (PollSchedule(interval=1, interval_max=10, timeout=30), [1, 2, 4, 8, 10, 5]),
        (PollSchedule(interval=1, interval_max=10, timeout=12), [1, 2, 4, 5]),
        (PollSchedule(interval=0.25, interval_max=1, timeout=3), [0.25, 0.5, 1, 1, 0.25]),
        (PollSchedule(interval=2, interval_max=2, timeout=7), [2, 2, 2, 1]),
        (PollSchedule(interval=5, interval_max=10, timeout=2), [2]),
        (PollSchedule(interval=1, interval_max=10, timeout=0), []),
        (PollSchedule(interval=1, interval_max=60, timeout=10, factor=3), [1, 3, 6]),
    ],
)
def test_schedule_backs_off_exponentially_capped_and_bounded(schedule, expected):
    assert list(schedule.delays()) == pytest.approx(expected)
    assert schedule.max_polls() == len(expected)


def test_default_schedule_is_bounded_by_wait_timeout():
    schedule = PollSchedule()  # 1 s doubling to 10 s, 600 s
    delays = list(schedule.delays())
    assert delays[:5] == [1, 2, 4, 8, 10]
    assert all(d == 10 for d in delays[4:-1])
    assert sum(delays) == pytest.approx(600)
    assert len(delays) == 63  # 1+2+4+8 s of ramp-up, then 58 waits of 10 s and a last one of 5 s
    # amazon.aws's rule of thumb, wait_timeout // delay, bounds the polls from above (plus the ramp-up).
    assert schedule.max_polls() <= 600 // 10 + 5


@pytest.mark.parametrize("timeout", [0.5, 1, 7.3, 60, 3600])
@pytest.mark.parametrize(("interval", "interval_max"), [(0.1, 0.1), (0.5, 4), (1, 10), (3, 30)])
def test_schedule_properties(timeout, interval, interval_max):
    delays = list(PollSchedule(interval=interval, interval_max=interval_max, timeout=timeout).delays())
    assert sum(delays) == pytest.approx(timeout)
    assert all(0 < d <= interval_max for d in delays)
    # Non-decreasing except for the last wait, which is shortened to end on the deadline.
    assert all(a <= b for a, b in zip(delays[:-2], delays[1:-1]))
    # Never more polls than a fixed poll_interval_max schedule after the doubling ramp-up.
    ramp = 0
    while interval * 2**ramp < interval_max:
        ramp += 1
    assert len(delays) <= ramp + math.ceil(timeout / interval_max - 1e-9) + 1


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
