"""API error type and the numeric codes of the public agent's error_codes.ini."""

from __future__ import annotations

from typing import Any

INVALID_ARGUMENT = 5000
INVALID_ENTITY = 5001
NOT_FOUND = 5003
MISSING_BODY = 5007
MISSING_FIELD = 5008
NOT_IMPLEMENTED = 5010  # used for 405 method not allowed
RATE_LIMITED = 5013
CREATE_FAILED = 5014
UPDATE_FAILED = 5015
DELETE_FAILED = 5016
UNEXPECTED_RESULT = 5017
UNAUTHORIZED = 5018
JSON_PARSE_ERROR = 5021
FORBIDDEN = 5022


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "what"}}`` with an HTTP status."""

    def __init__(self, status: int, code: int, what: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(what)
        self.status = status
        self.code = code
        self.what = what
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "what": self.what}}


def bad(what: str) -> ApiError:
    return ApiError(400, INVALID_ARGUMENT, what)


def missing(field: str) -> ApiError:
    return ApiError(400, MISSING_FIELD, f"missing field '{field}'")


def not_found(kind: str, ident: Any) -> ApiError:
    return ApiError(404, NOT_FOUND, f"{kind} {ident} not found")


def forbidden(what: str) -> ApiError:
    return ApiError(403, FORBIDDEN, what)


def conflict(code: int, what: str) -> ApiError:
    return ApiError(409, code, what)


def unauthorized(what: str) -> ApiError:
    return ApiError(401, UNAUTHORIZED, what, {"WWW-Authenticate": 'Bearer realm="cert-ctrl"'})
