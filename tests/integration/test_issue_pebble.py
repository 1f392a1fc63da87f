# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.issue waits on a real ACME order: the emulator's letsencrypt provider issues through pebble.

Pebble validates HTTP-01 for real (pebble-challtestsrv answers every name with 127.0.0.1, where the
emulator's responder listens). Skipped without pebble, unless CERTCTRL_REQUIRE_PEBBLE=1 (CI).
"""

from __future__ import annotations

import itertools
import time
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import describe_pem, normalize_serial
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import PlaybookRun, ansible_env, run_playbook
from certctrl_emulator.pebble import Pebble
from certctrl_emulator.testing import Emulator, UserClient, require_pebble

ISSUE = Path(__file__).parent / "playbooks" / "issue.yml"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Pebble]:
    require_pebble(dns=True)
    with Pebble(tmp_path_factory.mktemp("pebble"), dns=True) as peb:
        yield peb


@pytest.fixture(scope="module")
def emu(pebble: Pebble, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(tls=True, pebble=pebble, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator")) as e:
        yield e


def certificate(api: UserClient, domain: str, **extra: t.Any) -> int:
    account = api.call("POST", "/acme-accounts", {"name": f"le-{next(_names)}-{time.monotonic_ns()}", "provider": "letsencrypt", "email": "ops@example.com"})
    return api.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": account["id"], "action": "create", **extra})["id"]


def play(emu: Emulator, tmp_path: Path, **options: t.Any) -> PlaybookRun:
    return run_playbook(ISSUE, ansible_env(emu), tmp_path=tmp_path, extra_vars={f"issue_{k}": v for k, v in options.items()})


def test_issue_waits_on_a_real_acme_order(emu, pebble, tmp_path):
    api = emu.api()
    domain = f"web{next(_names)}.pebble.example.test"
    cid = certificate(api, domain, key_algorithm="RSA")

    result = play(emu, tmp_path, certificate_id=cid, poll_interval=0.1, poll_interval_max=0.5, wait_timeout=120).task("Issue")
    assert result["changed"] is True, result
    assert result["reason"] == "never_issued"
    assert result["status"] == "SUCCESS"
    assert result["issue"]["acme_order_id"].startswith(pebble.directory_url.rsplit("/", 1)[0] + "/my-order/")

    record = api.call("GET", f"/certificates/{cid}?detail=most")
    serial = result["x509"]["serial"]
    assert serial == describe_pem(record["cert"])["serial"] == normalize_serial(record["serial_number"])
    # the certificate the module reports is the one pebble issued, and it chains to pebble's root
    issued = pebble.cert_status(serial)
    assert issued["Status"] == "Valid"
    leaf, *chain = x509.load_pem_x509_certificates(record["cert"].encode())
    assert leaf == x509.load_pem_x509_certificate(issued["Certificate"].encode())
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    path = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(domain)).verify(leaf, chain)
    assert path[-1] == root
    assert result["x509"]["issuer"] == leaf.issuer.rfc4514_string()

    again = play(emu, tmp_path, certificate_id=cid).task("Issue")
    assert again["changed"] is False and again["reason"] == "valid" and again["x509"]["serial"] == serial


def test_issue_fails_with_the_acme_problem(tmp_path):
    # its own pebble, with nothing on its HTTP-01 port: the VA's connection is refused
    require_pebble(dns=True)
    with Pebble(tmp_path / "pebble", dns=True) as peb, Emulator(
        tls=True,
        acme_directory=peb.directory_url,
        acme_ca_file=peb.tls_ca_file,
        acme_http_port=0,
        issue_delay=0.1,
        workdir=tmp_path / "emulator",
    ) as emu:
        cid = certificate(emu.api(), "refused.pebble.example.test")
        run = play(emu, tmp_path, certificate_id=cid, poll_interval=0.1, poll_interval_max=0.5, wait_timeout=120)
        result = run.task("Issue")
        assert run.rc != 0
        assert result["_status"] == "failed"
        assert result["status"] == "FAILED"
        assert "urn:ietf:params:acme:error:connection" in result["msg"] and "connection refused" in result["msg"]
        assert result["issue"]["error_message"] in result["msg"]
