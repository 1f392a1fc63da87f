# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The error family: one class per HTTP status a caller handles, and one message with everything in it."""

from __future__ import annotations

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    _HINTS,
    APIError,
    AuthenticationError,
    CertCtrlError,
    ConflictError,
    ExportForbiddenError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransportError,
    WrapPendingError,
    api_error,
    mentions,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitedError),
        (400, APIError),
        (405, APIError),
        (418, APIError),
        (500, APIError),
        (502, APIError),
        (503, APIError),
        (504, APIError),
    ],
)
def test_api_error_picks_the_class_of_the_status(status, cls):
    exc = api_error(status=status, code=5000, what="words", method="PUT", path="/apiv1/me/x/1")
    assert exc.__class__ is cls
    assert isinstance(exc, APIError) and isinstance(exc, CertCtrlError) and isinstance(exc, Exception)
    assert (exc.status, exc.code, exc.what, exc.method, exc.path) == (status, 5000, "words", "PUT", "/apiv1/me/x/1")


def test_message_has_request_status_code_words_and_hint():
    exc = api_error(status=404, code=5003, what="certificate 7 not found", method="GET", path="/apiv1/me/certificates/7", reason="Not Found")
    assert exc.msg == (
        "GET /apiv1/me/certificates/7 failed: HTTP 404 Not Found, code 5003: certificate 7 not found"
        " (check the id: it does not exist or belongs to another account)"
    )
    assert str(exc) == exc.msg
    assert exc.fail_kwargs() == {
        "msg": exc.msg,
        "status": 404,
        "api_error": {"code": 5003, "what": "certificate 7 not found"},
        "method": "GET",
        "path": "/apiv1/me/certificates/7",
    }


def test_scope_text_of_a_403_reaches_the_message():
    exc = api_error(status=403, code=5022, what="API key lacks scope devices:*[read]", method="GET", path="/apiv1/me/devices", reason="Forbidden")
    assert exc.msg == (
        "GET /apiv1/me/devices failed: HTTP 403 Forbidden, code 5022: API key lacks scope devices:*[read]"
        " (when a scope is named, grant it to the API key or use a key that has it; otherwise the object belongs to another account)"
    )


def test_another_users_object_is_a_403_with_the_servers_words():
    # Production answers 403 "Certificate not owned" for another user's object (production-shape row 11).
    exc = api_error(status=403, code=5022, what="Certificate not owned", method="GET", path="/apiv1/me/certificates/9")
    assert isinstance(exc, PermissionDeniedError) and not isinstance(exc, NotFoundError)
    assert "Certificate not owned" in exc.msg and "belongs to another account" in exc.msg


def test_the_raw_body_is_kept_for_markers_but_never_in_the_results():
    exc = api_error(status=409, code=409, what="conflict", method="GET", path="/b", body='{"error": {"code": 409}, "status": "WRAP_PENDING"}')
    assert mentions(exc, "WRAP_PENDING") and not mentions(exc, "EXPORT_FORBIDDEN")
    assert "WRAP_PENDING" not in repr(exc.fail_kwargs())
    assert mentions(api_error(status=403, code=5022, what="EXPORT_FORBIDDEN: policy", method="GET", path="/b"), "EXPORT_FORBIDDEN")


@pytest.mark.parametrize("cls", [WrapPendingError, ExportForbiddenError])
def test_bundle_policy_errors_are_collection_errors(cls):
    exc = cls("words", status=409, certificate_id=3, device_id=4)
    assert isinstance(exc, CertCtrlError) and not isinstance(exc, APIError)
    assert exc.fail_kwargs() == {"msg": "words", "status": 409, "certificate_id": 3, "device_id": 4}


def test_message_without_code_reason_or_hint():
    exc = api_error(status=418, code=None, what="short and stout", method="POST", path="/teapot")
    assert exc.msg == "POST /teapot failed: HTTP 418: short and stout"
    assert exc.fail_kwargs()["api_error"] == {"code": None, "what": "short and stout"}


def test_message_when_the_server_gave_no_words():
    exc = api_error(status=500, code=5017, what="", method="GET", path="/apiv1/me/devices", reason="Internal Server Error")
    assert exc.msg.startswith("GET /apiv1/me/devices failed: HTTP 500 Internal Server Error, code 5017: (the server gave no message) (")
    assert exc.what == ""


@pytest.mark.parametrize("status", sorted(_HINTS))
def test_every_handled_status_says_what_to_do(status):
    exc = api_error(status=status, code=1, what="w", method="GET", path="/p")
    assert exc.msg.endswith(f" ({_HINTS[status]})")
    assert _HINTS[status][0].islower() and not _HINTS[status].endswith(".")


def test_hints_cover_the_statuses_the_api_answers():
    assert {400, 401, 403, 404, 405, 409, 429, 500, 502, 503, 504} <= set(_HINTS)


def test_base_error_carries_its_fail_json_kwargs():
    exc = CertCtrlError("no ACME account named 'x' is visible to this API key", acct_id=3)
    assert str(exc) == exc.msg == "no ACME account named 'x' is visible to this API key"
    assert exc.details == {"acct_id": 3}
    assert exc.fail_kwargs() == {"msg": exc.msg, "acct_id": 3}
    assert CertCtrlError("plain").fail_kwargs() == {"msg": "plain"}


@pytest.mark.parametrize("cls", [TransportError, InvalidResponseError])
def test_non_api_errors_are_collection_errors_but_not_api_errors(cls):
    exc = cls("GET /p: connection refused", method="GET", path="/p")
    assert isinstance(exc, CertCtrlError) and not isinstance(exc, APIError)
    assert exc.fail_kwargs() == {"msg": "GET /p: connection refused", "method": "GET", "path": "/p"}


def test_api_errors_are_caught_by_their_family():
    with pytest.raises(CertCtrlError):
        raise api_error(status=409, code=5016, what="busy", method="DELETE", path="/p")
    with pytest.raises(APIError):
        raise api_error(status=429, code=5013, what="slow down", method="GET", path="/p")
