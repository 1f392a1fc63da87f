"""Fixture API used by every test suite of the project: an in-process emulator and a small admin client.

with Emulator() as emu:
    requests.get(emu.base_url + "/apiv1/me/devices", headers={"Authorization": "Bearer " + emu.token()},
                 verify=emu.ca_file)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, Optional

from .config import Config
from .faults import parse_rate
from .instance import Instance
from .shape import DEFAULT_PROFILE, ENV_VAR, check_profile

if TYPE_CHECKING:
    from .pebble import Pebble

AcmeOptions = tuple[Optional[str], Optional[str], Optional[int]]


class _JsonClient:
    """Stdlib (urllib) JSON client of the emulator with a bearer token; answers the envelope's ``data``."""

    def __init__(self, base_url: str, token: str, ca_file: str | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._ctx = ssl.create_default_context(cafile=ca_file) if base_url.startswith("https") else None

    def _send(self, method: str, path: str, body: Any = None, label: str = "request") -> tuple[str, bytes]:
        """(Content-Type, body) of a 2xx answer; RuntimeError naming the status and the error's ``what`` otherwise."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ctx) as resp:
                return resp.headers.get("Content-Type") or "", resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                what = json.loads(raw)["error"]["what"]
            except (ValueError, KeyError, TypeError):
                what = raw[:200]
            raise RuntimeError(f"{label} {method} {path} -> {exc.code}: {what}") from None

    def _request(self, method: str, path: str, body: Any = None, label: str = "request") -> Any:
        _ctype, raw = self._send(method, path, body, label)
        if not raw:
            return None
        body = json.loads(raw)
        return body.get("data", body)  # a top-level answer (202 assign) has no envelope


class UserClient(_JsonClient):
    """The user API (/apiv1/me) with an API key: how tests arrange and inspect state as a user would,
    without going through the collection code under test."""

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return self._request(method, "/apiv1/me" + path + query, body, label="API")

    def register_device(self, device_public_id: str, dev_pk: bytes | str, **fields: Any) -> dict[str, Any]:
        """``POST /devices`` as the agent registers: ``dev_pk`` raw (32 bytes) or already standard base64; ``fields``:
        ``platform``, ``model``, ``app_version``, ``name``, ``ip``, ``user_agent``. Answers ``{"device", "session"}``."""
        pk = dev_pk if isinstance(dev_pk, str) else base64.b64encode(dev_pk).decode()
        return self.call("POST", "/devices", {"device_public_id": device_public_id, "dev_pk": pk, **fields})

    def bundle(self, device_id: int, certificate_id: int, fmt: str | None = None) -> Any:
        """The device bundle: the zip's bytes, or the ``data`` of a JSON bundle (DEVICE_REQUIRED's AEAD fields,
        MASTER_ONLY's plaintext with ``fmt="json"``). A 409 ``WRAP_PENDING`` raises RuntimeError naming it."""
        query = "?" + urllib.parse.urlencode({"format": fmt}) if fmt else ""
        ctype, raw = self._send("GET", f"/apiv1/me/devices/{device_id}/certificates/{certificate_id}/bundle{query}", label="API")
        return raw if ctype.startswith("application/zip") else json.loads(raw)["data"]


class AdminClient(_JsonClient):
    """Stdlib (urllib) client of /_admin."""

    def __init__(self, base_url: str, admin_token: str, ca_file: str | None = None, timeout: float = 30) -> None:
        super().__init__(base_url, admin_token, ca_file, timeout)
        self.admin_token = admin_token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self._request(method, path, body, label="admin")

    def info(self) -> dict[str, Any]:
        return self.call("GET", "/_admin/info")

    def counters(self) -> dict[str, Any]:
        return self.call("GET", "/_admin/counters")

    def requests(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_admin/requests")

    def reset(self) -> None:
        self.call("POST", "/_admin/reset", {})

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self.call("POST", "/_admin/faults", spec)

    def clear_faults(self) -> None:
        self.call("DELETE", "/_admin/faults")

    def add_bundle_fault(self, kind: str, certificate_id: int | None = None, count: int | None = None) -> dict[str, Any]:
        """``kind``: key_mismatch, traversal, ..., or ``wrap_pending`` (the bundle GET answers 409 ``WRAP_PENDING``)."""
        return self.call("POST", "/_admin/bundle-faults", {"kind": kind, "certificate_id": certificate_id, "count": count})

    def clear_bundle_faults(self) -> None:
        self.call("DELETE", "/_admin/bundle-faults")

    def set_rate_limit(self, limit: int | None, window: float | None) -> dict[str, Any]:
        return self.call("POST", "/_admin/rate-limit", {"limit": limit, "window": window})

    def configure_issuance(self, delay: float | None = None, fail_domain: str | None = None) -> dict[str, Any]:
        """``delay`` None keeps the current delay; ``fail_domain`` None (or "") clears the rule."""
        body = {"fail_domain": fail_domain}
        if delay is not None:
            body["delay"] = delay
        return self.call("POST", "/_admin/issuance", body)

    def cancel_issue(self, certificate_id: int, issue_history_id: int) -> dict[str, Any]:
        return self.call("POST", f"/_admin/certificates/{certificate_id}/issues/{issue_history_id}/cancel", {})

    def set_certificate(self, cert_id: int, policy: str | None = None, server_decrypt_export: bool | None = None) -> dict[str, Any]:
        """Set a certificate's key distribution ``policy`` and ``server_decrypt_export`` (None keeps the value);
        answers ``{"id", "policy", "server_decrypt_export"}``."""
        body = {}
        if policy is not None:
            body["policy"] = policy
        if server_decrypt_export is not None:
            body["server_decrypt_export"] = server_decrypt_export
        return self.call("PUT", f"/_admin/certificates/{cert_id}", body)

    def set_shape(self, **knobs: Any) -> dict[str, Any]:
        """Change how the emulator answers: ``export_forbidden`` (bool), ``assign_answer`` ("204", "200", "202"),
        ``der_marker`` (str or None), ``list_cap`` (int or None). Answers the whole shape (with ``profile``)."""
        return self.call("POST", "/_admin/shape", knobs)

    def shape(self) -> dict[str, Any]:
        return self.call("GET", "/_admin/shape")

    def create_api_key(self, name: str, scopes: list[str], user_id: int = 1) -> str:
        return self.call("POST", "/_admin/api-keys", {"name": name, "scopes": list(scopes), "user_id": user_id})["token"]

    def create_devices(self, count: int, name_prefix: str = "dev", status: str = "ACTIVE", platform: str = "Linux", user_id: int = 1) -> list[int]:
        body = {"count": count, "name_prefix": name_prefix, "status": status, "platform": platform, "user_id": user_id}
        return self.call("POST", "/_admin/devices", body)["ids"]

    def create_certificates(self, count: int, acct_id: int, name_prefix: str = "cert", domain: str = "bulk.example.test", user_id: int = 1) -> list[int]:
        """Certificate records that were never issued, named ``<name_prefix><id>.<domain>``; returns their ids."""
        body = {"count": count, "acct_id": acct_id, "name_prefix": name_prefix, "domain": domain, "user_id": user_id}
        return self.call("POST", "/_admin/certificates", body)["ids"]


class Emulator:
    """An in-process emulator on background threads (HTTPS with a generated CA by default)."""

    def __init__(
        self,
        *,
        tls: bool = True,
        seed: str | dict[str, Any] | None = None,
        db: str | None = None,
        issue_delay: float = 0.2,
        fail_domain: str | None = None,
        rate_limit: str | tuple[int, float] | None = None,
        workdir: str | None = None,
        acme_directory: str | None = None,
        acme_ca_file: str | None = None,
        acme_http_port: int | None = None,
        pebble: Pebble | None = None,
        profile: str | None = None,
    ) -> None:
        """``profile``: ``production`` or ``contract``; None takes ``$CERTCTRL_EMULATOR_PROFILE``, else ``production``.
        ``acme_*``: issue letsencrypt/zerossl certificates through a real ACME server (HTTP-01 responder on
        ``acme_http_port``, default 5002); ``pebble``: a started ``certctrl_emulator.pebble.Pebble`` gives the
        directory, its TLS CA and (unless ``acme_http_port`` is given) its httpPort. The caller stops pebble."""
        self.acme_directory, self.acme_ca_file, self.acme_http_port = _acme_options(acme_directory, acme_ca_file, acme_http_port, pebble)
        self.profile = check_profile(profile or os.environ.get(ENV_VAR) or DEFAULT_PROFILE)
        self.tls = tls
        self.seed = seed
        self.db = db
        self.issue_delay = issue_delay
        self.fail_domain = fail_domain
        self.rate_limit = rate_limit
        self._own_workdir = workdir is None
        self.workdir = workdir
        self.instance = None
        self.base_url = self.http_url = self.ca_file = self.admin_token = None
        self.info = None
        self.admin = None

    def config(self) -> Config:
        """The instance's configuration (the work directory made when none was given)."""
        rate = self.rate_limit
        if isinstance(rate, str):
            rate = parse_rate(rate)
        return Config(
            db=self.db,
            seed=self.seed,
            info_file=os.path.join(self.workdir, "info.json"),
            tls_dir=os.path.join(self.workdir, "tls") if self.tls else None,
            issue_delay=self.issue_delay,
            fail_domain=self.fail_domain,
            rate_limit=rate,
            request_log=os.path.join(self.workdir, "requests.jsonl"),
            workdir=self.workdir,
            acme_directory=self.acme_directory,
            acme_ca_file=self.acme_ca_file,
            acme_http_port=5002 if self.acme_http_port is None else self.acme_http_port,
            profile=self.profile,
        )

    def start(self) -> Emulator:
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="certctrl-emu-")
        os.makedirs(self.workdir, exist_ok=True)
        self.instance = Instance(self.config()).start()
        self.info = self.instance.info
        self.base_url = self.info["base_url"]
        self.http_url = self.info.get("http_url")
        self.ca_file = self.info.get("ca_file")
        self.admin_token = self.info["admin_token"]
        self.admin = AdminClient(self.http_url or self.base_url, self.admin_token)
        return self

    def stop(self) -> None:
        if self.instance is not None:
            self.instance.stop()
            self.instance = None
        if self._own_workdir and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def api(self, key: str = "full") -> UserClient:
        """A client of the user API authenticated with the API key named ``key``."""
        return UserClient(self.base_url, self.token(key), self.ca_file)

    def token(self, name: str = "full") -> str:
        key = self.info["api_keys"].get(name)
        if key is not None:
            return key["token"]
        if self.instance is not None:
            row = self.instance.app.store.api_key_by_name(name)
            if row:
                return row["token"]
        raise KeyError(f"no API key named {name!r}")

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _acme_options(directory: str | None, ca_file: str | None, http_port: int | None, pebble: Pebble | None) -> AcmeOptions:
    if pebble is None:
        return directory, ca_file, http_port
    return pebble.directory_url, pebble.tls_ca_file, pebble.http_port if http_port is None else http_port


def start_subprocess(
    args: list[str],
    workdir: str,
    timeout: float = 20,
    *,
    acme_directory: str | None = None,
    acme_ca_file: str | None = None,
    acme_http_port: int | None = None,
    pebble: Pebble | None = None,
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Run the ``certctrl-emulator`` console script with ``args`` (plus ``--info-file`` in ``workdir`` unless
    given); wait for the info file. Returns (Popen, info dict). The caller terminates the process.
    ``acme_*`` / ``pebble`` add the ``--acme-*`` options as for ``Emulator``."""
    args = list(args)
    acme_directory, acme_ca_file, acme_http_port = _acme_options(acme_directory, acme_ca_file, acme_http_port, pebble)
    for flag, value in (("--acme-directory", acme_directory), ("--acme-ca-file", acme_ca_file), ("--acme-http-port", acme_http_port)):
        if value is not None:
            args += [flag, str(value)]
    os.makedirs(workdir, exist_ok=True)
    if "--info-file" in args:
        info_file = args[args.index("--info-file") + 1]
    else:
        info_file = os.path.join(workdir, "info.json")
        args += ["--info-file", info_file]
    if os.path.exists(info_file):
        os.unlink(info_file)
    exe = shutil.which("certctrl-emulator", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [exe] if exe else [sys.executable, "-m", "certctrl_emulator"]
    proc = subprocess.Popen(cmd + args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(info_file):
            with open(info_file) as fh:
                return proc, json.load(fh)
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise RuntimeError("certctrl-emulator exited with {}: {}".format(proc.returncode, err.decode(errors="replace")))
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"certctrl-emulator did not write {info_file} within {timeout}s")


def require_pebble(dns: bool = True) -> None:
    """In a pytest fixture: skip when pebble (and with ``dns`` pebble-challtestsrv) is not installed, or fail
    when ``CERTCTRL_REQUIRE_PEBBLE=1`` (CI, where nothing may be skipped)."""
    from .pebble import unavailable_reason

    reason = unavailable_reason(dns)
    if reason:
        import pytest

        if os.environ.get("CERTCTRL_REQUIRE_PEBBLE") == "1":
            pytest.fail(f"CERTCTRL_REQUIRE_PEBBLE=1 but {reason}", pytrace=False)
        pytest.skip(reason)


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(argv)
