"""Fault injection (request faults, bundle faults) and the per-key rate limit.

Request faults have one seam in the request path: ``Faults.around(method, path, handle, ...)`` wraps the
handling of a matched request (drop it, slow it, answer an injected status, or spoil the answer)."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from typing import Any, Callable

from .errors import NOT_FOUND, RATE_LIMITED, UNEXPECTED_RESULT, ApiError, bad
from .responses import Resp, json_resp

FAULT_KINDS = ("status", "drop", "drop_after", "slow", "malformed")
BUNDLE_KINDS = (
    "key_mismatch",
    "traversal",
    "symlink",
    "truncated",
    "expired",
    "not_yet_valid",
    "not_zip",
    "oversize",
    "missing_entry",
    "wrong_chain",
    "wrap_pending",
)
FAULT_FIELDS = {"path", "method", "kind", "status", "retry_after", "count", "fraction", "delay"}
BUNDLE_FIELDS = {"kind", "certificate_id", "count"}
STATUS_CODES = {429: RATE_LIMITED, 404: NOT_FOUND}
CUT_BODY = b'{"data": '


class Drop(Exception):
    """Close the connection without answering."""


def _count(value: Any, field: str = "count") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad(f"field '{field}': must be a positive integer or null")
    return value


def _reject_unknown(spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise bad("unknown field(s): {}".format(", ".join(unknown)))


def _regex(pattern: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise bad(f"field '{field}': invalid regex: {exc}") from None


def _fraction(value: Any) -> float | None:
    if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise bad("field 'fraction': must be a number between 0 and 1")
    return value


def _spoiled(resp: Resp) -> Resp:
    """The first half of the answer as a 200 (a stream is closed and replaced by a cut envelope)."""
    if resp.stream is not None:
        resp.stream.close()
        resp.stream, resp.body = None, CUT_BODY
    text = resp.body
    return Resp(200, text[: max(9, len(text) // 2)] if text else CUT_BODY, headers={})


class Fault:
    def __init__(self, spec: dict[str, Any]) -> None:
        _reject_unknown(spec, FAULT_FIELDS)
        self.kind = spec.get("kind")
        if self.kind not in FAULT_KINDS:
            raise bad("field 'kind': must be one of {}".format(", ".join(FAULT_KINDS)))
        self.path = _regex(spec.get("path") or ".*", "path")
        method = spec.get("method")
        self.method = method.upper() if isinstance(method, str) and method else None
        self.status = int(spec.get("status") or 503)
        if not 400 <= self.status <= 599:
            raise bad("field 'status': must be 400..599")
        self.retry_after = spec.get("retry_after")
        self.count = _count(spec.get("count"))
        self.fraction = _fraction(spec.get("fraction"))
        self.delay = float(spec.get("delay") or 1.0)
        self.hits = 0

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.path.pattern,
            "method": self.method,
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "count": self.count,
            "fraction": self.fraction,
            "delay": self.delay,
            "hits": self.hits,
        }

    def fires(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        if not self.path.search(path):
            return False
        return self.fraction is None or random.random() < self.fraction

    def apply(self, handle: Callable[[], Resp], method_not_allowed_code: int) -> Resp:
        """The answer with this fault injected around ``handle`` (raises ``Drop`` for the dropping kinds)."""
        if self.kind == "drop":
            raise Drop()
        if self.kind == "status":
            return self._injected(method_not_allowed_code)
        if self.kind == "slow":
            time.sleep(self.delay)
        resp = handle()
        if self.kind == "drop_after":
            if resp.stream is not None:
                resp.stream.close()
            raise Drop()
        if self.kind == "malformed":
            return _spoiled(resp)
        return resp

    def _injected(self, method_not_allowed_code: int) -> Resp:
        headers = {"Retry-After": str(int(self.retry_after))} if self.retry_after is not None else {}
        code = method_not_allowed_code if self.status == 405 else STATUS_CODES.get(self.status, UNEXPECTED_RESULT)
        return json_resp(self.status, {"error": {"code": code, "what": f"injected fault: HTTP {self.status}"}}, headers)


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[Fault] = []
        self.bundle_rules: list[dict[str, Any]] = []

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {"faults": [f.describe() for f in self.rules], "bundle_faults": [dict(r) for r in self.bundle_rules]}

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        fault = Fault(spec)
        with self.lock:
            self.rules.append(fault)
        return fault.describe()

    def clear(self) -> None:
        with self.lock:
            self.rules = []

    def match(self, method: str, path: str) -> Fault | None:
        """The first rule that fires for this request (consuming one of its count), or None."""
        with self.lock:
            for rule in list(self.rules):
                if not rule.fires(method, path):
                    continue
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    def around(self, method: str, path: str, handle: Callable[[], Resp], method_not_allowed_code: int) -> Resp:
        """The one seam of request faults: ``handle()``'s answer, with the first matching fault injected."""
        fault = self.match(method, path)
        if fault is None:
            return handle()
        return fault.apply(handle, method_not_allowed_code)

    # -- bundle faults ---------------------------------------------------
    def add_bundle(self, spec: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(spec, BUNDLE_FIELDS)
        kind = spec.get("kind")
        if kind not in BUNDLE_KINDS:
            raise bad("field 'kind': must be one of {}".format(", ".join(BUNDLE_KINDS)))
        cid = spec.get("certificate_id")
        if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int)):
            raise bad("field 'certificate_id': must be an integer or null")
        rule = {"kind": kind, "certificate_id": cid, "count": _count(spec.get("count"))}
        with self.lock:
            self.bundle_rules.append(rule)
        return dict(rule)

    def clear_bundle(self) -> None:
        with self.lock:
            self.bundle_rules = []

    def match_bundle(self, certificate_id: int, only: str | None = None, skip: str | None = None) -> str | None:
        """The kind of the first bundle rule for this certificate (consuming one of its count), or None.
        ``only`` / ``skip``: consider only rules of that kind / all other kinds."""
        with self.lock:
            for rule in list(self.bundle_rules):
                if rule["certificate_id"] is not None and rule["certificate_id"] != certificate_id:
                    continue
                if (only is not None and rule["kind"] != only) or (skip is not None and rule["kind"] == skip):
                    continue
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.bundle_rules.remove(rule)
                return rule["kind"]
        return None


class RateLimiter:
    """Sliding window per key name: at most ``limit`` requests in ``window`` seconds."""

    def __init__(self, limit: int | None = None, window: float | None = None) -> None:
        self.lock = threading.Lock()
        self.hits: dict[str, deque[float]] = {}
        self.configure(limit, window)

    def configure(self, limit: int | None, window: float | None) -> None:
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise bad("field 'limit': must be a positive integer or null")
            if not isinstance(window, (int, float)) or isinstance(window, bool) or window <= 0:
                raise bad("field 'window': must be a positive number of seconds")
        with self.lock:
            self.limit = limit
            self.window = float(window) if limit is not None else None
            self.hits = {}

    def check(self, key: str) -> int | None:
        """None when allowed, else the Retry-After seconds (int >= 1)."""
        with self.lock:
            if self.limit is None:
                return None
            now = time.monotonic()
            q = self.hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1, math.ceil(q[0] + self.window - now))
            q.append(now)
            return None

    def enforce(self, key: str) -> None:
        """Raise the 429 (with Retry-After) when ``key`` is over its limit."""
        retry = self.check(key)
        if retry is not None:
            raise ApiError(
                429,
                RATE_LIMITED,
                f"rate limited: API key '{key}' exceeded {self.limit} requests per {self.window:g} s",
                {"Retry-After": str(retry)},
            )


def parse_rate(text: str) -> tuple[int, float]:
    """``N/SECONDS`` -> (N, SECONDS)."""
    try:
        n, s = str(text).split("/", 1)
        return int(n), float(s)
    except ValueError:
        raise ValueError("--rate-limit must look like N/SECONDS, e.g. 10/1") from None
