"""Pagination: offset/limit windows over 0, 1, 100, 101 and 250 items, id-descending; bad parameters."""

import pytest
from conftest import Client, error_of


def _ids(client, path, **query):
    q = "&".join("{}={}".format(*kv) for kv in query.items())
    return [r["id"] for r in client.data("GET", path + ("?" + q if q else ""))]


@pytest.mark.parametrize("n", [0, 1, 100, 101, 250])
def test_device_pages(emu, n):
    # a fresh user so the seed does not count
    emu.admin.create_api_key("u3", ["devices:*[*]"], user_id=3)
    client = Client(emu, token=emu.token("u3"))
    ids = emu.admin.create_devices(n, name_prefix="p", user_id=3) if n else []
    expect = sorted(ids, reverse=True)
    assert _ids(client, "/devices") == expect[:100]
    # contract: up to 1000 per page; production: silently capped at 100 (production-shape.md row 4)
    assert _ids(client, "/devices", offset=0, limit=1000) == (expect[:100] if emu.profile == "production" else expect)
    got, offset = [], 0
    while True:
        page = _ids(client, "/devices", offset=offset, limit=100)
        got += page
        offset += len(page)
        if len(page) < 100:
            break
    assert got == expect
    assert _ids(client, "/devices", offset=n, limit=10) == []
    assert _ids(client, "/devices", offset=n + 50) == []
    if n >= 101:
        assert _ids(client, "/devices", offset=100, limit=1) == [expect[100]]


def test_certificate_and_history_pages(client):
    acct = client.account(name="self", provider="SELF_CA")
    c = client.certificate(acct["id"], "p.example.com")
    for _i in range(3):
        client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})
    rows = client.data("GET", "/certificates/{}/issues?offset=1&limit=1".format(c["id"]))
    assert [r["issue_attempt_number"] for r in rows] == [2]
    certs = [client.certificate(acct["id"], f"p{i}.example.com")["id"] for i in range(5)]
    assert _ids(client, "/certificates", offset=2, limit=2) == sorted([*certs, c["id"]], reverse=True)[2:4]
    assert _ids(client, "/acme-accounts", limit=1) == [acct["id"]]


def test_limit_above_the_maximum(shared):
    """contract: 400 naming the parameter; production: capped silently at 100."""
    for path in ("/devices", "/certificates", "/acme-accounts"):
        r = shared.get(path + "?limit=1001")
        if shared.emu.profile == "production":
            assert r.status_code == 200 and r.json()["meta"]["limit"] == 100
        else:
            assert "'limit'" in error_of(r, 400, 5000)


@pytest.mark.parametrize(
    "query,param",
    [
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=1.5", "offset"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
    ],
)
def test_bad_parameters(shared, query, param):
    for path in ("/devices", "/certificates", "/acme-accounts"):
        what = error_of(shared.get(path + "?" + query), 400, 5000)
        assert f"'{param}'" in what
