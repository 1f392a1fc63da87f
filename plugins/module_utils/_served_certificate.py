# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The served_certificate_info module's job: which certificate does a TLS endpoint present right now, and (polling
# briefly, since a reloading server finishes old connections with the old certificate) is it the one we deployed?
# Standard library only: it runs on managed hosts.

import socket
import ssl
import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import DERError, normalize_fingerprint, summary


class EndpointError(CertCtrlError):
    """No TLS handshake, or no certificate in it."""


def fetch(host: str, port: int, *, server_name: t.Optional[str], timeout: float) -> t.Dict[str, t.Any]:
    """One TLS handshake (no verification: we read what is served, we do not trust it); the leaf's facts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock, context.wrap_socket(sock, server_hostname=server_name or None) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise EndpointError(f"TLS handshake with {host}:{port}{'/' + server_name if server_name else ''} failed: {exc}") from None
    if not der:
        raise EndpointError(f"{host}:{port} presented no certificate")
    try:
        return summary(der)
    except DERError as exc:
        raise EndpointError(f"{host}:{port} presented an unreadable certificate: {exc}") from None


def wait_for(
    host: str,
    port: int,
    *,
    accept: t.Callable[[t.Dict[str, t.Any]], bool],
    server_name: t.Optional[str] = None,
    timeout: float = 10.0,
    wait_timeout: float = 0.0,
    interval: float = 0.5,
) -> t.Tuple[t.Optional[t.Dict[str, t.Any]], t.Optional[EndpointError], int]:
    """Poll until the served certificate satisfies ``accept`` or ``wait_timeout`` passed (at least one handshake).

    Returns (the last certificate served or None, the last handshake error or None, the number of handshakes).
    """
    deadline = time.monotonic() + max(0.0, wait_timeout)
    attempts = 0
    while True:
        attempts += 1
        try:
            served, error = fetch(host, port, server_name=server_name, timeout=timeout), None
        except EndpointError as exc:
            served, error = None, exc
        if (served is not None and accept(served)) or time.monotonic() + interval > deadline:
            return served, error, attempts
        time.sleep(interval)


def served_certificate(
    host: str,
    port: int,
    *,
    server_name: t.Optional[str] = None,
    timeout: float = 10.0,
    expect_fingerprint: t.Optional[str] = None,
    wait_timeout: float = 0.0,
    interval: float = 0.5,
) -> t.Dict[str, t.Any]:
    """The module's result. With ``expect_fingerprint``, polls until it is served or ``wait_timeout`` passed."""
    expected = normalize_fingerprint(expect_fingerprint, strict=False)
    served, error, attempts = wait_for(
        host,
        port,
        accept=lambda cert: not expected or normalize_fingerprint(cert["sha256_fingerprint"], strict=False) == expected,
        server_name=server_name,
        timeout=timeout,
        wait_timeout=wait_timeout,
        interval=interval,
    )
    if served is None:
        raise EndpointError(f"{error} (after {attempts} attempt{'s' if attempts > 1 else ''})")
    result: t.Dict[str, t.Any] = {"changed": False, "endpoint": f"{host}:{port}", "server_name": server_name, "certificate": served, "attempts": attempts}
    if expected:
        result["matches"] = normalize_fingerprint(served["sha256_fingerprint"], strict=False) == expected
    return result


def mismatch_message(result: t.Dict[str, t.Any], expected: str) -> str:
    """Why a served_certificate() result with ``matches`` false is wrong, in words."""
    where = result["endpoint"] + (f"/{result['server_name']}" if result.get("server_name") else "")
    tries = f"{result['attempts']} attempt{'s' if result['attempts'] != 1 else ''}"
    served = result["certificate"]
    return f"{where} serves serial {served['serial']} ({served['sha256_fingerprint']}), not the expected {expected} (after {tries})"


__all__ = ["EndpointError", "fetch", "mismatch_message", "served_certificate", "wait_for"]
