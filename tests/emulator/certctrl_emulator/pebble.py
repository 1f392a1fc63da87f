"""Start and stop pebble (Let's Encrypt's ACME test server) for tests and the demo.

with Pebble(workdir, always_valid=False, dns=True) as peb:
    peb.directory_url, peb.tls_ca_file, peb.http_port, peb.root_pem()

Debian's package ships no certificates and reads a relative default config, so everything lives in
``workdir``: ``tls/`` (a local CA + a leaf for localhost/127.0.0.1), ``pebble-config.json``, the logs, and
``pebble.json`` (the CLI's info file). All ports are free ones, so parallel test workers do not collide.

python -m certctrl_emulator.pebble start DIR [--always-valid] [--no-dns]   # prints and writes DIR/pebble.json
python -m certctrl_emulator.pebble stop DIR
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Callable

from . import pki

PEBBLE = "pebble"
CHALLTESTSRV = "pebble-challtestsrv"
INFO_NAME = "pebble.json"
# 90 days like Let's Encrypt, so renewal windows of the collection behave as in production (pebble: 5 years)
DEFAULT_VALIDITY = 7776000


def pebble_available(dns: bool = False) -> bool:
    """True when the ``pebble`` binary (and with ``dns`` also ``pebble-challtestsrv``) is on PATH."""
    return unavailable_reason(dns) is None


def unavailable_reason(dns: bool = False) -> str | None:
    missing = [b for b in (PEBBLE, CHALLTESTSRV if dns else None) if b and shutil.which(b) is None]
    if not missing:
        return None
    return "{} not on PATH: install Debian's 'pebble' package (apt-get install pebble)".format(" and ".join(missing))


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (all bound at once, then released)."""
    socks = []
    try:
        for _i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class PebbleError(RuntimeError):
    pass


class Pebble:
    """One pebble (plus, with ``dns``, a pebble-challtestsrv answering every A query with 127.0.0.1).

    ``always_valid``: PEBBLE_VA_ALWAYS_VALID (no validation at all). Otherwise the VA really fetches
    ``http://<name>:<http_port>/.well-known/acme-challenge/<token>``; ``dns=False`` then resolves names with
    the system resolver (only ``localhost`` is safe). ``authz_reuse`` 0 or 100 keeps it deterministic;
    ``nonce_reject`` (percent, pebble's default is 5) exercises a client's badNonce handling.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        always_valid: bool = False,
        dns: bool = True,
        authz_reuse: int = 0,
        nonce_reject: int = 0,
        validity: int = DEFAULT_VALIDITY,
        http_port: int | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 20.0,
        grace: float = 0.3,
        die_with_parent: bool = False,
    ) -> None:
        self.workdir = os.path.abspath(str(workdir))
        self.always_valid = always_valid
        self.dns = dns
        self.authz_reuse = int(authz_reuse)
        self.nonce_reject = int(nonce_reject)
        self.validity = validity
        self.http_port = http_port
        self.host = host
        self.start_timeout = start_timeout
        self.grace = grace  # pebble keeps no state, so a short SIGTERM grace loses nothing
        self.die_with_parent = die_with_parent  # Linux: SIGTERM when the process that started it dies, even by SIGKILL
        self.proc = self.dns_proc = None
        self.directory_url = self.management_url = self.tls_ca_file = self.dns_server = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Pebble:
        reason = unavailable_reason(self.dns)
        if reason:
            raise PebbleError(reason)
        os.makedirs(self.workdir, exist_ok=True)
        # the pebble CA files (ca.pem, server.pem with the chain, server.key) of the emulator's own TLS helper
        self.tls_ca_file, cert_file, key_file = pki.server_tls_files(os.path.join(self.workdir, "tls"))
        for attempt in range(3):  # a free port can be taken between choosing and binding it: choose again
            try:
                self._start_once(cert_file, key_file)
                return self
            except BaseException as exc:
                self.stop()
                if not isinstance(exc, PebbleError) or "address already in use" not in str(exc) or attempt == 2:
                    raise
        return self

    def _start_once(self, cert_file: str, key_file: str) -> None:
        listen, management, tls_port, dns_port, dns_mgmt, http = free_ports(6, self.host)
        http_port = self.http_port or http
        if self.dns:
            self.dns_server = f"{self.host}:{dns_port}"
            cmd = [CHALLTESTSRV, "-dns01", self.dns_server, "-http01", "", "-https01", "", "-tlsalpn01", ""]
            # no AAAA answers: the emulator's responder listens on IPv4 only
            cmd += ["-management", f"{self.host}:{dns_mgmt}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]
            self.dns_proc = self._spawn(cmd, "challtestsrv.log", os.environ.copy())
            self._wait(lambda: _tcp_open(self.host, dns_mgmt), self.dns_proc, "challtestsrv.log")
        config = {
            "pebble": {
                "listenAddress": f"{self.host}:{listen}",
                "managementListenAddress": f"{self.host}:{management}",
                "certificate": cert_file,
                "privateKey": key_file,
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        if self.validity:
            config["pebble"]["certificateValidityPeriod"] = int(self.validity)
        config_file = os.path.join(self.workdir, "pebble-config.json")
        with open(config_file, "w") as fh:
            json.dump(config, fh, indent=2)
        env = dict(os.environ)
        # deterministic: no rejected nonces, no multi-second VA sleep, fixed authz reuse
        env.update({"PEBBLE_WFE_NONCEREJECT": str(self.nonce_reject), "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": str(self.authz_reuse)})
        env.pop("PEBBLE_VA_ALWAYS_VALID", None)
        if self.always_valid:
            env["PEBBLE_VA_ALWAYS_VALID"] = "1"
        cmd = [PEBBLE, "-config", config_file]
        if self.dns_server:
            cmd += ["-dnsserver", self.dns_server]
        self.proc = self._spawn(cmd, "pebble.log", env)
        self.http_port = http_port
        self.directory_url = f"https://{self.host}:{listen}/dir"
        self.management_url = f"https://{self.host}:{management}"
        self._wait(self._directory_answers, self.proc, "pebble.log")

    def _spawn(self, cmd: list[str], log_name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(os.path.join(self.workdir, log_name), "ab") as log:
            # own session: outlives the CLI that started it, and a terminal's ^C does not reach it
            return subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def _wait(self, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log_name: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PebbleError(f"{proc.args[0]} exited with {proc.returncode}: {self._log_tail(log_name)}")
            if ready():
                return
            time.sleep(0.02)
        raise PebbleError(f"{proc.args[0]} not ready within {self.start_timeout}s: {self._log_tail(log_name)}")

    def _log_tail(self, name: str) -> str:
        try:
            with open(os.path.join(self.workdir, name), errors="replace") as fh:
                return fh.read()[-2000:].strip()
        except OSError:
            return ""

    def _directory_answers(self) -> bool:
        try:
            return "newOrder" in json.loads(self._get(self.directory_url))
        except (OSError, ValueError):
            return False

    def _get(self, url: str) -> str:
        ctx = ssl.create_default_context(cafile=self.tls_ca_file)
        with urllib.request.urlopen(url, timeout=10, context=ctx) as resp:
            return resp.read().decode()

    def stop(self) -> None:
        for attr in ("proc", "dns_proc"):
            proc = getattr(self, attr)
            if proc is not None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(self.grace)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
                setattr(self, attr, None)

    def __enter__(self) -> Pebble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- management API ------------------------------------------------------
    def root_pem(self, index: int = 0) -> str:
        """Pebble's issuing root (new on every start), from the management API."""
        return self._get(f"{self.management_url}/roots/{index}")

    def save_root(self, path: str | None = None) -> str:
        """Write root_pem() to ``path`` (default ``<workdir>/root.pem``); returns the path."""
        path = path or os.path.join(self.workdir, "root.pem")
        with open(path, "w") as fh:
            fh.write(self.root_pem())
        return path

    def intermediate_pem(self, index: int = 0) -> str:
        return self._get(f"{self.management_url}/intermediates/{index}")

    def cert_status(self, serial_hex: str) -> dict[str, Any]:
        """``{"Status": "Valid" | "Revoked", "Certificate": PEM, ...}`` of a certificate pebble issued."""
        try:
            return json.loads(self._get(f"{self.management_url}/cert-status-by-serial/{serial_hex}"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise KeyError(f"pebble issued no certificate with serial {serial_hex}") from None
            raise

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def info(self) -> dict[str, Any]:
        return {
            "directory_url": self.directory_url,
            "management_url": self.management_url,
            "tls_ca_file": self.tls_ca_file,
            "http_port": self.http_port,
            "always_valid": self.always_valid,
            "dns_server": self.dns_server,
            "pid": self.pid,
            "dns_pid": self.dns_proc.pid if self.dns_proc else None,
        }


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG fires when the starting *thread* ends: only for a start from a long-lived main thread
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# -- CLI: pebble outlives the command; stop it later by the pids in DIR/pebble.json -------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _is_ours(pid: int) -> bool:
    """Never signal a recycled pid: the process must still be a pebble binary."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv0 = fh.read().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return _alive(pid)  # no /proc: trust the pid
    return os.path.basename(argv0) in (PEBBLE, CHALLTESTSRV)


def stop_pid(pid: int | None, grace: float = 0.3) -> bool:
    if not pid or not _alive(pid) or not _is_ours(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m certctrl_emulator.pebble", description="Start/stop pebble for tests and demos.")
    sub = p.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser("start", help="start pebble in DIR, write DIR/pebble.json, print it")
    start.add_argument("dir")
    start.add_argument("--always-valid", action="store_true", help="PEBBLE_VA_ALWAYS_VALID: skip validation")
    start.add_argument("--no-dns", action="store_true", help="no pebble-challtestsrv: names resolve via the system")
    start.add_argument("--http-port", type=int, help="pebble's HTTP-01 port (default: a free one)")
    start.add_argument("--authz-reuse", type=int, default=0, help="PEBBLE_AUTHZREUSE percentage (default 0)")
    stop = sub.add_parser("stop", help="stop the pebble recorded in DIR/pebble.json")
    stop.add_argument("dir")
    args = p.parse_args(argv)
    info_file = os.path.join(args.dir, INFO_NAME)
    if args.cmd == "start":
        peb = Pebble(args.dir, always_valid=args.always_valid, dns=not args.no_dns, http_port=args.http_port, authz_reuse=args.authz_reuse)
        try:
            peb.start()
            info = {**peb.info(), "root_file": peb.save_root()}
        except (OSError, PebbleError) as exc:
            peb.stop()
            sys.stderr.write(f"pebble: {exc}\n")
            return 2
        tmp = info_file + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(info, fh, indent=2)
        os.replace(tmp, info_file)
        print(json.dumps(info, indent=2))
        return 0
    try:
        with open(info_file) as fh:
            info = json.load(fh)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"pebble: no info file: {exc}\n")
        return 1
    for key in ("pid", "dns_pid"):
        stop_pid(info.get(key))
    os.unlink(info_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
