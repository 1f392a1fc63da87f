"""Certificates: create validation, record fields, light lists, export, scopes of other users."""

import pytest
from conftest import Client, error_of

HEAVY = {"cert", "der", "csr"}
RECORD = {
    "id", "user_id", "domain_name", "acct_id", "sans", "cert", "der", "csr", "created_at", "updated_at", "dhparam",
    "orders", "self_signed", "organization", "organizational_unit", "country", "state", "locality", "serial_number",
    "public_id", "verified", "key_dist_policy", "server_decrypt_export", "key_algorithm",
}  # fmt: skip


@pytest.fixture
def acct(client):
    return client.account()


def test_create_record_fields(client, acct):
    c = client.certificate(
        acct["id"],
        "example.com",
        ["example.com", "www.example.com"],
        key_algorithm="ECDSA",
        policy="HYBRID",
        organization="Example Org",
        organizational_unit="Ops",
        country="de",
        state="Berlin",
        locality="Berlin",
    )
    prod = client.emu.profile == "production"
    assert set(c) == (RECORD - {"user_id", "key_algorithm"} if prod else RECORD)
    assert c["cert"] == "" and c["der"] == "" and c["serial_number"] == "" and c["verified"] is False
    assert c["sans"] == ["example.com", "www.example.com"]
    assert c["orders"] == {"identifiers": [{"type": "dns", "value": "example.com"}, {"type": "dns", "value": "www.example.com"}]}
    assert c["country"] == "DE" and c["key_dist_policy"] == "HYBRID"
    assert (c["server_decrypt_export"] == 0) if prod else (c["server_decrypt_export"] is True)
    assert c["created_at"] < 1e12 and c["updated_at"] == c["created_at"]  # epoch seconds
    assert len(c["public_id"]) == 36 and c["dhparam"] == "" and c["self_signed"] is False
    assert client.record(c["id"]) == c
    assert client.record(c["id"], "/issue-result") == c
    assert client.data("GET", "/certificates/{}/export".format(c["id"])) == c
    plain = client.data("GET", "/certificates/{}".format(c["id"]))
    assert plain == ({k: v for k, v in c.items() if k not in HEAVY} if prod else c)
    light = client.data("GET", "/certificates")
    assert light[0]["id"] == c["id"] and not HEAVY & set(light[0])


def _key_algorithm(client, cid):
    """The stored key algorithm (production's records do not carry it)."""
    return client.emu.instance.app.store.one("SELECT key_algorithm FROM certificates WHERE id = ?", (cid,))["key_algorithm"]


def test_defaults(client, acct):
    c = client.certificate(acct["id"], "d.example.com", sans=None)
    assert c["sans"] == ["d.example.com"] and _key_algorithm(client, c["id"]) == "ECDSA" and c["key_dist_policy"] == "HYBRID"
    rsa_acct = client.account(name="rsa", leaf_key_algorithm="RSA")
    assert _key_algorithm(client, client.certificate(rsa_acct["id"], "r.example.com")["id"]) == "RSA"
    c = client.certificate(acct["id"], "w.example.com", ["w.example.com", "*.w.example.com"], policy="MASTER_ONLY")
    assert c["key_dist_policy"] == "MASTER_ONLY"
    c = client.certificate(acct["id"], "v.example.com", policy="DEVICE_REQUIRED")
    assert c["server_decrypt_export"] in (False, 0) and not c["server_decrypt_export"]
    # no uniqueness on the domain
    assert client.certificate(acct["id"], "d.example.com")["id"] != c["id"]


def test_create_validation_names_the_field(client, acct):
    base = {"domain_name": "example.com", "acct_id": acct["id"], "action": "create"}
    cases = [
        ({"sans": ["example.com", "bad_host"]}, 5000, "field 'sans[1]': 'bad_host' is not a valid hostname"),
        ({"sans": ["www.example.com"]}, 5000, "sans must include domain_name"),
        ({"sans": ["example.com", "example.com"]}, 5000, "sans[1]"),
        ({"sans": "example.com"}, 5000, "'sans'"),
        ({"sans": []}, 5000, "'sans'"),
        ({"domain_name": "exa mple.com"}, 5000, "'domain_name'"),
        ({"domain_name": "foo.*.example.com", "sans": ["foo.*.example.com"]}, 5000, "'domain_name'"),
        ({"domain_name": "*.com", "sans": ["*.com"]}, 5000, "'domain_name'"),
        ({"domain_name": "-a.example.com"}, 5000, "'domain_name'"),
        ({"domain_name": "a" * 64 + ".com"}, 5000, "'domain_name'"),
        ({"domain_name": None}, 5008, "'domain_name'"),
        ({"acct_id": None}, 5008, "'acct_id'"),
        ({"action": None}, 5008, "'action'"),
        ({"action": "renew"}, 5000, "'action'"),
        ({"acct_id": "1"}, 5000, "'acct_id'"),
        ({"acct_id": 9999}, 5000, "'acct_id'"),
        ({"key_algorithm": "DSA"}, 5000, "'key_algorithm'"),
        ({"policy": "NOPE"}, 5000, "'policy'"),
        ({"country": "Germany"}, 5000, "'country'"),
        ({"country": "1A"}, 5000, "'country'"),
        ({"organization": 7}, 5000, "'organization'"),
        ({"colour": "red", "size": 1}, 5000, "colour, size"),
    ]
    for extra, code, needle in cases:
        body = dict(base, **extra)
        body = {k: v for k, v in body.items() if v is not None}
        what = error_of(client.post("/certificates", json=body), 400, code)
        assert needle in what, (extra, what)


def test_other_users_certificates_and_accounts(client, acct):
    other = Client(client.emu, "other")
    theirs = other.certificate(other.account(name="o")["id"], "their.example.com")
    mine = client.certificate(acct["id"])
    for path in ("", "/devices", "/issues", "/issues/history", "/issue-result", "/export"):
        error_of(client.get("/certificates/{}{}".format(theirs["id"], path)), *client.expect.foreign)
    error_of(client.post("/certificates/{}/issues".format(theirs["id"]), json={}), *client.expect.foreign)
    assert [c["id"] for c in client.data("GET", "/certificates")] == [mine["id"]]
    r = other.post("/certificates", json={"domain_name": "x.example.com", "acct_id": acct["id"], "action": "create"})
    assert "acct_id" in error_of(r, 400, 5000)
