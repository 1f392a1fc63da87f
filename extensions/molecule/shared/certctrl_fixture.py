# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test fixture of the molecule scenarios: a background cert-ctrl emulator and real nginx servers, no systemd.

  certctrl_fixture.py emulator-start DIR [--pebble]   start the emulator with TLS in the background; DIR/info.json,
                                             DIR/pid; with --pebble its ACME accounts issue through a real pebble
  certctrl_fixture.py emulator-stop DIR
  certctrl_fixture.py nginx-start DIR --server NAME:CERT:KEY [...]   nginx -p DIR on a free 127.0.0.1 port (DIR/port)
  certctrl_fixture.py nginx-stop DIR
  certctrl_fixture.py snakeoil CERT KEY NAME   a self-signed certificate, the "previous" one a host already has
  certctrl_fixture.py probe HOST:PORT[/SNI]    the serial and fingerprint served there, read independently (JSON)
  certctrl_fixture.py chain-verify FULLCHAIN ROOT NAME   path validation of a deployed fullchain up to ROOT for NAME
  certctrl_fixture.py key-matches CERT KEY   whether the private key KEY belongs to the certificate CERT
  certctrl_fixture.py key-trace DIR... --key KEY [--key KEY] [--exclude DIR]   every file under DIRs holding any encoding of a KEY

Every command prints one JSON object. Used by extensions/molecule/*/ and tests/integration/test_role_*.py.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
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

REPO = Path(__file__).resolve().parents[3]
NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {dir}/extra.conf;
{servers}}}
"""
NGINX_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl{default};
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        return 200 "{name}\\n";
    }}
"""


def _emit(data: dict) -> None:
    print(json.dumps(data))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_pid(pid_file: Path, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    if pid <= 0 or not _alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        try:  # reap it when it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def emulator_start(directory: Path, issue_delay: float, pebble: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    info_file = directory / "info.json"
    if (directory / "pid").exists() and _alive(int((directory / "pid").read_text())) and info_file.exists():
        _emit({"changed": False, **json.loads(info_file.read_text())})
        return
    info_file.unlink(missing_ok=True)
    exe = shutil.which("certctrl-emulator", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env = dict(os.environ)
    if exe:
        cmd = [exe]
    else:
        cmd = [sys.executable, "-m", "certctrl_emulator"]
        env["PYTHONPATH"] = f"{REPO / 'tests' / 'emulator'}{os.pathsep}{env.get('PYTHONPATH', '')}"
    cmd += ["--tls-dir", str(directory / "tls"), "--info-file", str(info_file), "--issue-delay", str(issue_delay)]
    cmd += ["--request-log", str(directory / "requests.jsonl")]
    if pebble:
        cmd += ["--pebble"]  # real HTTP-01 validation; the emulator stops pebble when it stops
    with open(directory / "emulator.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 30
    while not info_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"certctrl-emulator did not start: {(directory / 'emulator.log').read_text()[-2000:]}")
        time.sleep(0.05)
    time.sleep(0.05)  # the info file is written once listening; let the writer finish
    (directory / "pid").write_text(str(proc.pid))
    _emit({"changed": True, **json.loads(info_file.read_text())})


def emulator_stop(directory: Path) -> None:
    _emit({"changed": _stop_pid(directory / "pid")})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_start(directory: Path, servers: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    (directory / "extra.conf").touch()
    pid_file = directory / "nginx.pid"
    port_file = directory / "port"
    if pid_file.exists() and _alive(int(pid_file.read_text().strip() or 0)):
        _emit({"changed": False, "port": int(port_file.read_text()), "conf": str(directory / "nginx.conf")})
        return
    port = int(port_file.read_text()) if port_file.exists() else _free_port()
    blocks = []
    for index, spec in enumerate(servers):
        name, cert, key = spec.split(":", 2)
        blocks.append(NGINX_SERVER.format(port=port, name=name, cert=cert, key=key, default=" default_server" if index == 0 else ""))
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, servers="".join(blocks)))
    port_file.write_text(str(port))
    run = subprocess.run(["nginx", "-p", str(directory), "-c", str(conf)], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"nginx did not start: {run.stderr}")
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"nginx does not listen on {port}: {(directory / 'error.log').read_text()[-2000:]}")
            time.sleep(0.05)
    _emit({"changed": True, "port": port, "conf": str(conf)})


def nginx_stop(directory: Path) -> None:
    _emit({"changed": _stop_pid(directory / "nginx.pid", signal.SIGQUIT)})


def snakeoil(cert: Path, key: Path, name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(private, hashes.SHA256())
    )
    for path in (cert, key):
        path.parent.mkdir(parents=True, exist_ok=True)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key.chmod(0o600)
    _emit({"changed": True, "serial": format(certificate.serial_number, "x")})


def probe(endpoint: str) -> None:
    address, sni = endpoint.split("/", 1) if "/" in endpoint else (endpoint, "")
    host, port = address.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as sock, context.wrap_socket(sock, server_hostname=sni or None) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    certificate = x509.load_der_x509_certificate(der)
    _emit({"changed": False, "serial": format(certificate.serial_number, "x"), "sha256": hashlib.sha256(der).hexdigest()})


def chain_verify(fullchain: Path, root: Path, name: str) -> None:
    """Validate like a TLS client would: leaf + intermediates from the deployed file, trust only ROOT."""
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    chain = x509.load_pem_x509_certificates(fullchain.read_bytes())
    store = Store(x509.load_pem_x509_certificates(root.read_bytes()))
    verifier = PolicyBuilder().store(store).build_server_verifier(x509.DNSName(name))
    try:
        path = verifier.verify(chain[0], chain[1:])
    except VerificationError as exc:
        sys.exit(f"{fullchain} does not chain to {root} for {name}: {exc}")
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = chain[0].public_key()
    key_type = "ECDSA" if isinstance(key, ec.EllipticCurvePublicKey) else "RSA" if isinstance(key, rsa.RSAPublicKey) else type(key).__name__
    _emit({"changed": False, "path": [cert.subject.rfc4514_string() for cert in path], "key_type": key_type})


def key_matches(cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    _emit({"changed": False, "matches": leaf.public_key().public_bytes(*spki) == private.public_key().public_bytes(*spki)})


def _key_forms(key: Path) -> dict[str, bytes]:
    """The encodings of a private key a leak could take: PEM (and each base64 line of it), DER raw, base64 and hex,
    the private scalar of an EC key raw, base64 and hex."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = key.read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    forms = {"pem": pem.strip()}
    for name, fmt in (("pkcs8", serialization.PrivateFormat.PKCS8), ("traditional", serialization.PrivateFormat.TraditionalOpenSSL)):
        der = private.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        forms.update(
            {
                f"{name}_der": der,
                f"{name}_b64": base64.b64encode(der),
                f"{name}_b64url": base64.urlsafe_b64encode(der).rstrip(b"="),
                f"{name}_hex": der.hex().encode(),
            }
        )
    lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    forms.update({f"pem_line_{i}": line for i, line in enumerate(lines[:-1])})  # the last line may be short
    if isinstance(private, ec.EllipticCurvePrivateKey):
        scalar = private.private_numbers().private_value.to_bytes((private.curve.key_size + 7) // 8, "big")
        forms.update({"scalar": scalar, "scalar_b64": base64.b64encode(scalar), "scalar_hex": scalar.hex().encode()})
    return forms


def key_trace(keys: list[Path], roots: list[Path], exclude: list[Path]) -> None:
    forms = {f"{i}:{name}": form for i, key in enumerate(keys) for name, form in _key_forms(key).items()}
    skip = [p.resolve() for p in exclude]
    found, scanned, total = [], 0, 0
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            if any(path.resolve().is_relative_to(s) for s in skip):
                continue
            data = path.read_bytes()
            scanned, total = scanned + 1, total + len(data)
            hits = sorted(name for name, form in forms.items() if form in data or form in data.lower())
            if hits:
                found.append({"path": str(path), "forms": hits})
    _emit({"changed": False, "files": scanned, "bytes": total, "forms": len(forms), "found": found})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("emulator-start")
    p.add_argument("dir", type=Path)
    p.add_argument("--issue-delay", type=float, default=0.1)
    p.add_argument("--pebble", action="store_true", help="issue ACME-provider certificates through a real pebble")
    sub.add_parser("emulator-stop").add_argument("dir", type=Path)
    p = sub.add_parser("nginx-start")
    p.add_argument("dir", type=Path)
    p.add_argument("--server", action="append", required=True, help="NAME:CERT:KEY")
    sub.add_parser("nginx-stop").add_argument("dir", type=Path)
    p = sub.add_parser("snakeoil")
    p.add_argument("cert", type=Path)
    p.add_argument("key", type=Path)
    p.add_argument("name")
    sub.add_parser("probe").add_argument("endpoint")
    p = sub.add_parser("chain-verify")
    p.add_argument("fullchain", type=Path)
    p.add_argument("root", type=Path)
    p.add_argument("name")
    p = sub.add_parser("key-matches")
    p.add_argument("cert", type=Path)
    p.add_argument("key", type=Path)
    p = sub.add_parser("key-trace")
    p.add_argument("roots", type=Path, nargs="+")
    p.add_argument("--key", type=Path, action="append", required=True)
    p.add_argument("--exclude", type=Path, action="append", default=[])
    args = parser.parse_args()
    commands = {
        "emulator-start": lambda: emulator_start(args.dir.resolve(), args.issue_delay, args.pebble),
        "emulator-stop": lambda: emulator_stop(args.dir.resolve()),
        "nginx-start": lambda: nginx_start(args.dir.resolve(), args.server),
        "nginx-stop": lambda: nginx_stop(args.dir.resolve()),
        "snakeoil": lambda: snakeoil(args.cert, args.key, args.name),
        "chain-verify": lambda: chain_verify(args.fullchain, args.root, args.name),
        "key-matches": lambda: key_matches(args.cert, args.key),
        "key-trace": lambda: key_trace(args.key, args.roots, args.exclude),
        "probe": lambda: probe(args.endpoint),
    }
    commands[args.command]()


if __name__ == "__main__":
    main()
