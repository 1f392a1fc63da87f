"""Operability: request log, counters, reset, faults of each kind, rate limit, bulk devices, API keys."""

import json
import os
import time

import pytest
import requests
from conftest import Client, error_of


def test_counters_requests_and_reset(emu):
    client = Client(emu)
    emu.admin.reset()
    client.get("/devices")
    client.get("/devices/1")
    client.get("/devices/2")
    client.post("/acme-accounts", json={"name": "x", "provider": "zerossl", "email": "a@b.c"})
    client.get("/nope")
    Client(emu, token="").get("/devices")
    emu.admin.counters()  # admin requests are not counted
    c = emu.admin.counters()
    assert c["total"] == 6 and c["writes"] == 1
    assert c["by_route"]["GET /apiv1/me/devices"] == 2
    assert c["by_route"]["GET /apiv1/me/devices/:id"] == 2
    assert c["by_route"]["POST /apiv1/me/acme-accounts"] == 1
    assert c["by_method"] == {"GET": 5, "POST": 1}
    created = str(client.expect.created)
    assert c["by_status"] == ({"200": 4, "404": 1, "401": 1} if created == "200" else {"200": 3, "201": 1, "404": 1, "401": 1})
    log = emu.admin.requests()
    assert [e["path"] for e in log][:3] == ["/apiv1/me/devices", "/apiv1/me/devices/1", "/apiv1/me/devices/2"]
    e = log[1]
    assert set(e) == {"ts", "method", "path", "route", "status", "bytes", "duration_ms", "key"}
    assert e["key"] == "full" and e["route"] == "GET /apiv1/me/devices/:id" and e["bytes"] > 0
    assert log[-1]["key"] is None and log[-1]["status"] == 401
    with open(os.path.join(emu.workdir, "requests.jsonl")) as fh:
        text = fh.read()
    assert emu.token() not in text and emu.token() not in json.dumps(log)
    assert json.loads(text.splitlines()[-1])["status"] == 401
    emu.admin.reset()
    assert emu.admin.counters() == {"total": 0, "by_route": {}, "by_method": {}, "by_status": {}, "writes": 0}
    assert emu.admin.requests() == []


def test_bundle_route_template(emu):
    client = Client(emu)
    rec = client.issued("t.example.com")
    client.assign(rec["id"], 1)
    emu.admin.reset()
    client.get("/devices/1/certificates/{}/bundle".format(rec["id"]))
    assert emu.admin.requests()[0]["route"] == "GET /apiv1/me/devices/:id/certificates/:id/bundle"


def test_fault_status_with_retry_after_and_count(emu):
    client = Client(emu)
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", kind="status", status=503, retry_after=2, count=2)
    for _i in range(2):
        r = client.get("/devices")
        error_of(r, 503, 5017)
        assert r.headers["Retry-After"] == "2"
    assert client.get("/devices").status_code == 200
    assert client.get("/devices/1").status_code == 200
    emu.admin.add_fault(path="/acme-accounts$", method="POST", kind="status", status=429, retry_after=1)
    assert client.get("/acme-accounts").status_code == 200
    r = client.post("/acme-accounts", json={"name": "x", "provider": "zerossl", "email": "a@b.c"})
    error_of(r, 429, 5013)
    assert r.headers["Retry-After"] == "1"
    emu.admin.clear_faults()
    assert client.data("GET", "/acme-accounts") == []  # the faulted POST was not performed
    c = emu.admin.counters()
    assert c["by_status"]["503"] == 2


def test_fault_fraction(emu):
    client = Client(emu)
    emu.admin.add_fault(path="/health", kind="status", status=502, fraction=0.5)
    codes = [client.get("/health").status_code for _i in range(60)]
    assert 5 < codes.count(502) < 55 and codes.count(200) + codes.count(502) == 60
    emu.admin.clear_faults()
    emu.admin.add_fault(path="/health", kind="status", status=502, fraction=0)
    assert all(client.get("/health").status_code == 200 for _i in range(5))


def test_fault_drop(emu):
    client = Client(emu)
    emu.admin.add_fault(path="/devices", kind="drop", count=1)
    with pytest.raises(requests.ConnectionError):
        client.get("/devices")
    assert client.get("/devices").status_code == 200
    assert emu.admin.counters()["by_status"]["0"] == 1


def test_fault_drop_after_performs_the_request(emu):
    client = Client(emu)
    acct = client.account()
    emu.admin.add_fault(path="^/apiv1/me/certificates$", method="POST", kind="drop_after", count=1)
    with pytest.raises(requests.ConnectionError):
        client.post("/certificates", json={"domain_name": "x.example.com", "acct_id": acct["id"], "action": "create"})
    rows = client.data("GET", "/certificates")
    assert [r["domain_name"] for r in rows] == ["x.example.com"]  # created although unanswered
    assert emu.admin.counters()["writes"] == 2


def test_fault_slow(emu):
    client = Client(emu)
    emu.admin.add_fault(path="/health", kind="slow", delay=0.4, count=1)
    t = time.monotonic()
    assert client.get("/health").status_code == 200
    assert time.monotonic() - t >= 0.4
    with pytest.raises(requests.Timeout):
        emu.admin.add_fault(path="/health", kind="slow", delay=1.0, count=1)
        client.get("/health", timeout=0.2)


def test_fault_malformed(emu):
    client = Client(emu)
    emu.admin.add_fault(path="/devices", kind="malformed", count=1)
    r = client.get("/devices")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert r.text.startswith('{"data"')
    assert client.get("/devices").json()["data"]


def test_fault_validation(emu):
    for spec in (
        {"kind": "explode"},
        {"kind": "status", "path": "("},
        {"kind": "drop", "count": 0},
        {"kind": "drop", "x": 1},
    ):
        with pytest.raises(RuntimeError, match="400"):
            emu.admin.add_fault(**spec)
    with pytest.raises(RuntimeError, match="kind"):
        emu.admin.add_bundle_fault("nonsense")


def test_rate_limit(emu):
    client, other = Client(emu), Client(emu, "readonly")
    emu.admin.set_rate_limit(3, 1.0)
    assert [client.get("/devices/1").status_code for _i in range(3)] == [200] * 3
    r = client.get("/devices/1")
    error_of(r, 429, 5013)
    assert 1 <= int(r.headers["Retry-After"]) <= 1
    assert other.get("/devices/1").status_code == 200  # per key
    time.sleep(1.05)
    assert client.get("/devices/1").status_code == 200
    emu.admin.set_rate_limit(None, None)
    assert all(client.get("/health").status_code == 200 for _i in range(10))
    assert all(client.get("/devices/1").status_code == 200 for _i in range(10))


def test_rate_limit_from_constructor(tmp_path):
    from certctrl_emulator.testing import Emulator

    with Emulator(tls=False, rate_limit=(2, 60), workdir=str(tmp_path)) as emu:
        assert emu.base_url.startswith("http://") and emu.ca_file is None and emu.http_url is None
        client = Client(emu)
        assert [client.get("/devices").status_code for _i in range(3)] == [200, 200, 429]
        assert 55 <= int(client.get("/devices").headers["Retry-After"]) <= 60


def test_bulk_devices_and_api_keys(emu):
    ids = emu.admin.create_devices(2000, name_prefix="bulk", status="ACTIVE", platform="Windows")
    assert len(ids) == 2000 and len(set(ids)) == 2000 and min(ids) > 6
    client = Client(emu)
    emu.admin.set_shape(list_cap=1000)  # pages of 1000 on both profiles (production caps at 100 by default)
    page = client.data("GET", "/devices?limit=1000")
    assert len(page) == 1000 and page[0]["id"] == max(ids) and page[0]["platform"] == "Windows"
    assert len(client.data("GET", "/devices?offset=2000&limit=1000")) == 5
    lost = emu.admin.create_devices(2, status="LOST")
    assert [d["id"] for d in client.data("GET", "/devices?status=LOST")][:2] == sorted(lost, reverse=True)
    tok = emu.admin.create_api_key("extra", ["devices:*[read]"])
    assert tok.startswith("ak_") and emu.token("extra") == tok
    assert Client(emu, token=tok).get("/devices/1").status_code == 200
    with pytest.raises(RuntimeError, match="409"):
        emu.admin.create_api_key("extra", ["devices:*[read]"])
    with pytest.raises(RuntimeError, match="scopes"):
        emu.admin.create_api_key("bad", ["devices:*[fly]"])


def test_bulk_certificates(emu):
    client = Client(emu)
    account = client.account(name="bulk", provider="SELF_CA")
    ids = emu.admin.create_certificates(1000, account["id"], name_prefix="c", domain="bulk.example.test")
    assert len(ids) == 1000 and ids == list(range(ids[0], ids[0] + 1000))
    emu.admin.set_shape(list_cap=1000)
    page = client.data("GET", "/certificates?limit=1000")
    assert len(page) == 1000 and page[0]["id"] == ids[-1]
    assert page[0]["domain_name"] == f"c{ids[-1]}.bulk.example.test" and page[0]["sans"] == [page[0]["domain_name"]]
    assert page[0]["self_signed"] is True and page[0]["key_dist_policy"] == "HYBRID"
    # ordinary records: they issue like any other, and ids go on after them
    one = client.data("POST", f"/certificates/{ids[0]}/issues", json={})
    assert one["status"] == "SUCCESS"
    assert client.certificate(account["id"], "after.example.com")["id"] == ids[-1] + 1
    with pytest.raises(RuntimeError, match="acct_id"):
        emu.admin.create_certificates(1, 999)
    with pytest.raises(RuntimeError, match="name_prefix"):
        emu.admin.create_certificates(1, account["id"], name_prefix="bad prefix")
