# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_resources against the emulator's production profile (production-shape.md) and the fixture's profile:
``?detail=most``, the bundle's WRAP_PENDING and EXPORT_FORBIDDEN answers, the assign body, another user's objects.

Each production test builds its own ``Emulator(profile="production")``; the requests the emulator logged are
the evidence (what was sent, how often), never a mock of our client.
"""

from __future__ import annotations

import typing as t
import uuid

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as res
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient, RetryPolicy
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    ConflictError,
    ExportForbiddenError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    WrapPendingError,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import describe_pem, same_serial
from certctrl_emulator.testing import Emulator

BUNDLE_ROUTE = "GET /apiv1/me/devices/:id/certificates/:id/bundle"


class FakeTime:
    """The sleep and clock of download_bundle: time moves only when it sleeps (no test waits for real)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client_of(emu: Emulator, key: str = "full") -> CertCtrlClient:
    return CertCtrlClient(api_url=emu.base_url, api_key=emu.token(key), ca_path=emu.ca_file, retry_policy=RetryPolicy(retries=0), sleep=lambda s: None)


def issued_certificate(emu: Emulator, *, device_id: int | None = 1) -> int:
    """A SELF_CA certificate issued inline (and assigned to ``device_id``), set up through the REST API."""
    api = emu.api()
    account = api.call("POST", "/acme-accounts", {"name": f"res-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})
    domain = f"res-{uuid.uuid4().hex[:8]}.example.com"
    cid = api.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create", "sans": [domain]})["id"]
    assert api.call("POST", f"/certificates/{cid}/issues", {})["status"] == "SUCCESS"
    if device_id is not None:
        device = api.call("GET", f"/devices/{device_id}")
        api.call("POST", "/certificate-assign", {"certificate_id": cid, "device_public_id": device["device_public_id"]})
    return cid


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(profile="production", tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("production")) as emu:
        yield emu


@pytest.fixture
def prod(production: Emulator) -> t.Iterator[Emulator]:
    admin = production.admin
    admin.clear_faults()
    admin.clear_bundle_faults()
    admin.set_shape(export_forbidden=False, der_marker=None, assign_answer="204")
    admin.reset()
    yield production
    admin.clear_bundle_faults()
    admin.set_shape(export_forbidden=False, der_marker=None, assign_answer="204")


# -- ?detail=most (row 1) ----------------------------------------------------------------------


def test_single_reads_ask_for_the_pem_only_when_told(prod):
    cid = issued_certificate(prod)
    client = client_of(prod)
    light = res.get_certificate(client, cid)
    assert not {"cert", "der", "csr"} & set(light)  # production leaves them out...
    detailed = res.get_certificate(client, cid, detail=True)
    assert detailed["cert"].startswith("-----BEGIN CERTIFICATE-----")  # ...unless ?detail=most
    assert same_serial(detailed["serial_number"], describe_pem(detailed["cert"])["serial"])  # 04:A1:.. vs 4a1..
    on_device = res.device_certificate(client, 1, cid, detail=True)
    assert on_device["cert"] == detailed["cert"]
    assert "cert" not in res.device_certificate(client, 1, cid)


def test_resolve_certificate_reads_the_detailed_record(prod):
    cid = issued_certificate(prod, device_id=None)
    record = selectors.certificate(client_of(prod), certificate_id=cid, detail=True)
    assert describe_pem(record["cert"]) is not None


# -- the bundle: WRAP_PENDING (row 13) and EXPORT_FORBIDDEN (row 12) -----------------------------------


def test_wrap_pending_is_retried_with_doubling_waits_then_served(prod):
    cid = issued_certificate(prod)
    prod.admin.add_bundle_fault("wrap_pending", certificate_id=cid, count=3)
    fake = FakeTime()
    download = res.download_bundle(client_of(prod), device_id=1, certificate_id=cid, sleep=fake.sleep, clock=fake.clock)
    assert download.content[:4] == b"PK\x03\x04"
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert prod.admin.counters()["by_route"][BUNDLE_ROUTE] == 4


def test_wrap_pending_beyond_the_bound_says_the_device_wrap_is_pending(prod):
    cid = issued_certificate(prod)
    prod.admin.add_bundle_fault("wrap_pending", certificate_id=cid, count=100)
    fake = FakeTime()
    with pytest.raises(WrapPendingError) as info:
        res.download_bundle(client_of(prod), device_id=1, certificate_id=cid, wrap_wait=10, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [1.0, 2.0, 4.0, 3.0]  # doubling, the last one shortened to the bound
    assert sum(fake.sleeps) == 10
    assert prod.admin.counters()["by_route"][BUNDLE_ROUTE] == 5
    exc = info.value
    assert exc.msg.startswith(f"the server has not wrapped the key of certificate {cid} for device 1 yet")
    assert "WRAP_PENDING" in exc.msg and "run again later" in exc.msg
    assert exc.details["status"] == 409 and exc.details["certificate_id"] == cid and exc.details["device_id"] == 1


def test_wrap_wait_zero_fails_after_one_request(prod):
    cid = issued_certificate(prod)
    prod.admin.add_bundle_fault("wrap_pending", certificate_id=cid, count=5)
    fake = FakeTime()
    with pytest.raises(WrapPendingError):
        res.download_bundle(client_of(prod), device_id=1, certificate_id=cid, wrap_wait=0, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == [] and prod.admin.counters()["by_route"][BUNDLE_ROUTE] == 1


def test_export_forbidden_names_the_certificate_and_what_to_change(prod):
    cid = issued_certificate(prod)
    prod.admin.set_shape(export_forbidden=True)
    prod.admin.set_certificate(cid, server_decrypt_export=False)
    fake = FakeTime()
    with pytest.raises(ExportForbiddenError) as info:
        res.download_bundle(client_of(prod), device_id=1, certificate_id=cid, sleep=fake.sleep, clock=fake.clock)
    exc = info.value
    assert f"certificate {cid}" in exc.msg and "EXPORT_FORBIDDEN" in exc.msg
    assert f"enable server_decrypt_export for certificate {cid}" in exc.msg and "key distribution policy" in exc.msg
    assert exc.details["status"] == 403 and exc.details["certificate_id"] == cid
    assert fake.sleeps == []  # a refusal is not retried
    prod.admin.set_certificate(cid, server_decrypt_export=True)
    assert res.download_bundle(client_of(prod), device_id=1, certificate_id=cid).content[:2] == b"PK"


def test_other_bundle_conflicts_stay_conflicts(emulator):
    api = emulator.api()
    account = api.call("POST", "/acme-accounts", {"name": f"res-{uuid.uuid4().hex[:8]}", "provider": "SELF_CA", "ca_id": 1})
    domain = f"never-{uuid.uuid4().hex[:8]}.example.com"
    cid = api.call("POST", "/certificates", {"domain_name": domain, "acct_id": account["id"], "action": "create"})["id"]
    client = client_of(emulator)
    res.assign(client, certificate_id=cid, device_id=1)
    fake = FakeTime()
    with pytest.raises(ConflictError, match="never been issued"):
        res.download_bundle(client, device_id=1, certificate_id=cid, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


# -- assign (rows 8, 9) and another user's objects (row 11) --------------------------------------------


@pytest.mark.parametrize("answer", ["204", "200", "202"])
def test_assign_sends_the_public_id_and_accepts_every_answer(prod, answer):
    cid = issued_certificate(prod, device_id=None)
    prod.admin.set_shape(assign_answer=answer)
    client = client_of(prod)
    result = res.assign(client, certificate_id=cid, device_id=2)  # only the id: the public id is looked up
    assert result is None if answer == "204" else isinstance(result, dict)
    posted = [r for r in prod.admin.requests() if r["method"] == "POST" and r["path"].endswith("/certificate-assign")]
    assert [r["status"] for r in posted] == [int(answer)]
    assert cid in [c["id"] for c in res.device_certificates(client, 2)]


def test_assign_by_public_id_sends_no_device_lookup(prod):
    # Production refuses an assign body without device_public_id (400), so the assignment proves the body.
    cid = issued_certificate(prod, device_id=None)
    client = client_of(prod)
    prod.admin.reset()
    res.assign(client, certificate_id=cid, device_public_id="6f1c2a3b-0003-4c5d-8e9f-a1b2c3d4e5f3")
    assert prod.admin.counters()["by_route"] == {"POST /apiv1/me/certificate-assign": 1}
    assert cid in [c["id"] for c in res.device_certificates(client, 3)]


def test_another_users_objects_are_403_with_the_servers_words_never_absent(prod):
    cid = issued_certificate(prod, device_id=None)
    other = client_of(prod, key="other")
    for read in (lambda: res.get_certificate(other, cid), lambda: res.get_device(client_of(prod), 6)):
        with pytest.raises(PermissionDeniedError) as info:
            read()
        assert "not owned" in info.value.what and info.value.status == 403
    assert res.get_certificate(other, 987654) is None  # what does not exist is still absent


def test_the_contract_profile_answers_404_for_another_users_object(emulator):
    if emulator.profile == "production":
        with pytest.raises(PermissionDeniedError):
            res.get_device(client_of(emulator), 6)
    else:
        assert res.get_device(client_of(emulator), 6) is None


def test_get_certificate_of_a_missing_id_is_none(emulator):
    assert res.get_certificate(client_of(emulator), 987654, detail=True) is None
    with pytest.raises(NotFoundError):
        client_of(emulator).get("/apiv1/me/certificates/987654")


# -- der (row 2) through the generic read of the api lookup, and in error messages ------------------------


def test_the_generic_read_drops_der_from_every_record(prod):
    from ansible_collections.cjj365.certctrl.plugins.module_utils import _paths

    cid = issued_certificate(prod)
    prod.admin.set_shape(der_marker="LOOKUP-DER-MARKER")
    client = client_of(prod)
    assert client.get(f"/apiv1/me/certificates/{cid}/export")["der"] == "LOOKUP-DER-MARKER"  # the server sends it
    exported = _paths.read(client, _paths.resolve(f"certificates/{cid}/export"))
    assert "der" not in exported and exported["cert"].startswith("-----BEGIN CERTIFICATE-----")
    listed = _paths.read(client, _paths.resolve("devices/1/certificates"), filters={"id": cid})
    assert listed and all("der" not in item for item in listed)


def test_a_truncated_record_quoted_in_an_error_has_its_der_redacted():
    import http.server
    import threading

    body = b'{"data": {"id": 7, "der": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: t.Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        client = CertCtrlClient(api_url=f"http://127.0.0.1:{httpd.server_address[1]}", api_key="ak_der_0123456789", retry_policy=RetryPolicy(retries=0))
        with pytest.raises(InvalidResponseError) as info:
            client.get("/apiv1/me/certificates/7")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert '"der": "<redacted>' in info.value.msg
    assert "MIIEvQ" not in info.value.msg
