"""The emulator application: state, configuration, auth, request log and counters (no HTTP here)."""

import json
import os
import re
import secrets
import sys
import threading
import time
from collections import Counter

from . import pki
from . import scopes as scopes_mod
from .errors import FORBIDDEN, ApiError, bad, unauthorized
from .faults import Faults, RateLimiter
from .seed import load_seed
from .shape import DEFAULT_PROFILE, Shape
from .store import Store


class Resp:
    """A response: JSON (``data``/error envelope), raw bytes, or a file streamed from disk."""

    def __init__(self, status=200, body=b"", ctype="application/json", headers=None, stream=None, length=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = dict(headers or {})
        self.stream = stream  # an open binary file, streamed then closed
        self.length = length if length is not None else len(body)


def json_resp(status, obj, headers=None):
    return Resp(status, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)


def ok(data, status=200):
    return json_resp(status, {"data": data})


def no_content():
    return Resp(204, b"", ctype=None)


def error_resp(err):
    return json_resp(err.status, err.body(), err.headers)


class Req:
    __slots__ = ("app", "headers", "key", "method", "params", "path", "query", "raw", "scopes", "user_id")

    def __init__(self, app, method, path, query, headers, raw):
        self.app = app
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.params = ()
        self.key = None
        self.scopes = []
        self.user_id = None

    def need(self, resource, ident, action):
        scopes_mod.require(self.scopes, resource, ident, action)


class App:
    def __init__(
        self,
        db=None,
        seed=None,
        admin_token=None,
        issue_delay=0.5,
        fail_domain=None,
        rate_limit=None,
        request_log=None,
        workdir=None,
        acme_directory=None,
        acme_ca_file=None,
        acme_http_port=5002,
        acme_http_host="127.0.0.1",
        acme_pebble=None,
        profile=DEFAULT_PROFILE,
    ):
        self.shape = Shape(profile)  # how answers look: production's shape or the lenient contract one
        self.workdir = workdir
        self.acme = None  # the real ACME backend (acme_backend.AcmeBackend); None: simulated issuance
        self.store = Store(db)
        load_seed(self.store, seed)
        self.admin_token = admin_token or "adm_" + secrets.token_hex(16)
        self.faults = Faults()
        self.limiter = RateLimiter(*(rate_limit or (None, None)))
        self.issue_delay = float(issue_delay)
        self.fail_domain = None
        self.set_fail_domain(fail_domain)
        self.log_lock = threading.Lock()
        self.request_log_path = request_log
        self._log_fh = None
        if request_log:
            self._log_fh = open(request_log, "a", buffering=1)  # noqa: SIM115 - lives as long as the app
        self.reset_counters()
        self.worker = None
        self._ensure_pki()
        self.acme_pebble = acme_pebble  # reported in the info when the CLI started pebble itself
        if acme_directory:
            if acme_ca_file and not os.path.isfile(acme_ca_file):
                self.close()
                raise ValueError(f"--acme-ca-file {acme_ca_file}: no such file")
            from .acme_backend import AcmeBackend  # imports acme: only when a real backend is asked for

            try:
                self.acme = AcmeBackend(self.store, acme_directory, acme_ca_file, acme_http_port, acme_http_host)
            except OSError as exc:
                self.close()
                raise OSError(f"ACME HTTP-01 responder on {acme_http_host}:{acme_http_port}: {exc.strerror or exc}") from None

    # -- configuration ---------------------------------------------------
    def set_fail_domain(self, pattern):
        if pattern is None or pattern == "":
            self.fail_domain = None
            return
        try:
            self.fail_domain = re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise bad(f"field 'fail_domain': invalid regex: {exc}") from None

    def _ensure_pki(self):
        """Emulated ACME root + intermediate, and keys of seeded self CAs (generated once, kept in the db)."""
        st = self.store
        with st.lock:
            acme = st.meta_get("acme_pki")
            if not acme:
                root_key, root = pki.make_ca("Emulated ACME Root X1", organization="cert-ctrl emulator ACME")
                int_key, inter = pki.make_ca("Emulated ACME Intermediate R1", root_key, root, days=1825, organization="cert-ctrl emulator ACME")
                acme = {
                    "root_cert": pki.cert_pem(root),
                    "int_key": pki.key_pem(int_key),
                    "int_cert": pki.cert_pem(inter),
                }
                st.meta_set("acme_pki", acme)
            self.acme_pki = acme
            for ca in st.all("SELECT id, name FROM cas WHERE key_pem IS NULL"):
                key, cert = pki.make_ca(ca["name"])
                st.update("cas", ca["id"], {"key_pem": pki.key_pem(key), "cert_pem": pki.cert_pem(cert)})

    # -- auth --------------------------------------------------------------
    def authenticate(self, req):
        header = req.headers.get("Authorization")
        if not header:
            raise unauthorized("missing API key: send 'Authorization: Bearer ak_...'")
        parts = header.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
            raise unauthorized("malformed Authorization header: expected 'Bearer <api key>'")
        token = parts[1].strip()
        key = self.store.one("SELECT * FROM api_keys WHERE token = ?", (token,))
        if key is None:
            if token == self.admin_token:
                raise ApiError(403, FORBIDDEN, "the admin token is not an API key")
            raise unauthorized("unknown API key")
        if key["revoked"]:
            raise unauthorized("API key '{}' has been revoked".format(key["name"]))
        req.key = key
        req.scopes = scopes_mod.parse_scopes(json.loads(key["scopes"]))
        req.user_id = key["user_id"]

    def check_admin(self, req):
        header = req.headers.get("Authorization") or ""
        parts = header.split(None, 1)
        token = parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else ""
        if not token:
            raise unauthorized("admin endpoints need 'Authorization: Bearer <admin_token>'")
        if secrets.compare_digest(token, self.admin_token):
            return
        if self.store.one("SELECT id FROM api_keys WHERE token = ?", (token,)):
            raise ApiError(403, FORBIDDEN, "API keys are not accepted on admin endpoints")
        raise unauthorized("unknown admin token")

    # -- request log and counters -------------------------------------------
    def reset_counters(self):
        with getattr(self, "log_lock", threading.Lock()):
            self.log = []
            self.total = 0
            self.by_route = Counter()
            self.by_method = Counter()
            self.by_status = Counter()
            self.writes = 0

    def record(self, entry):
        line = json.dumps(entry, separators=(",", ":"))
        with self.log_lock:
            self.total += 1
            self.by_route[entry["route"]] += 1
            self.by_method[entry["method"]] += 1
            self.by_status[str(entry["status"])] += 1
            if entry["method"] in ("POST", "PUT", "DELETE") and entry["path"].startswith("/apiv1/"):
                self.writes += 1
            if len(self.log) < 200000:
                self.log.append(entry)
            if self._log_fh:
                try:
                    self._log_fh.write(line + "\n")
                except (OSError, ValueError) as exc:
                    sys.stderr.write(f"certctrl-emulator: request log write failed: {exc}\n")

    def counters(self):
        with self.log_lock:
            return {
                "total": self.total,
                "by_route": dict(self.by_route),
                "by_method": dict(self.by_method),
                "by_status": dict(self.by_status),
                "writes": self.writes,
            }

    def requests(self):
        with self.log_lock:
            return list(self.log)

    # -- info ----------------------------------------------------------------
    def acme_backend_info(self):
        if self.acme is None:
            return {"kind": "simulated", "directory": None}
        out = self.acme.describe()
        if self.acme_pebble:
            out["pebble"] = self.acme_pebble
        return out

    def info(self):
        st = self.store
        keys = {}
        for k in st.all("SELECT * FROM api_keys ORDER BY id"):
            keys[k["name"]] = {
                "token": k["token"],
                "scopes": json.loads(k["scopes"]),
                "user_id": k["user_id"],
                "revoked": bool(k["revoked"]),
            }
        devices = st.all("SELECT id, device_public_id, name, status, platform, user_id FROM devices ORDER BY id LIMIT 10000")
        return {
            "profile": self.shape.profile,
            "admin_token": self.admin_token,
            "api_keys": keys,
            "devices": devices,
            "cas": st.all("SELECT id, name, user_id FROM cas ORDER BY id"),
            "users": st.all("SELECT id, name, email FROM users ORDER BY id"),
            "acme_backend": self.acme_backend_info(),
        }

    def close(self):
        if self.worker:
            self.worker.stop()
        if self.acme is not None:
            self.acme.close()
            self.acme = None
        with self.log_lock:
            if self._log_fh:
                self._log_fh.close()
                self._log_fh = None
        self.store.close()

    @staticmethod
    def now():
        return time.time()
