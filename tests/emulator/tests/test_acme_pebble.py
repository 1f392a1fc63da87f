"""Real ACME issuance through pebble (--acme-directory): statuses, chain to pebble's root, failures, CLI.

Skipped when pebble is not installed, unless CERTCTRL_REQUIRE_PEBBLE=1 (CI), which turns the skip into a failure.
One real-validation pebble (with pebble-challtestsrv as DNS, so arbitrary names resolve to the emulator's
HTTP-01 responder) and one always-valid pebble are shared per module.
"""

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.verification import PolicyBuilder, Store

from certctrl_emulator.pebble import Pebble
from certctrl_emulator.testing import Emulator, UserClient, require_pebble, start_subprocess

TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")
ERROR = "urn:ietf:params:acme:error:"


@pytest.fixture(scope="module")
def pebble(tmp_path_factory):
    """Real HTTP-01 validation: pebble's VA fetches the token from the emulator's responder."""
    require_pebble(dns=True)
    with Pebble(tmp_path_factory.mktemp("pebble"), dns=True) as peb:
        yield peb


@pytest.fixture(scope="module")
def emu(pebble, tmp_path_factory):
    # the only emulator on this pebble: its responder owns pebble's httpPort
    with Emulator(pebble=pebble, workdir=str(tmp_path_factory.mktemp("emu")), issue_delay=0.1) as e:
        yield e


@pytest.fixture(scope="module")
def av_pebble(tmp_path_factory):
    """PEBBLE_VA_ALWAYS_VALID: no validation, so several emulators (responders on free ports) can share it."""
    require_pebble(dns=False)
    with Pebble(tmp_path_factory.mktemp("pebble-av"), always_valid=True, dns=False) as peb:
        yield peb


@pytest.fixture(scope="module")
def av_emu(av_pebble, tmp_path_factory):
    with Emulator(pebble=av_pebble, acme_http_port=0, workdir=str(tmp_path_factory.mktemp("emu-av")), issue_delay=0.1) as e:
        yield e


MOST = {"detail": "most"}  # production leaves cert/der/csr out of single reads without it


def account(api, provider="letsencrypt", **extra):
    body = {"name": f"{provider}-{time.monotonic_ns()}", "provider": provider, "email": "ops@example.com", **extra}
    return api.call("POST", "/acme-accounts", body)


def certificate(api, acct, domain, sans=None, **extra):
    body = {"domain_name": domain, "sans": sans or [domain], "acct_id": acct["id"], "action": "create", **extra}
    return api.call("POST", "/certificates", body)


def issue(api, cid, timeout=60):
    """POST .../issues and poll every 10 ms; returns (final row, statuses seen in order)."""
    out = api.call("POST", f"/certificates/{cid}/issues", {})
    seen = [out["status"]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = next(r for r in api.call("GET", f"/certificates/{cid}/issues") if r["id"] == out["issue_history_id"])
        if seen[-1] != row["status"]:
            seen.append(row["status"])
        if row["status"] in TERMINAL:
            return row, seen
        time.sleep(0.01)
    raise AssertionError(f"issue job of certificate {cid} stuck: {seen}")


def bundle(emu, cid, device=1):
    """Assign to ``device`` and download its bundle zip; returns (ZipFile, export password)."""
    public_id = next(d["device_public_id"] for d in emu.info["devices"] if d["id"] == device)
    emu.api().call("POST", "/certificate-assign", {"certificate_id": cid, "device_public_id": public_id})
    url = f"{emu.base_url}/apiv1/me/devices/{device}/certificates/{cid}/bundle"
    r = requests.get(url, headers={"Authorization": "Bearer " + emu.token()}, verify=emu.ca_file, timeout=30)
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content)), r.headers["X-Export-Password"]


def verify_to_root(z, root_pem, name):
    """The bundle's leaf + chain.pem verify up to ``root_pem`` for ``name`` (cryptography's strict verifier)."""
    leaf = x509.load_pem_x509_certificate(z.read("certificate.pem"))
    chain = x509.load_pem_x509_certificates(z.read("chain.pem"))
    root = x509.load_pem_x509_certificate(root_pem.encode())
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(name))
    path = verifier.verify(leaf, chain)
    assert path[-1] == root and len(path) == 3  # leaf, pebble's intermediate, pebble's root
    key = serialization.load_pem_private_key(z.read("private.key"), None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    return leaf


def test_info_reports_the_acme_backend(emu, pebble):
    expected = {"kind": "acme", "directory": pebble.directory_url, "ca_file": pebble.tls_ca_file, "http_port": pebble.http_port}
    assert emu.admin.info()["acme_backend"] == expected
    with open(os.path.join(emu.workdir, "info.json")) as fh:
        assert json.load(fh)["acme_backend"] == expected


def test_ecdsa_real_http01_validation_chains_to_pebble_root(emu, pebble):
    api = emu.api()
    acct = account(api, leaf_ec_curve="secp384r1")
    names = ["ec.example.test", "www.ec.example.test"]
    cid = certificate(api, acct, names[0], names)["id"]
    row, seen = issue(api, cid)
    assert row["status"] == "SUCCESS", row
    assert seen == ["PENDING", "PROCESSING", "SUCCESS"]
    assert row["error_message"] == "" and row["completed_at"] >= row["started_at"] > 1e12
    # the real order URL of pebble, not the simulated backend's
    assert row["acme_order_id"].startswith(pebble.directory_url.rsplit("/", 1)[0] + "/my-order/"), row

    rec = api.call("GET", f"/certificates/{cid}", params=MOST)
    assert rec["cert"].count("BEGIN CERTIFICATE") == 2 and rec["verified"] is True and rec["csr"].startswith("-----BEGIN")
    leaf = x509.load_pem_x509_certificate(rec["cert"].encode())
    assert format(leaf.serial_number, "x") == rec["serial_number"].replace(":", "").lower().lstrip("0")
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == names
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and leaf.public_key().curve.name == "secp384r1"
    assert "Pebble Intermediate CA" in leaf.issuer.rfc4514_string()
    # pebble itself knows this serial as one it issued
    status = pebble.cert_status(format(leaf.serial_number, "x"))
    assert status["Status"] == "Valid"
    assert x509.load_pem_x509_certificate(status["Certificate"].encode()) == leaf

    z, password = bundle(emu, cid)
    assert verify_to_root(z, pebble.root_pem(), "www.ec.example.test") == leaf
    assert z.read("chain.pem").decode() == pebble.intermediate_pem().strip() + "\n"
    p12 = pkcs12.load_pkcs12(z.read("bundle.pfx"), password.encode())
    assert p12.cert.certificate == leaf and [c.certificate for c in p12.additional_certs] == [x509.load_pem_x509_certificate(z.read("chain.pem"))]


def test_rsa_and_wildcard_in_always_valid_mode(av_emu, av_pebble):
    api = av_emu.api()
    acct = account(api, provider="zerossl")
    # nothing resolves these names: only ALWAYS_VALID issues them (the wildcard's authz offers dns-01 only)
    names = ["rsa.unresolvable.test", "*.rsa.unresolvable.test"]
    cid = certificate(api, acct, names[0], names, key_algorithm="RSA")["id"]
    row, seen = issue(api, cid)
    assert row["status"] == "SUCCESS", row
    assert "PROCESSING" in seen and row["acme_order_id"].startswith("https://127.0.0.1:")
    rec = api.call("GET", f"/certificates/{cid}", params=MOST)
    leaf = x509.load_pem_x509_certificate(rec["cert"].encode())
    assert isinstance(leaf.public_key(), rsa.RSAPublicKey) and leaf.public_key().key_size == 2048
    # pebble's validity period is the one the helper configures (90 days), not the account's
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days == 89
    z, _password = bundle(av_emu, cid)
    assert verify_to_root(z, av_pebble.root_pem(), "x.rsa.unresolvable.test") == leaf


def test_failed_validation_records_the_acme_problem(tmp_path):
    # A second pebble in real mode, and an emulator whose responder is NOT on its httpPort: the VA's
    # connection is refused and the order fails with pebble's own problem document.
    require_pebble(dns=True)
    with (
        Pebble(tmp_path / "pebble", dns=True) as peb,
        Emulator(acme_directory=peb.directory_url, acme_ca_file=peb.tls_ca_file, acme_http_port=0, workdir=str(tmp_path / "emu"), issue_delay=0.05) as emu,
    ):
        api = emu.api()
        cid = certificate(api, account(api), "refused.example.test")["id"]
        row, seen = issue(api, cid)
        assert seen == ["PENDING", "PROCESSING", "FAILED"]
        assert row["error_message"].startswith(ERROR + "connection: "), row
        assert "refused.example.test" in row["error_message"] and "connection refused" in row["error_message"]
        assert row["acme_order_id"].startswith(peb.directory_url.rsplit("/", 1)[0] + "/my-order/")
        rec = api.call("GET", f"/certificates/{cid}", params=MOST)
        assert rec["cert"] == "" and rec["serial_number"] == ""


def test_fail_domain_rule_applies_before_any_order(emu):
    api = emu.api()
    emu.admin.configure_issuance(fail_domain=r"^doomed\.")
    try:
        cid = certificate(api, account(api), "doomed.example.test")["id"]
        row, _seen = issue(api, cid)
    finally:
        emu.admin.configure_issuance(fail_domain=None)
    assert row["status"] == "FAILED" and row["error_message"].startswith(ERROR + "rejectedIdentifier: ")
    assert row["acme_order_id"] == ""  # rejected before an order was placed


def test_cancelled_while_processing_is_not_overwritten(av_pebble, tmp_path):
    # PROCESSING lasts at least the issue delay: the order is done long before, its result must be dropped
    with Emulator(pebble=av_pebble, acme_http_port=0, workdir=str(tmp_path / "emu"), issue_delay=0.4) as emu:
        api = emu.api()
        cid = certificate(api, account(api), "cancel.example.test")["id"]
        hid = api.call("POST", f"/certificates/{cid}/issues", {})["issue_history_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = api.call("GET", f"/certificates/{cid}/issues")[0]
            if row["status"] == "PROCESSING" and row["acme_order_id"]:
                break
            time.sleep(0.01)
        assert emu.admin.cancel_issue(cid, hid)["status"] == "CANCELLED"
        time.sleep(0.5)
        row = api.call("GET", f"/certificates/{cid}/issues")[0]
        assert row["status"] == "CANCELLED" and row["error_message"] == "cancelled"
        assert api.call("GET", f"/certificates/{cid}", params=MOST)["cert"] == ""


def test_bad_nonces_are_retried(tmp_path):
    # pebble rejects 30% of good nonces here: every POST of the order must survive repeated badNonce answers
    require_pebble(dns=False)
    with (
        Pebble(tmp_path / "pebble", always_valid=True, dns=False, nonce_reject=30) as peb,
        Emulator(pebble=peb, acme_http_port=0, workdir=str(tmp_path / "emu"), issue_delay=0.05) as emu,
    ):
        api = emu.api()
        acct = account(api)
        for n in range(3):
            row, _seen = issue(api, certificate(api, acct, f"nonce{n}.example.test", [f"nonce{n}.example.test", f"www.nonce{n}.example.test"])["id"])
            assert row["status"] == "SUCCESS", row
    # a rejected nonce is not reused, so the client fetches a fresh one; without rejections once per order
    assert (tmp_path / "pebble" / "pebble.log").read_text().count("HEAD /nonce-plz") > 3


def test_order_in_flight_at_shutdown_runs_again_after_a_restart(av_pebble, tmp_path):
    db = str(tmp_path / "emu.db")
    with Emulator(pebble=av_pebble, acme_http_port=0, db=db, workdir=str(tmp_path / "one"), issue_delay=30) as emu:
        api = emu.api()
        cid = certificate(api, account(api), "restart.example.test")["id"]
        hid = api.call("POST", f"/certificates/{cid}/issues", {})["issue_history_id"]
        emu.instance.app.store.run("UPDATE issue_history SET next_at = 1 WHERE id = ?", (hid,))  # skip the 30 s PENDING
        emu.instance.app.worker.wake()
        deadline = time.monotonic() + 30
        while not (first := api.call("GET", f"/certificates/{cid}/issues")[0])["acme_order_id"] and time.monotonic() < deadline:
            time.sleep(0.01)
        # the order exists; its result is held for the 30 s PROCESSING delay when the emulator stops
        assert first["status"] == "PROCESSING" and first["acme_order_id"], first
    conn = sqlite3.connect(db)  # no hold after the restart
    conn.execute("UPDATE issue_history SET next_at = 1 WHERE id = ?", (hid,))
    conn.commit()
    conn.close()
    with Emulator(pebble=av_pebble, acme_http_port=0, db=db, workdir=str(tmp_path / "two"), issue_delay=0.05) as emu:
        api = emu.api()
        deadline = time.monotonic() + 30
        while (row := api.call("GET", f"/certificates/{cid}/issues")[0])["status"] == "PROCESSING" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert row["status"] == "SUCCESS" and row["id"] == hid, row
        assert row["acme_order_id"] != first["acme_order_id"]  # a new order
        assert api.call("GET", f"/certificates/{cid}", params=MOST)["serial_number"]


def test_account_registered_once_and_again_when_the_server_forgot_it(av_emu):
    api = av_emu.api()
    acct = account(api)
    store = av_emu.instance.app.store
    for n in range(2):
        cid = certificate(api, acct, f"reuse{n}.example.test")["id"]
        assert issue(api, cid)[0]["status"] == "SUCCESS"
    regs = store.all("SELECT * FROM acme_registrations WHERE acct_id = ?", (acct["id"],))
    assert len(regs) == 1 and "/my-account/" in regs[0]["uri"] and "PRIVATE KEY" in regs[0]["key_pem"]
    # as after a pebble restart: the stored account URL is unknown, the same key registers again
    store.run("UPDATE acme_registrations SET uri = uri || 'gone' WHERE acct_id = ?", (acct["id"],))
    cid = certificate(api, acct, "reuse2.example.test")["id"]
    assert issue(api, cid)[0]["status"] == "SUCCESS"
    assert store.all("SELECT uri FROM acme_registrations WHERE acct_id = ?", (acct["id"],)) == [{"uri": regs[0]["uri"]}]


def test_unreachable_acme_server_fails_the_row(tmp_path):
    # no pebble needed: nothing listens on the directory's port
    with Emulator(acme_directory="https://127.0.0.1:9/dir", acme_http_port=0, workdir=str(tmp_path / "emu"), issue_delay=0.05) as emu:
        assert emu.admin.info()["acme_backend"]["kind"] == "acme"
        api = emu.api()
        row, seen = issue(api, certificate(api, account(api), "nowhere.example.test")["id"])
    assert seen == ["PENDING", "PROCESSING", "FAILED"]
    assert row["error_message"].startswith("ACME server https://127.0.0.1:9/dir unreachable: ConnectionError"), row
    assert row["acme_order_id"] == ""


def test_simulated_backend_without_directory(shared_emu, shared):
    assert shared_emu.admin.info()["acme_backend"] == {"kind": "simulated", "directory": None}
    cert = shared.certificate(shared.account(name=f"sim-{time.monotonic_ns()}")["id"], "sim.example.com")
    out = shared.data("POST", "/certificates/{}/issues".format(cert["id"]), json={})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = shared.data("GET", "/certificates/{}/issues".format(cert["id"]))[0]
        if row["status"] in TERMINAL:
            break
        time.sleep(0.02)
    assert row["id"] == out["issue_history_id"] and row["status"] == "SUCCESS"
    assert row["acme_order_id"].startswith("https://acme.emulator.invalid/")
    leaf = x509.load_pem_x509_certificate(shared.record(cert["id"])["cert"].encode())
    assert "Emulated ACME Intermediate R1" in leaf.issuer.rfc4514_string()


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    return proc.returncode, err.decode()


def _gone(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_cli_acme_flags(av_pebble, tmp_path):
    proc, info = start_subprocess(
        ["--tls-dir", str(tmp_path / "tls"), "--issue-delay", "0.05"],
        str(tmp_path),
        acme_directory=av_pebble.directory_url,
        acme_ca_file=av_pebble.tls_ca_file,
        acme_http_port=0,
    )
    try:
        backend = info["acme_backend"]
        assert backend["kind"] == "acme" and backend["directory"] == av_pebble.directory_url and backend["http_port"] > 0
        api = _api(info)
        cid = certificate(api, account(api), "cli.example.test")["id"]
        assert issue(api, cid)[0]["status"] == "SUCCESS"
    finally:
        rc, err = _stop(proc)
    assert rc == 0 and "ACME issuance through " + av_pebble.directory_url in err, err


def test_cli_bad_acme_ca_file(tmp_path):
    with pytest.raises(RuntimeError, match="no such file"):
        start_subprocess([], str(tmp_path), acme_directory="https://127.0.0.1:1/dir", acme_ca_file=str(tmp_path / "nope.pem"))


def test_cli_pebble_lives_as_long_as_the_emulator(tmp_path):
    require_pebble(dns=True)
    proc, info = start_subprocess(["--pebble", "--issue-delay", "0.05"], str(tmp_path))
    try:
        peb = info["acme_backend"]["pebble"]
        assert peb["always_valid"] is False and peb["dns_server"] and os.path.exists(peb["root_file"])
        assert info["acme_backend"]["http_port"] == peb["http_port"]
        api = _api(info)
        cid = certificate(api, account(api), "embedded.example.test")["id"]
        assert issue(api, cid)[0]["status"] == "SUCCESS"  # real HTTP-01 through the emulator's responder
    finally:
        rc, err = _stop(proc)
    assert rc == 0, err
    assert _gone(peb["pid"]) and _gone(peb["dns_pid"])
    assert not os.path.exists(os.path.dirname(peb["root_file"]))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_cli_pebble_stops_with_a_killed_emulator(tmp_path):
    require_pebble(dns=False)
    proc, info = start_subprocess(["--pebble", "always-valid"], str(tmp_path))
    peb = info["acme_backend"]["pebble"]
    try:
        assert peb["dns_pid"] is None and peb["always_valid"] is True
        proc.kill()
        proc.communicate(timeout=20)
        assert _gone(peb["pid"])  # no SIGTERM handler ran: the kernel's parent-death signal stopped pebble
    finally:
        shutil.rmtree(os.path.dirname(peb["root_file"]), ignore_errors=True)


def test_pebble_cli_start_stop(tmp_path):
    require_pebble(dns=False)
    run = [sys.executable, "-m", "certctrl_emulator.pebble"]
    out = subprocess.run([*run, "start", str(tmp_path), "--always-valid", "--no-dns"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    with open(tmp_path / "pebble.json") as fh:
        assert json.load(fh) == info
    try:
        directory = requests.get(info["directory_url"], verify=info["tls_ca_file"], timeout=10).json()
        assert "newOrder" in directory and info["dns_pid"] is None and info["always_valid"] is True
        assert "BEGIN CERTIFICATE" in (tmp_path / "root.pem").read_text()
    finally:
        stopped = subprocess.run([*run, "stop", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert stopped.returncode == 0, stopped.stderr
    assert _gone(info["pid"]) and not (tmp_path / "pebble.json").exists()


def _api(info):
    return UserClient(info["base_url"], info["api_keys"]["full"]["token"], info.get("ca_file"))
