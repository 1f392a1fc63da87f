"""Real ACME issuance (RFC 8555, certbot's ``acme`` library) for the letsencrypt / zerossl providers.

Used instead of the simulated "Emulated ACME" CA when the emulator runs with ``--acme-directory``
(typically pebble, see pebble.py). Imported only then, so the default emulator starts without ``acme``.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, TypeVar

import josepy as jose
from acme import challenges, messages
from acme import client as acme_client
from acme import errors as acme_errors
from cryptography.hazmat.primitives import serialization

from . import pki
from .store import Row, Store, now_ms

T = TypeVar("T")
Stop = Callable[[], bool]

ORDER_TIMEOUT = 120.0  # seconds for a whole order (validation + finalization)
NETWORK_TIMEOUT = 30
NONCE_RETRIES = 5  # acme retries a badNonce once per POST; a server rejecting more often needs more
POLL_FIRST, POLL_MAX = 0.02, 0.5  # our own polling: acme's poll_and_finalize sleeps 1-2 s fixed
USER_AGENT = "certctrl-emulator (acme-python)"
PREFIX = "urn:ietf:params:acme:error:"


class AcmeFailed(Exception):
    """The order ended without a certificate; the message becomes the row's ``error_message``."""


class Aborted(Exception):
    """The row was cancelled or the emulator is stopping: drop the order without writing anything."""


class _ChallengeHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.responder.lookup(self.path)
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: Any) -> None:
        pass


class _ResponderServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _ResponderServer6(_ResponderServer):
    address_family = socket.AF_INET6


class Responder:
    """HTTP-01 responder: serves ``/.well-known/acme-challenge/<token>`` for the challenges of running orders."""

    def __init__(self, host: str, port: int) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.server = (_ResponderServer6 if ":" in host else _ResponderServer)((host, port), _ChallengeHandler)
        self.server.responder = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def lookup(self, path: str) -> str | None:
        with self.lock:
            return self.tokens.get(path)

    def add(self, path: str, key_authorization: str) -> None:
        with self.lock:
            self.tokens[path] = key_authorization

    def remove(self, path: str) -> None:
        with self.lock:
            self.tokens.pop(path, None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def problem(err: messages.Error) -> str:
    """``<type>: <detail>`` of an ACME problem document (messages.Error)."""
    typ = err.typ or PREFIX + "serverInternal"
    detail = err.detail or err.title or err.description or "no detail"
    if err.identifier is not None and err.identifier.value not in detail:
        detail = f"{err.identifier.value}: {detail}"
    return f"{typ}: {detail}"


class AcmeBackend:
    def __init__(self, store: Store, directory: str, ca_file: str | None = None, http_port: int = 5002, http_host: str = "127.0.0.1") -> None:
        self.store = store
        self.directory_url = directory
        self.ca_file = ca_file
        self.responder = Responder(http_host, http_port)
        self.reg_lock = threading.Lock()  # one registration per account even with parallel orders

    def describe(self) -> dict[str, Any]:
        return {"kind": "acme", "directory": self.directory_url, "ca_file": self.ca_file, "http_port": self.responder.port}

    def close(self) -> None:
        self.responder.close()

    # -- account -------------------------------------------------------------
    def _network(self, key_pem: str) -> acme_client.ClientNetwork:
        key = pki.load_key(key_pem)
        # a path for verify: requests lets REQUESTS_CA_BUNDLE override only verify=True
        return acme_client.ClientNetwork(jose.JWKEC(key=key), alg=jose.ES256, verify_ssl=self.ca_file or True, user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT)

    def _registration(self, account: Row) -> Row:
        st = self.store
        row = st.registration(account["id"], self.directory_url)
        if row is None:  # first use: a key of its own; the account URL follows from newAccount
            key_pem = pki.key_pem(pki.new_key("ECDSA"))
            row = {"acct_id": account["id"], "directory": self.directory_url, "key_pem": key_pem, "uri": "", "created_at": now_ms()}
            st.insert("acme_registrations", row)
        return row

    def _register(self, client: acme_client.ClientV2, account: Row) -> str:
        """newAccount with the account's key; an existing registration answers with its URL (pebble restarted: a new one)."""
        contact = {"email": account["email"]} if account["email"] else {}
        reg = messages.NewRegistration.from_data(terms_of_service_agreed=True, **contact)
        client.net.account = None  # newAccount is signed with the JWK, never a kid
        try:
            uri = _retry(client.new_account, reg).uri
        except acme_errors.ConflictError as exc:
            uri = exc.location
        client.net.account = messages.RegistrationResource(uri=uri, body=messages.Registration())
        self.store.set_registration_uri(account["id"], self.directory_url, uri)
        return uri

    def _client(self, account: Row) -> acme_client.ClientV2:
        with self.reg_lock:
            reg = self._registration(account)
            net = self._network(reg["key_pem"])
            client = acme_client.ClientV2(acme_client.ClientV2.get_directory(self.directory_url, net), net)
            if reg["uri"]:
                net.account = messages.RegistrationResource(uri=reg["uri"], body=messages.Registration())
            else:
                self._register(client, account)
        return client

    # -- order -----------------------------------------------------------------
    def issue(self, cert: Row, account: Row, names: Sequence[str], *, on_order: Callable[[str], None], should_stop: Stop) -> dict[str, str]:
        """Run one order for ``names``; returns the dict of pki.issue (key_pem, cert, der, serial, csr).

        Raises AcmeFailed (row FAILED with its message) or Aborted (``should_stop()`` became true)."""
        key = pki.new_key(cert["key_algorithm"], account["leaf_rsa_bits"], account["leaf_ec_curve"])
        fields = {k: cert[k] for k in ("country", "state", "locality", "organization", "organizational_unit")}
        csr_pem = pki.make_csr(key, cert["domain_name"], names, fields)
        deadline = time.monotonic() + ORDER_TIMEOUT
        client = None
        try:
            client = self._client(account)
            try:
                orderr = _retry(client.new_order, csr_pem.encode())
            except messages.Error as exc:
                if exc.code not in ("accountDoesNotExist", "unauthorized"):
                    raise
                self._register(client, account)  # the server forgot the account (pebble keeps no state)
                orderr = _retry(client.new_order, csr_pem.encode())
            on_order(orderr.uri)
            self._authorize(client, orderr, deadline, should_stop)
            fullchain = self._finalize(client, orderr, deadline, should_stop)
        except messages.Error as exc:
            raise AcmeFailed(problem(exc)) from None
        except acme_errors.Error as exc:
            raise AcmeFailed(f"ACME client error: {type(exc).__name__}: {exc}") from None
        except OSError as exc:  # requests' ConnectionError/Timeout/SSLError are OSErrors
            raise AcmeFailed(f"ACME server {self.directory_url} unreachable: {type(exc).__name__}: {exc}") from None
        finally:
            if client is not None:
                client.net.session.close()
        chain = pki.split_pem(fullchain)
        if not chain:
            raise AcmeFailed("ACME server returned no certificate")
        leaf = pki.load_cert(chain[0])
        if leaf.public_key().public_numbers() != key.public_key().public_numbers():
            raise AcmeFailed("ACME server returned a certificate for another key")
        return {
            "key_pem": pki.key_pem(key),
            "cert": "".join(chain),  # leaf + intermediates, the layout of the simulated path
            "der": base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode(),
            "serial": format(leaf.serial_number, "x"),
            "csr": csr_pem,
        }

    def _authorize(self, client: acme_client.ClientV2, orderr: messages.OrderResource, deadline: float, should_stop: Stop) -> None:
        answered, paths = [], []
        try:
            for authzr in orderr.authorizations:
                status = authzr.body.status
                if status == messages.STATUS_VALID:  # reused by the server (PEBBLE_AUTHZREUSE, Let's Encrypt)
                    continue
                if status != messages.STATUS_PENDING:
                    raise AcmeFailed(_authz_error(authzr))
                challb = _pick(authzr)
                response, validation = challb.response_and_validation(client.net.key)
                if isinstance(challb.chall, challenges.HTTP01):
                    paths.append(challb.chall.path)
                    self.responder.add(challb.chall.path, validation)
                _retry(client.answer_challenge, challb, response)
                answered.append(authzr)
            for authzr in answered:
                current, delay = authzr, POLL_FIRST
                while current.body.status in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                    delay = _sleep(delay, deadline, should_stop, "authorization of " + current.body.identifier.value)
                    current, _resp = _retry(client.poll, current)
                if current.body.status != messages.STATUS_VALID:
                    raise AcmeFailed(_authz_error(current))
        finally:
            for path in paths:
                self.responder.remove(path)

    def _finalize(self, client: acme_client.ClientV2, orderr: messages.OrderResource, deadline: float, should_stop: Stop) -> str:
        try:
            _retry(client.begin_finalization, orderr)
        except messages.Error as exc:
            if exc.code != "orderNotReady":
                raise
        delay = POLL_FIRST
        while True:
            body = messages.Order.from_json(_post_as_get(client, orderr.uri).json())
            if body.status == messages.STATUS_VALID and body.certificate:
                return _post_as_get(client, body.certificate).text
            if body.status == messages.STATUS_INVALID:
                if body.error is not None:
                    raise AcmeFailed(problem(body.error))
                raise AcmeFailed(PREFIX + "serverInternal: the order became invalid without a reason")
            if body.status == messages.STATUS_READY:
                _retry(client.begin_finalization, orderr)
            delay = _sleep(delay, deadline, should_stop, "finalization")


def _pick(authzr: messages.AuthorizationResource) -> messages.ChallengeBody:
    """HTTP-01 (our responder) when offered; else DNS-01 (wildcards: valid only with PEBBLE_VA_ALWAYS_VALID)."""
    for kind in (challenges.HTTP01, challenges.DNS01):
        for challb in authzr.body.challenges:
            if isinstance(challb.chall, kind):
                return challb
    raise AcmeFailed(PREFIX + f"unsupportedIdentifier: no http-01 or dns-01 challenge for {authzr.body.identifier.value}")


def _authz_error(authzr: messages.AuthorizationResource) -> str:
    for challb in authzr.body.challenges:
        if challb.error is not None:
            return problem(challb.error)
    return PREFIX + f"unauthorized: authorization for {authzr.body.identifier.value} is {authzr.body.status.name}"


def _post_as_get(client: acme_client.ClientV2, url: str) -> Any:
    # the public ClientNetwork.post with a None payload is RFC 8555's POST-as-GET
    return _retry(client.net.post, url, None, new_nonce_url=client.directory["newNonce"])


def _retry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    for attempt in range(NONCE_RETRIES):
        try:
            return fn(*args, **kwargs)
        except messages.Error as exc:
            if exc.code != "badNonce" or attempt == NONCE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _sleep(delay: float, deadline: float, should_stop: Stop, what: str) -> float:
    if should_stop():
        raise Aborted()
    if time.monotonic() + delay > deadline:
        raise AcmeFailed(f"{PREFIX}serverInternal: timed out after {ORDER_TIMEOUT:.0f} s waiting for the {what}")
    time.sleep(delay)
    if should_stop():
        raise Aborted()
    return min(delay * 2, POLL_MAX)
