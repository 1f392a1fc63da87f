"""The contract's curl example, verbatim (base URL, token, acct_id and --cacert substituted), and the polling guidance."""

import json
import shutil
import subprocess
import time

import pytest
from conftest import Client

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")

# Verbatim from reference/cert-ctrl-api.md, "Create certificate example".
CONTRACT_EXAMPLE = """curl -X POST https://api.cjj365.cc/apiv1/me/certificates \\
  -H "Authorization: Bearer ak_yourtoken" \\
  -H "Content-Type: application/json" \\
  -d '{
    "domain_name": "example.com",
    "sans": ["example.com", "www.example.com"],
    "acct_id": 7,
    "action": "create",
    "key_algorithm": "ECDSA",
    "policy": "HYBRID"
  }'
"""


def run(script):
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def curl(emu, method, path, data=None):
    cmd = f"curl -sS --cacert {emu.ca_file} -X {method} {emu.base_url}{path} -H 'Authorization: Bearer {emu.token()}'"
    if data is not None:
        cmd += f" -H 'Content-Type: application/json' -d '{data}'"
    return run(cmd)


def test_contract_create_example_verbatim(emu):
    acct = Client(emu).account()
    script = (
        CONTRACT_EXAMPLE.replace("curl -X POST", f"curl --cacert {emu.ca_file} -sS -X POST", 1)
        .replace("https://api.cjj365.cc", emu.base_url)
        .replace("ak_yourtoken", emu.token())
        .replace('"acct_id": 7', '"acct_id": {}'.format(acct["id"]))
    )
    data = run(script)["data"]
    assert data["domain_name"] == "example.com" and data["sans"] == ["example.com", "www.example.com"]
    assert data["acct_id"] == acct["id"] and data["key_dist_policy"] == "HYBRID"
    assert data.get("key_algorithm", "ECDSA") == "ECDSA" and ("key_algorithm" in data) == (emu.profile == "contract")
    assert isinstance(data["id"], int) and data["verified"] is False


def test_polling_guidance_step_by_step(emu):
    # Each phase lasts this long: long enough to see it between two curl processes on a loaded machine (0.5 s was not).
    emu.admin.configure_issuance(delay=2.0)
    acct = Client(emu).account()
    cert = curl(
        emu,
        "POST",
        "/apiv1/me/certificates",
        json.dumps({"domain_name": "poll.example.com", "acct_id": acct["id"], "action": "create"}),
    )["data"]
    # 1. POST .../issues and read data.issue_history_id
    started = curl(emu, "POST", "/apiv1/me/certificates/{}/issues".format(cert["id"]), "{}")["data"]
    hid = started["issue_history_id"]
    assert started["status"] == "PENDING"
    # 2. poll GET .../issues?offset=0&limit=10 until the row with id == issue_history_id is terminal
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = curl(emu, "GET", "'/apiv1/me/certificates/{}/issues?offset=0&limit=10'".format(cert["id"]))["data"]
        row = next(r for r in rows if r["id"] == hid)
        if not seen or seen[-1] != row["status"]:
            seen.append(row["status"])
        if row["status"] in ("SUCCESS", "FAILED", "CANCELLED"):
            break
        time.sleep(0.03)
    assert seen[0] == "PENDING" and seen[-1] == "SUCCESS" and "PROCESSING" in seen
    rec = curl(emu, "GET", "'/apiv1/me/certificates/{}?detail=most'".format(cert["id"]))["data"]
    assert rec["cert"].startswith("-----BEGIN CERTIFICATE-----") and rec["verified"] is True
