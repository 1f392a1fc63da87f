"""certctrl-emulator command line."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from .config import Config
from .faults import parse_rate
from .instance import Instance
from .shape import DEFAULT_PROFILE, ENV_VAR, PROFILES

if TYPE_CHECKING:
    from .pebble import Pebble


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="certctrl-emulator", description="Local emulator of the cert-ctrl HTTP API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (see the info file)")
    p.add_argument("--db", help="SQLite file; state persists across restarts (default: in memory)")
    p.add_argument("--seed", help="seed file (YAML or JSON); default: the built-in demo seed")
    p.add_argument("--info-file", help="write base_url, tokens, ids ... here (JSON) once listening")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-dir", help="create or reuse a local CA + server certificate here and serve HTTPS")
    p.add_argument("--http-port", type=int, default=0, help="plain HTTP port when TLS is on (0 = ephemeral)")
    p.add_argument("--admin-token", help="token of the /_admin endpoints (default: random)")
    p.add_argument("--issue-delay", type=float, default=0.5, help="seconds in PENDING and again in PROCESSING")
    p.add_argument("--fail-domain", help="regex: issuance of matching names ends FAILED")
    p.add_argument("--rate-limit", help="N/SECONDS per API key, e.g. 10/1")
    p.add_argument("--request-log", help="append one JSON line per request to this file")
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default=os.environ.get(ENV_VAR) or DEFAULT_PROFILE,
        help=f"answer in production's known shape or the lenient contract shape (default: ${ENV_VAR}, else {DEFAULT_PROFILE})",
    )
    acme = p.add_argument_group("real ACME issuance (letsencrypt / zerossl accounts; default: simulated)")
    acme.add_argument("--acme-directory", metavar="URL", help="issue through this RFC 8555 server, e.g. pebble's https://127.0.0.1:14000/dir")
    acme.add_argument("--acme-ca-file", metavar="FILE", help="CA bundle that verifies the ACME server's TLS certificate")
    acme.add_argument("--acme-http-port", type=int, default=5002, metavar="N", help="port of the HTTP-01 responder (pebble's httpPort; default 5002)")
    acme.add_argument(
        "--pebble",
        nargs="?",
        const="real",
        choices=("real", "always-valid"),
        help="start pebble (+ pebble-challtestsrv as DNS) for the emulator's lifetime and issue through it; " "'always-valid' skips validation",
    )
    return p


def start_pebble(mode: str) -> tuple[Pebble, str]:
    """A pebble in a temp dir for --pebble; returns (Pebble, workdir)."""
    import tempfile

    from .pebble import Pebble, pebble_available

    workdir = tempfile.mkdtemp(prefix="certctrl-pebble-")
    # real validation of arbitrary names needs challtestsrv's DNS; without it only localhost resolves
    # die_with_parent: an emulator killed with SIGKILL does not leave pebble behind
    peb = Pebble(workdir, always_valid=mode == "always-valid", dns=mode == "real" and pebble_available(dns=True), die_with_parent=True)
    try:
        peb.start()
        peb.save_root()
    except Exception:
        stop_pebble(peb, workdir)
        raise
    return peb, workdir


def stop_pebble(peb: Pebble, workdir: str) -> None:
    peb.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    peb = peb_dir = pebble_info = None
    try:
        rate = parse_rate(args.rate_limit) if args.rate_limit else None
        if args.pebble:
            peb, peb_dir = start_pebble(args.pebble)
            args.acme_directory, args.acme_ca_file, args.acme_http_port = peb.directory_url, peb.tls_ca_file, peb.http_port
            pebble_info = {**peb.info(), "root_file": os.path.join(peb_dir, "root.pem")}
        inst = Instance(Config.from_args(args, rate, pebble_info)).start()
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: pebble.PebbleError
        if peb is not None:
            stop_pebble(peb, peb_dir)
        sys.stderr.write(f"certctrl-emulator: {exc}\n")
        return 2
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    line = "certctrl-emulator listening on {}".format(inst.info["base_url"])
    if inst.info.get("http_url"):
        line += " (plain HTTP on {})".format(inst.info["http_url"])
    if inst.info["acme_backend"]["kind"] == "acme":
        line += "; ACME issuance through {}".format(inst.info["acme_backend"]["directory"])
    line += "; {} profile".format(inst.info["profile"])
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    while not stop.wait(0.5):
        pass
    inst.stop()
    if peb is not None:
        stop_pebble(peb, peb_dir)
    sys.stderr.write("certctrl-emulator stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
