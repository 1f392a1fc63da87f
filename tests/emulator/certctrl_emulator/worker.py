"""Issuance: SELF_CA inline, ACME providers through a worker thread (PENDING -> PROCESSING -> SUCCESS/FAILED)."""

import json
import sys
import threading
import traceback

from . import pki
from .common import cert_out
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
        if not self_ca:
            st.update("issue_history", hid, {"acme_order_id": f"https://acme.emulator.invalid/acme/order/{hid}"})
    if not self_ca:
        if app.worker:
            app.worker.wake()
        return {"issue_history_id": hid, "status": "PENDING"}
    status = complete(app, hid)
    out = {"issue_history_id": hid, "status": status}
    if status == "SUCCESS":
        out["cert"] = cert_out(st.one("SELECT * FROM certificates WHERE id = ?", (cert["id"],)))
    return out


def _finish(app, hid, status, error=""):
    with app.store.lock:
        row = app.store.one("SELECT status FROM issue_history WHERE id = ?", (hid,))
        if row and row["status"] == "PROCESSING":
            app.store.update("issue_history", hid, {"status": status, "error_message": error, "completed_at": now_ms()})
            return status
        return row["status"] if row else status


def complete(app, hid):
    """Issue the certificate of a PROCESSING row. Returns the final status."""
    st = app.store
    row = st.one("SELECT * FROM issue_history WHERE id = ?", (hid,))
    cert = st.one("SELECT * FROM certificates WHERE id = ?", (row["cert_record_id"],))
    account = st.one("SELECT * FROM acme_accounts WHERE id = ?", (cert["acct_id"],)) if cert else None
    if cert is None or account is None:
        return _finish(app, hid, "FAILED", "certificate or ACME account no longer exists")
    sans = json.loads(cert["sans"])
    rule = app.fail_domain
    if rule is not None:
        for name in [cert["domain_name"], *sans]:
            if rule.search(name):
                return _finish(
                    app,
                    hid,
                    "FAILED",
                    f'urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: Cannot issue for "{name}": '
                    "the emulator's fail-domain rule rejects this identifier",
                )
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
            sans=sans,
            key_algorithm=cert["key_algorithm"],
            rsa_bits=account["leaf_rsa_bits"],
            ec_curve=account["leaf_ec_curve"],
            valid_seconds=account["cert_valid_seconds"] or 7776000,
            fields={k: cert[k] for k in ("country", "state", "locality", "organization", "organizational_unit")},
        )
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return _finish(app, hid, "FAILED", f"issuance failed: {type(exc).__name__}")
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
    """Moves asynchronous rows along, each phase lasting the configured issue delay."""

    def __init__(self, app):
        super().__init__(name="certctrl-emulator-worker", daemon=True)
        self.app = app
        self.event = threading.Event()
        self.stopping = threading.Event()
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

    def run(self):
        st = self.app.store
        while not self.stopping.is_set():
            self.event.clear()
            try:
                now = now_ms()
                due = st.all(
                    "SELECT id, status FROM issue_history WHERE status IN ('PENDING', 'PROCESSING') AND next_at > 0 AND next_at <= ? ORDER BY id",
                    (now,),
                )
                for row in due:
                    if self.stopping.is_set():
                        break
                    if row["status"] == "PENDING":
                        with st.lock:
                            st.run(
                                "UPDATE issue_history SET status = 'PROCESSING', next_at = ? WHERE id = ? AND status = 'PENDING'",
                                (now_ms() + int(self.app.issue_delay * 1000), row["id"]),
                            )
                    else:
                        complete(self.app, row["id"])
                nxt = st.one("SELECT MIN(next_at) AS t FROM issue_history WHERE status IN ('PENDING', 'PROCESSING') AND next_at > 0")["t"]
                wait = 0.5 if not nxt else min(0.5, max(0.002, (nxt - now_ms()) / 1000.0))
            except Exception:
                if self.stopping.is_set():
                    break
                traceback.print_exc(file=sys.stderr)
                wait = 0.2
            self.event.wait(wait)
