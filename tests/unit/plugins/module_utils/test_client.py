# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shared HTTP client against the live emulator (HTTP and HTTPS): error mapping, secrets, retries,
pagination, downloads, TLS, timeouts, redirects. Work is counted with the emulator's counters; the client's
``sleep`` is a recorder, so no test waits for a backoff.

Where the emulator cannot produce an answer (a redirect, an HTML error page, an odd Retry-After), a tiny
stdlib HTTP server on 127.0.0.1 answers instead: a real server, not a mock of the client.
"""

from __future__ import annotations

import datetime
import email.utils
import http.server
import io
import json
import random
import threading
import time
import typing as t
import uuid
import zipfile

import pytest
import requests
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as res
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import (
    COLLECTION_VERSION,
    MAX_PAGE_SIZE,
    RATE_LIMITED,
    RETRYABLE_STATUSES,
    UNCERTAIN_STATUSES,
    USER_AGENT,
    CertCtrlClient,
    RetryPolicy,
    check_page_size,
    parse_retry_after,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    _HINTS,
    APIError,
    AuthenticationError,
    CertCtrlError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransportError,
)

DEVICES = "/apiv1/me/devices"
DEVICES_ROUTE = "GET /apiv1/me/devices"
UNKNOWN_KEY = "ak_unknown_0123456789abcdef"


# -- helpers ----------------------------------------------------------------------------------


class Recorder:
    """The client's ``sleep`` and ``on_retry`` callables: records instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.messages: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_retry(self, message: str) -> None:
        self.messages.append(message)


def make_client(
    emu: t.Any,
    *,
    key: str = "full",
    api_key: str | None = None,
    retries: int = 3,
    url: str | None = None,
    rec: Recorder | None = None,
    policy: dict[str, t.Any] | None = None,
    **kwargs: t.Any,
) -> tuple[CertCtrlClient, Recorder]:
    rec = rec or Recorder()
    kwargs.setdefault("ca_path", emu.ca_file)
    kwargs.setdefault("timeout", 10)
    client = CertCtrlClient(
        api_url=url or emu.base_url,
        api_key=api_key or emu.token(key),
        retry_policy=RetryPolicy(retries=retries, **(policy or {})),
        on_retry=rec.on_retry,
        sleep=rec.sleep,
        **kwargs,
    )
    return client, rec


def route_count(emu: t.Any, route: str) -> int:
    return emu.admin.counters()["by_route"].get(route, 0)


def wait_for_count(emu: t.Any, route: str, expected: int, timeout: float = 10.0) -> int:
    """A request cut off by our timeout is logged when the server finishes it: poll for the log line."""
    deadline = time.monotonic() + timeout
    count = route_count(emu, route)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = route_count(emu, route)
    return count


def assert_secret_free(secret: str, *texts: t.Any) -> None:
    for text in texts:
        rendered = text if isinstance(text, str) else repr(text)
        assert secret not in rendered, f"the API key leaked into: {rendered!r}"


def assert_error_secret_free(secret: str, exc: CertCtrlError) -> None:
    assert_secret_free(secret, str(exc), repr(exc), exc.msg, json.dumps(exc.fail_kwargs(), default=str), exc.details)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def emu(emulator: t.Any) -> t.Iterator[t.Any]:
    """The session emulator with no faults, no rate limit and zeroed counters; faults are cleared afterwards."""
    admin = emulator.admin
    admin.clear_faults()
    admin.clear_bundle_faults()
    admin.set_rate_limit(None, None)
    admin.reset()
    yield emulator
    admin.clear_faults()
    admin.clear_bundle_faults()
    admin.set_rate_limit(None, None)


@pytest.fixture
def self_ca_account(emu: t.Any) -> dict:
    client, _rec = make_client(emu)
    account = res.create_acme_account(client, {"name": unique("selfca"), "provider": "SELF_CA", "ca_id": 1})
    emu.admin.reset()
    return account


class TinyServer:
    """A stdlib HTTP server on 127.0.0.1:0 that answers every request with one canned response."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        body_from_request: t.Callable | None = None,
        content_length: bool = True,
    ) -> None:
        self.status = status
        self.content_length = content_length
        self.body = body
        self.headers = dict(headers or {})
        self.body_from_request = body_from_request
        self.requests: list[dict[str, t.Any]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: t.Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
                body = server.body_from_request(self.headers, self.path) if server.body_from_request else server.body
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                if server.content_length:
                    self.send_header("Content-Length", str(len(body)))
                else:  # no length: the body ends when the connection closes
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> TinyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def tiny_client(server: TinyServer, *, retries: int = 0, api_key: str = "ak_tiny_0123456789abcdef") -> tuple[CertCtrlClient, Recorder]:
    rec = Recorder()
    client = CertCtrlClient(api_url=server.url, api_key=api_key, retry_policy=RetryPolicy(retries=retries), on_retry=rec.on_retry, sleep=rec.sleep, timeout=10)
    return client, rec


# -- error mapping ----------------------------------------------------------------------------


def test_client_refuses_to_start_without_a_key(emu):
    for missing in (None, "", "   \n"):
        with pytest.raises(CertCtrlError) as info:
            CertCtrlClient(api_url=emu.base_url, api_key=missing, ca_path=emu.ca_file)
        assert not isinstance(info.value, APIError)
        assert "api_key is required" in info.value.msg
        assert "CERTCTRL_API_KEY" in info.value.msg
    assert emu.admin.counters()["total"] == 0


# (case id, key name or literal key, method, path, body, exception class, status, code, server words)
ERROR_CASES = [
    ("unknown-key", UNKNOWN_KEY, "GET", DEVICES, None, AuthenticationError, 401, 5018, "unknown API key"),
    ("revoked-key", "revoked", "GET", DEVICES, None, AuthenticationError, 401, 5018, "API key 'revoked' has been revoked"),
    ("missing-scope", "certs_only", "GET", DEVICES, None, PermissionDeniedError, 403, 5022, "API key lacks scope devices:*[read]"),
    ("missing-scope-one", "certs_only", "GET", DEVICES + "/1", None, PermissionDeniedError, 403, 5022, "API key lacks scope devices:1[read]"),
    ("not-found", "full", "GET", "/apiv1/me/certificates/987654", None, NotFoundError, 404, 5003, "certificate 987654 not found"),
    (
        "bad-field",
        "full",
        "POST",
        "/apiv1/me/certificates",
        {"domain_name": "not a host", "acct_id": 1, "action": "create"},
        APIError,
        400,
        5000,
        "field 'domain_name': 'not a host' is not a valid hostname",
    ),
    ("missing-field", "full", "POST", "/apiv1/me/acme-accounts", {"name": "x"}, APIError, 400, 5008, "missing field 'provider'"),
    ("method-not-allowed", "full", "DELETE", DEVICES + "/1", None, APIError, 405, 5010, "method DELETE not allowed"),
]


@pytest.mark.parametrize(("key", "method", "path", "body", "cls", "status", "code", "words"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_mapping(emu, key, method, path, body, cls, status, code, words):
    if status == 405 and emu.profile == "production":
        code = 5000  # production answers 405 with code 5000 (production-shape row 15)
    secret = key if key.startswith("ak_") else emu.token(key)
    client, rec = make_client(emu, api_key=secret)
    with pytest.raises(CertCtrlError) as info:
        client.request(method, path, body=body)
    exc = info.value
    assert exc.__class__ is cls
    assert isinstance(exc, APIError)
    assert (exc.status, exc.code, exc.method, exc.path) == (status, code, method, path)
    assert words in exc.what
    # One message with everything: request, status, API code, the server's words, what to do about it.
    assert exc.msg.startswith(f"{method} {path} failed: HTTP {status} ")
    assert f", code {code}: " in exc.msg
    assert words in exc.msg
    assert exc.msg.endswith(f"({_HINTS[status]})")
    assert str(exc) == exc.msg
    assert exc.fail_kwargs() == {"msg": exc.msg, "status": status, "api_error": {"code": code, "what": exc.what}, "method": method, "path": path}
    assert_error_secret_free(secret, exc)
    # Client errors are answers, not accidents: never retried.
    assert rec.sleeps == [] and rec.messages == []
    assert client.stats == {"requests": 1, "retries": 0}
    assert emu.admin.counters()["total"] == 1


def test_query_parameter_error_names_the_parameter(emu):
    client, _rec = make_client(emu)
    with pytest.raises(APIError) as info:
        client.get(DEVICES, {"offset": -1})
    assert (info.value.status, info.value.code) == (400, 5000)
    assert "query parameter 'offset'" in info.value.msg
    assert info.value.path == DEVICES  # the path, not the query string


def test_a_limit_above_the_bound_is_refused_by_the_contract_and_capped_by_production(emu):
    client, _rec = make_client(emu)
    if emu.profile == "production":
        page = client.get_page(DEVICES, {"limit": 5000})  # silently capped (production-shape row 4)
        assert page.meta["limit"] == 100 and len(page.items) <= 100
    else:
        with pytest.raises(APIError, match="query parameter 'limit'"):
            client.get(DEVICES, {"limit": 5000})


def test_conflicts_are_409_with_the_servers_reason(emu, self_ca_account):
    client, _rec = make_client(emu)
    domain = unique("conflict") + ".example.com"
    res.create_certificate(client, {"domain_name": domain, "acct_id": self_ca_account["id"]})
    with pytest.raises(ConflictError) as info:
        res.delete_acme_account(client, self_ca_account["id"])
    exc = info.value
    assert (exc.status, exc.method, exc.path) == (409, "DELETE", f"/apiv1/me/acme-accounts/{self_ca_account['id']}")
    assert "still has 1 certificate(s)" in exc.msg
    assert _HINTS[409] in exc.msg
    with pytest.raises(ConflictError, match="already exists"):
        res.create_acme_account(client, {"name": self_ca_account["name"], "provider": "SELF_CA", "ca_id": 1})
    # The account is still there: a refused delete changed nothing.
    assert res.get_acme_account(client, self_ca_account["id"])["name"] == self_ca_account["name"]


def test_an_api_key_that_cannot_go_in_a_header_never_appears_in_the_error(emu):
    token = emu.token()
    for pasted in (f"{token}\nX-Injected: 1", f"{token} {token}", "ak_t\u00f6ken_0123456789", f"{token}\x00"):
        with pytest.raises(CertCtrlError) as info:
            CertCtrlClient(api_url=emu.base_url, api_key=pasted, ca_path=emu.ca_file)
        assert "api_key contains whitespace, control or non-ASCII characters" in info.value.msg
        assert_error_secret_free(token, info.value)
        assert_error_secret_free(pasted, info.value)
    assert emu.admin.counters()["total"] == 0


def test_surrounding_whitespace_of_a_pasted_key_is_dropped(emu):
    client, _rec = make_client(emu, api_key=f"  {emu.token()}\n")
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}


def test_a_key_echoed_by_a_broken_proxy_is_scrubbed_from_the_error():
    def echo(headers, _path):
        return f"<html>bad gateway for {headers.get('Authorization')}</html>".encode()

    with TinyServer(502, headers={"Content-Type": "text/html"}, body_from_request=echo) as server:
        client, _rec = tiny_client(server, api_key="ak_echo_secret_0123456789")
        with pytest.raises(APIError) as info:
            client.get(DEVICES)
    assert server.requests[0]["headers"]["Authorization"] == "Bearer ak_echo_secret_0123456789"
    assert "<api_key>" in info.value.msg
    assert_error_secret_free("ak_echo_secret_0123456789", info.value)


def test_retry_messages_and_errors_never_carry_the_key(emu):
    token = emu.token()
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=429, retry_after=1, count=1)
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="drop", count=1)
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="malformed", count=1)
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=503, count=None)
    client, rec = make_client(emu, retries=4)
    with pytest.raises(APIError) as info:
        client.get(DEVICES)
    assert info.value.status == 503
    assert len(rec.messages) == 4
    assert "HTTP 429" in rec.messages[0] and "connection to" in rec.messages[1] and "not valid JSON" in rec.messages[2]
    assert_secret_free(token, *rec.messages)
    assert_error_secret_free(token, info.value)
    assert route_count(emu, DEVICES_ROUTE) == 5


# -- retries ----------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=429, retry_after=2, count=2)
    client, rec = make_client(emu, retries=3)
    devices = client.get(DEVICES)
    assert {d["name"] for d in devices} >= {"web1", "web2", "web3"}
    assert rec.sleeps == [2.0, 2.0]
    assert route_count(emu, DEVICES_ROUTE) == 3
    assert emu.admin.counters()["by_status"] == {"429": 2, "200": 1}
    assert client.stats == {"requests": 3, "retries": 2}
    assert rec.messages[0].endswith("retry 1/3 in 2.0 s") and rec.messages[1].endswith("retry 2/3 in 2.0 s")
    assert "HTTP 429" in rec.messages[0] and "injected fault" in rec.messages[0]


@pytest.mark.parametrize(("retry_after", "cap", "expected"), [(30, 1.5, 1.5), (0, 60.0, 0.0), (7, 7.0, 7.0)])
def test_retry_after_is_clamped_to_retry_after_max(emu, retry_after, cap, expected):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=429, retry_after=retry_after, count=1)
    client, rec = make_client(emu, retries=2, policy={"retry_after_max": cap})
    client.get(DEVICES)
    assert rec.sleeps == [expected]
    assert route_count(emu, DEVICES_ROUTE) == 2


@pytest.mark.parametrize(("status", "failures"), [(503, 4), (502, 1), (504, 2)])
def test_server_error_storm_succeeds_after_n_failures(emu, status, failures):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=status, retry_after=None, count=failures)
    client, rec = make_client(emu, retries=5, policy={"backoff_base": 0.5, "backoff_max": 30.0})
    assert len(client.get(DEVICES)) >= 5
    assert route_count(emu, DEVICES_ROUTE) == failures + 1
    assert emu.admin.counters()["by_status"] == {str(status): failures, "200": 1}
    # No Retry-After: exponential backoff with full jitter, each delay inside its window.
    assert len(rec.sleeps) == failures
    for attempt, delay in enumerate(rec.sleeps):
        assert 0.0 <= delay <= min(30.0, 0.5 * 2**attempt)
    assert all(f"HTTP {status}" in m for m in rec.messages)


@pytest.mark.parametrize(("status", "cls"), [(429, RateLimitedError), (502, APIError), (503, APIError), (504, APIError)])
def test_exhausted_retries_raise_the_last_answer(emu, status, cls):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=status, retry_after=1, count=None)
    client, rec = make_client(emu, retries=2)
    with pytest.raises(APIError) as info:
        client.get(DEVICES)
    assert info.value.__class__ is cls
    assert info.value.status == status
    assert f"HTTP {status}" in info.value.msg and _HINTS[status] in info.value.msg
    assert route_count(emu, DEVICES_ROUTE) == 3
    assert rec.sleeps == [1.0, 1.0]
    assert client.stats == {"requests": 3, "retries": 2}


def test_retries_zero_sends_exactly_one_request(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=503, retry_after=1, count=None)
    client, rec = make_client(emu, retries=0)
    with pytest.raises(APIError) as info:
        client.get(DEVICES)
    assert info.value.status == 503
    assert route_count(emu, DEVICES_ROUTE) == 1
    assert rec.sleeps == [] and rec.messages == []


def test_dropped_connections_on_get_are_retried(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="drop", count=2)
    client, rec = make_client(emu, retries=3)
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}
    assert route_count(emu, DEVICES_ROUTE) == 3
    assert emu.admin.counters()["by_status"] == {"0": 2, "200": 1}
    assert len(rec.sleeps) == 2
    assert all("connection to" in m and "failed" in m for m in rec.messages)


def test_persistent_drops_end_in_a_transport_error(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="drop", count=None)
    client, _rec = make_client(emu, retries=2)
    with pytest.raises(TransportError) as info:
        client.get(DEVICES)
    assert info.value.details == {"method": "GET", "path": DEVICES}
    assert f"connection to {emu.base_url} failed" in info.value.msg
    assert route_count(emu, DEVICES_ROUTE) == 3


def test_malformed_json_on_get_is_retried(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="malformed", count=1)
    client, rec = make_client(emu, retries=3)
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}
    assert route_count(emu, DEVICES_ROUTE) == 2
    assert len(rec.messages) == 1 and "not valid JSON" in rec.messages[0]


def test_persistent_malformed_json_is_a_clear_invalid_response(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="malformed", count=None)
    client, rec = make_client(emu, retries=2)
    with pytest.raises(InvalidResponseError) as info:
        client.get(DEVICES)
    exc = info.value
    assert exc.msg.startswith(f"GET {DEVICES}: HTTP 200 answer is not valid JSON (truncated or malformed): ")
    assert exc.details == {"status": 200, "method": "GET", "path": DEVICES}
    assert route_count(emu, DEVICES_ROUTE) == 3
    assert len(rec.sleeps) == 2


@pytest.mark.parametrize(("kind", "created"), [("drop_after", 1), ("drop", 0)])
def test_a_dropped_create_is_never_sent_again(emu, self_ca_account, kind, created):
    """The server may or may not have acted: the client must not guess by re-POSTing; the caller re-reads."""
    emu.admin.add_fault(path=r"^/apiv1/me/certificates$", method="POST", kind=kind, count=1)
    client, rec = make_client(emu, retries=5)
    domain = unique("dropped") + ".example.com"
    with pytest.raises(TransportError) as info:
        res.create_certificate(client, {"domain_name": domain, "acct_id": self_ca_account["id"]})
    assert info.value.details == {"method": "POST", "path": "/apiv1/me/certificates"}
    assert route_count(emu, "POST /apiv1/me/certificates") == 1
    assert rec.sleeps == [] and rec.messages == []
    matches = res.find_certificates(client, domain_name=domain, acct_id=self_ca_account["id"])
    assert len(matches) == created


def test_a_dropped_account_create_is_not_sent_again(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/acme-accounts$", method="POST", kind="drop_after", count=1)
    client, _rec = make_client(emu, retries=5)
    name = unique("dropped-acct")
    with pytest.raises(TransportError):
        res.create_acme_account(client, {"name": name, "provider": "SELF_CA", "ca_id": 1})
    assert route_count(emu, "POST /apiv1/me/acme-accounts") == 1
    assert res.find_acme_account(client, name)["provider"] == "SELF_CA"


def test_post_answered_429_is_sent_again_and_creates_one_object(emu, self_ca_account):
    emu.admin.add_fault(path=r"^/apiv1/me/certificates$", method="POST", kind="status", status=429, retry_after=1, count=1)
    client, rec = make_client(emu, retries=3)
    domain = unique("limited") + ".example.com"
    record = res.create_certificate(client, {"domain_name": domain, "acct_id": self_ca_account["id"]})
    assert record["domain_name"] == domain
    assert route_count(emu, "POST /apiv1/me/certificates") == 2
    assert rec.sleeps == [1.0]
    assert [c["id"] for c in res.find_certificates(client, domain_name=domain, acct_id=self_ca_account["id"])] == [record["id"]]


def test_post_answered_503_is_not_sent_again(emu, self_ca_account):
    emu.admin.add_fault(path=r"^/apiv1/me/certificates$", method="POST", kind="status", status=503, retry_after=1, count=1)
    client, rec = make_client(emu, retries=3)
    with pytest.raises(APIError) as info:
        res.create_certificate(client, {"domain_name": unique("unavailable") + ".example.com", "acct_id": self_ca_account["id"]})
    assert info.value.status == 503
    assert route_count(emu, "POST /apiv1/me/certificates") == 1
    assert rec.sleeps == []


def test_the_rate_limit_of_the_server_is_waited_out(emu):
    emu.admin.set_rate_limit(2, 30)
    client, rec = make_client(emu, retries=1)
    client.get(DEVICES)
    client.get(DEVICES)
    with pytest.raises(RateLimitedError) as info:
        client.get(DEVICES)
    assert "exceeded 2 requests per 30 s" in info.value.msg
    assert len(rec.sleeps) == 1 and 1 <= rec.sleeps[0] <= 30
    assert emu.admin.counters()["by_status"] == {"200": 2, "429": 2}


# -- pure retry policy ------------------------------------------------------------------------


def http_date(offset_seconds: float) -> str:
    return email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds), usegmt=True)


@pytest.mark.parametrize(("value", "expected"), [("5", 5.0), (" 12 ", 12.0), ("0", 0.0), ("1.5", 1.5), ("120", 120.0)])
def test_parse_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    assert 110.0 <= parse_retry_after(http_date(120)) <= 120.0
    assert parse_retry_after(http_date(-3600)) == 0.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 -0000") == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "nan", "inf", "-5", "1e3", "0x10", "Fri, 99 Foo 2024 99:99:99 GMT", "5 seconds"])
def test_parse_retry_after_garbage(value):
    assert parse_retry_after(value) is None


def test_retry_after_from_the_server_wins_and_is_clamped():
    policy = RetryPolicy(retry_after_max=10.0)
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(4, 0.0) == 0.0
    assert policy.delay(0, 500.0) == 10.0
    assert policy.delay(0, -4.0) == 0.0


def test_backoff_has_full_jitter_within_the_window():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0)
    rng_state = random.getstate()
    try:
        random.seed(2026)
        for attempt in range(10):
            cap = min(30.0, 0.5 * 2**attempt)
            samples = [policy.delay(attempt, None) for _i in range(300)]
            assert all(0.0 <= s <= cap for s in samples)
            # Full jitter spreads over the whole window, not a fixed delay.
            assert min(samples) < cap * 0.25 and max(samples) > cap * 0.75
    finally:
        random.setstate(rng_state)


def test_backoff_stays_bounded_for_absurd_attempts_and_retry_after():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=30.0)
    assert 0.0 <= policy.delay(100_000, None) <= 30.0
    assert 0.0 <= policy.delay(-1, None) <= 0.5
    assert 0.0 <= policy.delay(0, float("nan")) <= 0.5  # a non-number falls back to the backoff
    assert policy.statuses == frozenset({429, 502, 503, 504})


def test_the_status_sets_name_two_concepts():
    # A retryable answer may be sent again; an uncertain one may hide a write. Only the rate limit is both "retry"
    # and "the server did not act", which is why a POST answered 429 is the one POST the client sends again.
    assert RETRYABLE_STATUSES.difference(UNCERTAIN_STATUSES) == {RATE_LIMITED}
    assert RetryPolicy().statuses == RETRYABLE_STATUSES


@pytest.mark.parametrize(
    ("exc", "retryable", "sent", "words"),
    [
        (requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), False, None, "TLS verification"),
        (requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), True, True, "TLS connection"),
        (requests.exceptions.ConnectTimeout("timed out"), True, False, "timed out after"),
        (requests.exceptions.ReadTimeout("read timed out"), True, True, "no answer from"),
        (requests.exceptions.ConnectionError("NewConnectionError: refused"), True, False, "connection to"),
        (requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected"), True, True, "connection to"),
        (requests.exceptions.InvalidHeader("bad header"), False, None, "request failed"),
    ],
)
def test_a_request_without_an_answer_is_classified(exc, retryable, sent, words):
    from ansible_collections.cjj365.certctrl.plugins.module_utils._client import _Retryable

    client = CertCtrlClient(api_url="http://127.0.0.1:9", api_key="ak_classify_0123456789")
    failure = client._transport_failure("GET", "/x", exc)
    assert isinstance(failure, _Retryable) is retryable
    error = failure.error if retryable else failure
    assert isinstance(error, TransportError) and error.msg.startswith("GET /x: ") and words in error.msg
    if retryable:
        assert failure.sent is sent


@pytest.mark.parametrize("page_size", [1, 100, MAX_PAGE_SIZE])
def test_check_page_size_accepts_the_range(page_size):
    assert check_page_size(page_size) == page_size


@pytest.mark.parametrize("page_size", [0, -1, MAX_PAGE_SIZE + 1])
def test_check_page_size_refuses_outside_the_range(page_size):
    with pytest.raises(CertCtrlError, match=rf"^page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}$"):
        check_page_size(page_size)


def test_an_unusable_retry_after_header_falls_back_to_backoff():
    with TinyServer(503, b'{"error": {"code": 5017, "what": "busy"}}', {"Content-Type": "application/json", "Retry-After": "nan"}) as server:
        client, rec = tiny_client(server, retries=1)
        with pytest.raises(APIError, match="busy"):
            client.get(DEVICES)
    assert len(server.requests) == 2
    assert len(rec.sleeps) == 1 and 0.0 <= rec.sleeps[0] <= 0.5


# -- pagination -------------------------------------------------------------------------------


def test_pagination_reads_every_page_until_a_short_one(fresh_emulator):
    emu = fresh_emulator
    created = emu.admin.create_devices(250, name_prefix="pg")
    emu.admin.reset()
    client, _rec = make_client(emu)
    devices = client.paginate(DEVICES, page_size=100)
    assert len(devices) == 255  # 250 + the 5 seeded devices of user 1
    assert len({d["id"] for d in devices}) == 255
    assert {d["id"] for d in devices} >= set(created)
    assert [d["id"] for d in devices] == sorted((d["id"] for d in devices), reverse=True)
    assert route_count(emu, DEVICES_ROUTE) == 3
    assert client.stats["requests"] == 3


def test_pagination_limit_stops_early(fresh_emulator):
    emu = fresh_emulator
    emu.admin.create_devices(250, name_prefix="pg")
    emu.admin.reset()
    client, _rec = make_client(emu)
    newest = client.paginate(DEVICES, page_size=100, limit=150)
    assert len(newest) == 150
    assert route_count(emu, DEVICES_ROUTE) == 2
    all_devices = client.paginate(DEVICES, page_size=1000)
    assert newest == all_devices[:150]
    whole = 3 if emu.profile == "production" else 1  # production caps a page at 100 (row 4); meta.total ends it
    assert route_count(emu, DEVICES_ROUTE) == 2 + whole
    assert client.paginate(DEVICES, page_size=100, limit=250) == all_devices[:250]
    assert route_count(emu, DEVICES_ROUTE) == 5 + whole  # 100 + 100 + 50: the limit ends it without an extra request
    assert client.paginate(DEVICES, page_size=100, limit=0) == []
    assert route_count(emu, DEVICES_ROUTE) == 5 + whole


def test_pagination_of_an_empty_list_is_one_request(fresh_emulator):
    emu = fresh_emulator
    client, _rec = make_client(emu, key="other")
    assert client.paginate("/apiv1/me/acme-accounts") == []
    assert route_count(emu, "GET /apiv1/me/acme-accounts") == 1


def test_pagination_of_exactly_one_full_page_needs_a_second_request_without_meta(fresh_emulator):
    emu = fresh_emulator
    emu.admin.create_devices(95)
    emu.admin.reset()
    client, _rec = make_client(emu)
    assert len(client.paginate(DEVICES, page_size=100)) == 100
    # A bare list needs the empty page to see the end; production's meta.total says it at once.
    assert route_count(emu, DEVICES_ROUTE) == (1 if emu.profile == "production" else 2)


def test_pagination_keeps_the_callers_filters(fresh_emulator):
    emu = fresh_emulator
    emu.admin.create_devices(3, status="LOST")
    client, _rec = make_client(emu)
    emu.admin.reset()
    lost = client.paginate(DEVICES, {"status": "LOST"}, page_size=2)
    assert len(lost) == 4 and {d["status"] for d in lost} == {"LOST"}
    # 2 + 2, then (bare list) an empty page; production's meta.total of the filtered list ends it
    assert route_count(emu, DEVICES_ROUTE) == (2 if emu.profile == "production" else 3)


class PagingServer(TinyServer):
    """A stdlib list endpoint of ``count`` items that pages with offset/limit: optionally with production's
    ``meta`` (``total``, ``offset``, ``limit``), and with a silent ``cap`` on the page size (production-shape rows 3, 4)."""

    def __init__(self, count: int, *, cap: int | None = None, meta: str | None = "total") -> None:
        self.items = [{"id": count - n} for n in range(count)]
        self.cap = cap
        self.meta = meta  # "total": offset/limit/total; "limit": offset/limit only; None: bare data
        self.asked: list[tuple[int, int]] = []
        super().__init__(200, headers={"Content-Type": "application/json"}, body_from_request=self._page)

    def _page(self, headers: t.Any, path: str = "") -> bytes:
        query = dict(pair.split("=", 1) for pair in path.partition("?")[2].split("&") if "=" in pair)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        self.asked.append((offset, limit))
        served = min(limit, self.cap) if self.cap else limit
        body: dict[str, t.Any] = {"data": self.items[offset : offset + served]}
        if self.meta == "total":
            body["meta"] = {"total": len(self.items), "offset": offset, "limit": served}
        elif self.meta == "limit":
            body["meta"] = {"offset": offset, "limit": served}
        return json.dumps(body).encode()


@pytest.mark.parametrize("meta", ["total", "limit", None])
@pytest.mark.parametrize(("count", "cap", "page_size"), [(250, 100, 1000), (100, 100, 1000), (300, 100, 500), (37, 100, 1000), (237, None, 100)])
def test_pagination_never_stops_early_under_a_silent_cap(meta, count, cap, page_size):
    with PagingServer(count, cap=cap, meta=meta) as server:
        client, _rec = tiny_client(server)
        items = client.paginate(DEVICES, page_size=page_size)
    assert [item["id"] for item in items] == list(range(count, 0, -1))
    per_page = min(page_size, cap or page_size)
    full_pages, rest = divmod(count, per_page)
    # meta.total says where the list ends (no probing request); otherwise the short (or empty) page after the last full one
    expected = full_pages + (1 if rest else 0) if meta == "total" else full_pages + 1
    assert len(server.asked) == expected, server.asked
    assert all(limit == page_size for _offset, limit in server.asked)


def test_pagination_honours_meta_total_without_an_extra_request():
    with PagingServer(200, meta="total") as server:
        client, _rec = tiny_client(server)
        assert len(client.paginate(DEVICES, page_size=100)) == 200
        assert server.asked == [(0, 100), (100, 100)]  # a bare list would need a third, empty page


def test_pagination_limit_with_a_silent_cap():
    with PagingServer(500, cap=100, meta=None) as server:
        client, _rec = tiny_client(server)
        assert [i["id"] for i in client.paginate(DEVICES, page_size=1000, limit=250)] == list(range(500, 250, -1))
    assert server.asked == [(0, 250), (100, 150), (200, 50)]


def test_pagination_stops_on_an_empty_page_even_when_total_says_more():
    # A total that is too high (items deleted while paging) never loops: an empty page ends the list.
    with PagingServer(120, meta="total") as server:
        server.items = server.items[:80]
        client, _rec = tiny_client(server)
        assert len(client.paginate(DEVICES, page_size=50)) == 80
    assert len(server.asked) == 2  # 50 + 30: the short page and total (80) agree


def test_a_short_last_page_of_a_usual_cap_length_costs_one_more_request():
    # Without meta, 50 items on a page of 100 may be a server's silent cap of 50: one more page tells.
    with PagingServer(250, meta=None) as server:
        client, _rec = tiny_client(server)
        assert len(client.paginate(DEVICES, page_size=100)) == 250
    assert server.asked == [(0, 100), (100, 100), (200, 100), (250, 100)]


def test_a_short_page_of_an_unusual_length_without_meta_ends_the_list():
    with PagingServer(37, meta=None) as server:
        client, _rec = tiny_client(server)
        assert len(client.paginate(DEVICES, page_size=100)) == 37
    assert server.asked == [(0, 100)]


def test_get_page_hands_back_the_meta_and_get_still_answers_the_data():
    with PagingServer(3, meta="total") as server:
        client, _rec = tiny_client(server)
        page = client.get_page(DEVICES, {"offset": 0, "limit": 2})
        assert page.items == [{"id": 3}, {"id": 2}]
        assert page.meta == {"total": 3, "offset": 0, "limit": 2}
        assert client.get(DEVICES, {"offset": 2, "limit": 2}) == [{"id": 1}]


def test_get_page_of_something_that_is_not_a_list_is_an_invalid_response():
    with TinyServer(200, b'{"data": {"id": 1}}', {"Content-Type": "application/json"}) as server:
        client, _rec = tiny_client(server)
        with pytest.raises(InvalidResponseError, match="where a list was expected"):
            client.get_page(DEVICES)


def test_production_lists_carry_meta_and_are_read_whole(fresh_emulator):
    emu = fresh_emulator
    emu.admin.create_devices(150, name_prefix="meta")
    emu.admin.reset()
    client, _rec = make_client(emu)
    page = client.get_page(DEVICES, {"offset": 0, "limit": 1000})
    if emu.profile == "production":
        assert len(page.items) == 100  # the silent cap (row 4)
        assert page.meta["total"] == 155 and page.meta["offset"] == 0
    else:
        assert len(page.items) == 155 and page.meta is None
    devices = client.paginate(DEVICES, page_size=1000)
    assert len({d["id"] for d in devices}) == 155
    # production: 100 + 55 (meta.total ends it); contract: one page of 155
    assert route_count(emu, DEVICES_ROUTE) == (1 + 2 if emu.profile == "production" else 1 + 1)


# -- downloads --------------------------------------------------------------------------------


@pytest.fixture
def assigned_certificate(emu, self_ca_account) -> dict:
    client, _rec = make_client(emu)
    domain = unique("bundle") + ".example.com"
    record = res.create_certificate(client, {"domain_name": domain, "acct_id": self_ca_account["id"]})
    issued = res.start_issue(client, record["id"])
    assert issued["status"] == "SUCCESS"
    res.assign(client, certificate_id=record["id"], device_id=1)
    emu.admin.reset()
    return res.get_certificate(client, record["id"], detail=True)


def test_bundle_download_returns_the_zip_and_its_password(emu, assigned_certificate):
    client, _rec = make_client(emu)
    cid = assigned_certificate["id"]
    download = res.download_bundle(client, device_id=1, certificate_id=cid)
    assert download.content[:4] == b"PK\x03\x04"
    assert int(download.headers["Content-Length"]) == len(download.content)
    assert download.headers["Content-Type"] == "application/zip"
    password = download.headers["X-Export-Password"]
    assert password and download.headers["x-export-password"] == password  # header names are case-insensitive
    with zipfile.ZipFile(io.BytesIO(download.content)) as bundle:
        names = set(bundle.namelist())
        leaf_pem = bundle.read("certificate.pem")
        pfx = bundle.read("bundle.pfx")
    assert names == {"private.key", "certificate.pem", "chain.pem", "fullchain.pem", "certificate.der", "bundle.pfx", "meta.json"}
    leaf = x509.load_pem_x509_certificate(leaf_pem)
    assert leaf == x509.load_pem_x509_certificates(assigned_certificate["cert"].encode())[0]
    key, cert, _chain = pkcs12.load_key_and_certificates(pfx, password.encode())
    assert cert == leaf and key is not None
    assert route_count(emu, "GET /apiv1/me/devices/:id/certificates/:id/bundle") == 1


def test_bundle_larger_than_max_bytes_is_refused(emu, assigned_certificate):
    client, rec = make_client(emu)
    cid = assigned_certificate["id"]
    size = len(res.download_bundle(client, device_id=1, certificate_id=cid).content)  # ~5 KiB; varies by a few bytes
    with pytest.raises(InvalidResponseError) as info:
        res.download_bundle(client, device_id=1, certificate_id=cid, max_bytes=size // 2)
    assert info.value.msg == f"GET /apiv1/me/devices/1/certificates/{cid}/bundle: the download is larger than the {size // 2} byte limit; refusing it"
    assert route_count(emu, "GET /apiv1/me/devices/:id/certificates/:id/bundle") == 2  # refused, not retried
    assert rec.sleeps == []


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "streamed"])
def test_max_bytes_boundary(content_length):
    body = bytes(range(256)) * 4  # 1024 bytes
    with TinyServer(200, body, {"Content-Type": "application/zip"}, content_length=content_length) as server:
        client, rec = tiny_client(server, retries=2)
        assert client.download("/bundle", max_bytes=1024).content == body
        with pytest.raises(InvalidResponseError, match="larger than the 1023 byte limit"):
            client.download("/bundle", max_bytes=1023)
    assert len(server.requests) == 2 and rec.sleeps == []
    assert server.requests[0]["headers"]["Accept"] == "*/*"


def test_oversize_bundle_is_refused_without_reading_it(emu, assigned_certificate):
    client, rec = make_client(emu)
    cid = assigned_certificate["id"]
    emu.admin.add_bundle_fault("oversize", certificate_id=cid, count=1)
    with pytest.raises(InvalidResponseError) as info:
        res.download_bundle(client, device_id=1, certificate_id=cid)
    assert f"larger than the {res.BUNDLE_MAX_BYTES} byte limit" in info.value.msg
    assert rec.sleeps == []
    # The fault is spent: the next download is the real bundle again.
    assert zipfile.is_zipfile(io.BytesIO(res.download_bundle(client, device_id=1, certificate_id=cid).content))
    # Counted on the client: whether the server logs the 60 MB answer it could not finish depends on socket buffers.
    assert client.stats == {"requests": 2, "retries": 0}
    assert route_count(emu, "GET /apiv1/me/devices/:id/certificates/:id/bundle") >= 1


def test_bundle_download_is_retried_after_a_drop(emu, assigned_certificate):
    emu.admin.add_fault(path=r"/bundle$", method="GET", kind="drop", count=1)
    client, rec = make_client(emu)
    download = res.download_bundle(client, device_id=1, certificate_id=assigned_certificate["id"])
    assert zipfile.is_zipfile(io.BytesIO(download.content))
    assert route_count(emu, "GET /apiv1/me/devices/:id/certificates/:id/bundle") == 2
    assert len(rec.sleeps) == 1


def test_bundle_errors_carry_the_servers_words(emu, self_ca_account):
    client, _rec = make_client(emu)
    record = res.create_certificate(client, {"domain_name": unique("never") + ".example.com", "acct_id": self_ca_account["id"]})
    res.assign(client, certificate_id=record["id"], device_id=2)
    with pytest.raises(ConflictError, match="has never been issued"):
        res.download_bundle(client, device_id=2, certificate_id=record["id"])
    with pytest.raises(NotFoundError, match="assigned to device"):
        res.download_bundle(client, device_id=3, certificate_id=record["id"])


# -- TLS and plain HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize("ca_env", ["system-bundle", "unset"])
def test_https_with_ca_path(emu, monkeypatch, ca_env):
    # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE beat a session-level verify: ca_path must still win.
    if ca_env == "unset":
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    else:
        import certifi

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
        monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    client, _rec = make_client(emu)
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}
    assert emu.base_url.startswith("https://")


def test_https_without_ca_path_fails_verification_with_advice(emu):
    client, rec = make_client(emu, ca_path=None, retries=3)
    with pytest.raises(TransportError) as info:
        client.get(DEVICES)
    msg = info.value.msg
    assert msg.startswith(f"GET {DEVICES}: TLS verification of {emu.base_url} failed (certificate verify failed")
    assert "set ca_path" in msg and "validate_certs=false" in msg
    assert "HTTPSConnectionPool" not in msg  # the reason, not urllib3's wrapping
    assert rec.sleeps == []  # a certificate problem does not fix itself
    assert emu.admin.counters()["total"] == 0


@pytest.mark.parametrize("ca_env", ["system-bundle", "unset"])
def test_validate_certs_false_skips_verification(emu, monkeypatch, ca_env):
    if ca_env == "unset":
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    else:
        import certifi

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    client, _rec = make_client(emu, ca_path=None, validate_certs=False)
    assert len(client.get(DEVICES)) >= 5
    # ca_path is irrelevant (even a missing one) once verification is off
    client, _rec = make_client(emu, ca_path="/nonexistent/ca.pem", validate_certs=False)
    assert len(client.get(DEVICES)) >= 5


def test_plain_http_url(emu):
    assert emu.http_url.startswith("http://")
    client, _rec = make_client(emu, url=emu.http_url, ca_path=None)
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}
    assert route_count(emu, DEVICES_ROUTE) == 1


def test_missing_ca_path_is_reported_before_any_request(emu):
    with pytest.raises(CertCtrlError) as info:
        make_client(emu, ca_path="/nonexistent/ca.pem")
    assert info.value.msg.startswith("ca_path '/nonexistent/ca.pem' does not exist")
    assert emu.admin.counters()["total"] == 0


def test_https_to_a_plain_http_port_is_a_transport_error(emu):
    client, _rec = make_client(emu, url=emu.http_url.replace("http://", "https://"), retries=0)
    with pytest.raises(TransportError) as info:
        client.get(DEVICES)
    assert info.value.msg.startswith(f"GET {DEVICES}: TLS connection to https://")
    assert "ca_path" not in info.value.msg  # not a certificate problem: no misleading advice


def test_connection_refused_is_a_transport_error():
    with TinyServer(200) as server:
        url = server.url
    client = CertCtrlClient(api_url=url, api_key="ak_refused_0123456789", retry_policy=RetryPolicy(retries=0), sleep=lambda s: None)
    with pytest.raises(TransportError) as info:
        client.get(DEVICES)
    assert info.value.msg.startswith(f"GET {DEVICES}: connection to {url} failed: ")


# -- timeouts ---------------------------------------------------------------------------------


def test_slow_answer_beyond_the_timeout_is_a_transport_error(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="slow", delay=1.5, count=1)
    client, rec = make_client(emu, retries=0, timeout=0.5)
    with pytest.raises(TransportError) as info:
        client.get(DEVICES)
    assert info.value.msg == f"GET {DEVICES}: no answer from {emu.base_url} within 0.5 s (timeout option)"
    assert rec.sleeps == []
    assert wait_for_count(emu, DEVICES_ROUTE, 1) == 1


def test_slow_answer_then_a_fast_one_succeeds_on_retry(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="slow", delay=1.5, count=1)
    client, rec = make_client(emu, retries=2, timeout=0.5)
    assert len(client.get(DEVICES)) >= 5
    assert len(rec.sleeps) == 1 and "within 0.5 s (timeout option)" in rec.messages[0]
    assert client.stats == {"requests": 2, "retries": 1}
    assert wait_for_count(emu, DEVICES_ROUTE, 2) == 2


# -- redirects, foreign answers, headers ------------------------------------------------------


def test_the_emulator_cannot_inject_a_redirect(emu):
    # Why the redirect tests below use their own tiny server: the emulator's faults are 4xx/5xx only.
    with pytest.raises(RuntimeError, match=r"must be 400\.\.599"):
        emu.admin.add_fault(path=r"^/apiv1/me/devices$", kind="status", status=302, count=1)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_errors_not_followed(status):
    with TinyServer(status, headers={"Location": "/elsewhere/apiv1/me/devices"}) as server:
        client, rec = tiny_client(server, retries=3)
        with pytest.raises(InvalidResponseError) as info:
            client.get(DEVICES)
    assert len(server.requests) == 1 and server.requests[0]["path"] == DEVICES
    exc = info.value
    assert exc.details == {"status": status, "method": "GET", "path": DEVICES}
    assert f"the server answered HTTP {status} redirecting to /elsewhere/apiv1/me/devices" in exc.msg
    assert "set api_url to the API's final address" in exc.msg
    assert rec.sleeps == []


def test_non_json_error_page_gives_a_clear_message():
    page = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    with TinyServer(502, page, {"Content-Type": "text/html"}) as server:
        client, rec = tiny_client(server, retries=0)
        with pytest.raises(APIError) as info:
            client.get(DEVICES)
    exc = info.value
    assert exc.__class__ is APIError
    assert (exc.status, exc.code, exc.method, exc.path) == (502, None, "GET", DEVICES)
    assert exc.msg.startswith(f"GET {DEVICES} failed: HTTP 502 Bad Gateway: (no error envelope; text/html body starts '<html><body><h1>502 Bad Gateway")
    assert "Traceback" not in exc.msg and _HINTS[502] in exc.msg
    assert len(server.requests) == 1 and rec.sleeps == []


def test_non_json_error_page_is_retried_when_retries_allow():
    with TinyServer(503, b"<html>maintenance</html>", {"Content-Type": "text/html"}) as server:
        client, rec = tiny_client(server, retries=2)
        with pytest.raises(APIError, match="maintenance"):
            client.get(DEVICES)
    assert len(server.requests) == 3 and len(rec.sleeps) == 2


def test_a_200_html_page_is_an_invalid_response():
    with TinyServer(200, b"<html>captive portal</html>", {"Content-Type": "text/html"}) as server:
        client, _rec = tiny_client(server, retries=1)
        with pytest.raises(InvalidResponseError) as info:
            client.get(DEVICES)
    assert "answer is not valid JSON" in info.value.msg and "captive portal" in info.value.msg
    assert len(server.requests) == 2


def test_an_error_envelope_that_is_not_an_object_is_reported_verbatim():
    with TinyServer(500, b'{"error": "database on fire"}', {"Content-Type": "application/json"}) as server:
        client, _rec = tiny_client(server)
        with pytest.raises(APIError) as info:
            client.post("/apiv1/me/certificates", {"domain_name": "x.example.com"})
    assert info.value.status == 500 and "database on fire" in info.value.msg
    assert server.requests[0]["method"] == "POST"


def test_request_headers_user_agent_auth_and_json():
    with TinyServer(200, b'{"data": {"id": 7}}', {"Content-Type": "application/json"}) as server:
        client, _rec = tiny_client(server, api_key="ak_headers_0123456789")
        assert client.post("/apiv1/me/acme-accounts", {"name": "n"}) == {"id": 7}
        assert client.get(DEVICES) == {"id": 7}
    post, get = server.requests
    expected_ua = f"cjj365.certctrl/{COLLECTION_VERSION} ansible-core/{ANSIBLE_VERSION}"
    assert expected_ua == USER_AGENT
    for request in (post, get):
        assert request["headers"]["User-Agent"] == expected_ua
        assert request["headers"]["Authorization"] == "Bearer ak_headers_0123456789"
        assert request["headers"]["Accept"] == "application/json"
    assert post["headers"]["Content-Type"] == "application/json"


def test_delete_answering_204_returns_none(emu, self_ca_account):
    client, _rec = make_client(emu)
    assert res.delete_acme_account(client, self_ca_account["id"]) is None
    assert res.get_acme_account(client, self_ca_account["id"]) is None
    assert emu.admin.counters()["by_status"] == {"204": 1, "404": 1}


def test_put_is_retried_like_get(emu, self_ca_account):
    emu.admin.add_fault(path=r"^/apiv1/me/acme-accounts/\d+$", method="PUT", kind="drop", count=1)
    client, rec = make_client(emu)
    updated = res.update_acme_account(client, self_ca_account["id"], {"email": "ops@example.com"})
    assert updated["email"] == "ops@example.com"
    assert route_count(emu, "PUT /apiv1/me/acme-accounts/:id") == 2
    assert len(rec.sleeps) == 1
