# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.device_bundle against a live emulator: deploy, idempotence, check mode, hostile bundles."""

from __future__ import annotations

import itertools
import json
import os
import stat
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator, UserClient

PLAYBOOKS = Path(__file__).parent / "playbooks"
PLAYBOOK = PLAYBOOKS / "device_bundle.yml"
BUNDLE_ROUTE = "GET /apiv1/me/devices/:id/certificates/:id/bundle"
_serial = itertools.count(1)


class Api(UserClient):
    """Sets up state through the public API with the seeded ``full`` key, as a user would."""

    def __init__(self, emu: Emulator, key: str = "full") -> None:
        super().__init__(emu.base_url, emu.token(key), emu.ca_file)
        self.emu = emu

    def certificate(self, *, issue: bool = True, device_id: int | None = 1) -> dict:
        """A new SELF_CA certificate (issued, assigned to ``device_id``), so every test has its own."""
        n = next(_serial)
        account = self.acct_id()
        domain = f"web{n}.bundle.test"
        record = self.call("POST", "/certificates", {"domain_name": domain, "sans": [domain, f"alt{n}.bundle.test"], "acct_id": account, "action": "create"})
        if issue:
            assert self.call("POST", f"/certificates/{record['id']}/issues", {})["status"] == "SUCCESS"
        if device_id is not None:
            public_id = self.call("GET", f"/devices/{device_id}")["device_public_id"]  # production keys assign on it
            self.call("POST", "/certificate-assign", {"certificate_id": record["id"], "device_public_id": public_id})
        return self.call("GET", f"/certificates/{record['id']}", params={"detail": "most"})  # production sends cert only so

    def acct_id(self) -> int:
        if not hasattr(self, "_acct_id"):
            self._acct_id = self.call("POST", "/acme-accounts", {"name": "bundle-self-ca", "provider": "SELF_CA", "ca_id": 1})["id"]
        return self._acct_id


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    # Its own emulator: these tests inject bundle faults and count requests.
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("emulator-bundle")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Api:
    return Api(emu)


def bundle_hits(emu: Emulator) -> int:
    return emu.admin.counters()["by_route"].get(BUNDLE_ROUTE, 0)


def fetch(emu: Emulator, tmp_path: Path, *, check: bool = False, verbosity: int = 0, **extra_vars: t.Any) -> tuple[t.Any, dict]:
    run = run_playbook(PLAYBOOK, ansible_env(emu), tmp_path=tmp_path, extra_vars=extra_vars, check=check, verbosity=verbosity)
    return run, run.task("Fetch bundle")


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in sorted(directory.iterdir())}


# -- deploy and idempotence ----------------------------------------------------------------------


def test_first_run_downloads_validates_and_writes_private_files(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    dest = tmp_path / "out" / "bundle"
    before = bundle_hits(emu)
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(dest))
    assert run.rc == 0, run.stdout
    assert result["changed"] and result["needs_update"] and result["downloaded"]
    assert bundle_hits(emu) - before == 1
    assert result["certificate"] == {"id": record["id"], "domain_name": record["domain_name"], "sans": record["sans"]}
    assert result["checks"] == [
        "fullchain_starts_with_leaf",
        "key_matches_certificate",
        "certificate_within_validity",
        "chain_signatures_verified",
        "names_covered",
        "fingerprint_matches_server",
    ]
    assert sorted(result["files"]) == ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert sorted(os.listdir(dest)) == ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]  # no temp files left
    for name, path in result["files"].items():
        assert path == str(dest / name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    server_leaf = x509.load_pem_x509_certificates(record["cert"].encode())[0]
    written = x509.load_pem_x509_certificate((dest / "certificate.pem").read_bytes())
    assert written == server_leaf
    assert result["x509"]["sha256_fingerprint"] == written.fingerprint(hashes.SHA256()).hex(":").upper()
    key = serialization.load_pem_private_key((dest / "private.key").read_bytes(), password=None)
    assert key.public_key() == written.public_key()
    assert "PRIVATE KEY" not in str(result)


def test_second_run_with_the_deployed_fingerprint_downloads_nothing(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    dest = tmp_path / "bundle"
    run, first = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(dest))
    assert run.rc == 0 and first["downloaded"]
    written = snapshot(dest)
    emu.admin.reset()
    run, second = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(dest), deployed_fingerprint=first["x509"]["sha256_fingerprint"])
    assert run.rc == 0
    assert second["changed"] is False and second["needs_update"] is False and second["downloaded"] is False
    assert second["files"] == {} and second["checks"] == []
    counters = emu.admin.counters()
    assert counters["by_route"].get(BUNDLE_ROUTE, 0) == 0
    assert counters["total"] == 1  # the one light read
    assert snapshot(dest) == written


def test_plain_lower_case_fingerprint_counts_as_current(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    leaf = x509.load_pem_x509_certificates(record["cert"].encode())[0]
    before = bundle_hits(emu)
    run, result = fetch(
        emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "d"), deployed_fingerprint=leaf.fingerprint(hashes.SHA256()).hex()
    )
    assert run.rc == 0 and result["changed"] is False
    assert bundle_hits(emu) == before
    assert not (tmp_path / "d").exists()


def test_idempotent_playbook_with_module_defaults(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    before = bundle_hits(emu)
    run = run_playbook(
        PLAYBOOKS / "device_bundle_idempotent.yml",
        ansible_env(emu),
        tmp_path=tmp_path,
        extra_vars={"certificate_id": record["id"], "device_id": 1, "dest": str(tmp_path / "b")},
    )
    assert run.rc == 0, run.stdout
    assert run.task("Only the first run deployed")["_status"] == "ok"
    assert bundle_hits(emu) - before == 1


def test_a_stale_fingerprint_redeploys(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    dest = tmp_path / "bundle"
    dest.mkdir(mode=0o750)
    (dest / "fullchain.pem").write_text("old certificate\n")
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(dest), deployed_fingerprint="AB" * 32, files=["fullchain.pem"])
    assert run.rc == 0 and result["changed"] and result["downloaded"]
    assert (dest / "fullchain.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((dest / "fullchain.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750  # an existing directory keeps its mode


def test_device_public_id_and_every_output(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    public_id = api.call("GET", "/devices/1")["device_public_id"]
    dest = tmp_path / "all"
    files = ["certificate.pem", "chain.pem", "fullchain.pem", "private.key", "combined.pem", "bundle.pfx", "certificate.der"]
    run, result = fetch(emu, tmp_path, device_public_id=public_id, certificate_id=record["id"], dest=str(dest), files=files, pfx_password="pfx-Secret-42")
    assert run.rc == 0, run.stdout
    assert sorted(result["files"]) == sorted(files)
    combined = (dest / "combined.pem").read_bytes()
    assert combined == (dest / "private.key").read_bytes() + (dest / "fullchain.pem").read_bytes()
    pfx = pkcs12.load_pkcs12((dest / "bundle.pfx").read_bytes(), b"pfx-Secret-42")
    assert pfx.cert.certificate == x509.load_der_x509_certificate((dest / "certificate.der").read_bytes())
    assert pfx.cert.friendly_name == record["domain_name"].encode()
    assert pfx.key.public_key() == pfx.cert.certificate.public_key()
    assert [c.certificate for c in pfx.additional_certs] == x509.load_pem_x509_certificates((dest / "chain.pem").read_bytes())
    assert "pfx-Secret-42" not in str(result)


def test_bundle_pfx_without_password_fails_before_any_request(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    emu.admin.reset()
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "d"), files=["bundle.pfx"])
    assert run.rc != 0 and result["_status"] == "failed"
    assert "set pfx_password" in result["msg"]
    assert emu.admin.counters()["total"] == 0


# -- check mode -------------------------------------------------------------------------------


def test_check_mode_predicts_without_downloading(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    dest = tmp_path / "never"
    before = bundle_hits(emu)
    run, result = fetch(emu, tmp_path, check=True, device_id=1, certificate_id=record["id"], dest=str(dest))
    assert run.rc == 0
    assert result["changed"] is True and result["needs_update"] is True and result["downloaded"] is False
    assert result["files"] == {}
    assert bundle_hits(emu) == before
    assert not dest.exists()
    run, current = fetch(emu, tmp_path, check=True, device_id=1, certificate_id=record["id"], deployed_fingerprint=result["x509"]["sha256_fingerprint"])
    assert run.rc == 0 and current["changed"] is False
    assert bundle_hits(emu) == before


def test_diff_shows_fingerprints_only(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    run = run_playbook(PLAYBOOK, ansible_env(emu), tmp_path=tmp_path, extra_vars={"device_id": 1, "certificate_id": record["id"]}, check=True, diff=True)
    assert run.rc == 0
    diff = run.task("Fetch bundle")["diff"]
    assert diff["before"] == {"sha256_fingerprint": None}
    assert diff["after"]["sha256_fingerprint"] == run.task("Fetch bundle")["x509"]["sha256_fingerprint"]
    assert "PRIVATE KEY" not in run.stdout


# -- hostile and broken bundles ---------------------------------------------------------------

FAULTS = {
    "key_mismatch": "private.key does not match the certificate's public key",
    "traversal": "has path traversal",
    "symlink": "'fullchain.pem' is a symbolic link",
    "truncated": "the download is a truncated zip",
    "expired": "has expired",
    "not_yet_valid": "is not valid yet",
    "not_zip": "the download is not a zip file",
    "oversize": "larger than the 10485760 byte limit",
    "missing_entry": "required entry private.key missing",
    "wrong_chain": "chain link 1 is broken",
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_bad_bundle_fails_clearly_and_leaves_dest_untouched(emu: Emulator, api: Api, tmp_path: Path, kind: str) -> None:
    record = api.certificate()
    dest = tmp_path / "bundle"
    dest.mkdir(mode=0o700)
    (dest / "fullchain.pem").write_bytes(b"the certificate deployed before\n")
    (dest / "private.key").write_bytes(b"the key deployed before\n")
    before = snapshot(dest)
    evil = Path("/tmp/certctrl-evil.pem")
    evil_before = evil.stat().st_mtime_ns if evil.exists() else None
    emu.admin.add_bundle_fault(kind, certificate_id=record["id"], count=1)
    hits = bundle_hits(emu)
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(dest))
    assert run.rc != 0 and result["_status"] == "failed"
    assert FAULTS[kind] in result["msg"], result["msg"]
    assert bundle_hits(emu) - hits == 1
    assert snapshot(dest) == before
    assert (evil.stat().st_mtime_ns if evil.exists() else None) == evil_before
    assert "PRIVATE KEY" not in run.stdout + run.stderr


def test_a_bad_bundle_never_creates_dest(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    emu.admin.add_bundle_fault("key_mismatch", certificate_id=record["id"], count=1)
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "new"))
    assert run.rc != 0 and "bundle rejected" in result["msg"] and "nothing was changed" in result["msg"]
    assert not (tmp_path / "new").exists()
    # The fault was for one download only: the next run deploys.
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "new"))
    assert run.rc == 0 and result["changed"]


# -- server-side refusals ---------------------------------------------------------------------


def test_revoked_device_is_refused_by_the_server(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate(device_id=4)
    run, result = fetch(emu, tmp_path, device_id=4, certificate_id=record["id"], dest=str(tmp_path / "d"))
    assert run.rc != 0
    assert "HTTP 403" in result["msg"] and "REVOKED" in result["msg"], result["msg"]
    assert result["status"] == 403
    assert not (tmp_path / "d").exists()


def test_a_certificate_not_assigned_to_the_device(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate(device_id=1)
    before = bundle_hits(emu)
    run, result = fetch(emu, tmp_path, device_id=2, certificate_id=record["id"], dest=str(tmp_path / "d"))
    assert run.rc != 0
    assert "HTTP 404" in result["msg"] and f"certificate {record['id']} is not assigned to device 2" in result["msg"]
    assert bundle_hits(emu) == before


def test_a_certificate_never_issued(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate(issue=False)
    before = bundle_hits(emu)
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "d"))
    assert run.rc != 0
    assert f"certificate {record['id']} ({record['domain_name']}) has never been issued" in result["msg"]
    assert bundle_hits(emu) == before


def test_an_unknown_device_public_id(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    run, result = fetch(emu, tmp_path, device_public_id="no-such-device", certificate_id=record["id"], dest=str(tmp_path / "d"))
    assert run.rc != 0 and "no device with public id 'no-such-device'" in result["msg"]


def test_a_malformed_deployed_fingerprint(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    run, result = fetch(emu, tmp_path, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "d"), deployed_fingerprint="not-a-fingerprint")
    assert run.rc != 0 and result["msg"].startswith("deployed_fingerprint: 'not-a-fingerprint' is not a SHA-256 fingerprint")


# -- secrets ----------------------------------------------------------------------------------


def test_verbose_runs_leak_no_key_password_or_token(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = api.certificate()
    files = ["private.key", "combined.pem", "bundle.pfx"]
    # The password travels in a vars file: on the command line, ansible-playbook -vvvv would echo it itself.
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"pfx_password": "pfx-Secret-42"}))
    options = {"device_id": 1, "certificate_id": record["id"], "files": files, "dest": str(tmp_path / "d")}
    run = run_playbook(PLAYBOOK, ansible_env(emu), tmp_path=tmp_path, extra_vars=options, verbosity=4, extra_args=["-e", f"@{secrets}"])
    result = run.task("Fetch bundle")
    assert run.rc == 0 and result["downloaded"]
    assert pkcs12.load_pkcs12((tmp_path / "d" / "bundle.pfx").read_bytes(), b"pfx-Secret-42").key is not None
    emu.admin.add_bundle_fault("key_mismatch", certificate_id=record["id"], count=1)
    failed, _result = fetch(emu, tmp_path, verbosity=4, device_id=1, certificate_id=record["id"], dest=str(tmp_path / "e"))
    assert failed.rc != 0
    output = run.stdout + run.stderr + failed.stdout + failed.stderr
    assert "PRIVATE KEY" not in output
    assert emu.token("full") not in output
    assert "pfx-Secret-42" not in output
    assert "device_bundle" in output  # the verbose output is really there
