"""Issuance: SELF_CA inline, async worker transitions, single in-flight, FAILED, CANCELLED, renewal."""

import threading
import time

from conftest import Client, error_of
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")


def wait_row(client, cid, hid, timeout=10, until=TERMINAL):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = client.data("GET", f"/certificates/{cid}/issues?offset=0&limit=10")
        row = next(r for r in rows if r["id"] == hid)
        if not seen or seen[-1] != row["status"]:
            seen.append(row["status"])
        if row["status"] in until:
            return row, seen
        time.sleep(0.02)
    raise AssertionError(f"row {hid} stuck: {seen}")


def leaf_of(record):
    return x509.load_pem_x509_certificate(record["cert"].encode())


def serial_hex(record):
    """``serial_number`` of a record as lower-case hex without leading zeros (either profile's format)."""
    return record["serial_number"].replace(":", "").lower().lstrip("0")


def test_self_ca_is_inline(client):
    acct = client.account(name="self", provider="SELF_CA")
    c = client.certificate(acct["id"], "self.example.com", ["self.example.com", "www.self.example.com"])
    out = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})
    assert out["status"] == "SUCCESS" and isinstance(out["issue_history_id"], int)
    rec = out["cert"]
    assert rec["verified"] is True and rec["serial_number"] and rec["der"] and rec["csr"].startswith("-----BEGIN")
    assert rec["cert"].count("BEGIN CERTIFICATE") == 2  # leaf + the self CA
    leaf = leaf_of(rec)
    assert format(leaf.serial_number, "x") == serial_hex(rec)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sans == ["self.example.com", "www.self.example.com"]
    assert leaf.issuer.rfc4514_string().endswith("CN=Demo Root CA") or "Demo Root CA" in leaf.issuer.rfc4514_string()
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert client.record(c["id"]) == rec
    rows = client.data("GET", "/certificates/{}/issues".format(c["id"]))
    assert rows[0]["status"] == "SUCCESS" and rows[0]["acme_order_id"] == "" and rows[0]["completed_at"] > 1e12


def test_async_transitions_and_chain(client):
    acct = client.account(cert_valid_seconds=7 * 86400)
    c = client.certificate(acct["id"], "async.example.com", key_algorithm="RSA", organization="Org", country="FR")
    out = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={"ignored": True})
    assert out == {"issue_history_id": out["issue_history_id"], "status": "PENDING"}
    row, seen = wait_row(client, c["id"], out["issue_history_id"])
    assert seen == ["PENDING", "PROCESSING", "SUCCESS"]
    assert row["issue_attempt_number"] == 1 and row["started_at"] > 1e12 and row["completed_at"] >= row["started_at"]
    assert row["acme_order_id"] and row["error_message"] == ""
    rec = client.record(c["id"])
    blocks = rec["cert"].count("BEGIN CERTIFICATE")
    assert blocks == 2
    leaf = leaf_of(rec)
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey) and leaf.public_key().key_size == 2048
    assert "Emulated ACME Intermediate R1" in leaf.issuer.rfc4514_string()
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert abs(life.total_seconds() - (7 * 86400 + 60)) < 5
    assert "O=Org" in leaf.subject.rfc4514_string() and "C=FR" in leaf.subject.rfc4514_string()
    inter = x509.load_pem_x509_certificate(rec["cert"].split("-----END CERTIFICATE-----\n", 1)[1].encode())
    leaf.verify_directly_issued_by(inter)


def test_single_in_flight_under_concurrency(client):
    client.emu.admin.configure_issuance(delay=10)  # the row stays PENDING while the 20 POSTs arrive, even on a loaded machine
    c = client.certificate(client.account()["id"], "race.example.com")
    results, errors = [], []

    def post():
        try:
            r = Client(client.emu).post("/certificates/{}/issues".format(c["id"]), json={})
            results.append((r.status_code, r.json()["data"]["issue_history_id"]))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post) for _i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20 and {s for s, _h in results} == {200}
    assert len({h for _s, h in results}) == 1
    assert len(client.data("GET", "/certificates/{}/issues".format(c["id"]))) == 1


def test_failed_by_rule_and_admin_config(emu):
    client = Client(emu)
    acct = client.account()
    emu.admin.configure_issuance(delay=0.05, fail_domain=r"(^|\.)fail\.example\.com$")
    c = client.certificate(acct["id"], "www.fail.example.com")
    hid = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["issue_history_id"]
    row, _seen = wait_row(client, c["id"], hid)
    assert row["status"] == "FAILED"
    assert row["error_message"].startswith("urn:ietf:params:acme:error:rejectedIdentifier:")
    assert client.record(c["id"])["cert"] == ""
    # SELF_CA honours the rule too, inline
    s = client.certificate(client.account(name="s", provider="SELF_CA")["id"], "x.fail.example.com")
    out = client.data("POST", "/certificates/{}/issues".format(s["id"]), json={})
    assert out["status"] == "FAILED" and "cert" not in out
    emu.admin.configure_issuance(fail_domain=None)
    hid2 = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["issue_history_id"]
    row, _seen = wait_row(client, c["id"], hid2)
    assert row["status"] == "SUCCESS" and row["issue_attempt_number"] == 2


def test_cancelled_by_admin(emu):
    client = Client(emu)
    emu.admin.configure_issuance(delay=2)
    c = client.certificate(client.account()["id"], "slow.example.com")
    hid = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["issue_history_id"]
    row = emu.admin.cancel_issue(c["id"], hid)
    assert row["status"] == "CANCELLED" and row["completed_at"] > 0
    time.sleep(0.1)
    rows = client.data("GET", "/certificates/{}/issues".format(c["id"]))
    assert rows[0]["status"] == "CANCELLED"
    # a new POST starts a new row
    emu.admin.configure_issuance(delay=0.01)
    hid2 = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["issue_history_id"]
    assert hid2 != hid
    assert wait_row(client, c["id"], hid2)[0]["status"] == "SUCCESS"


def test_renewal_new_key_and_serial_history_kept(client):
    acct = client.account(name="self", provider="SELF_CA")
    c = client.certificate(acct["id"], "renew.example.com")
    first = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["cert"]
    second = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})["cert"]
    assert first["serial_number"] != second["serial_number"]
    k1 = leaf_of(first).public_key().public_numbers()
    k2 = leaf_of(second).public_key().public_numbers()
    assert k1 != k2
    rows = client.data("GET", "/certificates/{}/issues".format(c["id"]))
    assert [r["issue_attempt_number"] for r in rows] == [2, 1]
    assert rows == client.data("GET", "/certificates/{}/issues/history".format(c["id"]))


def test_issue_scopes_and_errors(emu):
    client = Client(emu)
    c = client.certificate(client.account()["id"], "scoped.example.com")
    ro = Client(emu, "readonly")
    assert "certificates:{}[write]".format(c["id"]) in error_of(ro.post("/certificates/{}/issues".format(c["id"]), json={}), 403)
    only = Client(emu, token=emu.admin.create_api_key("only", ["certificates:{}[write]".format(c["id"])]))
    assert only.post("/certificates/{}/issues".format(c["id"]), json={}).status_code == 200
    error_of(only.post("/certificates/%s/issues" % (c["id"] + 1), json={}), 403, 5022)
    error_of(client.post("/certificates/424242/issues", json={}), 404, 5003)
    r = client.post("/certificates/{}/issues".format(c["id"]), data=b"garbage")
    assert r.status_code == 200  # the body is ignored
    error_of(client.post("/_admin/certificates/1/issues/1/cancel"), 403, 5022)
