"""The two profiles, row by row of production-shape.md: production's known answers and the contract's lenient ones.

Every test builds its emulators with an explicit profile, so this file means the same under either value of
$CERTCTRL_EMULATOR_PROFILE. Also the admin API of the shape (set_shape, set_certificate, the wrap_pending fault).
"""

import base64
import json
import os
import time
import zipfile
from io import BytesIO

import pytest
import requests
from conftest import Client, error_of
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certctrl_emulator.shape import colon_hex
from certctrl_emulator.testing import Emulator, start_subprocess

HEAVY = {"cert", "der", "csr"}
WEB1 = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"
OTHER_DEVICE = "7a2d3e4f-0006-4a5b-9c8d-b1c2d3e4f5a6"


@pytest.fixture
def make(tmp_path):
    """make(profile) -> a started Emulator of that profile (plain HTTP), stopped after the test."""
    started = []

    def _make(profile):
        emu = Emulator(profile=profile, tls=False, issue_delay=0.05, workdir=str(tmp_path / f"emu{len(started)}")).start()
        started.append(emu)
        return emu

    yield _make
    for emu in started:
        emu.stop()


@pytest.fixture
def prod(make):
    return Client(make("production"))


@pytest.fixture
def contract(make):
    return Client(make("contract"))


def assigned_issued(client, domain="s.example.com", device=1, **extra):
    """A SELF_CA certificate, issued and assigned to ``device``; returns its id."""
    rec = client.issued(domain, **extra)
    client.assign(rec["id"], device)
    return rec["id"]


def leaf_of(record):
    return x509.load_pem_x509_certificate(record["cert"].encode())


# -- configuration -------------------------------------------------------------------------------------------


def test_profile_option_info_and_attribute(make):
    for profile in ("production", "contract"):
        emu = make(profile)
        assert emu.profile == profile and emu.info["profile"] == profile
        assert emu.admin.info()["profile"] == profile
        assert emu.admin.shape()["profile"] == profile
    with pytest.raises(ValueError, match="production, contract"):
        Emulator(profile="lenient")


def test_profile_default_from_the_environment(monkeypatch):
    monkeypatch.delenv("CERTCTRL_EMULATOR_PROFILE", raising=False)
    assert Emulator().profile == "production"
    monkeypatch.setenv("CERTCTRL_EMULATOR_PROFILE", "contract")
    assert Emulator().profile == "contract"
    assert Emulator(profile="production").profile == "production"  # an explicit profile wins
    monkeypatch.setenv("CERTCTRL_EMULATOR_PROFILE", "strict")
    with pytest.raises(ValueError, match="strict"):
        Emulator()


def test_cli_profile_option_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CERTCTRL_EMULATOR_PROFILE", raising=False)
    for args, env, expect in (([], None, "production"), (["--profile", "contract"], None, "contract"), ([], "contract", "contract")):
        if env:
            monkeypatch.setenv("CERTCTRL_EMULATOR_PROFILE", env)
        proc, info = start_subprocess(args, str(tmp_path / expect / str(len(args))))
        try:
            assert info["profile"] == expect
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and f"; {expect} profile" in err.decode()
    monkeypatch.delenv("CERTCTRL_EMULATOR_PROFILE")
    with pytest.raises(RuntimeError, match="invalid choice"):
        start_subprocess(["--profile", "lenient"], str(tmp_path / "bad"))


# -- row 1: heavy fields on single reads ---------------------------------------------------------------------


def test_row1_production_single_reads_need_detail_most(prod):
    cid = assigned_issued(prod)
    for path in (f"/certificates/{cid}", f"/certificates/{cid}/issue-result", f"/devices/1/certificates/{cid}"):
        plain = prod.data("GET", path)
        assert not HEAVY & set(plain), path
        assert prod.data("GET", path + "?detail=full").keys() == plain.keys()  # only "most" adds them
        full = prod.data("GET", path + "?detail=most")
        assert set(full) >= HEAVY and full["cert"].startswith("-----BEGIN CERTIFICATE-----"), path
        assert {k: v for k, v in full.items() if k not in HEAVY} == plain
    for path in ("/certificates", "/acme-accounts/{}/certificates".format(prod.record(cid)["acct_id"]), "/devices/1/certificates"):
        assert not HEAVY & set(prod.data("GET", path)[0]), path
        assert set(prod.data("GET", path + "?detail=most")[0]) >= HEAVY, path
    assert set(prod.data("GET", f"/certificates/{cid}/export")) >= HEAVY  # the export is the full record


def test_row1_contract_single_reads_always_heavy(contract):
    cid = assigned_issued(contract)
    for path in (f"/certificates/{cid}", f"/certificates/{cid}/issue-result", f"/devices/1/certificates/{cid}"):
        assert contract.data("GET", path)["cert"].startswith("-----BEGIN CERTIFICATE-----"), path
    for path in ("/certificates", "/certificates?detail=most", "/devices/1/certificates?detail=most"):
        assert not HEAVY & set(contract.data("GET", path)[0]), path


# -- row 2: der ---------------------------------------------------------------------------------------------


def test_row2_production_der_is_the_private_key(prod):
    cid = assigned_issued(prod)
    rec = prod.record(cid)
    key = serialization.load_der_private_key(base64.b64decode(rec["der"]), None)
    assert key.public_key().public_numbers() == leaf_of(rec).public_key().public_numbers()
    z = zipfile.ZipFile(BytesIO(prod.get(f"/devices/1/certificates/{cid}/bundle").content))
    bundle_key = serialization.load_pem_private_key(z.read("private.key"), None)
    assert bundle_key.private_numbers() == key.private_numbers()
    assert prod.certificate(prod.account(name="n")["id"], "never.example.com")["der"] == ""


def test_row2_contract_der_is_the_leaf(contract):
    rec = contract.record(assigned_issued(contract))
    assert x509.load_der_x509_certificate(base64.b64decode(rec["der"])) == leaf_of(rec)


@pytest.mark.parametrize("profile", ["production", "contract"])
def test_der_marker_replaces_der_everywhere_it_is_served(make, profile):
    emu = make(profile)
    client = Client(emu)
    assert emu.admin.set_shape(der_marker="DER-MARKER-7f3a")["der_marker"] == "DER-MARKER-7f3a"
    acct = client.account(name="self", provider="SELF_CA")
    never = client.certificate(acct["id"], "never.example.com")
    assert never["der"] == ""  # nothing issued, nothing to mark
    c = client.certificate(acct["id"], "m.example.com")
    out = client.data("POST", "/certificates/{}/issues".format(c["id"]), json={})
    assert out["cert"]["der"] == "DER-MARKER-7f3a"
    client.assign(c["id"], 1)
    for path in ("", "/issue-result", "/export"):
        assert client.record(c["id"], path)["der"] == "DER-MARKER-7f3a", path
    assert client.data("GET", "/devices/1/certificates/{}?detail=most".format(c["id"]))["der"] == "DER-MARKER-7f3a"
    emu.admin.set_shape(der_marker=None)
    assert client.record(c["id"])["der"] not in ("", "DER-MARKER-7f3a")


# -- row 3: list shape --------------------------------------------------------------------------------------


LISTS = ("/acme-accounts", "/certificates", "/devices", "/devices/1/certificates")


def _lists(client):
    acct = client.account(name="self", provider="SELF_CA")
    cid = client.certificate(acct["id"], "l.example.com")["id"]
    client.data("POST", f"/certificates/{cid}/issues", json={})
    client.assign(cid, 1)
    return [*LISTS, f"/acme-accounts/{acct['id']}/certificates", f"/certificates/{cid}/devices", f"/certificates/{cid}/issues"]


def test_row3_production_lists_carry_meta(prod):
    for path in _lists(prod):
        body = prod.get(path + "?offset=0&limit=3").json()
        assert set(body) == {"data", "meta"}, path
        assert body["meta"]["offset"] == 0 and body["meta"]["limit"] == 3 and body["meta"]["total"] >= len(body["data"]) >= 1
    body = prod.get("/devices?offset=2&limit=2").json()
    assert body["meta"] == {"total": 5, "offset": 2, "limit": 2} and [d["id"] for d in body["data"]] == [3, 2]
    assert prod.get("/devices?offset=10").json() == {"data": [], "meta": {"total": 5, "offset": 10, "limit": 100}}


def test_row3_contract_lists_are_bare(contract):
    for path in _lists(contract):
        body = contract.get(path).json()
        assert set(body) == {"data"} and isinstance(body["data"], list), path


# -- row 4: list limit --------------------------------------------------------------------------------------


def test_row4_production_caps_the_limit_silently(prod):
    prod.emu.admin.create_devices(150)
    body = prod.get("/devices?limit=500").json()
    assert len(body["data"]) == 100 and body["meta"] == {"total": 155, "offset": 0, "limit": 100}
    assert len(prod.data("GET", "/devices?limit=100000&offset=100")) == 55
    for bad in ("limit=0", "limit=-1", "limit=x", "offset=-1"):
        error_of(prod.get("/devices?" + bad), 400, 5000)
    assert prod.emu.admin.set_shape(list_cap=7)["list_cap"] == 7
    body = prod.get("/devices?limit=50").json()
    assert len(body["data"]) == 7 and body["meta"]["limit"] == 7
    assert len(prod.data("GET", "/devices")) == 7  # the default page is capped too


def test_row4_contract_rejects_a_limit_above_1000(contract):
    contract.emu.admin.create_devices(1100)
    assert len(contract.data("GET", "/devices?limit=1000")) == 1000
    assert "'limit'" in error_of(contract.get("/devices?limit=1001"), 400, 5000)
    contract.emu.admin.set_shape(list_cap=100)  # the knob makes the contract profile cap silently as well
    assert len(contract.data("GET", "/devices?limit=5000")) == 100


# -- row 5: certificate record fields -----------------------------------------------------------------------


def test_row5_production_certificate_record(prod):
    rec = prod.record(assigned_issued(prod))
    assert "user_id" not in rec and "key_algorithm" not in rec
    serial = rec["serial_number"]
    assert serial == colon_hex(format(leaf_of(rec).serial_number, "x")) and serial == serial.upper() and ":" in serial
    assert all(len(part) == 2 for part in serial.split(":"))
    assert json.loads(zipfile.ZipFile(BytesIO(prod.get(f"/devices/1/certificates/{rec['id']}/bundle").content)).read("meta.json"))["serial_number"] == serial


def test_row5_contract_certificate_record(contract):
    rec = contract.record(assigned_issued(contract))
    assert rec["user_id"] == 1 and rec["key_algorithm"] == "ECDSA"
    assert rec["serial_number"] == format(leaf_of(rec).serial_number, "x")


def test_colon_hex():
    assert colon_hex("4a1b2") == "04:A1:B2" and colon_hex("ff") == "FF" and colon_hex("") == ""


# -- row 6: ACME account record ------------------------------------------------------------------------------


ACCOUNT_BODY = {"name": "le", "provider": "letsencrypt", "email": "a@example.com", "leaf_key_algorithm": "RSA", "leaf_rsa_bits": 3072}


def test_row6_production_account_is_lean(prod):
    acct = prod.data("POST", "/acme-accounts", 200, json=dict(ACCOUNT_BODY, cert_valid_seconds=86400))
    lean = {"id", "user_id", "name", "email", "provider", "kid", "ca_id"}
    assert set(acct) == lean
    assert set(prod.data("GET", "/acme-accounts/{}".format(acct["id"]))) == lean
    assert set(prod.data("GET", "/acme-accounts")[0]) == lean
    assert set(prod.data("PUT", "/acme-accounts/{}".format(acct["id"]), json={"leaf_rsa_bits": 2048})) == lean
    # the create-only fields are still honoured: the leaf follows leaf_* although the record does not echo them
    cert = prod.certificate(acct["id"], "rsa.example.com")
    prod.emu.admin.configure_issuance(delay=0.01)
    prod.data("POST", "/certificates/{}/issues".format(cert["id"]), json={})
    deadline = time.monotonic() + 10
    while prod.data("GET", "/certificates/{}/issues".format(cert["id"]))[0]["status"] != "SUCCESS" and time.monotonic() < deadline:
        time.sleep(0.02)
    leaf = leaf_of(prod.record(cert["id"]))
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey) and leaf.public_key().key_size == 2048


def test_row6_contract_account_echoes_everything(contract):
    acct = contract.data("POST", "/acme-accounts", 201, json=ACCOUNT_BODY)
    assert acct["leaf_key_algorithm"] == "RSA" and acct["leaf_rsa_bits"] == 3072 and acct["cert_valid_seconds"] == 7776000
    assert acct["created_at"] > 1e12


# -- row 7: create status -----------------------------------------------------------------------------------


def test_row7_create_status(prod, contract):
    for client, status in ((prod, 200), (contract, 201)):
        r = client.post("/acme-accounts", json={"name": "s", "provider": "SELF_CA", "ca_id": 1})
        assert r.status_code == status
        r = client.post("/certificates", json={"domain_name": "c.example.com", "acct_id": r.json()["data"]["id"], "action": "create"})
        assert r.status_code == status and r.json()["data"]["id"] >= 1


# -- rows 8, 9: assign body and answer ----------------------------------------------------------------------


def test_row8_production_assign_needs_device_public_id(prod):
    cid = prod.certificate(prod.account()["id"], "a.example.com")["id"]
    what = error_of(prod.post("/certificate-assign", json={"certificate_id": cid, "device_id": 1}), 400, 5008)
    assert "device_public_id" in what
    error_of(prod.post("/certificate-assign", json={"device_public_id": WEB1}), 400, 5008)
    r = prod.post("/certificate-assign", json={"certificate_id": cid, "device_public_id": WEB1})
    assert r.status_code == 204 and r.content == b""
    assert [d["id"] for d in prod.data("GET", f"/certificates/{cid}/devices")] == [1]
    r = prod.post("/certificate-assign", json={"certificate_id": cid, "device_id": 1, "device_public_id": WEB1})
    assert r.status_code == 204  # a matching device_id is accepted next to it


def test_row8_contract_assign_by_device_id(contract):
    cid = contract.certificate(contract.account()["id"], "a.example.com")["id"]
    out = contract.data("POST", "/certificate-assign", json={"certificate_id": cid, "device_id": 2})
    assert out["device_id"] == 2 and out["message"] == "assigned"


def test_row9_assign_answers(prod, contract):
    emu = prod.emu
    cid = prod.certificate(prod.account()["id"], "a.example.com")["id"]
    body = {"certificate_id": cid, "device_public_id": WEB1}
    assert prod.post("/certificate-assign", json=body).status_code == 204
    assert emu.admin.set_shape(assign_answer="200")["assign_answer"] == "200"
    r = prod.post("/certificate-assign", json=body)
    assert r.status_code == 200 and r.json()["data"]["message"] == "already assigned"
    emu.admin.set_shape(assign_answer="202")
    r = prod.post("/certificate-assign", json=body)
    assert r.status_code == 202 and r.json() == {"status": "accepted", "message": "already assigned"}
    emu.admin.set_shape(assign_answer=204)  # a number works too
    assert prod.post("/certificate-assign", json=body).status_code == 204
    ccid = contract.certificate(contract.account()["id"], "a.example.com")["id"]
    r = contract.post("/certificate-assign", json={"certificate_id": ccid, "device_public_id": WEB1})
    assert r.status_code == 200 and r.json()["data"]["message"] == "assigned"


# -- row 10: unassign ---------------------------------------------------------------------------------------


def test_row10_production_has_no_me_unassign(prod):
    cid = assigned_issued(prod)
    r = prod.delete(f"/devices/1/certificates/{cid}")
    assert "not allowed" in error_of(r, 405, 5000) and r.headers["Allow"] == "GET"
    assert [c["id"] for c in prod.data("GET", "/devices/1/certificates")] == [cid]  # still assigned
    assert Client(prod.emu, token="").delete(f"/devices/1/certificates/{cid}").status_code == 405  # before any key check


def test_row10_contract_unassigns(contract):
    cid = assigned_issued(contract)
    assert contract.delete(f"/devices/1/certificates/{cid}").status_code == 204
    assert contract.data("GET", "/devices/1/certificates") == []


# -- row 11: another user's object --------------------------------------------------------------------------


def _theirs(client):
    other = Client(client.emu, "other")
    acct = other.account(name="theirs", provider="SELF_CA", ca_id=2)
    return acct["id"], other.certificate(acct["id"], "their.example.com")["id"]


def test_row11_production_other_users_objects_are_403(prod):
    acct_id, cid = _theirs(prod)
    for path in (f"/acme-accounts/{acct_id}", f"/certificates/{cid}", f"/certificates/{cid}/issues", "/devices/6", f"/devices/by-public-id/{OTHER_DEVICE}"):
        assert "not owned" in error_of(prod.get(path), 403, 5022), path
    error_of(prod.post(f"/certificates/{cid}/issues", json={}), 403, 5022)
    error_of(prod.post("/certificate-assign", json={"certificate_id": cid, "device_public_id": WEB1}), 403, 5022)
    error_of(prod.post("/certificate-assign", json={"certificate_id": 1, "device_public_id": OTHER_DEVICE}), 403, 5022)
    for path in ("/certificates/4242", "/acme-accounts/4242", "/devices/4242"):  # absent objects stay 404
        error_of(prod.get(path), 404, 5003)


def test_row11_contract_other_users_objects_are_404(contract):
    acct_id, cid = _theirs(contract)
    for path in (f"/acme-accounts/{acct_id}", f"/certificates/{cid}", "/devices/6", f"/devices/by-public-id/{OTHER_DEVICE}"):
        error_of(contract.get(path), 404, 5003)


# -- row 12: export policy ----------------------------------------------------------------------------------


def test_row12_production_server_decrypt_export_defaults_to_0(prod):
    acct = prod.account(name="self", provider="SELF_CA")
    for policy in ("HYBRID", "MASTER_ONLY", "DEVICE_REQUIRED"):
        assert prod.certificate(acct["id"], f"{policy.lower().replace('_', '')}.example.com", policy=policy)["server_decrypt_export"] == 0
    ids = prod.emu.admin.create_certificates(2, acct["id"])
    assert {prod.data("GET", f"/certificates/{i}")["server_decrypt_export"] for i in ids} == {0}


def test_row12_production_bundle_served_unless_export_forbidden(prod):
    emu = prod.emu
    cid = assigned_issued(prod)
    url = f"/devices/1/certificates/{cid}/bundle"
    assert prod.get(url).headers["Content-Type"] == "application/zip"  # the contract's zip by default
    assert emu.admin.set_shape(export_forbidden=True)["export_forbidden"] is True
    what = error_of(prod.get(url), 403, 5022)
    assert "EXPORT_FORBIDDEN" in what and f"certificate {cid}" in what and "server_decrypt_export" in what
    assert emu.admin.set_certificate(cid, server_decrypt_export=True) == {"id": cid, "policy": "HYBRID", "server_decrypt_export": 1}
    assert prod.record(cid)["server_decrypt_export"] == 1
    assert prod.get(url).status_code == 200
    emu.admin.set_certificate(cid, server_decrypt_export=0)
    error_of(prod.get(url), 403, 5022)
    emu.admin.set_shape(export_forbidden=False)
    assert prod.get(url).status_code == 200


def test_row12_contract_export_allowed_unless_device_required(contract):
    acct = contract.account(name="self", provider="SELF_CA")
    assert contract.certificate(acct["id"], "h.example.com")["server_decrypt_export"] is True
    assert contract.certificate(acct["id"], "d.example.com", policy="DEVICE_REQUIRED")["server_decrypt_export"] is False
    cid = assigned_issued(contract)
    contract.emu.admin.set_shape(export_forbidden=True)
    assert contract.get(f"/devices/1/certificates/{cid}/bundle").status_code == 200  # server_decrypt_export is 1
    contract.emu.admin.set_certificate(cid, server_decrypt_export=False)
    assert "EXPORT_FORBIDDEN" in error_of(contract.get(f"/devices/1/certificates/{cid}/bundle"), 403, 5022)


# -- row 13: DEVICE_REQUIRED bundle, WRAP_PENDING -----------------------------------------------------------


@pytest.mark.parametrize("profile", ["production", "contract"])
def test_row13_device_required_bundle_stays_403(make, profile):
    client = Client(make(profile))
    cid = assigned_issued(client)
    client.emu.admin.set_certificate(cid, policy="DEVICE_REQUIRED")
    assert client.record(cid)["key_dist_policy"] == "DEVICE_REQUIRED"
    assert "DEVICE_REQUIRED" in error_of(client.get(f"/devices/1/certificates/{cid}/bundle"), 403, 5022)


@pytest.mark.parametrize("profile", ["production", "contract"])
def test_row13_wrap_pending_fault(make, profile):
    client = Client(make(profile))
    cid, other = assigned_issued(client, "w.example.com"), assigned_issued(client, "x.example.com")
    client.emu.admin.add_bundle_fault("wrap_pending", certificate_id=cid, count=2)
    client.emu.admin.add_bundle_fault("truncated", certificate_id=cid, count=1)
    assert client.get(f"/devices/1/certificates/{other}/bundle").status_code == 200  # scoped to cid
    for _i in range(2):
        r = client.get(f"/devices/1/certificates/{cid}/bundle")
        assert r.status_code == 409 and "WRAP_PENDING" in r.text and r.json()["error"]["code"] == 409
    r = client.get(f"/devices/1/certificates/{cid}/bundle")  # the other fault was not consumed meanwhile
    assert r.status_code == 200
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(BytesIO(r.content))
    assert zipfile.ZipFile(BytesIO(client.get(f"/devices/1/certificates/{cid}/bundle").content)).testzip() is None


# -- row 14: timestamps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["production", "contract"])
def test_row14_timestamps(make, profile):
    client = Client(make(profile))
    rec = client.issued("t.example.com")
    assert rec["created_at"] < 1e12 and rec["updated_at"] < 1e12  # certificates: seconds
    assert client.data("GET", "/devices/1")["created_at"] > 1e12  # devices: ms
    row = client.data("GET", "/certificates/{}/issues".format(rec["id"]))[0]
    assert row["started_at"] > 1e12 and row["completed_at"] > 1e12  # history: ms


# -- row 15: error codes ------------------------------------------------------------------------------------


def test_row15_method_not_allowed_code(prod, contract):
    assert "not allowed" in error_of(prod.request("PATCH", "/certificates"), 405, 5000)
    error_of(contract.request("PATCH", "/certificates"), 405, 5010)
    prod.emu.admin.add_fault(path="/devices$", kind="status", status=405, count=1)
    error_of(prod.get("/devices"), 405, 5000)


# -- admin API ------------------------------------------------------------------------------------------------


def test_set_shape_validates_and_reports(prod):
    admin = prod.emu.admin
    assert admin.shape() == {"profile": "production", "export_forbidden": False, "assign_answer": "204", "der_marker": None, "list_cap": 100}
    for knobs, needle in (
        ({"colour": 1}, "colour"),
        ({"export_forbidden": "yes"}, "export_forbidden"),
        ({"assign_answer": "201"}, "assign_answer"),
        ({"assign_answer": True}, "assign_answer"),
        ({"der_marker": ""}, "der_marker"),
        ({"der_marker": 5}, "der_marker"),
        ({"list_cap": 0}, "list_cap"),
        ({"list_cap": "10"}, "list_cap"),
    ):
        with pytest.raises(RuntimeError, match=f"400: .*{needle}"):
            admin.set_shape(**knobs)
    assert admin.shape()["list_cap"] == 100  # a rejected body changes nothing
    assert admin.set_shape(list_cap=None)["list_cap"] is None
    assert "'limit'" in error_of(prod.get("/devices?limit=1001"), 400, 5000)  # no cap: the contract's bound
    r = requests.post(prod.emu.base_url + "/_admin/shape", json={}, headers={"Authorization": "Bearer " + prod.emu.token()}, timeout=10)
    error_of(r, 403, 5022)  # API keys are not admin tokens


def test_contract_shape_defaults(contract):
    assert contract.emu.admin.shape() == {
        "profile": "contract",
        "export_forbidden": False,
        "assign_answer": "200",
        "der_marker": None,
        "list_cap": None,
    }


def test_set_certificate_validates(prod):
    admin = prod.emu.admin
    cid = prod.certificate(prod.account()["id"], "a.example.com")["id"]
    assert admin.set_certificate(cid) == {"id": cid, "policy": "HYBRID", "server_decrypt_export": 0}
    assert admin.set_certificate(cid, policy="MASTER_ONLY", server_decrypt_export=1) == {"id": cid, "policy": "MASTER_ONLY", "server_decrypt_export": 1}
    rec = prod.data("GET", f"/certificates/{cid}")
    assert rec["key_dist_policy"] == "MASTER_ONLY" and rec["server_decrypt_export"] == 1
    with pytest.raises(RuntimeError, match=r"400: .*'policy'"):
        admin.set_certificate(cid, policy="NOPE")
    with pytest.raises(RuntimeError, match=r"400: .*server_decrypt_export"):
        admin.set_certificate(cid, server_decrypt_export="yes")
    with pytest.raises(RuntimeError, match="404: certificate 4242"):
        admin.set_certificate(4242, policy="HYBRID")
    with pytest.raises(RuntimeError, match="400: unknown field"):
        admin.call("PUT", f"/_admin/certificates/{cid}", {"der": "x"})


def test_wrap_pending_is_a_bundle_fault_kind(prod):
    with pytest.raises(RuntimeError, match="wrap_pending"):
        prod.emu.admin.add_bundle_fault("wrap_pendin")
    assert prod.emu.admin.add_bundle_fault("wrap_pending", count=1) == {"kind": "wrap_pending", "certificate_id": None, "count": 1}


def test_fixture_env_profile_matches(emu):
    """The generic fixtures follow $CERTCTRL_EMULATOR_PROFILE (how `make test` runs both profiles)."""
    assert emu.profile == (os.environ.get("CERTCTRL_EMULATOR_PROFILE") or "production")
