"""Device registration as the agent calls it: POST /apiv1/me/devices with the API key and the device's dev_pk."""

import base64
import hashlib
import json
import uuid

import pytest
from conftest import Client, error_of
from nacl.public import PrivateKey

WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"
OTHER_PUBLIC_ID = "7a2d3e4f-0006-4a5b-9c8d-b1c2d3e4f5a6"  # user 2's device
REVOKED_PUBLIC_ID = "6f1c2a3b-0004-4c5d-8e9f-a1b2c3d4e5f4"


def b64(data):
    return base64.b64encode(data).decode()


def agent_body(public_id=None, dev_pk=None, **extra):
    """The body ``cert-ctrl login --apikey`` sends (agent-facts §1.1.1)."""
    pk = dev_pk if dev_pk is not None else bytes(PrivateKey.generate().public_key)
    body = {
        "device_public_id": public_id or str(uuid.uuid4()),
        "platform": "Linux",
        "model": "Debian GNU/Linux 12 (bookworm)",
        "app_version": "1.4.2",
        "name": "CLI Device host1",
        "ip": "192.0.2.10",
        "user_agent": "cert-ctrl/1.4.2",
        "dev_pk": b64(pk) if isinstance(pk, bytes) else pk,
    }
    body.update(extra)
    return body


def pad(text):
    return text + "=" * (-len(text) % 4)


def claims(token):
    header, payload, signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(pad(header))) == {"alg": "HS256", "typ": "JWT"} and signature
    return json.loads(base64.urlsafe_b64decode(pad(payload)))


def test_register_a_new_device(client):
    body = agent_body()
    r = client.post("/devices", json=body)
    assert r.status_code == client.expect.created, r.text
    data = r.json()["data"]
    device, session = data["device"], data["session"]
    assert device["device_public_id"] == body["device_public_id"] and device["status"] == "ACTIVE"
    assert device["name"] == "CLI Device host1" and device["platform"] == "Linux" and device["model"] == body["model"]
    assert client.data("GET", "/devices/{}".format(device["id"])) == device
    assert client.data("GET", "/devices/by-public-id/" + body["device_public_id"]) == device
    assert session["expires_in"] == 3600 and session["token_type"] == "Bearer" and session["refresh_token"]
    jwt = claims(session["access_token"])
    assert jwt["sub"] == "1" and jwt["device_id"] == device["id"] and jwt["exp"] - jwt["iat"] == 3600
    row = client.emu.instance.app.store.get("devices", device["id"])
    assert row["dev_pk"] == body["dev_pk"] and row["app_version"] == "1.4.2" and row["user_agent"] == "cert-ctrl/1.4.2"
    assert row["device_keyfp"] == b64(hashlib.blake2b(base64.b64decode(body["dev_pk"]), digest_size=32).digest())


def test_register_is_idempotent_by_public_id(client):
    body = agent_body()
    first = client.data("POST", "/devices", client.expect.created, json=body)
    again = client.data("POST", "/devices", 200, json=dict(body, name="renamed", app_version="9.9"))
    assert again["device"] == first["device"]  # the same device, unchanged
    assert again["session"]["access_token"] != first["session"]["access_token"]  # a new session each time
    assert [d["device_public_id"] for d in client.data("GET", "/devices")].count(body["device_public_id"]) == 1


def test_user_client_registers(emu):
    sk = PrivateKey.generate()
    pid = str(uuid.uuid4())
    out = emu.api().register_device(pid, bytes(sk.public_key), name="via-user-client")
    assert out["device"]["device_public_id"] == pid and out["device"]["name"] == "via-user-client"
    assert emu.api().register_device(pid, b64(bytes(sk.public_key)))["device"] == out["device"]
    with pytest.raises(RuntimeError, match=r"-> 409: .*another dev_pk"):
        emu.api().register_device(pid, bytes(PrivateKey.generate().public_key))


def test_another_dev_pk_for_a_known_public_id_is_409(client):
    body = agent_body()
    device = client.data("POST", "/devices", client.expect.created, json=body)["device"]
    fp = client.emu.instance.app.store.get("devices", device["id"])["device_keyfp"]
    what = error_of(client.post("/devices", json=agent_body(body["device_public_id"])), 409, 5014)
    assert "another dev_pk" in what and fp in what and body["device_public_id"] in what
    assert client.emu.instance.app.store.get("devices", device["id"])["dev_pk"] == body["dev_pk"]  # kept
    assert client.data("POST", "/devices", 200, json=body)["device"]["id"] == device["id"]


def test_a_seeded_device_without_key_enrolls_then_keeps_its_key(client):
    body = agent_body(WEB1_PUBLIC_ID.upper())  # the id is compared in lower case, as the agent writes it
    out = client.data("POST", "/devices", 200, json=body)
    assert out["device"]["id"] == 1 and out["device"]["name"] == "web1"  # the existing device, enrolled
    assert client.emu.instance.app.store.get("devices", 1)["dev_pk"] == body["dev_pk"]
    error_of(client.post("/devices", json=agent_body(WEB1_PUBLIC_ID)), 409, 5014)


def test_other_users_and_inactive_devices(client):
    assert "another user" in error_of(client.post("/devices", json=agent_body(OTHER_PUBLIC_ID)), 409, 5014)
    assert "REVOKED" in error_of(client.post("/devices", json=agent_body(REVOKED_PUBLIC_ID)), 403, 5022)


@pytest.mark.parametrize(
    ("dev_pk", "says"),
    [
        ("not base64!", "not standard base64"),
        (b64(bytes(31)), "31 bytes"),
        (b64(bytes(33)), "33 bytes"),
        (base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "not standard base64"),  # the url-safe alphabet
        (12, "must be a string"),
        ("", "0 bytes"),
    ],
)
def test_bad_dev_pk(shared, dev_pk, says):
    what = error_of(shared.post("/devices", json=agent_body(dev_pk=dev_pk)), 400, 5000)
    assert "'dev_pk'" in what and says in what


def test_bad_bodies(shared):
    body = agent_body()
    del body["dev_pk"]
    assert "dev_pk" in error_of(shared.post("/devices", json=body), 400, 5008)
    body = agent_body()
    del body["device_public_id"]
    assert "device_public_id" in error_of(shared.post("/devices", json=body), 400, 5008)
    for pid in ("nope", "6f1c2a3b00014c5d8e9fa1b2c3d4e5f1", "zf1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1", 7):
        assert "device_public_id" in error_of(shared.post("/devices", json=agent_body(pid)), 400, 5000)
    assert "user_id" in error_of(shared.post("/devices", json=agent_body(user_id=1)), 400, 5000)
    assert "'name'" in error_of(shared.post("/devices", json=agent_body(name="x" * 129)), 400, 5000)
    error_of(shared.post("/devices", data=b"{", headers={"Content-Type": "application/json"}), 400, 5021)


def test_registration_needs_devices_write_on_every_device(shared_emu):
    body = agent_body()
    for key in ("readonly", "certs_only"):
        assert "devices:*[write]" in error_of(Client(shared_emu, key).post("/devices", json=body), 403, 5022)
    shared_emu.admin.create_api_key("one-device", ["devices:1[*]"])
    assert "devices:*[write]" in error_of(Client(shared_emu, "one-device").post("/devices", json=body), 403, 5022)
    error_of(Client(shared_emu, "revoked").post("/devices", json=body), 401, 5018)
    error_of(Client(shared_emu, token="").post("/devices", json=body), 401, 5018)
    assert shared_emu.instance.app.store.device_by_public_id(body["device_public_id"]) is None
    shared_emu.admin.create_api_key("device-writer", ["devices:*[write]"])
    assert Client(shared_emu, "device-writer").post("/devices", json=body).status_code == Client(shared_emu).expect.created


def test_a_seeded_device_can_carry_its_dev_pk(tmp_path):
    from certctrl_emulator.seed import read_seed
    from certctrl_emulator.testing import Emulator

    seed = read_seed()
    pk = bytes(PrivateKey.generate().public_key)
    seed["devices"][0]["dev_pk"] = b64(pk)
    with Emulator(seed=seed, tls=False, workdir=str(tmp_path)) as emu:
        row = emu.instance.app.store.get("devices", 1)
        assert row["dev_pk"] == b64(pk) and row["device_keyfp"] == b64(hashlib.blake2b(pk, digest_size=32).digest())
        assert Client(emu).data("POST", "/devices", 200, json=agent_body(WEB1_PUBLIC_ID, pk))["device"]["id"] == 1
    seed["devices"][0]["dev_pk"] = b64(bytes(16))
    with pytest.raises(ValueError, match="16 bytes"), Emulator(seed=seed, tls=False, workdir=str(tmp_path / "bad")):
        pass
