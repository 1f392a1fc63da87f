"""Scopes: parsing, allowed and denied (403 naming the scope), list filtering by per-id scopes."""

import pytest
from conftest import Client, error_of

from certctrl_emulator import scopes


def test_parse_and_match():
    s = scopes.parse_scopes(["certificates:42[read,write]", "devices:*[read]", "acme_accounts:*[*]"])
    assert scopes.has(s, "certificates", 42, "read") and scopes.has(s, "certificates", 42, "write")
    assert not scopes.has(s, "certificates", 43, "read")
    assert not scopes.has(s, "certificates", None, "write")  # creating needs a * id
    assert scopes.has(s, "devices", 7, "read") and not scopes.has(s, "devices", 7, "write")
    assert scopes.has(s, "acme_accounts", None, "write")
    for bad in ("certificates", "certs:*[read]", "certificates:*[admin]", "certificates:x[read]", 5):
        with pytest.raises(ValueError):
            scopes.parse_scope(bad)


def test_readonly_key(emu):
    full, ro = Client(emu), Client(emu, "readonly")
    acct = full.account()
    cert = full.certificate(acct["id"])
    assert ro.data("GET", "/certificates/{}".format(cert["id"]))["id"] == cert["id"]
    assert ro.data("GET", "/acme-accounts")[0]["id"] == acct["id"]
    assert len(ro.data("GET", "/devices")) == 5
    denied = [
        (
            ro.post("/acme-accounts", json={"name": "x", "provider": "zerossl", "email": "a@b.c"}),
            "acme_accounts:*[write]",
        ),
        (ro.put("/acme-accounts/{}".format(acct["id"]), json={}), "acme_accounts:{}[write]".format(acct["id"])),
        (ro.delete("/acme-accounts/{}".format(acct["id"])), "acme_accounts:{}[write]".format(acct["id"])),
        (ro.post("/certificates", json={}), "certificates:*[write]"),
        (ro.post("/certificates/{}/issues".format(cert["id"]), json={}), "certificates:{}[write]".format(cert["id"])),
        (ro.assign_request(cert["id"], 1), "devices:1[write]"),
    ]
    unassign = ro.delete("/devices/1/certificates/{}".format(cert["id"]))
    if emu.profile == "contract":
        denied.append((unassign, "devices:1[write]"))
    else:  # no such route in production: 405 before any key check (production-shape.md row 10)
        error_of(unassign, 405, 5000)
    for resp, scope in denied:
        assert error_of(resp, 403, 5022) == "API key lacks scope " + scope


def test_certs_only_key_has_no_devices(emu):
    co = Client(emu, "certs_only")
    assert error_of(co.get("/devices"), 403, 5022) == "API key lacks scope devices:*[read]"
    assert error_of(co.get("/devices/1"), 403, 5022) == "API key lacks scope devices:1[read]"
    cert = co.certificate(co.account()["id"])
    assert error_of(co.get("/certificates/{}/devices".format(cert["id"])), 403) == "API key lacks scope devices:*[read]"
    assert error_of(co.assign_request(cert["id"], 2), 403) == "API key lacks scope devices:2[write]"


def test_per_id_scopes_filter_lists_and_gate_objects(emu):
    full = Client(emu)
    acct = full.account()
    c1, c2, c3 = (full.certificate(acct["id"], f"{n}.example.com") for n in ("a", "b", "c"))
    tok = emu.admin.create_api_key(
        "narrow",
        [
            "certificates:{}[read]".format(c1["id"]),
            "certificates:{}[read,write]".format(c3["id"]),
            "devices:2[*]",
            "devices:3[read]",
        ],
    )
    narrow = Client(emu, token=tok)
    assert [c["id"] for c in narrow.data("GET", "/certificates")] == [c3["id"], c1["id"]]
    assert [d["id"] for d in narrow.data("GET", "/devices")] == [3, 2]
    assert error_of(narrow.get("/certificates/{}".format(c2["id"])), 403) == "API key lacks scope certificates:{}[read]".format(c2["id"])
    assert error_of(narrow.get("/acme-accounts"), 403) == "API key lacks scope acme_accounts:*[read]"
    assert error_of(narrow.post("/certificates/{}/issues".format(c1["id"]), json={}), 403).endswith("certificates:{}[write]".format(c1["id"]))
    assert narrow.post("/certificates/{}/issues".format(c3["id"]), json={}).status_code == 200
    # assign: devices:<id>[write] + certificates:<id>[read]
    narrow.assign(c1["id"], 2)
    r = narrow.assign_request(c2["id"], 2)
    assert error_of(r, 403) == "API key lacks scope certificates:{}[read]".format(c2["id"])
    r = narrow.assign_request(c1["id"], 3)
    assert error_of(r, 403) == "API key lacks scope devices:3[write]"
    # bundle: devices:<id>[read] + certificates:<id>[read]
    full.assign(c2["id"], 3)
    r = narrow.get("/devices/3/certificates/{}/bundle".format(c2["id"]))
    assert error_of(r, 403) == "API key lacks scope certificates:{}[read]".format(c2["id"])
    r = narrow.get("/devices/1/certificates/{}/bundle".format(c1["id"]))
    assert error_of(r, 403) == "API key lacks scope devices:1[read]"
    # device certificate lists are filtered by certificate scopes too
    full.assign(c1["id"], 3)
    assert [c["id"] for c in narrow.data("GET", "/devices/3/certificates")] == [c1["id"]]


def test_write_only_key_cannot_read(emu):
    tok = emu.admin.create_api_key("wo", ["certificates:*[write]", "acme_accounts:*[*]"])
    wo = Client(emu, token=tok)
    cert = wo.certificate(wo.account()["id"])
    assert error_of(wo.get("/certificates/{}".format(cert["id"])), 403).endswith("certificates:{}[read]".format(cert["id"]))
    assert error_of(wo.get("/certificates"), 403).endswith("certificates:*[read]")
