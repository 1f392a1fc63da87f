# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo`: the collection end to end on this machine, against the bundled emulator.

Starts the emulator with TLS (its Let's Encrypt account issuing through a real pebble when Debian's
pebble package is installed, through the emulator's simulated ACME CA otherwise), makes three local
"hosts" (separate roots) out of the devices the inventory plugin finds, starts a real nginx for web1 when nginx is installed, runs
cjj365.certctrl.issue_and_deploy twice (the second run must change nothing and download nothing),
prints a short report and stops everything it started.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".cache" / "demo"
BIN = Path(sys.executable).parent
DOMAIN = "demo.example.test"
sys.path.insert(0, str(REPO / "tests" / "emulator"))

from certctrl_emulator.pebble import pebble_available  # noqa: E402
from certctrl_emulator.testing import AdminClient  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator() -> tuple[subprocess.Popen, dict]:
    info_file = WORK / "emulator.json"
    log = open(WORK / "emulator.log", "w")  # noqa: SIM115 - lives as long as the process
    argv = [str(BIN / "certctrl-emulator"), "--tls-dir", str(WORK / "tls"), "--info-file", str(info_file), "--issue-delay", "0.3"]
    if pebble_available(dns=True):
        argv.append("--pebble")  # a real ACME order with HTTP-01 validation; the emulator stops pebble with itself
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    for _i in range(200):
        if info_file.exists():
            return proc, json.loads(info_file.read_text())
        if proc.poll() is not None:
            raise SystemExit(f"the emulator exited with {proc.returncode}; see {WORK / 'emulator.log'}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the emulator did not start")


def placeholder_certificate(dest: Path) -> None:
    """A self-signed certificate for web1's nginx to start with: the 'old' certificate the demo replaces."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "placeholder")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (dest / "private.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (dest / "private.key").chmod(0o600)


def start_nginx(cert_dir: Path, port: int) -> list[str] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not nginx:
        return None
    prefix = WORK / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name {DOMAIN};
    ssl_certificate {cert_dir}/fullchain.pem;
    ssl_certificate_key {cert_dir}/private.key;
    return 200 "served by nginx\\n";
  }}
}}
""")
    base = [nginx, "-p", str(prefix), "-c", str(conf)]
    subprocess.run(base, check=True, capture_output=True)
    return base


def served_serial(port: int) -> str:
    """The serial, subject and issuer of the certificate web1's nginx serves, read from a TLS handshake."""
    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, context.wrap_socket(sock, server_hostname=DOMAIN) as tls:
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    return f"serial {cert.serial_number:x}, subject {cert.subject.rfc4514_string()}, issued by {cert.issuer.rfc4514_string()}"


def write_inventory(nginx: list[str] | None, port: int) -> Path:
    roots = WORK / "hosts"
    inventory = WORK / "demo.certctrl.yml"
    web1 = "certctrl_name == 'web1'"
    services = f"['demo_nginx'] if {web1} else []" if nginx else "[]"
    verify = f"{{'{DOMAIN}': ['127.0.0.1:{port}/{DOMAIN}']}} if {web1} else {{}}" if nginx else "{}"
    inventory.write_text(f"""plugin: cjj365.certctrl.devices
status: ACTIVE
compose:
  ansible_connection: "'local'"
  ansible_python_interpreter: "'{sys.executable}'"
  certctrl_cert_root: "'{roots}/' ~ certctrl_name ~ '/etc/certctrl/certs'"
  certctrl_default_services: "{services}"
  certctrl_verify_endpoints: "{verify}"
""")
    return inventory


def run_playbook(inventory: Path, env: dict[str, str], extra: dict) -> int:
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "tools" / "demo" / "site.yml"), "-e", json.dumps(extra)]
    return subprocess.run(cmd, env=env, check=False).returncode


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    emulator, info = start_emulator()
    nginx = None
    try:
        admin = AdminClient(info["base_url"], info["admin_token"], info["ca_file"])
        port = free_port()
        web1_certs = WORK / "hosts" / "web1" / "etc" / "certctrl" / "certs" / DOMAIN
        placeholder_certificate(web1_certs)
        nginx = start_nginx(web1_certs, port)
        before = served_serial(port) if nginx else None
        inventory = write_inventory(nginx, port)
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}/usr/sbin{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections"),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOME": str(REPO / ".cache" / "ansible-home"),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_NOCOLOR": os.environ.get("ANSIBLE_NOCOLOR", "1"),
            "CERTCTRL_API_URL": info["base_url"],
            "CERTCTRL_API_KEY": info["api_keys"]["full"]["token"],
            "CERTCTRL_CA_PATH": info["ca_file"],
        }
        extra = {
            "certctrl_domain_name": DOMAIN,
            "certctrl_sans": [DOMAIN, f"www.{DOMAIN}"],
            "certctrl_acme_account": "demo",
            "certctrl_acme_provider": "letsencrypt",
            "certctrl_acme_email": "ops@example.test",
            "certctrl_services": [{"name": "demo_nginx", "validate": " ".join([*nginx, "-t"]), "reload": " ".join([*nginx, "-s", "reload"])}] if nginx else [],
            "certctrl_demo_report": str(WORK / "report.json"),
        }
        print(f"== emulator {info['base_url']} (TLS, CA {info['ca_file']}); nginx for web1: {f'127.0.0.1:{port}' if nginx else 'not installed'}")
        print(f"== ACME: {acme_backend(info)}")
        print("== run 1: ansible-playbook -i demo.certctrl.yml cjj365.certctrl.issue_and_deploy", flush=True)
        if run_playbook(inventory, env, extra) != 0:
            return 1
        first = json.loads((WORK / "report.json").read_text())
        downloads_first = admin.counters()["by_route"].get("GET /apiv1/me/devices/:id/certificates/:id/bundle", 0)
        admin.reset()
        print("== run 2: the same again (must change nothing and download nothing)", flush=True)
        if run_playbook(inventory, env, extra) != 0:
            return 1
        second = json.loads((WORK / "report.json").read_text())
        counters = admin.counters()
        report(first, second, downloads_first, counters, before, served_serial(port) if nginx else None)
        return 0
    finally:
        if nginx:
            subprocess.run([*nginx, "-s", "stop"], check=False, capture_output=True)
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=10)


def acme_backend(info: dict) -> str:
    backend = info.get("acme_backend") or {}
    if backend.get("kind") == "acme":
        how = "pebble, HTTP-01 validated" if backend.get("pebble") else "a real ACME server"
        return f"the letsencrypt account issues through {backend['directory']} ({how})"
    return "simulated by the emulator's own CA (install Debian's pebble package, as root, for a real ACME server)"


def report(first: dict, second: dict, downloads_first: int, counters: dict, before: str | None, after: str | None) -> None:
    print("\n== report")
    for host, result in sorted(first.items()):
        for cert in (result or {}).get("certificates", []):
            files = ", ".join(Path(f).name for f in cert.get("files_changed", [])) or "none"
            print(f"  {host}: serial {cert.get('serial')} (until {cert.get('not_after')}) -> {cert.get('dest_dir')}; files changed: {files}")
        if result and result.get("services_reloaded"):
            print(f"  {host}: reloaded {', '.join(result['services_reloaded'])}; verified {', '.join(result.get('verified_endpoints') or []) or '-'}")
    changed_second = sum(1 for result in second.values() if result and result.get("changed"))
    downloads_second = counters["by_route"].get("GET /apiv1/me/devices/:id/certificates/:id/bundle", 0)
    print(f"  bundle downloads: run 1 {downloads_first}, run 2 {downloads_second}; hosts changed in run 2: {changed_second}")
    print(f"  API requests in run 2: {counters['total']} ({counters['writes']} writes)")
    if before is not None:
        print("  nginx on web1, read from a TLS handshake:")
        print(f"    before: {before}")
        print(f"    after:  {after}")


if __name__ == "__main__":
    sys.exit(main())
