"""Fault injection (request faults, bundle faults) and the per-key rate limit."""

import math
import random
import re
import threading
import time
from collections import deque

from .errors import bad

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


def _count(value, field="count"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad(f"field '{field}': must be a positive integer or null")
    return value


class Fault:
    def __init__(self, spec):
        allowed = {"path", "method", "kind", "status", "retry_after", "count", "fraction", "delay"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise bad("unknown field(s): {}".format(", ".join(unknown)))
        self.kind = spec.get("kind")
        if self.kind not in FAULT_KINDS:
            raise bad("field 'kind': must be one of {}".format(", ".join(FAULT_KINDS)))
        try:
            self.path = re.compile(spec.get("path") or ".*")
        except re.error as exc:
            raise bad(f"field 'path': invalid regex: {exc}") from None
        method = spec.get("method")
        self.method = method.upper() if isinstance(method, str) and method else None
        self.status = int(spec.get("status") or 503)
        if not 400 <= self.status <= 599:
            raise bad("field 'status': must be 400..599")
        self.retry_after = spec.get("retry_after")
        self.count = _count(spec.get("count"))
        fraction = spec.get("fraction")
        if fraction is not None and not (isinstance(fraction, (int, float)) and 0 <= fraction <= 1):
            raise bad("field 'fraction': must be a number between 0 and 1")
        self.fraction = fraction
        self.delay = float(spec.get("delay") or 1.0)
        self.hits = 0

    def describe(self):
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


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.bundle_rules = []

    def add(self, spec):
        fault = Fault(spec)
        with self.lock:
            self.rules.append(fault)
        return fault.describe()

    def clear(self):
        with self.lock:
            self.rules = []

    def match(self, method, path):
        """The first rule that fires for this request (consuming one of its count), or None."""
        with self.lock:
            for rule in list(self.rules):
                if rule.method and rule.method != method:
                    continue
                if not rule.path.search(path):
                    continue
                if rule.fraction is not None and random.random() >= rule.fraction:
                    continue
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    # -- bundle faults ---------------------------------------------------
    def add_bundle(self, spec):
        unknown = sorted(set(spec) - {"kind", "certificate_id", "count"})
        if unknown:
            raise bad("unknown field(s): {}".format(", ".join(unknown)))
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

    def clear_bundle(self):
        with self.lock:
            self.bundle_rules = []

    def match_bundle(self, certificate_id, only=None, skip=None):
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

    def __init__(self, limit=None, window=None):
        self.lock = threading.Lock()
        self.hits = {}
        self.configure(limit, window)

    def configure(self, limit, window):
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise bad("field 'limit': must be a positive integer or null")
            if not isinstance(window, (int, float)) or isinstance(window, bool) or window <= 0:
                raise bad("field 'window': must be a positive number of seconds")
        with self.lock:
            self.limit = limit
            self.window = float(window) if limit is not None else None
            self.hits = {}

    def check(self, key):
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


def parse_rate(text):
    """``N/SECONDS`` -> (N, SECONDS)."""
    try:
        n, s = str(text).split("/", 1)
        return int(n), float(s)
    except ValueError:
        raise ValueError("--rate-limit must look like N/SECONDS, e.g. 10/1") from None
