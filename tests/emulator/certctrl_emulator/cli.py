"""certctrl-emulator command line."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
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
    p.add_argument(
        "--env-file",
        metavar="FILE",
        help="write 'export CERTCTRL_API_URL=... CERTCTRL_API_KEY=... CERTCTRL_CA_PATH=...' lines here once listening, for a shell to"
        " source ('. FILE'); removed on exit",
    )
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
        help="start pebble (+ pebble-challtestsrv as DNS) for the emulator's lifetime and issue through it; 'always-valid' skips validation",
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


def env_lines(info: dict) -> str:
    """The shell lines that point the collection at this instance: its URL, the seeded "full" API key (else the first
    key that is not revoked) and, with TLS, its CA as an absolute path."""
    keys = info.get("api_keys") or {}
    key = keys.get("full") or next((k for k in keys.values() if not k.get("revoked")), None)
    env = {"CERTCTRL_API_URL": info["base_url"]}
    if key:
        env["CERTCTRL_API_KEY"] = key["token"]
    if info.get("ca_file"):
        env["CERTCTRL_CA_PATH"] = os.path.abspath(info["ca_file"])
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def write_env_file(path: str, info: dict) -> None:
    """Written whole (a temporary file renamed), mode 0600: it holds an API key."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(env_lines(info))
    os.replace(tmp, path)


def start_instance(args: argparse.Namespace) -> tuple[Instance, Pebble | None, str | None]:
    """The running instance, and the pebble it issues through with --pebble (stopped again when the start fails)."""
    peb = peb_dir = pebble_info = None
    try:
        rate = parse_rate(args.rate_limit) if args.rate_limit else None
        if args.pebble:
            peb, peb_dir = start_pebble(args.pebble)
            args.acme_directory, args.acme_ca_file, args.acme_http_port = peb.directory_url, peb.tls_ca_file, peb.http_port
            pebble_info = {**peb.info(), "root_file": os.path.join(peb_dir, "root.pem")}
        return Instance(Config.from_args(args, rate, pebble_info)).start(), peb, peb_dir
    except (OSError, ValueError, RuntimeError):
        if peb is not None:
            stop_pebble(peb, peb_dir)
        raise


def shutdown(inst: Instance, peb: Pebble | None, peb_dir: str | None) -> None:
    inst.stop()
    if peb is not None:
        stop_pebble(peb, peb_dir)


def banner(info: dict) -> str:
    """The "listening" line: where the API is, how it issues, which profile it answers in."""
    line = "certctrl-emulator listening on {}".format(info["base_url"])
    if info.get("http_url"):
        line += " (plain HTTP on {})".format(info["http_url"])
    if info["acme_backend"]["kind"] == "acme":
        line += "; ACME issuance through {}".format(info["acme_backend"]["directory"])
    return line + "; {} profile".format(info["profile"])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        inst, peb, peb_dir = start_instance(args)
    except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: pebble.PebbleError
        sys.stderr.write(f"certctrl-emulator: {exc}\n")
        return 2
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    line = banner(inst.info)
    if args.env_file:
        try:
            write_env_file(args.env_file, inst.info)
        except OSError as exc:
            shutdown(inst, peb, peb_dir)
            sys.stderr.write(f"certctrl-emulator: --env-file {args.env_file}: {exc}\n")
            return 2
        line += f"; its environment: . {shlex.quote(os.path.abspath(args.env_file))}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    while not stop.wait(0.5):
        pass
    if args.env_file:
        with contextlib.suppress(OSError):
            os.unlink(args.env_file)
    shutdown(inst, peb, peb_dir)
    sys.stderr.write("certctrl-emulator stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
