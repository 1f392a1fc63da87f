"""Fixtures of the emulator's own test suite (built on certctrl_emulator.testing).

The ``emu`` / ``shared_emu`` fixtures take the profile from ``$CERTCTRL_EMULATOR_PROFILE`` (default production),
so generic tests run on both profiles; ``Expect`` holds what differs between them for generic tests. A test
about one profile's shape builds ``Emulator(profile=...)`` itself (see test_shape.py).
"""

import pytest
import requests

from certctrl_emulator.testing import Emulator

ME = "/apiv1/me"


class Expect:
    """What a generic test expects from the profile of ``emu`` (statuses and codes that differ)."""

    def __init__(self, profile):
        prod = profile == "production"
        self.profile = profile
        self.created = 200 if prod else 201
        self.foreign = (403, 5022) if prod else (404, 5003)  # an object of another user
        self.method_code = 5000 if prod else 5010  # 405
        self.assigned = 204 if prod else 200


class Client:
    """requests.Session bound to an emulator and one API key; paths are relative to /apiv1/me."""

    def __init__(self, emu, key="full", token=None):
        self.emu = emu
        self.expect = Expect(emu.profile)
        self.session = requests.Session()
        # per request: REQUESTS_CA_BUNDLE in the environment would override Session.verify
        self.verify = emu.ca_file if emu.ca_file else True
        tok = token if token is not None else emu.token(key)
        if tok:
            self.session.headers["Authorization"] = "Bearer " + tok

    def url(self, path):
        return self.emu.base_url + (path if path.startswith(("/health", "/_admin", "/apiv1")) else ME + path)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        kw.setdefault("verify", self.verify)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- shortcuts ------------------------------------------------------------
    def data(self, method, path, expect=200, **kw):
        r = self.request(method, path, **kw)
        assert r.status_code == expect, (r.status_code, r.text)
        return r.json()["data"] if r.content else None

    def account(self, name="le", provider="letsencrypt", **extra):
        body = {"name": name, "provider": provider}
        if provider == "SELF_CA":
            body["ca_id"] = 1
        else:
            body["email"] = "ops@example.com"
        body.update(extra)
        return self.data("POST", "/acme-accounts", self.expect.created, json=body)

    def certificate(self, acct_id, domain="example.com", sans=None, **extra):
        body = {"domain_name": domain, "sans": sans or [domain], "acct_id": acct_id, "action": "create"}
        body.update(extra)
        return self.data("POST", "/certificates", self.expect.created, json=body)

    def record(self, cid, path=""):
        """The full certificate record (``?detail=most``: production leaves cert/der/csr out without it)."""
        return self.data("GET", f"/certificates/{cid}{path}?detail=most")

    def public_id(self, device_id):
        return self.emu.instance.app.store.one("SELECT device_public_id FROM devices WHERE id = ?", (device_id,))["device_public_id"]

    def assign_request(self, cid, device_id):
        """POST /certificate-assign with the body both profiles accept (certificate_id + device_public_id)."""
        return self.post("/certificate-assign", json={"certificate_id": cid, "device_public_id": self.public_id(device_id)})

    def assign(self, cid, device_id):
        r = self.assign_request(cid, device_id)
        assert r.status_code == self.expect.assigned, (r.status_code, r.text)
        return r

    def issued(self, domain="example.com", key_algorithm="ECDSA", **extra):
        """A SELF_CA certificate issued inline; returns the record."""
        acct = self.account(name="self-" + domain, provider="SELF_CA")
        cert = self.certificate(acct["id"], domain, key_algorithm=key_algorithm, **extra)
        out = self.data("POST", "/certificates/{}/issues".format(cert["id"]), json={})
        assert out["status"] == "SUCCESS", out
        return out["cert"]


def error_of(resp, status, code=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    err = resp.json()["error"]
    assert isinstance(err["what"], str) and err["what"]
    if code is not None:
        assert err["code"] == code, err
    return err["what"]


@pytest.fixture
def emu(tmp_path):
    with Emulator(workdir=str(tmp_path / "emu"), issue_delay=0.2) as e:
        yield e


@pytest.fixture(scope="module")
def shared_emu(tmp_path_factory):
    """One emulator per module, for tests that only read seeded state or create their own objects."""
    with Emulator(workdir=str(tmp_path_factory.mktemp("emu")), issue_delay=0.1) as e:
        yield e


@pytest.fixture
def client(emu):
    return Client(emu)


@pytest.fixture
def shared(shared_emu):
    return Client(shared_emu)
