"""The emulator's configuration: one frozen object built once (CLI arguments, ``Emulator(...)``), read everywhere."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from .shape import DEFAULT_PROFILE

Rate = tuple[int, float]


@dataclass(frozen=True)
class Config:
    """Everything an emulator instance is started with. Runtime changes (``/_admin/issuance``, ``/_admin/rate-limit``,
    ``/_admin/shape``) live in the objects the app holds; this stays what the instance was started with."""

    host: str = "127.0.0.1"
    port: int = 0
    db: str | None = None
    seed: str | dict[str, Any] | None = None  # a seed file, or the seed itself
    info_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_dir: str | None = None
    http_port: int = 0
    admin_token: str | None = None
    issue_delay: float = 0.5
    fail_domain: str | None = None
    rate_limit: Rate | None = None
    request_log: str | None = None
    workdir: str | None = None
    acme_directory: str | None = None
    acme_ca_file: str | None = None
    acme_http_port: int = 5002
    acme_pebble: dict[str, Any] | None = None  # reported in the info when the CLI started pebble itself
    profile: str = DEFAULT_PROFILE

    def tls(self) -> tuple[str, str] | None:
        """(cert, key) given on the command line; ``tls_dir`` is resolved by the instance."""
        if not (self.tls_cert or self.tls_key):
            return None
        if not (self.tls_cert and self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        return self.tls_cert, self.tls_key

    @classmethod
    def from_args(cls, args: argparse.Namespace, rate_limit: Rate | None = None, acme_pebble: dict[str, Any] | None = None) -> Config:
        names = {f.name for f in dataclasses.fields(cls)} - {"workdir", "rate_limit", "acme_pebble"}
        return cls(**{name: getattr(args, name) for name in names}, rate_limit=rate_limit, acme_pebble=acme_pebble)
