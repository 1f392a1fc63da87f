# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.issue against the emulator: playbooks, request counts, failure paths.

State is set up through the emulator's REST API with the ``full`` key (no dependency on the other
modules). Work is counted in the emulator's request log, never measured in wall-clock time.
"""

from __future__ import annotations

import itertools
import threading
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient, RetryPolicy
from ansible_collections.cjj365.certctrl.plugins.module_utils._issue import PollSchedule, wait_for_issue
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import start_issue
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import describe_pem
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

PLAYBOOKS = Path(__file__).parent / "playbooks"
ISSUE = PLAYBOOKS / "issue.yml"
FLOW = PLAYBOOKS / "issue_flow.yml"
_names = itertools.count(1)


class Api:
    """Direct REST access to set up state (``full`` key) and to inspect it (``readonly`` key, so the
    test's own reads never count as the module's requests)."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def call(self, method: str, path: str, body: t.Any = None, *, key: str = "full") -> t.Any:
        return self.emu.api(key).call(method, path, body)

    def account(self, *, provider: str = "SELF_CA", cert_valid_seconds: int | None = None) -> dict:
        body: dict[str, t.Any] = {"name": f"issue-acct-{next(_names)}-{time.monotonic_ns()}", "provider": provider}
        if provider == "SELF_CA":
            body["ca_id"] = 1
        else:
            body["email"] = "ops@example.com"
        if cert_valid_seconds:
            body["cert_valid_seconds"] = cert_valid_seconds
        return self.call("POST", "/acme-accounts", body)

    def certificate(self, account: dict, domain: str | None = None) -> int:
        domain = domain or f"host{next(_names)}-{time.monotonic_ns()}.example.com"
        return self.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})["id"]

    def cert(self, cid: int) -> dict:
        return self.call("GET", f"/certificates/{cid}?detail=most", key="readonly")  # production sends the PEM only then

    def history(self, cid: int) -> list[dict]:
        return self.call("GET", f"/certificates/{cid}/issues?offset=0&limit=100", key="readonly")

    def issue(self, cid: int) -> dict:
        return self.call("POST", f"/certificates/{cid}/issues", {})


def issue_requests(emu: Emulator, cid: int) -> list[dict]:
    """The module's requests to one certificate's issue endpoints (not the test's own reads), oldest first."""
    suffix = f"/certificates/{cid}/issues"
    return [r for r in emu.admin.requests() if r["path"].endswith(suffix) and r["key"] != "readonly"]


def posts(emu: Emulator, cid: int, *, accepted: bool = False) -> int:
    """POSTs to .../issues; ``accepted``: only those the server answered 200 (not a 429 it refused)."""
    return sum(1 for r in issue_requests(emu, cid) if r["method"] == "POST" and (not accepted or r["status"] == 200))


def polls_after_post(emu: Emulator, cid: int) -> list[dict]:
    log = issue_requests(emu, cid)
    first_post = next(i for i, r in enumerate(log) if r["method"] == "POST")
    return [r for r in log[first_post + 1 :] if r["method"] == "GET"]


def play(emu: Emulator, tmp_path: Path, *, key: str = "full", check: bool = False, diff: bool = False, verbosity: int = 0, **options: t.Any) -> PlaybookRun:
    extra = {f"issue_{k}": v for k, v in options.items()}
    return run_playbook(ISSUE, ansible_env(emu, key=key), tmp_path=tmp_path, extra_vars=extra, check=check, diff=diff, verbosity=verbosity)


def wait_until(predicate: t.Callable[[], t.Any], what: str, attempts: int = 600) -> t.Any:
    for _attempt in range(attempts):
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)


# -- SELF_CA, inline ---------------------------------------------------------------------------


def test_self_ca_issues_inline_then_is_idempotent(emulator, api, tmp_path):
    cid = api.certificate(api.account())

    first = play(emulator, tmp_path, certificate_id=cid)
    result = first.task("Issue")
    assert first.rc == 0, first.stdout
    assert result["changed"] is True
    assert result["reason"] == "never_issued"
    assert result["status"] == "SUCCESS"
    assert result["issue"]["id"] == result["issue_history_id"]
    assert result["issue"]["cert_record_id"] == cid
    record = api.cert(cid)
    facts = describe_pem(record["cert"])
    assert result["x509"]["serial"] == facts["serial"]
    assert result["x509"]["not_after"] == facts["not_after"]
    assert result["x509"]["sha256_fingerprint"] == facts["sha256_fingerprint"]
    assert result["x509"]["issuer"] == facts["issuer"]
    assert result["x509"]["days_remaining"] > 30
    assert result["certificate"]["id"] == cid
    assert not {"cert", "der", "csr"} & set(result["certificate"])
    # One POST, no polling: SELF_CA answers SUCCESS inline; one read of the history before and one after.
    log = issue_requests(emulator, cid)
    assert [r["method"] for r in log] == ["GET", "POST", "GET"]

    second = play(emulator, tmp_path, certificate_id=cid)
    again = second.task("Issue")
    assert again["changed"] is False
    assert again["reason"] == "valid"
    assert again["issue_history_id"] is None
    assert again["x509"]["serial"] == facts["serial"]
    assert posts(emulator, cid) == 1


def test_flow_by_domain_and_account_name(emulator, api, tmp_path):
    account = api.account()
    domain = f"flow{next(_names)}.example.com"
    cid = api.certificate(account, domain)
    run = run_playbook(FLOW, ansible_env(emulator), tmp_path=tmp_path, extra_vars={"flow_domain": domain, "flow_account": account["name"]})
    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Check the flow")["_status"] == "ok"
    # check mode, idempotent re-run and the forced check sent nothing: exactly two jobs.
    assert posts(emulator, cid) == 2
    assert len(api.history(cid)) == 2


def test_return_pem_and_wait_false_on_inline_provider(emulator, api, tmp_path):
    cid = api.certificate(api.account())
    result = play(emulator, tmp_path, certificate_id=cid, wait=False, return_pem=True).task("Issue")
    # SELF_CA finishes inline, so even wait=false reports the new certificate.
    assert result["changed"] is True
    assert result["status"] == "SUCCESS"
    assert result["certificate"]["cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in result["certificate"]["cert"]
    assert describe_pem(result["certificate"]["cert"])["serial"] == result["x509"]["serial"]


# -- asynchronous providers --------------------------------------------------------------------


def test_async_polling_follows_the_schedule(tmp_path):
    with Emulator(tls=True, issue_delay=1.0, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        result = play(emu, tmp_path, certificate_id=cid, poll_interval=0.25, poll_interval_max=1, wait_timeout=60).task("Issue")
        assert result["changed"] is True
        assert result["status"] == "SUCCESS"
        assert result["issue"]["status"] == "SUCCESS"
        assert result["issue"]["acme_order_id"]
        assert result["x509"]["serial"] == describe_pem(api.cert(cid)["cert"])["serial"]

        post = next(r for r in issue_requests(emu, cid) if r["method"] == "POST")
        polls = polls_after_post(emu, cid)
        assert all(r["status"] == 200 for r in polls)
        assert posts(emu, cid) == 1
        # The job needs two phases of 1 s, so the first looks see it running and the last one SUCCESS.
        assert len(polls) >= 3, polls
        # Counted against the schedule: no more looks than its sleeps fit into the time the wait took
        # (a slow machine stretches the time and so allows more looks, never more than the schedule's).
        schedule = list(PollSchedule(interval=0.25, interval_max=1, timeout=60).delays())
        waited = polls[-1]["ts"] - post["ts"]
        planned_times = list(itertools.accumulate(schedule))
        assert len(polls) <= sum(1 for planned in planned_times if planned <= waited + 0.01), (polls, waited)
        # A fixed 0.25 s interval would have looked waited/0.25 times; the schedule looks far less often.
        assert len(polls) < waited / 0.25
        # Each gap is at least the scheduled sleep (sleeps never end early; requests only add to them).
        gaps = [b["ts"] - a["ts"] for a, b in zip(polls, polls[1:])]
        for gap, planned in zip(gaps, schedule[1:]):
            assert gap >= planned * 0.9, (gaps, schedule)


def test_waiter_sleeps_exactly_the_schedule(tmp_path):
    """wait_for_issue with our real client: recorded sleeps are the schedule; a frozen-time run is bounded."""
    with Emulator(tls=True, issue_delay=0.4, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        client = CertCtrlClient(api_url=emu.base_url, api_key=emu.token(), ca_path=emu.ca_file, retry_policy=RetryPolicy(retries=0))
        schedule = PollSchedule(interval=0.1, interval_max=0.4, timeout=30)
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        hid = start_issue(client, cid)["issue_history_id"]
        outcome = wait_for_issue(client, cid, hid, schedule, sleep=sleep)
        assert outcome.done and outcome.row["status"] == "SUCCESS"
        assert outcome.polls == len(slept)
        assert slept == pytest.approx(list(schedule.delays())[: len(slept)])

        # A clock that only moves when the waiter sleeps: the job never ends, the poll count is exactly bounded.
        emu.admin.configure_issuance(delay=3600)
        cid2 = api.certificate(api.account(provider="letsencrypt"))
        hid2 = start_issue(client, cid2)["issue_history_id"]
        now = [0.0]
        short = PollSchedule(interval=1, interval_max=4, timeout=20)
        before = len(issue_requests(emu, cid2))
        outcome = wait_for_issue(client, cid2, hid2, short, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
        assert not outcome.done
        assert outcome.row["status"] == "PENDING"
        assert outcome.polls == short.max_polls() == 11  # 1 s, then 2 s apart while the job is young: 1 + 9 x 2 + 1
        assert len(issue_requests(emu, cid2)) - before == 11
        assert now[0] == pytest.approx(20)
        client.close()


def test_failed_job_fails_with_the_error_message(tmp_path):
    with Emulator(tls=True, issue_delay=0.2, fail_domain=r"^bad\.", workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        for provider in ("letsencrypt", "SELF_CA"):
            cid = api.certificate(api.account(provider=provider), f"bad.{provider.lower().replace('_', '-')}.example.com")
            run = play(emu, tmp_path, certificate_id=cid, poll_interval=0.2)
            result = run.task("Issue")
            assert run.rc != 0
            assert result["_status"] == "failed"
            assert result["status"] == "FAILED"
            assert "rejectedIdentifier" in result["msg"]
            assert result["issue"]["error_message"] in result["msg"]
            assert result["issue_history_id"] == api.history(cid)[0]["id"]
            assert f"issue job {result['issue_history_id']} of certificate {cid} ended FAILED" in result["msg"]
            assert posts(emu, cid) == 1


def test_configure_fail_domain_at_runtime(fresh_emulator, tmp_path):
    api = Api(fresh_emulator)
    fresh_emulator.admin.configure_issuance(fail_domain=r"doomed")
    cid = api.certificate(api.account(), "doomed.example.com")
    result = play(fresh_emulator, tmp_path, certificate_id=cid).task("Issue")
    assert result["_status"] == "failed"
    assert "Cannot issue for" in result["msg"] and "doomed.example.com" in result["msg"]


def test_cancelled_job_fails(tmp_path):
    with Emulator(tls=True, issue_delay=30, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        box: dict[str, PlaybookRun] = {}
        worker = threading.Thread(target=lambda: box.setdefault("run", play(emu, tmp_path, certificate_id=cid, poll_interval=0.2, poll_interval_max=0.5)))
        worker.start()
        hid = wait_until(lambda: (api.history(cid) or [{}])[0].get("id"), "the job to be queued")
        wait_until(lambda: len(polls_after_post(emu, cid)) >= 1, "the module to poll")
        emu.admin.cancel_issue(cid, hid)
        worker.join(timeout=120)
        result = box["run"].task("Issue")
        assert result["_status"] == "failed"
        assert result["status"] == "CANCELLED"
        assert result["issue_history_id"] == hid
        assert "ended CANCELLED: cancelled" in result["msg"]
        assert posts(emu, cid) == 1


def test_timeout_then_rerun_attaches_to_the_same_job(tmp_path):
    # The job's first phase lasts 30 s: far longer than the first run waits, and than it takes to start the second.
    with Emulator(tls=True, issue_delay=30, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        first = play(emu, tmp_path, certificate_id=cid, wait_timeout=1, poll_interval=0.2, poll_interval_max=0.4)
        timed_out = first.task("Issue")
        assert timed_out["_status"] == "failed"
        hid = timed_out["issue_history_id"]
        assert timed_out["status"] == "PENDING"
        assert timed_out["issue"]["id"] == hid
        assert f"issue job {hid} of certificate {cid} is still PENDING after wait_timeout=1.0 s" in timed_out["msg"]
        assert "run the task again" in timed_out["msg"]
        # Bounded: 1 s of 0.2, 0.4, 0.4 s sleeps is at most 3 looks.
        assert 1 <= len(polls_after_post(emu, cid)) <= PollSchedule(0.2, 0.4, 1).max_polls() == 3
        assert hid == api.history(cid)[0]["id"]

        emu.admin.configure_issuance(delay=0.2)  # the job's next phase (PROCESSING) is short
        second = play(emu, tmp_path, certificate_id=cid, wait_timeout=120, poll_interval=1, poll_interval_max=4)
        attached = second.task("Issue")
        assert attached["reason"] == "in_flight", attached
        assert attached["changed"] is True
        assert attached["issue_history_id"] == hid
        assert attached["status"] == "SUCCESS"
        assert attached["x509"]["serial"] == describe_pem(api.cert(cid)["cert"])["serial"]
        assert emu.admin.counters()["by_method"]["POST"] == 3  # the account, the certificate, one issue job
        assert posts(emu, cid) == 1
        assert len(api.history(cid)) == 1


def test_in_flight_job_check_mode_and_wait_false(tmp_path):
    with Emulator(tls=True, issue_delay=3600, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        started = play(emu, tmp_path, certificate_id=cid, wait=False).task("Issue")
        assert started["changed"] is True
        assert started["reason"] == "never_issued"
        assert started["status"] == "PENDING"
        assert polls_after_post(emu, cid) == []  # wait=false returns right after the POST
        hid = started["issue_history_id"]

        predicted = play(emu, tmp_path, certificate_id=cid, check=True, diff=True).task("Issue")
        assert predicted["changed"] is True
        assert predicted["reason"] == "in_flight"
        assert predicted["issue_history_id"] == hid

        attached = play(emu, tmp_path, certificate_id=cid, wait=False, force=True).task("Issue")
        assert attached["changed"] is False  # attached without waiting: this task changed nothing
        assert attached["reason"] == "in_flight"
        assert attached["issue_history_id"] == hid
        assert attached["status"] == "PENDING"
        assert posts(emu, cid) == 1
        emu.admin.cancel_issue(cid, hid)


# -- renewal window, force, check mode, diff ---------------------------------------------------


def test_renew_window_decides(emulator, api, tmp_path):
    cid = api.certificate(api.account(cert_valid_seconds=10 * 86400))
    api.issue(cid)  # SELF_CA: issued inline, valid for 10 days
    old = describe_pem(api.cert(cid)["cert"])
    assert old["days_remaining"] in (9, 10)

    kept = play(emulator, tmp_path, certificate_id=cid, renew_before_days=5).task("Issue")
    assert kept["changed"] is False
    assert kept["reason"] == "valid"
    assert kept["x509"]["serial"] == old["serial"]
    assert posts(emulator, cid) == 1

    renewed = play(emulator, tmp_path, certificate_id=cid, renew_before_days=30, diff=True).task("Issue")
    assert renewed["changed"] is True
    assert renewed["reason"] == "expiring"
    assert renewed["x509"]["serial"] != old["serial"]
    assert renewed["diff"]["before"] == {"serial": old["serial"], "not_after": old["not_after"]}
    assert renewed["diff"]["after"] == {"serial": renewed["x509"]["serial"], "not_after": renewed["x509"]["not_after"]}
    assert posts(emulator, cid) == 2


def test_force_renews_a_valid_certificate(emulator, api, tmp_path):
    cid = api.certificate(api.account())
    api.issue(cid)
    old = describe_pem(api.cert(cid)["cert"])
    assert play(emulator, tmp_path, certificate_id=cid).task("Issue")["changed"] is False
    forced = play(emulator, tmp_path, certificate_id=cid, force=True).task("Issue")
    assert forced["changed"] is True
    assert forced["reason"] == "forced"
    assert forced["x509"]["serial"] != old["serial"]
    assert posts(emulator, cid) == 2


def test_check_mode_predicts_without_posting(emulator, api, tmp_path):
    cid = api.certificate(api.account(cert_valid_seconds=10 * 86400))
    never = play(emulator, tmp_path, certificate_id=cid, check=True, diff=True)
    result = never.task("Issue")
    assert result["changed"] is True
    assert result["reason"] == "never_issued"
    assert result["x509"] is None
    assert result["diff"]["before"] == {"serial": None, "not_after": None}
    assert result["diff"]["after"]["serial"] == "(new certificate)"
    assert posts(emulator, cid) == 0
    assert api.history(cid) == []

    api.issue(cid)
    serial = describe_pem(api.cert(cid)["cert"])["serial"]
    for options, changed, reason in (
        ({"renew_before_days": 5}, False, "valid"),
        ({"renew_before_days": 30}, True, "expiring"),
        ({"renew_before_days": 5, "force": True}, True, "forced"),
    ):
        run = play(emulator, tmp_path, certificate_id=cid, check=True, diff=True, **options)
        predicted = run.task("Issue")
        assert (predicted["changed"], predicted["reason"]) == (changed, reason), options
        assert predicted["diff"]["before"]["serial"] == serial
        assert "PRIVATE KEY" not in run.stdout
    assert posts(emulator, cid) == 1  # only the setup's


# -- transport and server trouble --------------------------------------------------------------


def test_rate_limit_and_503_storms_while_polling_converge(tmp_path):
    with Emulator(tls=True, issue_delay=0.5, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        box: dict[str, PlaybookRun] = {}
        worker = threading.Thread(
            target=lambda: box.setdefault("run", play(emu, tmp_path, certificate_id=cid, poll_interval=1, poll_interval_max=1, wait_timeout=120))
        )
        worker.start()
        wait_until(lambda: posts(emu, cid) == 1, "the POST")
        # A storm longer than one poll's client retries (6 attempts): 8 x 429, then 4 x 503, on the polls only.
        emu.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="GET", kind="status", status=429, retry_after=0, count=8)
        emu.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="GET", kind="status", status=503, retry_after=0, count=4)
        worker.join(timeout=180)
        run = box["run"]
        result = run.task("Issue")
        assert run.rc == 0, run.stdout
        assert result["changed"] is True and result["status"] == "SUCCESS"
        statuses = [r["status"] for r in polls_after_post(emu, cid)]
        assert statuses.count(429) == 8 and statuses.count(503) == 4
        assert statuses[-1] == 200
        assert posts(emu, cid) == 1
        assert any("retry" in w for w in result.get("warnings", []))


def test_rate_limited_key_during_polling(tmp_path):
    with Emulator(tls=True, issue_delay=1.0, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        emu.admin.set_rate_limit(2, 1)  # 2 requests per second for the key: every burst hits 429 + Retry-After
        run = play(emu, tmp_path, certificate_id=cid, poll_interval=0.1, poll_interval_max=0.2, wait_timeout=120)
        result = run.task("Issue")
        assert run.rc == 0, run.stdout
        assert result["status"] == "SUCCESS"
        assert emu.admin.counters()["by_status"].get("429", 0) >= 1
        assert posts(emu, cid, accepted=True) == 1  # a refused (429) POST may be re-sent; it was never acted on
        assert len(api.history(cid)) == 1


def test_post_answer_lost_after_the_server_acted_attaches(tmp_path):
    with Emulator(tls=True, issue_delay=0.3, workdir=tmp_path / "emu") as emu:
        api = Api(emu)
        cid = api.certificate(api.account(provider="letsencrypt"))
        emu.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind="drop_after", count=1)
        result = play(emu, tmp_path, certificate_id=cid, poll_interval=0.2).task("Issue")
        assert result["changed"] is True
        assert result["status"] == "SUCCESS"
        assert posts(emu, cid) == 1  # never re-sent
        assert len(api.history(cid)) == 1
        assert result["issue_history_id"] == api.history(cid)[0]["id"]


def test_post_dropped_before_acting_is_sent_again_once_the_history_shows_no_job(fresh_emulator, tmp_path):
    # Issue 14 item 4: a dropped POST converges. The history shows no new job, so the POST is sent again.
    api = Api(fresh_emulator)
    cid = api.certificate(api.account(provider="letsencrypt"))
    fresh_emulator.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind="drop", count=1)
    result = play(fresh_emulator, tmp_path, certificate_id=cid, poll_interval=0.2).task("Issue")
    assert result["_status"] == "ok", result
    assert result["changed"] is True and result["status"] == "SUCCESS"
    assert posts(fresh_emulator, cid) == 2
    assert len(api.history(cid)) == 1  # one job
    assert result["issue_history_id"] == api.history(cid)[0]["id"]
    assert any("the issue history shows no new job, so the server did not act: sending it again" in w for w in result["warnings"])


def test_post_503_rereads_the_history_then_sends_again(fresh_emulator, tmp_path):
    # The server (or a gateway) answered 503 to the POST: it may have acted, so the module re-reads first.
    api = Api(fresh_emulator)
    cid = api.certificate(api.account(provider="letsencrypt"))
    fresh_emulator.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind="status", status=503, count=1)
    result = play(fresh_emulator, tmp_path, certificate_id=cid, poll_interval=0.2).task("Issue")
    assert result["_status"] == "ok", result
    assert result["changed"] is True and result["status"] == "SUCCESS"
    log = issue_requests(fresh_emulator, cid)
    # history, POST (503), history (no new job), POST (queued), then polls
    assert [(r["method"], r["status"]) for r in log[:4]] == [("GET", 200), ("POST", 503), ("GET", 200), ("POST", 200)]
    assert posts(fresh_emulator, cid) == 2
    assert len(api.history(cid)) == 1


@pytest.mark.parametrize("kind", ["drop_after", "malformed"])
def test_post_acted_on_but_answer_lost_or_garbled_attaches_to_the_job(fresh_emulator, tmp_path, kind):
    # The server queued the job, then the answer was cut (drop_after) or garbled (malformed 200): never a second job.
    api = Api(fresh_emulator)
    cid = api.certificate(api.account(provider="letsencrypt"))
    fresh_emulator.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind=kind, count=1)
    result = play(fresh_emulator, tmp_path, certificate_id=cid, poll_interval=0.2).task("Issue")
    assert result["_status"] == "ok", result
    assert result["changed"] is True and result["status"] == "SUCCESS"
    assert posts(fresh_emulator, cid) == 1
    history = api.history(cid)
    assert len(history) == 1 and result["issue_history_id"] == history[0]["id"]
    assert any(f"shows job {history[0]['id']}" in w and "attached to it" in w for w in result["warnings"])


def test_inline_job_whose_answer_is_lost_reports_the_success_row(fresh_emulator, tmp_path):
    # SELF_CA issues inline: the job already ended SUCCESS when the answer is lost; the task reports that row.
    api = Api(fresh_emulator)
    cid = api.certificate(api.account())
    fresh_emulator.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind="malformed", count=1)
    result = play(fresh_emulator, tmp_path, certificate_id=cid).task("Issue")
    assert result["_status"] == "ok", result
    assert result["changed"] is True and result["status"] == "SUCCESS"
    assert result["issue"]["id"] == api.history(cid)[0]["id"]
    assert result["x509"]["serial"] == describe_pem(api.cert(cid)["cert"])["serial"]
    assert posts(fresh_emulator, cid) == 1 and len(api.history(cid)) == 1


def test_post_that_never_gets_through_fails_after_the_retries_saying_nothing_was_issued(fresh_emulator, tmp_path):
    api = Api(fresh_emulator)
    cid = api.certificate(api.account(provider="letsencrypt"))
    fresh_emulator.admin.add_fault(path=rf"/certificates/{cid}/issues$", method="POST", kind="status", status=503, count=50)
    env = ansible_env(fresh_emulator, CERTCTRL_RETRIES="2")
    result = run_playbook(ISSUE, env, tmp_path=tmp_path, extra_vars={"issue_certificate_id": cid}).task("Issue")
    assert result["_status"] == "failed"
    assert "HTTP 503" in result["msg"] and "no new job after 3 attempt(s)" in result["msg"] and "nothing was issued" in result["msg"]
    assert posts(fresh_emulator, cid) == 3
    assert api.history(cid) == []


# -- errors and secrets ------------------------------------------------------------------------


def test_readonly_key_cannot_issue(emulator, api, tmp_path):
    cid = api.certificate(api.account())
    run = play(emulator, tmp_path, key="readonly", certificate_id=cid)
    result = run.task("Issue")
    assert result["_status"] == "failed"
    assert result["status"] == 403
    assert f"certificates:{cid}[write]" in result["msg"]
    assert result["api_error"]["code"] == 5022
    # ... but it may predict, since check mode only reads.
    predicted = play(emulator, tmp_path, key="readonly", certificate_id=cid, check=True).task("Issue")
    assert predicted["changed"] is True and predicted["reason"] == "never_issued"
    assert api.history(cid) == []


@pytest.mark.parametrize("key", ["revoked", "bogus"])
def test_unauthenticated(emulator, api, tmp_path, key):
    cid = api.certificate(api.account())
    env = ansible_env(emulator) if key == "bogus" else ansible_env(emulator, key=key)
    if key == "bogus":
        env["CERTCTRL_API_KEY"] = "ak_bogus_0000000000000000"
    run = run_playbook(ISSUE, env, tmp_path=tmp_path, extra_vars={"issue_certificate_id": cid})
    result = run.task("Issue")
    assert result["_status"] == "failed"
    assert result["status"] == 401 and result["api_error"]["code"] == 5018
    assert env["CERTCTRL_API_KEY"] not in run.stdout + run.stderr


def test_not_found_paths(emulator, api, tmp_path):
    missing = play(emulator, tmp_path, certificate_id=987654).task("Issue")
    assert missing["_status"] == "failed"
    assert "certificate 987654 does not exist" in missing["msg"]

    account = api.account()
    no_domain = play(emulator, tmp_path, domain_name="nowhere.example.com", acct_id=account["id"]).task("Issue")
    assert no_domain["_status"] == "failed"
    assert "no certificate for 'nowhere.example.com'" in no_domain["msg"]

    no_account = play(emulator, tmp_path, domain_name="nowhere.example.com", acme_account="no-such-account").task("Issue")
    assert "no ACME account named 'no-such-account'" in no_account["msg"]

    other_users = play(emulator, tmp_path, domain_name="x.example.com", acct_id=987654).task("Issue")
    assert other_users["_status"] == "failed" and other_users["status"] == 404


def test_argument_errors(emulator, tmp_path):
    assert "one of the following is required" in play(emulator, tmp_path).task("Issue")["msg"]
    both = play(emulator, tmp_path, certificate_id=1, domain_name="a.example.com").task("Issue")
    assert "mutually exclusive" in both["msg"]
    no_account = play(emulator, tmp_path, domain_name="a.example.com").task("Issue")
    assert "set acct_id or acme_account" in no_account["msg"]
    bad_schedule = play(emulator, tmp_path, certificate_id=1, poll_interval=5, poll_interval_max=1).task("Issue")
    assert "poll_interval_max (1.0) must not be smaller than poll_interval (5.0)" in bad_schedule["msg"]


def test_vvvv_shows_no_token_and_no_private_key(emulator, api, tmp_path):
    cid = api.certificate(api.account())
    run = play(emulator, tmp_path, certificate_id=cid, return_pem=True, diff=True, verbosity=4)
    assert run.rc == 0, run.stdout
    output = run.stdout + run.stderr
    assert "BEGIN CERTIFICATE" in output  # return_pem shows the public chain...
    assert "PRIVATE KEY" not in output  # ...never a key
    assert emulator.token("full") not in output
    assert "ak_demo_full" not in output
    failing = play(emulator, tmp_path, key="readonly", certificate_id=cid, force=True, verbosity=4)
    assert emulator.token("readonly") not in failing.stdout + failing.stderr
