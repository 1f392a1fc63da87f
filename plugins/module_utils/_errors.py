# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Bottom layer: imports nothing of ours, so every other file may depend on it.

import typing as t

# What the user can do about an error, by HTTP status. The server's own words come first;
# this hint is appended so the message says what to change.
_HINTS: t.Dict[int, str] = {
    400: "correct the field or parameter the server names above",
    401: "check api_key (or CERTCTRL_API_KEY): the key is missing, unknown, expired or revoked",
    403: "when a scope is named, grant it to the API key or use a key that has it; otherwise the object belongs to another account",
    404: "check the id: it does not exist or belongs to another account",
    405: "the server does not accept this method on this path; check that api_url points at the cert-ctrl API",
    409: "the object's current state does not allow this request",
    429: "the server is rate limiting this key; retry later or raise the retries option",
    500: "the server failed to handle the request; retry later or report it to the cert-ctrl operators",
    502: "the server or a proxy in front of it is unavailable; retry later or raise the retries option",
    503: "the server or a proxy in front of it is unavailable; retry later or raise the retries option",
    504: "the server or a proxy in front of it is unavailable; retry later or raise the retries option",
}


class CertCtrlError(Exception):
    """Base error of the collection. Carries the message and structured details for fail_json."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def fail_kwargs(self) -> t.Dict[str, t.Any]:
        return {"msg": self.msg, **self.details}


class TransportError(CertCtrlError):
    """The request did not get an HTTP answer: connection refused or dropped, timeout, TLS failure."""


class InvalidResponseError(CertCtrlError):
    """The server answered, but not with something the contract allows (non-JSON, truncated, redirect)."""


class APIError(CertCtrlError):
    """The server answered with an error envelope ``{"error": {"code", "what"}}``."""

    def __init__(self, *, status: int, code: t.Optional[int], what: str, method: str, path: str, reason: str = "", body: str = "") -> None:
        self.status = status
        self.code = code
        self.what = what
        self.method = method
        self.path = path
        # The start of the raw answer (scrubbed by the client): markers such as WRAP_PENDING may sit outside ``what``.
        # Kept out of ``details`` so it never reaches a result.
        self.body = body
        code_part = f", code {code}" if code is not None else ""
        hint = _HINTS.get(status)
        msg = f"{method} {path} failed: HTTP {status}{(' ' + reason) if reason else ''}{code_part}: {what or '(the server gave no message)'}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg, status=status, api_error={"code": code, "what": what}, method=method, path=path)


class AuthenticationError(APIError):
    """401: no key, unknown key, revoked key."""


class PermissionDeniedError(APIError):
    """403: the key lacks a scope (the server's message names it), or the object is not usable (device not ACTIVE)."""


class NotFoundError(APIError):
    """404."""


class ConflictError(APIError):
    """409: duplicate name, account still has certificates, certificate never issued..."""


class RateLimitedError(APIError):
    """429 after the retries ran out."""


class WrapPendingError(CertCtrlError):
    """409 ``WRAP_PENDING`` that outlasted the bounded wait: the server has not wrapped the key for the device yet."""


class ExportForbiddenError(CertCtrlError):
    """403 ``EXPORT_FORBIDDEN``: the certificate's export policy forbids a server-decrypted export of its key."""


def mentions(exc: APIError, marker: str) -> bool:
    """True when the server's message or the start of its answer carries ``marker`` (``WRAP_PENDING``...)."""
    return marker in (exc.what or "") or marker in (exc.body or "")


_BY_STATUS: t.Dict[int, t.Type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def api_error(*, status: int, code: t.Optional[int], what: str, method: str, path: str, reason: str = "", body: str = "") -> APIError:
    """Build the APIError subclass that matches the HTTP status."""
    cls = _BY_STATUS.get(status, APIError)
    return cls(status=status, code=code, what=what, method=method, path=path, reason=reason, body=body)


__all__ = [
    "APIError",
    "AuthenticationError",
    "CertCtrlError",
    "ConflictError",
    "ExportForbiddenError",
    "InvalidResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "TransportError",
    "WrapPendingError",
    "api_error",
    "mentions",
]
