# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The issue module's job: decide whether a certificate needs issuing, start (or attach to) the one
# issuance job, and wait for it on a bounded schedule. Waiting is data (PollSchedule), not a loop
# scattered through the module.

import datetime
import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import RETRYABLE_STATUSES, UNCERTAIN_STATUSES, CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, CertCtrlError, InvalidResponseError, TransportError
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import (
    TERMINAL_ISSUE_STATUSES,
    get_certificate,
    issue_history,
    start_issue,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import describe_pem, fromisoformat, utcnow

NEVER_ISSUED = "never_issued"
EXPIRING = "expiring"
FORCED = "forced"
IN_FLIGHT = "in_flight"
VALID = "valid"

HISTORY_WINDOW = 10  # rows read per poll, as the contract's polling guidance does


class PollSchedule:
    """When to look at a job again. The server gives no hint of when a job ends, so the gap between two looks
    is also the longest the module can be late in seeing the end:

    - the first look is after ``interval`` seconds;
    - while the job is young (``young`` seconds, when ACME issuance usually ends) the looks are at most
      ``young_gap`` apart, so its end is seen within that;
    - after that each gap is ``share`` of the time already waited: the lateness stays a small part of the wait
      and the number of looks grows with the logarithm of the wait, not in proportion to it;
    - no gap is shorter than ``interval`` or longer than ``interval_max``, and the last look is at ``timeout``.
    """

    def __init__(
        self,
        interval: float = 1.0,
        interval_max: float = 30.0,
        timeout: float = 600.0,
        young: float = 60.0,
        young_gap: float = 2.0,
        share: float = 0.1,
    ) -> None:
        self.interval = interval
        self.interval_max = interval_max
        self.timeout = timeout
        self.young = young
        self.young_gap = young_gap
        self.share = share

    def delays(self) -> t.Iterator[float]:
        """The sleep before each poll. They add up to ``timeout`` (the last one is shortened), so the
        number of polls is bounded and the last poll happens at the deadline."""
        elapsed = 0.0
        while self.timeout - elapsed > 1e-6:  # float sums of small steps must not leave a sliver of a poll
            if elapsed == 0.0:
                gap = self.interval
            else:
                wanted = self.young_gap if elapsed < self.young else self.share * elapsed
                gap = min(max(wanted, self.interval), self.interval_max)
            delay = min(gap, self.timeout - elapsed)
            yield delay
            elapsed += delay

    def max_polls(self) -> int:
        return sum(1 for _delay in self.delays())


class WaitOutcome:
    def __init__(self, row: t.Optional[t.Dict[str, t.Any]], done: bool, polls: int, last_error: t.Optional[str] = None) -> None:
        self.row = row  # the newest state seen of the job's history row
        self.done = done  # the row reached a terminal status
        self.polls = polls
        self.last_error = last_error  # the last transient polling error, when the wait ran out after one


def renewal_reason(*, x509: t.Optional[t.Dict[str, t.Any]], renew_before_days: float, force: bool, in_flight: bool, now: datetime.datetime) -> str:
    """Why the certificate needs issuing, or VALID. ``x509`` is describe_pem() of the current PEM (None: never issued).

    A running job always wins (there is only ever one); then a missing certificate, then ``force``, then expiry.
    """
    if in_flight:
        return IN_FLIGHT
    if not x509:
        return NEVER_ISSUED
    if force:
        return FORCED
    not_after = fromisoformat(x509["not_after"])
    if not_after - now <= datetime.timedelta(days=renew_before_days):
        return EXPIRING
    return VALID


def find_row(rows: t.List[t.Dict[str, t.Any]], issue_history_id: int) -> t.Optional[t.Dict[str, t.Any]]:
    return next((row for row in rows if int(row.get("id") or 0) == int(issue_history_id)), None)


def read_row(client: CertCtrlClient, certificate_id: int, issue_history_id: int) -> t.Dict[str, t.Any]:
    """The history row of one job, read the way the contract's polling guidance says."""
    row = find_row(issue_history(client, certificate_id, limit=HISTORY_WINDOW), issue_history_id)
    if row is None:
        raise CertCtrlError(
            f"issue history row {issue_history_id} of certificate {certificate_id} is not among its {HISTORY_WINDOW} newest rows",
            certificate_id=certificate_id,
            issue_history_id=issue_history_id,
        )
    return row


def wait_for_issue(
    client: CertCtrlClient,
    certificate_id: int,
    issue_history_id: int,
    schedule: PollSchedule,
    *,
    row: t.Optional[t.Dict[str, t.Any]] = None,
    sleep: t.Callable[[float], None] = time.sleep,
    clock: t.Callable[[], float] = time.monotonic,
) -> WaitOutcome:
    """Poll until the job's row is terminal or ``schedule.timeout`` seconds have passed.

    Rate limiting, 502/503/504, dropped connections and garbled answers that outlast the client's own
    retries do not end the wait: the next poll of the schedule tries again. Other API errors do.
    """
    deadline = clock() + schedule.timeout
    polls, last_error = 0, None
    for delay in schedule.delays():
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(delay, remaining))
        polls += 1
        try:
            row = read_row(client, certificate_id, issue_history_id)
        except (TransportError, InvalidResponseError) as exc:
            last_error = exc.msg
            continue
        except APIError as exc:
            # "Not now" rather than "no": the client already retried it; the next poll tries again.
            if exc.status not in RETRYABLE_STATUSES:
                raise
            last_error = exc.msg
            continue
        last_error = None
        if row.get("status") in TERMINAL_ISSUE_STATUSES:
            return WaitOutcome(row=row, done=True, polls=polls)
    return WaitOutcome(row=row, done=False, polls=polls, last_error=last_error)


def public_record(record: t.Dict[str, t.Any], *, return_pem: bool) -> t.Dict[str, t.Any]:
    """The certificate record as returned: no DER, no key material (by any field name), no CSR (heavy and redundant
    with the PEM), the PEM only when asked for."""
    return state.public(record, keep_heavy=frozenset({"cert"}) if return_pem else False, drop_key_like=True)


def _diff_view(x509: t.Optional[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    return {"serial": x509["serial"], "not_after": x509["not_after"]} if x509 else {"serial": None, "not_after": None}


def _job_of(answer: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The ``{issue_history_id, status}`` of a POST .../issues answer; None when the answer does not carry a job id."""
    if not isinstance(answer, dict):
        return None
    hid = answer.get("issue_history_id")
    if isinstance(hid, bool) or not isinstance(hid, int) or hid < 1:
        return None
    return answer


def _post(
    client: CertCtrlClient,
    certificate_id: int,
    newest: t.Optional[t.Dict[str, t.Any]],
    *,
    warn: t.Callable[[str], None],
    sleep: t.Callable[[float], None],
) -> t.Dict[str, t.Any]:
    """POST .../issues; never two jobs. When the answer is lost (dropped connection, 5xx, a 200 that is not JSON or
    carries no job id), the history tells whether the server queued the job: then the task attaches to it (or takes
    the row that already ended); when it shows no new job, the POST is sent again, after a backoff, a bounded number
    of times. The server also attaches a second POST to a running job (single in-flight)."""
    attempts = 1 + client.policy.retries
    for attempt in range(attempts):
        try:
            answer = start_issue(client, certificate_id)
        except (TransportError, InvalidResponseError, APIError) as exc:
            # Only an answer that may hide a queued job is checked against the history (and maybe re-sent).
            if isinstance(exc, APIError) and exc.status not in UNCERTAIN_STATUSES:
                raise
            lost = exc.msg
        else:
            job = _job_of(answer)
            if job is not None:
                return job
            lost = f"POST /apiv1/me/certificates/{certificate_id}/issues answered without an issue_history_id ({_shape(answer)})"
        try:
            rows = issue_history(client, certificate_id, limit=1)
        except CertCtrlError as again:
            raise CertCtrlError(
                f"{lost}; reading the issue history to learn whether the job was queued failed too: {again.msg}."
                " Check the certificate's issue history before running the task again",
                certificate_id=certificate_id,
            ) from None
        latest = rows[0] if rows else None
        if latest is not None and (newest is None or int(latest["id"]) > int(newest["id"])):
            warn(f"{lost}; the issue history shows job {latest['id']} ({latest.get('status')}), so the task attached to it")
            return {"issue_history_id": latest["id"], "status": latest.get("status")}
        if attempt + 1 < attempts:
            delay = client.policy.delay(attempt, None)
            warn(f"{lost}; the issue history shows no new job, so the server did not act: sending it again ({attempt + 1}/{attempts - 1}) in {delay:.1f} s")
            sleep(delay)
    raise CertCtrlError(
        f"{lost}; the issue history shows no new job after {attempts} attempt(s), so the server did not act on the request and nothing was issued."
        " Running the task again is safe",
        certificate_id=certificate_id,
    )


def _shape(answer: t.Any) -> str:
    """What a malformed answer looked like, without its values (a record may carry key material)."""
    if isinstance(answer, dict):
        return "an object with the fields " + (", ".join(sorted(str(k) for k in answer)) or "none")
    return "no body" if answer is None else f"a {type(answer).__name__}"


def _issued_without_pem(record: t.Dict[str, t.Any], rows: t.List[t.Dict[str, t.Any]]) -> bool:
    """True when the record is issued although no PEM came with it: its serial number or a SUCCESS row says so.
    A missing ``cert`` alone never means "never issued" (production leaves it out unless ?detail=most)."""
    return bool(str(record.get("serial_number") or "").strip()) or any(row.get("status") == "SUCCESS" for row in rows)


def _validate(params: t.Dict[str, t.Any]) -> None:
    state.check_ids(params, "certificate_id", "acct_id")
    if params.get("domain_name") and not (params.get("acct_id") or params.get("acme_account")):
        raise CertCtrlError("domain_name needs the ACME account too: set acct_id or acme_account")
    if params["poll_interval"] <= 0:
        raise CertCtrlError(f"poll_interval must be greater than 0, got {params['poll_interval']}")
    if params["poll_interval_max"] < params["poll_interval"]:
        raise CertCtrlError(f"poll_interval_max ({params['poll_interval_max']}) must not be smaller than poll_interval ({params['poll_interval']})")
    if params["wait_timeout"] < 0 or params["renew_before_days"] < 0:
        raise CertCtrlError("wait_timeout and renew_before_days must not be negative")


def ensure_issued(
    client: CertCtrlClient,
    params: t.Dict[str, t.Any],
    *,
    check_mode: bool = False,
    diff: bool = False,
    sleep: t.Callable[[float], None] = time.sleep,
    clock: t.Callable[[], float] = time.monotonic,
    warn: t.Callable[[str], None] = lambda msg: None,
) -> t.Dict[str, t.Any]:
    """The issue module: issue when needed (or attach to the running job), wait, report."""
    _validate(params)
    record = selectors.certificate(client, **selectors.certificate_args(params), detail=True, warn=warn)
    cid = int(record["id"])
    rows = issue_history(client, cid, limit=HISTORY_WINDOW)
    newest = rows[0] if rows else None
    running = newest if newest is not None and newest.get("status") not in TERMINAL_ISSUE_STATUSES else None
    before = describe_pem(record.get("cert"))
    reason = renewal_reason(x509=before, renew_before_days=params["renew_before_days"], force=params["force"], in_flight=running is not None, now=utcnow())
    if reason == NEVER_ISSUED and _issued_without_pem(record, rows):
        # Issued, but the server sent no PEM even with ?detail=most: the expiry is unknown, so only force renews.
        reason = FORCED if params["force"] else VALID
        warn(
            f"certificate {cid} is issued (serial number or issue history) but the server sent no certificate PEM, so its expiry"
            " cannot be checked against renew_before_days; set force=true to renew it"
        )
    result: t.Dict[str, t.Any] = {
        "changed": False,
        "reason": reason,
        "issue_history_id": running["id"] if running else None,
        "status": running.get("status") if running else None,
        "issue": running,
        "certificate": public_record(record, return_pem=params["return_pem"]),
        "x509": before,
    }
    if diff:
        result["diff"] = {"before": _diff_view(before), "after": _diff_view(before)}
    if reason == VALID:
        return result
    if check_mode:
        # Attaching changes something only when the task waits for the running job to finish.
        result["changed"] = reason != IN_FLIGHT or params["wait"]
        if diff and result["changed"]:
            result["diff"]["after"] = {"serial": "(new certificate)", "not_after": "(new certificate)"}
        return result

    answer = {"issue_history_id": running["id"], "status": running.get("status")} if running else _post(client, cid, newest, warn=warn, sleep=sleep)
    hid, status = int(answer["issue_history_id"]), answer.get("status")
    result.update(changed=running is None, issue_history_id=hid, status=status)
    if not params["wait"] and status not in TERMINAL_ISSUE_STATUSES:
        if diff:
            result["diff"]["after"] = {"serial": f"(issue job {hid}: {status})", "not_after": f"(issue job {hid}: {status})"}
        return result

    row = _await_success(client, cid, hid, status, running, params, sleep=sleep, clock=clock)
    inline = answer.get("cert") if isinstance(answer.get("cert"), dict) else None  # SELF_CA answers with the record
    record = inline if inline and inline.get("cert") else (get_certificate(client, cid, detail=True) or record)
    after = describe_pem(record.get("cert"))
    result.update(changed=True, issue=row, status=row.get("status"), certificate=public_record(record, return_pem=params["return_pem"]), x509=after)
    if diff:
        result["diff"]["after"] = _diff_view(after)
    return result


def _await_success(
    client: CertCtrlClient,
    cid: int,
    hid: int,
    status: t.Optional[str],
    row: t.Optional[t.Dict[str, t.Any]],
    params: t.Dict[str, t.Any],
    *,
    sleep: t.Callable[[float], None],
    clock: t.Callable[[], float],
) -> t.Dict[str, t.Any]:
    """The job's SUCCESS row. A timeout, FAILED or CANCELLED fails with the job's id, status and row."""
    if status in TERMINAL_ISSUE_STATUSES:
        row = read_row(client, cid, hid)
    else:
        schedule = PollSchedule(interval=params["poll_interval"], interval_max=params["poll_interval_max"], timeout=params["wait_timeout"])
        outcome = wait_for_issue(client, cid, hid, schedule, row=row, sleep=sleep, clock=clock)
        row = outcome.row or {"id": hid, "status": status}
        if not outcome.done:
            last = f" (last polling error: {outcome.last_error})" if outcome.last_error else ""
            raise _job_error(
                f"issue job {hid} of certificate {cid} is still {row.get('status')} after wait_timeout={params['wait_timeout']} s{last};"
                " run the task again to attach to the same job (no second job is queued), or raise wait_timeout",
                cid,
                hid,
                row,
            )
    if row.get("status") != "SUCCESS":
        error = row.get("error_message") or "(no error message)"
        raise _job_error(f"issue job {hid} of certificate {cid} ended {row.get('status')}: {error}", cid, hid, row)
    return row


def _job_error(msg: str, cid: int, hid: int, row: t.Dict[str, t.Any]) -> CertCtrlError:
    return CertCtrlError(msg, certificate_id=cid, issue_history_id=hid, status=row.get("status"), issue=row)


__all__ = [
    "EXPIRING",
    "FORCED",
    "IN_FLIGHT",
    "NEVER_ISSUED",
    "VALID",
    "PollSchedule",
    "WaitOutcome",
    "ensure_issued",
    "find_row",
    "public_record",
    "read_row",
    "renewal_reason",
    "wait_for_issue",
]
