"""Custom seeds (dict, YAML file, JSON file) through the fixture API."""

import json

import yaml
from conftest import Client
from cryptography import x509

from certctrl_emulator.seed import DEFAULT_SEED
from certctrl_emulator.testing import Emulator

SEED = {
    "users": [{"id": 1, "name": "solo", "email": "solo@example.com"}],
    "api_keys": [{"name": "k", "token": "ak_custom_token_1", "user_id": 1, "scopes": ["devices:*[read]"]}],
    "devices": [{"id": 10, "user_id": 1, "name": "edge", "status": "ACTIVE", "platform": "Linux"}],
    "cas": [{"id": 3, "user_id": 1, "name": "Solo CA"}],
    "acme_accounts": [{"id": 4, "user_id": 1, "name": "pre", "provider": "SELF_CA", "ca_id": 3}],
}


def _check(emu):
    assert emu.token("k") == "ak_custom_token_1"
    assert [d["name"] for d in emu.info["devices"]] == ["edge"]
    assert len(emu.info["devices"][0]["device_public_id"]) == 36
    client = Client(emu, "k")
    assert [d["id"] for d in client.data("GET", "/devices")] == [10]
    assert "acme_accounts:*[read]" in client.get("/acme-accounts").json()["error"]["what"]


def test_seed_dict(tmp_path):
    with Emulator(tls=False, seed=SEED, workdir=str(tmp_path)) as emu:
        _check(emu)
        tok = emu.admin.create_api_key("all", ["certificates:*[*]", "acme_accounts:*[*]"])
        c = Client(emu, token=tok)
        assert c.data("GET", "/acme-accounts/4")["ca_id"] == 3
        cert = c.certificate(4, "solo.example.com")
        rec = c.data("POST", f"/certificates/{cert['id']}/issues", json={})["cert"]
        leaf = x509.load_pem_x509_certificate(rec["cert"].encode())
        assert "CN=Solo CA" in leaf.issuer.rfc4514_string()


def test_seed_files(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SEED))
    (tmp_path / "s.json").write_text(json.dumps(SEED))
    for name in ("s.yaml", "s.json"):
        with Emulator(tls=False, seed=str(tmp_path / name), workdir=str(tmp_path / ("w" + name))) as emu:
            _check(emu)


def test_default_seed_file_is_the_documented_one():
    with open(DEFAULT_SEED) as fh:
        seed = yaml.safe_load(fh)
    assert {k["name"] for k in seed["api_keys"]} == {"full", "readonly", "certs_only", "revoked", "other"}
