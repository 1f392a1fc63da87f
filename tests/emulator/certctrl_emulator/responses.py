"""Answers of the handlers: JSON (``data`` / error envelope), raw bytes, or a file streamed from disk."""

from __future__ import annotations

import json
from typing import IO, Any

from .errors import ApiError


class Resp:
    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        ctype: str | None = "application/json",
        headers: dict[str, str] | None = None,
        stream: IO[bytes] | None = None,
        length: int | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = dict(headers or {})
        self.stream = stream  # an open binary file, streamed then closed
        self.length = length if length is not None else len(body)


def json_resp(status: int, obj: Any, headers: dict[str, str] | None = None) -> Resp:
    return Resp(status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)


def ok(data: Any, status: int = 200) -> Resp:
    return json_resp(status, {"data": data})


def no_content() -> Resp:
    return Resp(204, b"", ctype=None)


def error_resp(err: ApiError) -> Resp:
    return json_resp(err.status, err.body(), err.headers)
