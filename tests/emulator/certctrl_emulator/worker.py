"""Issuance: SELF_CA inline, ACME providers through a worker thread (PENDING -> PROCESSING -> SUCCESS/FAILED),
simulated with a local CA or, with --acme-directory, as real orders (acme_backend.py)."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Union

from . import keywrap, pki
from .errors import INVALID_ENTITY, bad, conflict
from .store import Row, now_ms, now_s

if TYPE_CHECKING:
    from .app import App

IN_FLIGHT = ("PENDING", "PROCESSING")
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")
DEFAULT_VALID_SECONDS = 7776000
SUBJECT = ("country", "state", "locality", "organization", "organizational_unit")
Prepared = Union[str, tuple[Row, Row, list[str]]]


class Issuance:
    """The issuance settings an operator changes at run time: the phase delay and the fail-domain rule."""

    def __init__(self, delay: float = 0.5, fail_domain: str | None = None) -> None:
        self.delay = float(delay)
        self.fail_domain: re.Pattern[str] | None = None
        self.set_fail_domain(fail_domain)

    def set_fail_domain(self, pattern: str | None) -> None:
        if pattern is None or pattern == "":
            self.fail_domain = None
            return
        try:
            self.fail_domain = re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise bad(f"field 'fail_domain': invalid regex: {exc}") from None

    def delay_ms(self) -> int:
        return int(self.delay * 1000)

    def rejected(self, names: list[str]) -> str | None:
        """The first name the fail-domain rule rejects, or None."""
        rule = self.fail_domain
        return next((name for name in names if rule.search(name)), None) if rule is not None else None

    def describe(self) -> dict[str, Any]:
        return {"delay": self.delay, "fail_domain": self.fail_domain.pattern if self.fail_domain else None}


def start_issue(app: App, cert: Row) -> dict[str, Any]:
    """Create a history row (or return the in-flight one). Returns the ``data`` of POST .../issues."""
    st = app.store
    account = st.account(cert["acct_id"])
    if account is None:
        raise conflict(INVALID_ENTITY, "certificate {} has no ACME account".format(cert["id"]))
    self_ca = account["provider"] == "SELF_CA"
    with st.lock:
        latest = st.latest_issue(cert["id"])
        if latest and latest["status"] in IN_FLIGHT:
            return {"issue_history_id": latest["id"], "status": latest["status"]}
        now = now_ms()
        row = {
            "cert_record_id": cert["id"],
            "issue_attempt_number": st.issue_count(cert["id"]) + 1,
            "status": "PROCESSING" if self_ca else "PENDING",
            "started_at": now,
            "next_at": 0 if self_ca else now + app.issuance.delay_ms(),
        }
        hid = st.insert("issue_history", row)
        if not self_ca and app.acme is None:  # a real backend sets the real order URL once the order exists
            st.update("issue_history", hid, {"acme_order_id": f"https://acme.emulator.invalid/acme/order/{hid}"})
    if not self_ca:
        if app.worker:
            app.worker.wake()
        return {"issue_history_id": hid, "status": "PENDING"}
    status = complete(app, hid)
    out: dict[str, Any] = {"issue_history_id": hid, "status": status}
    if status == "SUCCESS":
        out["cert"] = app.shape.cert(st.get("certificates", cert["id"]))
    return out


def _finish(app: App, hid: int, status: str, error: str = "") -> str:
    with app.store.lock:
        current = app.store.issue_status(hid)
        if current == "PROCESSING":
            app.store.update("issue_history", hid, {"status": status, "error_message": error, "completed_at": now_ms()})
            return status
        return current or status


def _names(cert: Row) -> list[str]:
    """domain_name then the SANs, each name once (case-insensitively)."""
    names: list[str] = []
    seen: set[str] = set()
    for name in [cert["domain_name"], *json.loads(cert["sans"])]:
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def _prepare(app: App, hid: int) -> Prepared:
    """(cert, account, names) of a PROCESSING row, or the final status when it ended here (gone, fail rule)."""
    st = app.store
    row = st.get("issue_history", hid)
    if row is None or row["status"] != "PROCESSING":
        return row["status"] if row else "FAILED"
    cert = st.get("certificates", row["cert_record_id"])
    account = st.account(cert["acct_id"]) if cert else None
    if cert is None or account is None:
        return _finish(app, hid, "FAILED", "certificate or ACME account no longer exists")
    names = _names(cert)
    name = app.issuance.rejected(names)
    if name is not None:
        return _finish(
            app,
            hid,
            "FAILED",
            f'urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: Cannot issue for "{name}": '
            "the emulator's fail-domain rule rejects this identifier",
        )
    return cert, account, names


def _store(app: App, hid: int, cert: Row, issued: dict[str, str]) -> str:
    """Write the issued certificate and SUCCESS, unless the row left PROCESSING meanwhile (cancelled)."""
    st = app.store
    with st.lock:
        current = st.issue_status(hid)
        if current != "PROCESSING":
            return current or "FAILED"
        values = {
            "cert": issued["cert"],
            "der": issued["der"],
            "csr": issued["csr"],
            "serial_number": issued["serial"],
            "verified": 1,
            "updated_at": now_s(),
        }
        # the policy of now (an admin may have changed it since the job started): DEVICE_REQUIRED stores the key
        # only encrypted, and every issuance (a reissue too) wraps the new key for each assigned device
        policy = (st.get("certificates", cert["id"]) or cert)["key_dist_policy"]
        values.update(keywrap.key_columns(st, policy, issued["key_pem"]))
        st.update("certificates", cert["id"], values)
        keywrap.rewrap(st, cert["id"])
        st.update("issue_history", hid, {"status": "SUCCESS", "completed_at": now_ms(), "error_message": ""})
    return "SUCCESS"


def _local_issuer(app: App, cert: Row, account: Row) -> tuple[str, str] | None:
    """(key, cert) of the CA that signs locally: the account's own CA (None when gone) or the emulated ACME intermediate."""
    if account["provider"] != "SELF_CA":
        return app.issuers.acme_issuer()
    ca = app.store.ca(account["ca_id"], cert["user_id"])
    return (ca["key_pem"], ca["cert_pem"]) if ca else None


def complete(app: App, hid: int) -> str:
    """Issue the certificate of a PROCESSING row with a local CA (SELF_CA, simulated ACME). Returns the final status."""
    prepared = _prepare(app, hid)
    if isinstance(prepared, str):
        return prepared
    cert, account, _names = prepared
    issuer = _local_issuer(app, cert, account)
    if issuer is None:
        return _finish(app, hid, "FAILED", "CA {} of ACME account {} not found".format(account["ca_id"], account["id"]))
    issuer_key, issuer_cert = issuer
    try:
        issued = pki.issue(
            issuer_key,
            issuer_cert,
            [issuer_cert],
            domain=cert["domain_name"],
            sans=json.loads(cert["sans"]),
            key_algorithm=cert["key_algorithm"],
            rsa_bits=account["leaf_rsa_bits"],
            ec_curve=account["leaf_ec_curve"],
            valid_seconds=account["cert_valid_seconds"] or DEFAULT_VALID_SECONDS,
            fields={k: cert[k] for k in SUBJECT},
        )
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return _finish(app, hid, "FAILED", f"issuance failed: {type(exc).__name__}")
    return _store(app, hid, cert, issued)


def complete_acme(app: App, hid: int, stopping: threading.Event) -> str | None:
    """Run the real ACME order of a PROCESSING row (on its own thread). Returns the final status, or None when
    the emulator stopped first (the row stays PROCESSING and runs again after a restart with --db)."""
    from .acme_backend import Aborted, AcmeFailed

    st = app.store
    prepared = _prepare(app, hid)
    if isinstance(prepared, str):
        return prepared
    cert, account, names = prepared

    def on_order(url: str) -> None:
        with st.lock:
            st.set_order_url(hid, url)

    def should_stop() -> bool:
        return stopping.is_set() or st.issue_status(hid) != "PROCESSING"

    try:
        issued, error = app.acme.issue(cert, account, names, on_order=on_order, should_stop=should_stop), ""
    except Aborted:
        return None
    except AcmeFailed as exc:
        issued, error = None, str(exc)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        issued, error = None, f"ACME issuance failed: {type(exc).__name__}: {exc}"
    # the phase lasts at least the issue delay, like the simulated one, so pollers can see PROCESSING
    row = st.get("issue_history", hid)
    if row and stopping.wait(max(0.0, (row["next_at"] - now_ms()) / 1000.0)):
        return None
    if issued is None:
        return _finish(app, hid, "FAILED", error)
    return _store(app, hid, cert, issued)


def cancel(app: App, cert_id: int, hid: int) -> Row | None:
    st = app.store
    with st.lock:
        row = st.issue_of(cert_id, hid)
        if row is None:
            return None
        if row["status"] in IN_FLIGHT:
            st.update("issue_history", hid, {"status": "CANCELLED", "completed_at": now_ms(), "error_message": "cancelled"})
        return st.get("issue_history", hid)


class Worker(threading.Thread):
    """Moves asynchronous rows along, each phase lasting the configured issue delay. With a real ACME backend
    each PROCESSING row runs its order on a thread of its own, so a slow order holds up no other row."""

    MAX_ORDERS = 16  # ACME order threads at once; further rows wait in PROCESSING

    def __init__(self, app: App) -> None:
        super().__init__(name="certctrl-emulator-worker", daemon=True)
        self.app = app
        self.event = threading.Event()
        self.stopping = threading.Event()
        self.orders: dict[int, threading.Thread] = {}  # history id -> thread running its ACME order
        with app.store.lock:
            app.store.fail_interrupted()

    def wake(self) -> None:
        self.event.set()

    def stop(self) -> None:
        self.stopping.set()
        self.event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
        deadline = time.monotonic() + 5
        for thread in list(self.orders.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _launch(self, hid: int) -> None:
        """Start the ACME order of a PROCESSING row unless it runs already or all slots are busy."""
        self.orders = {h: t for h, t in self.orders.items() if t.is_alive()}
        if hid in self.orders or len(self.orders) >= self.MAX_ORDERS:
            return

        def run() -> None:
            try:
                complete_acme(self.app, hid, self.stopping)
            except Exception:
                if not self.stopping.is_set():  # the store closes under a thread still running at shutdown
                    traceback.print_exc(file=sys.stderr)
            finally:
                self.wake()

        thread = threading.Thread(target=run, name=f"certctrl-emulator-acme-order-{hid}", daemon=True)
        self.orders[hid] = thread
        thread.start()

    def _running(self, hid: int) -> bool:
        thread = self.orders.get(hid)
        return thread is not None and thread.is_alive()

    def _in_flight(self) -> list[Row]:
        """PENDING / PROCESSING rows of asynchronous jobs that no order thread owns."""
        return [r for r in self.app.store.asynchronous_in_flight() if not self._running(r["id"])]

    def _advance(self, row: Row, acme: bool) -> None:
        """One step of one in-flight row: PENDING -> PROCESSING when due, then the order (ACME) or the local issuance."""
        if row["status"] == "PENDING":
            if row["next_at"] > now_ms():
                return
            with self.app.store.lock:
                self.app.store.start_processing(row["id"], now_ms() + self.app.issuance.delay_ms())
            if acme:
                self._launch(row["id"])
        elif acme:  # PROCESSING without a thread: all slots were busy, or left over from a restart
            self._launch(row["id"])
        elif row["next_at"] <= now_ms():
            complete(self.app, row["id"])

    def _tick(self) -> float:
        """One pass over the in-flight rows; returns how long to sleep."""
        acme = self.app.acme is not None
        for row in self._in_flight():
            if self.stopping.is_set():
                return 0
            self._advance(row, acme)
        # with ACME, PROCESSING rows end with their thread (which wakes us); else every row has its next_at
        times = [r["next_at"] for r in self._in_flight() if r["status"] == "PENDING" or not acme]
        return 0.5 if not times else min(0.5, max(0.002, (min(times) - now_ms()) / 1000.0))

    def run(self) -> None:
        while not self.stopping.is_set():
            self.event.clear()
            try:
                wait = self._tick()
            except Exception:
                if self.stopping.is_set():
                    break
                traceback.print_exc(file=sys.stderr)
                wait = 0.2
            self.event.wait(wait)
