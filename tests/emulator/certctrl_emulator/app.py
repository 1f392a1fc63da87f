"""The emulator application: the objects a request reaches (no HTTP here).

``App`` only holds them, each with one responsibility: the configuration it started with, the answer shape,
the store, auth, request faults and bundle faults, the rate limiter, the request log and its counters, the
issuers (PKI), the issuance settings, the real ACME backend (or None: simulated issuance) and the worker."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .auth import Auth
from .config import Config
from .faults import Faults, RateLimiter
from .issuers import Issuers
from .requestlog import RequestLog
from .seed import load_seed
from .shape import Shape
from .store import Store
from .worker import Issuance

if TYPE_CHECKING:
    from .acme_backend import AcmeBackend
    from .worker import Worker


class App:
    def __init__(self, config: Config | None = None) -> None:
        config = config or Config()
        self.config = config
        self.shape = Shape(config.profile)  # how answers look: production's shape or the lenient contract one
        self.store = Store(config.db)
        load_seed(self.store, config.seed)
        self.auth = Auth(self.store, config.admin_token)
        self.faults = Faults()
        self.limiter = RateLimiter(*(config.rate_limit or (None, None)))
        self.issuance = Issuance(config.issue_delay, config.fail_domain)
        self.log = RequestLog(config.request_log)
        self.issuers = Issuers(self.store)
        self.worker: Worker | None = None
        self.acme: AcmeBackend | None = None
        try:
            self.acme = _acme_backend(config, self.store)
        except (OSError, ValueError):
            self.close()
            raise

    def acme_backend_info(self) -> dict[str, Any]:
        if self.acme is None:
            return {"kind": "simulated", "directory": None}
        out = self.acme.describe()
        if self.config.acme_pebble:
            out["pebble"] = self.config.acme_pebble
        return out

    def info(self) -> dict[str, Any]:
        st = self.store
        keys = {
            k["name"]: {"token": k["token"], "scopes": json.loads(k["scopes"]), "user_id": k["user_id"], "revoked": bool(k["revoked"])} for k in st.api_keys()
        }
        return {
            "profile": self.shape.profile,
            "admin_token": self.auth.admin_token,
            "api_keys": keys,
            "devices": st.devices(),
            "cas": st.cas(),
            "users": st.users(),
            "acme_backend": self.acme_backend_info(),
        }

    def close(self) -> None:
        if self.worker:
            self.worker.stop()
        if self.acme is not None:
            self.acme.close()
            self.acme = None
        self.log.close()
        self.store.close()


def _acme_backend(config: Config, store: Store) -> AcmeBackend | None:
    """The real ACME backend when a directory is configured (the VA reaches the responder where the API listens)."""
    if not config.acme_directory:
        return None
    if config.acme_ca_file and not os.path.isfile(config.acme_ca_file):
        raise ValueError(f"--acme-ca-file {config.acme_ca_file}: no such file")
    from .acme_backend import AcmeBackend  # imports acme: only when a real backend is asked for

    host, port = config.host, config.acme_http_port
    try:
        return AcmeBackend(store, config.acme_directory, config.acme_ca_file, port, host)
    except OSError as exc:
        raise OSError(f"ACME HTTP-01 responder on {host}:{port}: {exc.strerror or exc}") from None
