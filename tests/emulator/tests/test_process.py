"""The console script as a process: info file, TLS, --db persistence, SIGTERM, request log, start-up time."""

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from certctrl_emulator.testing import start_subprocess

FULL = {"Authorization": "Bearer ak_demo_full_0123456789abcdef"}


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=10)
    return proc.returncode, err.decode()


def test_tls_info_file_and_sigterm(tmp_path):
    proc, info = start_subprocess(
        ["--tls-dir", str(tmp_path / "tls"), "--admin-token", "adm_fixed", "--request-log", str(tmp_path / "req.log")],
        str(tmp_path),
    )
    try:
        assert info["pid"] == proc.pid and info["admin_token"] == "adm_fixed"
        assert info["base_url"].startswith("https://127.0.0.1:") and info["http_url"].startswith("http://127.0.0.1:")
        assert info["ca_file"] == str(tmp_path / "tls" / "ca.pem")
        r = requests.get(info["base_url"] + "/apiv1/me/devices/1", headers=FULL, verify=info["ca_file"], timeout=10)
        assert r.status_code == 200 and r.json()["data"]["name"] == "web1"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(info["base_url"] + "/health", verify=True, timeout=10)
        assert requests.get(info["http_url"] + "/health", timeout=10).json() == {"data": {"status": "ok"}}
        # curl too: fails without the CA, works with it
        assert subprocess.run(["curl", "-sS", info["base_url"] + "/health"], capture_output=True, check=False).returncode != 0
        out = subprocess.run(["curl", "-sS", "--cacert", info["ca_file"], info["base_url"] + "/health"], capture_output=True, check=False)
        assert json.loads(out.stdout) == {"data": {"status": "ok"}}
    finally:
        rc, err = stop(proc)
    assert rc == 0, err
    assert "Traceback" not in err and "stopped" in err
    assert not os.path.exists(tmp_path / "info.json")
    lines = [json.loads(x) for x in (tmp_path / "req.log").read_text().splitlines()]
    assert lines[0]["route"] == "GET /apiv1/me/devices/:id" and lines[0]["key"] == "full"
    assert "ak_demo_full" not in (tmp_path / "req.log").read_text()
    # the TLS directory is reused on the next start
    ca_before = (tmp_path / "tls" / "ca.pem").read_bytes()
    proc, info = start_subprocess(["--tls-dir", str(tmp_path / "tls")], str(tmp_path))
    try:
        assert (tmp_path / "tls" / "ca.pem").read_bytes() == ca_before
        assert requests.get(info["base_url"] + "/health", verify=info["ca_file"], timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def _issue_async(base, domain):
    """A letsencrypt account, a certificate for ``domain`` and an issuance started: (record, issue_history_id)."""
    acct = requests.post(base + "/apiv1/me/acme-accounts", headers=FULL, timeout=10, json={"name": "le", "provider": "letsencrypt", "email": "a@b.c"}).json()[
        "data"
    ]
    cert = requests.post(
        base + "/apiv1/me/certificates", headers=FULL, timeout=10, json={"domain_name": domain, "acct_id": acct["id"], "action": "create"}
    ).json()["data"]
    issue = requests.post(base + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, json={}, timeout=10).json()["data"]
    return cert, issue["issue_history_id"]


def test_state_survives_restart_with_db(tmp_path):
    db = str(tmp_path / "state.db")
    args = ["--db", db, "--issue-delay", "0.05"]
    proc, info = start_subprocess(args, str(tmp_path))
    base = info["base_url"]
    try:
        cert, hid = _issue_async(base, "p.example.com")
        for _i in range(200):
            rows = requests.get(base + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, timeout=10)
            if rows.json()["data"][0]["status"] == "SUCCESS":
                break
            time.sleep(0.02)
        requests.post(
            base + "/apiv1/me/certificate-assign",
            headers=FULL,
            timeout=10,
            json={"certificate_id": cert["id"], "device_public_id": info["devices"][1]["device_public_id"]},
        )
        before = requests.get(base + "/apiv1/me/certificates/{}?detail=most".format(cert["id"]), headers=FULL, timeout=10).json()["data"]
        acme_issuer = before["cert"].split("-----END CERTIFICATE-----\n", 1)[1]
    finally:
        assert stop(proc)[0] == 0
    proc, info = start_subprocess(args, str(tmp_path))
    base = info["base_url"]
    try:
        after = requests.get(base + "/apiv1/me/certificates/{}?detail=most".format(cert["id"]), headers=FULL, timeout=10).json()["data"]
        assert after == before and after["verified"] is True
        rows = requests.get(base + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, timeout=10).json()["data"]
        assert [(r["id"], r["status"]) for r in rows] == [(hid, "SUCCESS")]
        devs = requests.get(base + "/apiv1/me/certificates/{}/devices".format(cert["id"]), headers=FULL, timeout=10).json()["data"]
        assert [d["id"] for d in devs] == [2]
        r = requests.get(base + "/apiv1/me/devices/2/certificates/{}/bundle".format(cert["id"]), headers=FULL, timeout=10)
        assert r.status_code == 200
        # the emulated ACME intermediate is persisted too: a renewal chains to the same issuer
        requests.post(base + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, json={}, timeout=10)
        for _i in range(200):
            rows = requests.get(base + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, timeout=10)
            if rows.json()["data"][0]["status"] == "SUCCESS":
                break
            time.sleep(0.02)
        renewed = requests.get(base + "/apiv1/me/certificates/{}?detail=most".format(cert["id"]), headers=FULL, timeout=10).json()["data"]
        assert renewed["serial_number"] != before["serial_number"]
        assert renewed["cert"].split("-----END CERTIFICATE-----\n", 1)[1] == acme_issuer
        # the seed is not applied twice
        assert len(info["api_keys"]) == 5 and len(info["devices"]) == 6
    finally:
        assert stop(proc)[0] == 0


def test_in_flight_row_survives_restart(tmp_path):
    db = str(tmp_path / "state.db")
    proc, info = start_subprocess(["--db", db, "--issue-delay", "30"], str(tmp_path))
    base = info["base_url"]
    try:
        cert, _hid = _issue_async(base, "q.example.com")
    finally:
        stop(proc)
    proc, info = start_subprocess(["--db", db, "--issue-delay", "0.05"], str(tmp_path))
    try:
        admin = {"Authorization": "Bearer " + info["admin_token"]}
        requests.post(info["base_url"] + "/_admin/issuance", headers=admin, json={"delay": 0.01}, timeout=10)
        rows = requests.get(info["base_url"] + "/apiv1/me/certificates/{}/issues".format(cert["id"]), headers=FULL, timeout=10)
        assert rows.json()["data"][0]["status"] == "PENDING"  # its 30 s phase was scheduled before the restart
    finally:
        assert stop(proc)[0] == 0


def test_python_dash_m_and_help():
    import sys

    out = subprocess.run([sys.executable, "-m", "certctrl_emulator", "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "--issue-delay" in out.stdout and "--fail-domain" in out.stdout


def test_bad_arguments_exit_nonzero(tmp_path):
    with pytest.raises(RuntimeError, match="rate-limit"):
        start_subprocess(["--rate-limit", "lots"], str(tmp_path))
    with pytest.raises(RuntimeError, match="tls"):
        start_subprocess(["--tls-cert", str(tmp_path / "x.pem")], str(tmp_path))
