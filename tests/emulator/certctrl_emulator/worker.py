"""Issuance: SELF_CA inline, ACME providers through a worker thread (PENDING -> PROCESSING -> SUCCESS/FAILED),
simulated with a local CA or, with --acme-directory, as real orders (acme_backend.py)."""

import json
import sys
import threading
import time
import traceback

from . import pki
from .errors import INVALID_ENTITY, conflict
from .store import now_ms, now_s

IN_FLIGHT = ("PENDING", "PROCESSING")
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")


def start_issue(app, cert):
    """Create a history row (or return the in-flight one). Returns the ``data`` of POST .../issues."""
    st = app.store
    account = st.one("SELECT * FROM acme_accounts WHERE id = ?", (cert["acct_id"],))
    if account is None:
        raise conflict(INVALID_ENTITY, "certificate {} has no ACME account".format(cert["id"]))
    self_ca = account["provider"] == "SELF_CA"
    with st.lock:
        latest = st.one("SELECT id, status FROM issue_history WHERE cert_record_id = ? ORDER BY id DESC LIMIT 1", (cert["id"],))
        if latest and latest["status"] in IN_FLIGHT:
            return {"issue_history_id": latest["id"], "status": latest["status"]}
        attempt = st.one("SELECT COUNT(*) AS n FROM issue_history WHERE cert_record_id = ?", (cert["id"],))["n"] + 1
        now = now_ms()
        row = {
            "cert_record_id": cert["id"],
            "issue_attempt_number": attempt,
            "status": "PROCESSING" if self_ca else "PENDING",
            "started_at": now,
            "next_at": 0 if self_ca else now + int(app.issue_delay * 1000),
        }
        hid = st.insert("issue_history", row)
        if not self_ca and app.acme is None:  # a real backend sets the real order URL once the order exists
            st.update("issue_history", hid, {"acme_order_id": f"https://acme.emulator.invalid/acme/order/{hid}"})
    if not self_ca:
        if app.worker:
            app.worker.wake()
        return {"issue_history_id": hid, "status": "PENDING"}
    status = complete(app, hid)
    out = {"issue_history_id": hid, "status": status}
    if status == "SUCCESS":
        out["cert"] = app.shape.cert(st.one("SELECT * FROM certificates WHERE id = ?", (cert["id"],)))
    return out


def _finish(app, hid, status, error=""):
    with app.store.lock:
        row = app.store.one("SELECT status FROM issue_history WHERE id = ?", (hid,))
        if row and row["status"] == "PROCESSING":
            app.store.update("issue_history", hid, {"status": status, "error_message": error, "completed_at": now_ms()})
            return status
        return row["status"] if row else status


def _prepare(app, hid):
    """(cert, account, names) of a PROCESSING row, or the final status when it ended here (gone, fail rule)."""
    st = app.store
    row = st.one("SELECT * FROM issue_history WHERE id = ?", (hid,))
    if row is None or row["status"] != "PROCESSING":
        return row["status"] if row else "FAILED"
    cert = st.one("SELECT * FROM certificates WHERE id = ?", (row["cert_record_id"],))
    account = st.one("SELECT * FROM acme_accounts WHERE id = ?", (cert["acct_id"],)) if cert else None
    if cert is None or account is None:
        return _finish(app, hid, "FAILED", "certificate or ACME account no longer exists")
    names, seen = [], set()
    for name in [cert["domain_name"], *json.loads(cert["sans"])]:
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    rule = app.fail_domain
    if rule is not None:
        for name in names:
            if rule.search(name):
                return _finish(
                    app,
                    hid,
                    "FAILED",
                    f'urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: Cannot issue for "{name}": '
                    "the emulator's fail-domain rule rejects this identifier",
                )
    return cert, account, names


def _store(app, hid, cert, issued):
    """Write the issued certificate and SUCCESS, unless the row left PROCESSING meanwhile (cancelled)."""
    st = app.store
    with st.lock:
        current = st.one("SELECT status FROM issue_history WHERE id = ?", (hid,))
        if not current or current["status"] != "PROCESSING":
            return current["status"] if current else "FAILED"
        st.update(
            "certificates",
            cert["id"],
            {
                "cert": issued["cert"],
                "der": issued["der"],
                "csr": issued["csr"],
                "serial_number": issued["serial"],
                "key_pem": issued["key_pem"],
                "verified": 1,
                "updated_at": now_s(),
            },
        )
        st.update("issue_history", hid, {"status": "SUCCESS", "completed_at": now_ms(), "error_message": ""})
    return "SUCCESS"


def complete(app, hid):
    """Issue the certificate of a PROCESSING row with a local CA (SELF_CA, simulated ACME). Returns the final status."""
    prepared = _prepare(app, hid)
    if isinstance(prepared, str):
        return prepared
    cert, account, _names = prepared
    st = app.store
    if account["provider"] == "SELF_CA":
        ca = st.one("SELECT * FROM cas WHERE id = ? AND user_id = ?", (account["ca_id"], cert["user_id"]))
        if ca is None:
            return _finish(app, hid, "FAILED", "CA {} of ACME account {} not found".format(account["ca_id"], account["id"]))
        issuer_key, issuer_cert, chain = ca["key_pem"], ca["cert_pem"], [ca["cert_pem"]]
    else:
        acme = app.acme_pki
        issuer_key, issuer_cert, chain = acme["int_key"], acme["int_cert"], [acme["int_cert"]]
    try:
        issued = pki.issue(
            issuer_key,
            issuer_cert,
            chain,
            domain=cert["domain_name"],
            sans=json.loads(cert["sans"]),
            key_algorithm=cert["key_algorithm"],
            rsa_bits=account["leaf_rsa_bits"],
            ec_curve=account["leaf_ec_curve"],
            valid_seconds=account["cert_valid_seconds"] or 7776000,
            fields={k: cert[k] for k in ("country", "state", "locality", "organization", "organizational_unit")},
        )
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return _finish(app, hid, "FAILED", f"issuance failed: {type(exc).__name__}")
    return _store(app, hid, cert, issued)


def complete_acme(app, hid, stopping):
    """Run the real ACME order of a PROCESSING row (on its own thread). Returns the final status, or None when
    the emulator stopped first (the row stays PROCESSING and runs again after a restart with --db)."""
    from .acme_backend import Aborted, AcmeFailed

    st = app.store
    prepared = _prepare(app, hid)
    if isinstance(prepared, str):
        return prepared
    cert, account, names = prepared

    def on_order(url):
        with st.lock:
            st.run("UPDATE issue_history SET acme_order_id = ? WHERE id = ? AND status = 'PROCESSING'", (url, hid))

    def should_stop():
        row = st.one("SELECT status FROM issue_history WHERE id = ?", (hid,))
        return stopping.is_set() or not row or row["status"] != "PROCESSING"

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
    row = st.one("SELECT next_at FROM issue_history WHERE id = ?", (hid,))
    if row and stopping.wait(max(0.0, (row["next_at"] - now_ms()) / 1000.0)):
        return None
    if issued is None:
        return _finish(app, hid, "FAILED", error)
    return _store(app, hid, cert, issued)


def cancel(app, cert_id, hid):
    st = app.store
    with st.lock:
        row = st.one("SELECT * FROM issue_history WHERE id = ? AND cert_record_id = ?", (hid, cert_id))
        if row is None:
            return None
        if row["status"] in IN_FLIGHT:
            st.update("issue_history", hid, {"status": "CANCELLED", "completed_at": now_ms(), "error_message": "cancelled"})
        return st.one("SELECT * FROM issue_history WHERE id = ?", (hid,))


class Worker(threading.Thread):
    """Moves asynchronous rows along, each phase lasting the configured issue delay. With a real ACME backend
    each PROCESSING row runs its order on a thread of its own, so a slow order holds up no other row."""

    MAX_ORDERS = 16  # ACME order threads at once; further rows wait in PROCESSING

    def __init__(self, app):
        super().__init__(name="certctrl-emulator-worker", daemon=True)
        self.app = app
        self.event = threading.Event()
        self.stopping = threading.Event()
        self.orders = {}  # history id -> thread running its ACME order
        with app.store.lock:  # a SELF_CA row left PROCESSING by a crash cannot finish any more
            app.store.run(
                "UPDATE issue_history SET status = 'FAILED', error_message = 'interrupted by a restart', "
                "completed_at = ? WHERE status = 'PROCESSING' AND next_at = 0",
                (now_ms(),),
            )

    def wake(self):
        self.event.set()

    def stop(self):
        self.stopping.set()
        self.event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
        deadline = time.monotonic() + 5
        for thread in list(self.orders.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _launch(self, hid):
        """Start the ACME order of a PROCESSING row unless it runs already or all slots are busy."""
        self.orders = {h: t for h, t in self.orders.items() if t.is_alive()}
        if hid in self.orders or len(self.orders) >= self.MAX_ORDERS:
            return

        def run():
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

    def _running(self, hid):
        thread = self.orders.get(hid)
        return thread is not None and thread.is_alive()

    def _in_flight(self):
        """PENDING / PROCESSING rows of asynchronous jobs that no order thread owns."""
        rows = self.app.store.all("SELECT id, status, next_at FROM issue_history WHERE status IN ('PENDING', 'PROCESSING') AND next_at > 0 ORDER BY id")
        return [r for r in rows if not self._running(r["id"])]

    def _tick(self):
        """One pass over the in-flight rows; returns how long to sleep."""
        st = self.app.store
        acme = self.app.acme is not None
        for row in self._in_flight():
            if self.stopping.is_set():
                return 0
            if row["status"] == "PENDING":
                if row["next_at"] > now_ms():
                    continue
                with st.lock:
                    st.run(
                        "UPDATE issue_history SET status = 'PROCESSING', next_at = ? WHERE id = ? AND status = 'PENDING'",
                        (now_ms() + int(self.app.issue_delay * 1000), row["id"]),
                    )
                if acme:
                    self._launch(row["id"])
            elif acme:  # PROCESSING without a thread: all slots were busy, or left over from a restart
                self._launch(row["id"])
            elif row["next_at"] <= now_ms():
                complete(self.app, row["id"])
        # with ACME, PROCESSING rows end with their thread (which wakes us); else every row has its next_at
        times = [r["next_at"] for r in self._in_flight() if r["status"] == "PENDING" or not acme]
        return 0.5 if not times else min(0.5, max(0.002, (min(times) - now_ms()) / 1000.0))

    def run(self):
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
