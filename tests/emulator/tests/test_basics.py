"""Health, info, envelopes, 401/404/405, malformed JSON, admin auth."""

import json
import os

import requests
from conftest import Client, error_of


def test_health(shared):
    r = shared.get("/health")
    assert r.status_code == 200
    assert r.json() == {"data": {"status": "ok"}}
    assert r.headers["Content-Type"] == "application/json"


def test_info_file_matches_info(shared_emu):
    with open(os.path.join(shared_emu.workdir, "info.json")) as fh:
        info = json.load(fh)
    assert info == shared_emu.info
    assert info["base_url"].startswith("https://127.0.0.1:")
    assert info["http_url"].startswith("http://127.0.0.1:")
    assert os.path.exists(info["ca_file"])
    assert info["pid"] == os.getpid()
    assert info["api_keys"]["full"]["token"] == "ak_demo_full_0123456789abcdef"
    assert info["api_keys"]["revoked"]["revoked"] is True
    assert info["api_keys"]["other"]["user_id"] == 2
    assert info["api_keys"]["certs_only"]["scopes"] == ["certificates:*[*]", "acme_accounts:*[*]"]
    names = {d["id"]: (d["name"], d["status"], d["platform"], d["user_id"]) for d in info["devices"]}
    assert names[1] == ("web1", "ACTIVE", "Linux", 1)
    assert names[4] == ("old-box", "REVOKED", "Linux", 1)
    assert names[5] == ("lost-laptop", "LOST", "macOS", 1)
    assert names[6] == ("other-host", "ACTIVE", "Linux", 2)
    assert len(info["devices"][0]["device_public_id"]) == 36
    assert info["cas"] == [
        {"id": 1, "name": "Demo Root CA", "user_id": 1},
        {"id": 2, "name": "Other CA", "user_id": 2},
    ]
    assert [u["name"] for u in info["users"]] == ["demo", "other"]
    assert info["admin_token"] == shared_emu.admin_token


def test_plain_http_listener_serves_the_same_api(shared_emu):
    r = requests.get(shared_emu.http_url + "/apiv1/me/devices/1", headers={"Authorization": "Bearer " + shared_emu.token()})
    assert r.status_code == 200 and r.json()["data"]["name"] == "web1"


def test_unauthorized_cases(shared_emu):
    anon = Client(shared_emu, token="")
    assert "missing" in error_of(anon.get("/devices"), 401, 5018)
    r = anon.get("/devices", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert "malformed" in error_of(r, 401, 5018)
    r = Client(shared_emu, token="ak_nope_deadbeef").get("/devices")
    what = error_of(r, 401, 5018)
    assert "unknown" in what and "ak_nope" not in what
    what = error_of(Client(shared_emu, "revoked").get("/devices"), 401, 5018)
    assert "revoked" in what and shared_emu.token("revoked") not in what
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    what = error_of(Client(shared_emu, token=shared_emu.admin_token).get("/devices"), 403, 5022)
    assert shared_emu.admin_token not in what


def test_unknown_route_is_404(shared):
    for path in ("/nope", "/certificates/abc", "/apiv1/other", "/certificates/1/whatever"):
        error_of(shared.get(path), 404, 5003)
    error_of(shared.get("/certificates/999999"), 404, 5003)


def test_method_not_allowed(shared):
    r = shared.request("PATCH", "/certificates")
    error_of(r, 405, shared.expect.method_code)
    assert r.headers["Allow"] == "GET, POST"
    r = shared.delete("/certificates/1")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    r = shared.request("HEAD", "/certificates/1/export")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"
    assert r.content == b""


def test_malformed_json_and_non_object(shared):
    r = shared.post("/acme-accounts", data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert "malformed JSON" in error_of(r, 400, 5021)
    r = shared.post("/acme-accounts", data=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert "JSON object" in error_of(r, 400, 5000)
    r = shared.post("/certificate-assign", data=b"not json")
    error_of(r, 400, 5021)


def test_admin_requires_admin_token(shared_emu):
    url = shared_emu.base_url + "/_admin/counters"
    v = shared_emu.ca_file
    r = requests.get(url, verify=v)
    error_of(r, 401, 5018)
    r = requests.get(url, verify=v, headers={"Authorization": "Bearer " + shared_emu.token()})
    assert "API keys" in error_of(r, 403, 5022)
    r = requests.get(url, verify=v, headers={"Authorization": "Bearer adm_wrong"})
    error_of(r, 401, 5018)
    r = requests.get(url, verify=v, headers={"Authorization": "Bearer " + shared_emu.admin_token})
    assert r.status_code == 200 and "total" in r.json()["data"]


def test_internal_error_is_an_envelope_without_trace(emu, capfd):
    from certctrl_emulator import routes

    route = next(r for r in routes.API.routes if r.name == "GET /health")
    original = route.handler

    def boom(_req):
        raise RuntimeError("kaboom secret detail")

    route.handler = boom
    try:
        r = Client(emu).get("/health")
    finally:
        route.handler = original
    what = error_of(r, 500, 5017)
    assert "kaboom" not in r.text and "Traceback" not in r.text
    assert "internal" in what
    assert "kaboom" in capfd.readouterr().err
