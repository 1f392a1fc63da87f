"""The request log (in memory, optionally appended to a JSON-lines file) and the counters over it."""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from typing import IO, Any

MAX_ENTRIES = 200000
WRITES = ("POST", "PUT", "DELETE")


class RequestLog:
    def __init__(self, path: str | None = None) -> None:
        self.lock = threading.Lock()
        self.path = path
        self._fh: IO[str] | None = open(path, "a", buffering=1) if path else None  # noqa: SIM115 - lives as long as the app
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.log: list[dict[str, Any]] = []
            self.total = 0
            self.by_route: Counter[str] = Counter()
            self.by_method: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.writes = 0

    def record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":"))
        with self.lock:
            self.total += 1
            self.by_route[entry["route"]] += 1
            self.by_method[entry["method"]] += 1
            self.by_status[str(entry["status"])] += 1
            if entry["method"] in WRITES and entry["path"].startswith("/apiv1/"):
                self.writes += 1
            if len(self.log) < MAX_ENTRIES:
                self.log.append(entry)
            self._write(line)

    def _write(self, line: str) -> None:
        if not self._fh:
            return
        try:
            self._fh.write(line + "\n")
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"certctrl-emulator: request log write failed: {exc}\n")

    def counters(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": self.total,
                "by_route": dict(self.by_route),
                "by_method": dict(self.by_method),
                "by_status": dict(self.by_status),
                "writes": self.writes,
            }

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.log)

    def close(self) -> None:
        with self.lock:
            if self._fh:
                self._fh.close()
                self._fh = None
