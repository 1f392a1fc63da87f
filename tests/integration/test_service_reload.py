# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""cjj365.certctrl.service_reload with a real nginx (no systemd: ``nginx -p DIR -c CONF``), run by ansible-playbook.

Each test starts its own nginx on a free 127.0.0.1 port, serving a "previous" certificate, replaces the files as the
deploy role's swap does (backups, a manifest with reload_pending), runs the module, and reads what nginx serves with an
independent TLS handshake (the molecule fixture's ``probe``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import read_manifest, write_manifest
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import REPO, ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

FIXTURE = REPO / "extensions" / "molecule" / "shared" / "certctrl_fixture.py"
NAME = "www.reload.test"

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Reload
      cjj365.certctrl.service_reload:
        services: "{{ job.services }}"
        restore: "{{ job.restore | default([]) }}"
        manifests: "{{ job.manifests | default([]) }}"
        certificates: "{{ job.certificates | default([]) }}"
        verify_timeout: "{{ job.verify_timeout | default(5) }}"
"""


def fixture(*args: str) -> dict[str, t.Any]:
    run = subprocess.run([sys.executable, str(FIXTURE), *args], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


class Nginx:
    """A real nginx serving NAME from certs/fullchain.pem and certs/private.key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "nginx"
        self.certs = root / "certs"
        self.fullchain = self.certs / "fullchain.pem"
        self.key = self.certs / "private.key"
        self.manifest = self.certs / ".certctrl-manifest.json"
        self.previous = fixture("snakeoil", str(self.fullchain), str(self.key), NAME)["serial"]
        self.port = fixture("nginx-start", str(self.dir), f"--server={NAME}:{self.fullchain}:{self.key}")["port"]
        base = ["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        self.service = {"name": "nginx", "validate": [*base, "-t"], "reload": [*base, "-s", "reload"]}
        self.endpoint = {"host": "127.0.0.1", "port": self.port, "server_name": NAME}

    def served(self) -> str:
        return fixture("probe", f"127.0.0.1:{self.port}/{NAME}")["serial"]

    def stop(self) -> None:
        fixture("nginx-stop", str(self.dir))

    def swap(self, *, key_of_another: bool = False) -> dict[str, t.Any]:
        """Replace both files as the role's swap does: backups first, the manifest last; the pending record."""
        staged = self.root / f"staged-{len(list(self.root.glob('staged-*')))}"
        new = fixture("snakeoil", str(staged / "fullchain.pem"), str(staged / "private.key"), NAME)
        if key_of_another:  # a key that does not match the certificate: nginx -t refuses it
            fixture("snakeoil", str(staged / "other.pem"), str(staged / "private.key"), NAME)
        backups = self.certs / ".certctrl-backup" / staged.name
        backups.mkdir(parents=True)
        restore = []
        for path in (self.fullchain, self.key):
            shutil.copy2(path, backups / path.name)
            shutil.copy2(staged / path.name, path)
            restore.append({"path": str(path), "backup": str(backups / path.name)})
        fingerprint = _fingerprint(self.fullchain)
        write_manifest(
            str(self.manifest), {"certificate_id": 5, "serial": new["serial"], "sha256_fingerprint": fingerprint, "files": {}, "reload_pending": True}
        )
        return {
            "serial": new["serial"],
            "services": [self.service],
            "restore": restore,
            "manifests": [str(self.manifest)],
            "certificates": [{"id": 5, "domain_name": NAME, "serial": new["serial"], "sha256_fingerprint": fingerprint, "verify_endpoints": [self.endpoint]}],
        }

    def reload_pending(self) -> bool:
        manifest = read_manifest(str(self.manifest))
        assert manifest is not None
        return manifest["reload_pending"]


def _fingerprint(path: Path) -> str:
    from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import leaf_summary

    summary = leaf_summary(path.read_bytes())
    assert summary
    return summary["sha256_fingerprint"]


@pytest.fixture
def nginx(tmp_path: Path) -> t.Iterator[Nginx]:
    server = Nginx(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def handle(emulator: Emulator, tmp_path: Path, job: dict[str, t.Any], *, check: bool = False) -> dict[str, t.Any]:
    run = run_playbook(PLAY, ansible_env(emulator), tmp_path=tmp_path, extra_vars={"job": job}, check=check)
    return run.task("Reload")


def test_a_good_reload_serves_the_new_certificate_then_clears_reload_pending(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    job = nginx.swap()

    result = handle(emulator, tmp_path, job)

    assert result["_status"] == "ok", result
    assert nginx.served() == job["serial"]
    label = f"127.0.0.1:{nginx.port}/{NAME}"
    assert result["services_reloaded"] == ["nginx"] and result["verified_endpoints"] == [label]
    assert result["msg"] == f"tested and reloaded nginx; {label} serves the new certificate"
    assert not nginx.reload_pending() and result["manifests_marked"] == [str(nginx.manifest)]


def test_a_failed_configuration_test_restores_and_nginx_keeps_serving_the_previous_certificate(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in (nginx.fullchain, nginx.key)}
    job = nginx.swap(key_of_another=True)

    result = handle(emulator, tmp_path, job)

    assert result["_status"] == "failed"
    message = result["msg"]
    assert message.startswith(f"certctrl: the configuration test of nginx failed ({' '.join(nginx.service['validate'])}, rc 1): "), message
    assert "[emerg]" in message and "key values mismatch" in message
    assert f"the previous certificate files were restored ({nginx.fullchain}, {nginx.key})" in message
    assert "nginx reloaded with them and serves the previous certificate" in message
    assert f"now 127.0.0.1:{nginx.port}/{NAME} serves the previous certificate (serial {nginx.previous})" in message
    assert {p: p.read_bytes() for p in (nginx.fullchain, nginx.key)} == before
    assert nginx.served() == nginx.previous  # checked independently
    assert nginx.reload_pending()
    assert result["service"] == "nginx" and result["step"] == "configuration test" and result["rc"] == 1


def test_a_configuration_broken_either_way_is_not_reloaded_and_the_previous_certificate_stays(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    job = nginx.swap()
    (nginx.dir / "extra.conf").write_text("certctrl_unknown_directive on;\n")

    result = handle(emulator, tmp_path, job)

    message = result["msg"]
    assert result["_status"] == "failed" and 'unknown directive "certctrl_unknown_directive"' in message
    assert "the previous certificate files were restored" in message
    assert "nginx's configuration test fails with them too" in message and "so it was not reloaded again" in message
    assert "reloaded with them" not in message
    assert f"now 127.0.0.1:{nginx.port}/{NAME} serves the previous certificate (serial {nginx.previous})" in message
    assert nginx.served() == nginx.previous


def test_when_the_second_reload_fails_too_the_message_says_nginx_may_be_down(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    job = nginx.swap()
    nginx.stop()  # nginx died: its configuration tests fine, but neither reload can reach it
    job["verify_timeout"] = 1

    result = handle(emulator, tmp_path, job)

    message = result["msg"]
    assert result["_status"] == "failed"
    assert message.startswith("certctrl: the reload of nginx failed (")
    assert "the previous certificate files were restored" in message
    assert "the second reload of nginx failed too" in message and "nginx may be down or serving the new or the previous certificate" in message
    assert f"now 127.0.0.1:{nginx.port}/{NAME} could not be checked: TLS handshake with 127.0.0.1:{nginx.port}/{NAME} failed" in message
    assert "serves the previous certificate" not in message
    assert nginx.reload_pending()


def test_a_failed_check_leaves_reload_pending_and_the_next_run_reloads_and_checks_again(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    job = nginx.swap()
    lazy = {**nginx.service, "reload": ["true"]}  # "reloads" without nginx reading the new files

    failed = handle(emulator, tmp_path, {**job, "services": [lazy], "verify_timeout": 1})

    assert failed["_status"] == "failed"
    label = f"127.0.0.1:{nginx.port}/{NAME}"
    assert f"{label} serves serial {nginx.previous}, not the deployed {job['serial']} (after " in failed["msg"]
    assert "the reload stays pending, so the next run reloads and checks again" in failed["msg"]
    assert nginx.reload_pending() and nginx.served() == nginx.previous

    fixed = handle(emulator, tmp_path, job)

    assert fixed["_status"] == "ok" and fixed["verified_endpoints"] == [label]
    assert nginx.served() == job["serial"] and not nginx.reload_pending()


def test_check_mode_runs_nothing(emulator: Emulator, nginx: Nginx, tmp_path: Path) -> None:
    job = nginx.swap()

    result = handle(emulator, tmp_path, job, check=True)

    assert result["_status"] == "ok" and result["changed"] and result["planned"]
    assert result["msg"] == f"check mode: would test and reload nginx, then check that 127.0.0.1:{nginx.port}/{NAME} serves the new certificate"
    assert nginx.served() == nginx.previous and nginx.reload_pending()
