"""ACME accounts: CRUD, validation, uniqueness, delete refused with certificates, other users."""

from conftest import Client, error_of


def test_create_get_list_update_delete(client):
    acct = client.account(name="le", email="a@example.com")
    prod = client.emu.profile == "production"
    assert acct["provider"] == "letsencrypt" and acct["ca_id"] == 0 and acct["kid"] is None and acct["user_id"] == 1
    lean = {"id", "user_id", "name", "email", "provider", "kid", "ca_id"}
    if prod:  # production-shape.md row 6: no leaf_*, cert_valid_seconds, created_at in records
        assert set(acct) == lean
    else:
        assert acct["cert_valid_seconds"] == 7776000 and acct["created_at"] > 1e12  # ms
        assert set(acct) == lean | {"leaf_key_algorithm", "leaf_rsa_bits", "leaf_ec_curve", "cert_valid_seconds", "created_at"}
    assert client.data("GET", "/acme-accounts/{}".format(acct["id"])) == acct
    second = client.account(name="zs", provider="zerossl")
    listed = client.data("GET", "/acme-accounts")
    assert [a["id"] for a in listed] == [second["id"], acct["id"]]
    upd = client.data("PUT", "/acme-accounts/{}".format(acct["id"]), json={"email": "b@example.com"})
    assert upd["email"] == "b@example.com" and upd["name"] == "le"
    upd = client.data("PUT", "/acme-accounts/{}".format(acct["id"]), json={"leaf_key_algorithm": "RSA", "cert_valid_seconds": 86400})
    stored = client.emu.instance.app.store.one("SELECT * FROM acme_accounts WHERE id = ?", (acct["id"],))
    assert stored["leaf_key_algorithm"] == "RSA" and stored["cert_valid_seconds"] == 86400
    assert prod or (upd["leaf_key_algorithm"] == "RSA" and upd["cert_valid_seconds"] == 86400)
    r = client.delete("/acme-accounts/{}".format(acct["id"]))
    assert r.status_code == 204 and r.content == b""
    error_of(client.get("/acme-accounts/{}".format(acct["id"])), 404, 5003)
    error_of(client.delete("/acme-accounts/{}".format(acct["id"])), 404, 5003)


def test_self_ca_account(client):
    acct = client.account(name="self", provider="SELF_CA", leaf_key_algorithm="ECDSA", leaf_ec_curve="prime256v1")
    assert acct["ca_id"] == 1
    assert "ca_id" in error_of(client.post("/acme-accounts", json={"name": "x", "provider": "SELF_CA"}), 400, 5000)
    # CA 2 belongs to user 2
    r = client.post("/acme-accounts", json={"name": "x", "provider": "SELF_CA", "ca_id": 2})
    assert "ca_id" in error_of(r, 400, 5000)
    r = client.post("/acme-accounts", json={"name": "x", "provider": "letsencrypt", "email": "a@b.c", "ca_id": 1})
    assert "ca_id" in error_of(r, 400, 5000)
    r = client.put("/acme-accounts/{}".format(acct["id"]), json={"ca_id": 2})
    assert "ca_id" in error_of(r, 400, 5000)


def test_validation_names_the_field(client):
    cases = [
        ({"provider": "letsencrypt", "email": "a@b.c"}, 5008, "'name'"),
        ({"name": "x", "email": "a@b.c"}, 5008, "'provider'"),
        ({"name": "x", "provider": "buypass", "email": "a@b.c"}, 5000, "letsencrypt, zerossl, SELF_CA"),
        ({"name": "x", "provider": "letsencrypt"}, 5000, "'email'"),
        ({"name": "x", "provider": "letsencrypt", "email": "nope"}, 5000, "'email'"),
        ({"name": "", "provider": "letsencrypt", "email": "a@b.c"}, 5000, "'name'"),
        ({"name": 5, "provider": "letsencrypt", "email": "a@b.c"}, 5000, "'name'"),
        ({"name": "x", "provider": "letsencrypt", "email": "a@b.c", "leaf_key_algorithm": "DSA"}, 5000, "leaf_key"),
        ({"name": "x", "provider": "letsencrypt", "email": "a@b.c", "leaf_rsa_bits": 1024}, 5000, "leaf_rsa_bits"),
        ({"name": "x", "provider": "letsencrypt", "email": "a@b.c", "leaf_ec_curve": "p1"}, 5000, "leaf_ec_curve"),
        ({"name": "x", "provider": "letsencrypt", "email": "a@b.c", "cert_valid_seconds": 5}, 5000, "cert_valid"),
        ({"name": "x", "provider": "letsencrypt", "email": "a@b.c", "colour": "red"}, 5000, "colour"),
    ]
    for body, code, needle in cases:
        what = error_of(client.post("/acme-accounts", json=body), 400, code)
        assert needle in what, (body, what)
    acct = client.account(name="ok")
    for body, needle in (({"provider": "acme"}, "provider"), ({"bogus": 1}, "bogus"), ({"name": ""}, "name")):
        assert needle in error_of(client.put("/acme-accounts/{}".format(acct["id"]), json=body), 400, 5000)
    assert client.data("PUT", "/acme-accounts/{}".format(acct["id"]), json={}) == acct


def test_duplicate_names_conflict(client):
    a = client.account(name="dup")
    error_of(client.post("/acme-accounts", json={"name": "dup", "provider": "zerossl", "email": "a@b.c"}), 409, 5014)
    b = client.account(name="other-name")
    error_of(client.put("/acme-accounts/{}".format(b["id"]), json={"name": "dup"}), 409, 5015)
    assert client.data("PUT", "/acme-accounts/{}".format(a["id"]), json={"name": "dup"})["name"] == "dup"
    # names are unique per user only
    Client(client.emu, "other").account(name="dup")


def test_delete_refused_while_certificates_exist(client):
    acct = client.account()
    client.certificate(acct["id"], "a.example.com")
    client.certificate(acct["id"], "b.example.com")
    what = error_of(client.delete("/acme-accounts/{}".format(acct["id"])), 409, 5016)
    assert what.startswith("ACME account {} still has 2 certificate(s)".format(acct["id"]))


def test_account_certificates(client):
    a1, a2 = client.account(name="one"), client.account(name="two")
    c1 = client.certificate(a1["id"], "a.example.com")
    c2 = client.certificate(a1["id"], "b.example.com")
    client.certificate(a2["id"], "c.example.com")
    rows = client.data("GET", "/acme-accounts/{}/certificates".format(a1["id"]))
    assert [r["id"] for r in rows] == [c2["id"], c1["id"]]
    assert "cert" not in rows[0] and "csr" not in rows[0]
    error_of(client.get("/acme-accounts/999/certificates"), 404, 5003)


def test_other_users_accounts(client):
    theirs = Client(client.emu, "other").account(name="theirs")
    for method in ("GET", "PUT", "DELETE"):
        error_of(client.request(method, "/acme-accounts/{}".format(theirs["id"]), json={}), *client.expect.foreign)
    error_of(client.get("/acme-accounts/{}/certificates".format(theirs["id"])), *client.expect.foreign)
    assert client.data("GET", "/acme-accounts") == []
