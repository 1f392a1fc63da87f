# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a TLS endpoint serves (module_utils/_served_certificate.py), against real TLS servers started here on
127.0.0.1 (python ssl in a thread) with certificates made by cryptography: the served leaf, the fingerprint
match and mismatch, SNI, a refused connection and a server that never answers the handshake."""

from __future__ import annotations

import socket
import ssl
import threading
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import summary
from ansible_collections.cjj365.certctrl.plugins.module_utils._served_certificate import (
    EndpointError,
    fetch,
    mismatch_message,
    served_certificate,
    wait_for,
)
from ansible_collections.cjj365.certctrl.tests.support.certs import Issued, chain


class TLSServer(threading.Thread):
    """Serves ``default`` (and ``by_name[sni]`` to clients that send that server name) until stopped."""

    def __init__(self, tmp_path: Path, default: Issued, by_name: dict[str, Issued] | None = None) -> None:
        super().__init__(daemon=True)
        self.contexts = {name: self._context(tmp_path, name, cert) for name, cert in {"": default, **(by_name or {})}.items()}
        self.contexts[""].sni_callback = self._pick
        self.names: list[str | None] = []  # the server name of each handshake
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()

    @staticmethod
    def _context(tmp_path: Path, name: str, cert: Issued) -> ssl.SSLContext:
        files = tmp_path / f"served-{name or 'default'}.pem", tmp_path / f"served-{name or 'default'}.key"
        files[0].write_bytes(cert.pem)
        files[1].write_bytes(cert.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*files)
        return context

    def _pick(self, tls: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        self.names.append(name)
        if name in self.contexts:
            tls.context = self.contexts[name]

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            conn.settimeout(5)
            try:
                with self.contexts[""].wrap_socket(conn, server_side=True):
                    pass  # the handshake is all a client reads
            except (OSError, ssl.SSLError):
                conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def certs() -> dict[str, Issued]:
    return {"default": chain("www.example.com", serial=0xA1)[0], "shop": chain("shop.example.com", serial=0xB2)[0]}


@pytest.fixture
def server(tmp_path: Path, certs: dict[str, Issued]) -> t.Iterator[TLSServer]:
    tls = TLSServer(tmp_path, certs["default"], {"shop.example.com": certs["shop"]})
    tls.start()
    yield tls
    tls.stop()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_fetch_reads_the_served_leaf(server: TLSServer, certs: dict[str, Issued]) -> None:
    assert fetch("127.0.0.1", server.port, server_name=None, timeout=5) == summary(certs["default"].der)
    assert server.names == [None]  # no server name: no SNI sent


def test_the_server_name_selects_the_certificate(server: TLSServer, certs: dict[str, Issued]) -> None:
    assert fetch("127.0.0.1", server.port, server_name="shop.example.com", timeout=5)["serial"] == "b2"
    assert fetch("127.0.0.1", server.port, server_name="other.example.com", timeout=5)["serial"] == "a1"  # the default one
    assert server.names == ["shop.example.com", "other.example.com"]


def test_the_result_without_an_expected_fingerprint(server: TLSServer, certs: dict[str, Issued]) -> None:
    result = served_certificate("127.0.0.1", server.port, server_name="shop.example.com", timeout=5)
    assert result == {
        "changed": False,
        "endpoint": f"127.0.0.1:{server.port}",
        "server_name": "shop.example.com",
        "certificate": summary(certs["shop"].der),
        "attempts": 1,
    }


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda fp: ":".join(fp[i : i + 2] for i in range(0, len(fp), 2))])
def test_a_matching_fingerprint_in_any_spelling(server: TLSServer, certs: dict[str, Issued], spelling: t.Callable[[str], str]) -> None:
    result = served_certificate("127.0.0.1", server.port, expect_fingerprint=spelling(certs["default"].fingerprint), timeout=5, wait_timeout=5)
    assert result["matches"] is True and result["attempts"] == 1


def test_a_mismatch_polls_until_the_wait_is_over_and_says_what_is_served(server: TLSServer, certs: dict[str, Issued]) -> None:
    expected = certs["shop"].fingerprint
    result = served_certificate("127.0.0.1", server.port, expect_fingerprint=expected, timeout=5, wait_timeout=0.5, interval=0.1)
    assert result["matches"] is False
    assert 2 <= result["attempts"] <= 6
    assert result["certificate"]["serial"] == "a1"
    message = mismatch_message(result, expected)
    assert message.startswith(f"127.0.0.1:{server.port} serves serial a1 ({result['certificate']['sha256_fingerprint']}), not the expected {expected}")
    assert message.endswith(f"(after {result['attempts']} attempts)")


def test_a_mismatch_without_wait_is_one_handshake(server: TLSServer, certs: dict[str, Issued]) -> None:
    result = served_certificate("127.0.0.1", server.port, server_name="shop.example.com", expect_fingerprint=certs["default"].fingerprint, timeout=5)
    assert (result["matches"], result["attempts"]) == (False, 1)
    assert mismatch_message(result, "x").startswith(f"127.0.0.1:{server.port}/shop.example.com serves serial b2")
    assert mismatch_message(result, "x").endswith("(after 1 attempt)")


def test_wait_for_stops_at_the_first_accepted_certificate(server: TLSServer) -> None:
    seen: list[str] = []

    def third(cert: dict[str, t.Any]) -> bool:
        seen.append(cert["serial"])
        return len(seen) == 3

    served, error, attempts = wait_for("127.0.0.1", server.port, accept=third, wait_timeout=10, interval=0.01)
    assert (served["serial"], error, attempts) == ("a1", None, 3)


def test_a_refused_connection(certs: dict[str, Issued]) -> None:
    port = closed_port()
    with pytest.raises(EndpointError, match=f"TLS handshake with 127.0.0.1:{port} failed: .*refused"):
        fetch("127.0.0.1", port, server_name=None, timeout=5)
    with pytest.raises(EndpointError, match=r"refused.* \(after 1 attempt\)$"):
        served_certificate("127.0.0.1", port, expect_fingerprint=certs["default"].fingerprint, timeout=5)


def test_refused_while_waiting_counts_every_attempt() -> None:
    port = closed_port()
    with pytest.raises(EndpointError, match=r"\(after [2-9] attempts\)$"):
        served_certificate("127.0.0.1", port, server_name="shop.example.com", timeout=1, wait_timeout=0.3, interval=0.05)


def test_a_server_that_never_answers_the_handshake_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP (backlog), never speaks TLS
        port = silent.getsockname()[1]
        with pytest.raises(EndpointError, match=f"TLS handshake with 127.0.0.1:{port}/api.example.com failed: .*timed out"):
            fetch("127.0.0.1", port, server_name="api.example.com", timeout=0.3)


def test_a_plain_http_server_is_no_tls_endpoint() -> None:
    """Something that answers, but not TLS: the handshake error, not a hang."""
    with socket.create_server(("127.0.0.1", 0)) as plain:
        port = plain.getsockname()[1]

        def answer() -> None:
            conn, _addr = plain.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(EndpointError, match=f"TLS handshake with 127.0.0.1:{port} failed"):
            fetch("127.0.0.1", port, server_name=None, timeout=5)
        thread.join(5)
