"""certctrl-emulator command line."""

import argparse
import signal
import sys
import threading

from .faults import parse_rate
from .instance import Instance


def parser():
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
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        rate = parse_rate(args.rate_limit) if args.rate_limit else None
        inst = Instance(
            host=args.host,
            port=args.port,
            db=args.db,
            seed=args.seed,
            info_file=args.info_file,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_dir=args.tls_dir,
            http_port=args.http_port,
            admin_token=args.admin_token,
            issue_delay=args.issue_delay,
            fail_domain=args.fail_domain,
            rate_limit=rate,
            request_log=args.request_log,
        ).start()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"certctrl-emulator: {exc}\n")
        return 2
    stop = threading.Event()

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    line = "certctrl-emulator listening on {}".format(inst.info["base_url"])
    if inst.info.get("http_url"):
        line += " (plain HTTP on {})".format(inst.info["http_url"])
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    while not stop.wait(0.5):
        pass
    inst.stop()
    sys.stderr.write("certctrl-emulator stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
