# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cjj365.certctrl.deploy role and the playbooks against a live emulator, on local "hosts" (one root each).

Real services are exercised by the molecule scenarios (extensions/molecule, with nginx); here the services are small
shell commands that leave marks, so the role's decisions (test, reload, undo) can be read from the file system.
Work is counted from the emulator's request log, never from wall-clock time.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import hashlib
import itertools
import json
import os
import pwd
import stat
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import read_manifest
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import REPO, ansible_env, run_playbook
from certctrl_emulator.testing import Emulator, UserClient

BUNDLE_ROUTE = "GET /apiv1/me/devices/:id/certificates/:id/bundle"
DEPLOY_TASK = "Deploy the device's certificates (fetch and validate the bundle only where the host is not current)"
HANDLER_TASK = "Test and reload the services that use a changed certificate"
RESULT_TASK = "Add the reloaded services and the checked endpoints to the result"
# What a changed run prints for the handlers: one reload line, then the set_fact that completes certctrl_deploy_result.
HANDLERS = [f"RUNNING HANDLER [cjj365.certctrl.deploy : {HANDLER_TASK}]", f"RUNNING HANDLER [cjj365.certctrl.deploy : {RESULT_TASK}]"]
FIXTURE = REPO / "extensions" / "molecule" / "shared" / "certctrl_fixture.py"
FOUR = ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
_n = itertools.count(1)


class Api(UserClient):
    """Arranges state through the public REST API with the seeded ``full`` key, as a user would."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__(emu.base_url, emu.token("full"), emu.ca_file)
        self.emu = emu
        self.acct_id = self.call("POST", "/acme-accounts", {"name": "role-tests", "provider": "SELF_CA", "ca_id": 1})["id"]

    def certificate(self, *devices: int, domain: str | None = None) -> dict:
        """A new certificate, issued and assigned to ``devices``."""
        domain = domain or f"site{next(_n)}.role.test"
        record = self.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": self.acct_id, "action": "create"})
        self.reissue(record["id"])
        for device in devices:
            public_id = self.call("GET", f"/devices/{device}")["device_public_id"]
            self.call("POST", "/certificate-assign", {"certificate_id": record["id"], "device_public_id": public_id})
        return self.detail(record["id"])

    def detail(self, certificate_id: int) -> dict:
        """The record with its PEM: production sends ``cert`` only with ``?detail=most``."""
        return self.call("GET", f"/certificates/{certificate_id}", params={"detail": "most"})

    def reissue(self, certificate_id: int) -> str:
        assert self.call("POST", f"/certificates/{certificate_id}/issues", {})["status"] == "SUCCESS"
        return serial_of(self.detail(certificate_id)["cert"])


def serial_of(pem: str | bytes) -> str:
    data = pem.encode() if isinstance(pem, str) else pem
    return format(x509.load_pem_x509_certificates(data)[0].serial_number, "x")


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    # Its own emulator: the tests count bundle downloads and inject faults.
    with Emulator(tls=True, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator-role")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Api:
    return Api(emu)


def downloads(emu: Emulator, device: int) -> int:
    return sum(1 for r in emu.admin.requests() if r["route"] == BUNDLE_ROUTE and r["status"] == 200 and f"/devices/{device}/" in r["path"])


def inventory(tmp_path: Path, hosts: dict[str, dict[str, t.Any]]) -> Path:
    """Local hosts with their own certificate root and remote_tmp; an explicit localhost (the controller) with its own."""
    entries = {}
    for name, host_vars in hosts.items():
        entries[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "ansible_remote_tmp": str(tmp_path / "remote-tmp" / name),
            "certctrl_cert_root": str(tmp_path / "roots" / name),
            **host_vars,
        }
    controller = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_remote_tmp": str(tmp_path / "remote-tmp" / "controller"),
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {**entries, "localhost": controller}}}))
    return path


ROLE_PLAY = """
- hosts: {hosts}
  gather_facts: false
  roles:
    - role: cjj365.certctrl.deploy
  post_tasks:
    - name: Show the result
      ansible.builtin.debug:
        var: certctrl_deploy_result
"""


def deploy(emu: Emulator, tmp_path: Path, inv: Path, *, hosts: str = "web", env: dict | None = None, **kwargs: t.Any) -> t.Any:
    return run_playbook(ROLE_PLAY.format(hosts=hosts), env or ansible_env(emu), tmp_path=tmp_path, inventory=inv, **kwargs)


def result_of(run: t.Any, host: str = "web") -> dict:
    return run.task("Show the result", host)["certctrl_deploy_result"]


def mode(path: Path) -> str:
    return format(stat.S_IMODE(path.stat().st_mode), "04o")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def marking_service(name: str, marks: Path, *, validate_rc: int = 0, reload_rc: int = 0) -> dict:
    """A service whose test and reload append to ``marks`` and exit with the given codes."""
    return {
        "name": name,
        "validate": ["sh", "-c", f"echo validate {name} >> {marks}; echo 'test output of {name}' >&2; exit {validate_rc}"],
        "reload": ["sh", "-c", f"echo reload {name} >> {marks}; echo 'reload output of {name}' >&2; exit {reload_rc}"],
    }


def handler_lines(run: t.Any) -> list[str]:
    """The default callback's handler banners: one for each handler task that ran or was skipped."""
    return [line.rstrip("* ") for line in run.stdout.splitlines() if line.startswith("RUNNING HANDLER [")]


def fixture(*args: str) -> dict[str, t.Any]:
    run = subprocess.run([sys.executable, str(FIXTURE), *args], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@contextlib.contextmanager
def nginx_serving(tmp_path: Path, domain: str, host: str = "web") -> t.Iterator[dict[str, t.Any]]:
    """A real nginx serving ``domain`` from the files the role deploys on ``host``: until then, a self-signed
    "previous" certificate. Its ``service`` definition, the ``label`` of its endpoint, the ``previous`` serial."""
    dest = tmp_path / "roots" / host / domain
    previous = fixture("snakeoil", str(dest / "fullchain.pem"), str(dest / "private.key"), domain)["serial"]
    where = tmp_path / "nginx"
    port = fixture("nginx-start", str(where), f"--server={domain}:{dest / 'fullchain.pem'}:{dest / 'private.key'}")["port"]
    base = ["nginx", "-p", str(where), "-c", str(where / "nginx.conf")]
    try:
        yield {
            "service": {"name": "nginx", "validate": [*base, "-t"], "reload": [*base, "-s", "reload"]},
            "label": f"127.0.0.1:{port}/{domain}",
            "previous": previous,
            "manifest": dest / ".certctrl-manifest.json",
        }
    finally:
        fixture("nginx-stop", str(where))


def test_every_file_kind_with_group_modes_then_idempotent(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    group = grp.getgrgid(1).gr_name  # daemon on Debian: not the user's own group
    files = ["certificate.pem", "chain.pem", "fullchain.pem", "private.key", "combined.pem", "bundle.pfx", "certificate.der"]
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    extra = {
        "certctrl_certificates": [{"id": record["id"], "files": files, "group": group, "pfx_password": "s3cret-pfx"}],
        "certctrl_keep_backups": 1,
    }

    first = deploy(emu, tmp_path, inv, extra_vars=extra)

    assert first.rc == 0, first.stdout
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    # Nothing was replaced, so there is no backup; the manifest of the swap is written last, private.
    assert {p.name for p in dest.iterdir()} == {*files, ".certctrl-manifest.json"}
    assert mode(dest / ".certctrl-manifest.json") == "0600"
    assert {f: mode(dest / f) for f in files} == {
        "certificate.pem": "0644",
        "chain.pem": "0644",
        "fullchain.pem": "0644",
        "private.key": "0640",
        "combined.pem": "0640",
        "bundle.pfx": "0640",
        "certificate.der": "0644",
    }
    assert {grp.getgrgid((dest / f).stat().st_gid).gr_name for f in files} == {group}
    assert mode(dest) == "0750" and grp.getgrgid(dest.stat().st_gid).gr_name == group
    # The files are consistent with each other and with the server's certificate.
    leaf = x509.load_pem_x509_certificate((dest / "certificate.pem").read_bytes())
    assert format(leaf.serial_number, "x") == serial_of(record["cert"])
    assert (dest / "certificate.der").read_bytes() == leaf.public_bytes(serialization.Encoding.DER)
    key, pfx_cert, _chain = pkcs12.load_key_and_certificates((dest / "bundle.pfx").read_bytes(), b"s3cret-pfx")
    assert pfx_cert == leaf and key.public_key().public_numbers() == leaf.public_key().public_numbers()
    combined = (dest / "combined.pem").read_bytes()
    assert combined.startswith(b"-----BEGIN PRIVATE KEY-----") and (dest / "fullchain.pem").read_bytes() in combined
    result = result_of(first)
    assert result["changed"] and not result["check_mode"]
    assert result["certificates"][0]["serial"] == serial_of(record["cert"])
    assert sorted(result["certificates"][0]["files_changed"]) == sorted(str(dest / f) for f in files)
    assert downloads(emu, device) == 1

    second = deploy(emu, tmp_path, inv, extra_vars=extra)

    assert second.rc == 0 and second.changed == 0, second.stdout
    assert downloads(emu, device) == 1
    assert not result_of(second)["changed"]

    (dest / "private.key").chmod(0o644)  # someone loosened the key's mode
    third = deploy(emu, tmp_path, inv, extra_vars=extra)

    assert third.rc == 0 and mode(dest / "private.key") == "0640"
    assert downloads(emu, device) == 1  # corrected on the host, without fetching anything


def test_api_key_and_private_key_stay_off_the_output_and_the_host(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    token = emu.token("full")
    env = ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1", CERTCTRL_API_KEY="ak_not_the_key_in_use")

    # The key as a variable (from a file: -vvvv prints the command line), so it is part of the API modules' arguments.
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(yaml.safe_dump({"certctrl_api_key": token}))
    run = deploy(emu, tmp_path, inv, env=env, verbosity=4, diff=True, extra_args=["-e", f"@{secrets}"])

    assert run.rc == 0, run.stdout
    key_pem = (tmp_path / "roots" / "web" / record["domain_name"] / "private.key").read_text()
    key_body = "".join(key_pem.strip().splitlines()[1:-1])
    output = run.stdout + run.stderr
    for secret in (token, key_body, key_body[:64], base64.b64encode(key_pem.encode()).decode()[:64]):
        assert secret not in output
    # Every module the host ran left its payload in the host's remote_tmp: none carries the API key. The controller
    # ran no module at all (the action calls the API in its own process), so no payload there can hold the key either.
    host_files = [p for p in (tmp_path / "remote-tmp" / "web").rglob("*") if p.is_file()]
    controller_files = [p for p in (tmp_path / "remote-tmp" / "controller").rglob("*") if p.is_file()]
    assert host_files
    assert not [p for p in host_files + controller_files if token.encode() in p.read_bytes()]
    assert not controller_files


def test_check_mode_on_an_empty_host_plans_without_writing(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    marks = tmp_path / "marks"
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    extra = {"certctrl_default_services": ["web"], "certctrl_services": [marking_service("web", marks)]}

    run = deploy(emu, tmp_path, inv, extra_vars=extra, check=True, diff=True)

    assert run.rc == 0, run.stdout
    serial = serial_of(record["cert"])
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    assert f"serial {serial}" in run.stdout
    for name in FOUR:
        assert f"{dest / name}: created" in run.stdout
    assert run.task(HANDLER_TASK, "web")["msg"] == "check mode: would test and reload web"
    assert not (tmp_path / "roots").exists() and not marks.exists()
    assert downloads(emu, device) == 0
    planned = result_of(run)
    assert planned["check_mode"] and planned["services_reloaded"] == ["web"]
    assert planned["certificates"][0]["planned"] and planned["certificates"][0]["serial"] == serial
    assert "BEGIN PRIVATE KEY" not in run.stdout


def test_failed_test_restores_the_previous_files(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    marks = tmp_path / "marks"
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    good = {"certctrl_default_services": ["app", "proxy"], "certctrl_services": [marking_service("app", marks), marking_service("proxy", marks)]}
    assert deploy(emu, tmp_path, inv, extra_vars=good).rc == 0
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    before = {name: sha256(dest / name) for name in FOUR}
    assert marks.read_text().split("\n")[:-1] == ["validate app", "validate proxy", "reload app", "reload proxy"]
    marks.unlink()
    renewed = api.reissue(record["id"])
    broken = {**good, "certctrl_services": [marking_service("app", marks), marking_service("proxy", marks, validate_rc=1)]}

    run = deploy(emu, tmp_path, inv, extra_vars=broken)

    assert run.rc != 0
    message = run.task(HANDLER_TASK, "web")["msg"]
    assert "the configuration test of proxy failed" in message and "rc 1" in message and "test output of proxy" in message
    assert "previous certificate files were restored" in message
    assert {name: sha256(dest / name) for name in FOUR} == before
    assert serial_of((dest / "certificate.pem").read_bytes()) != renewed
    # Both were tested and neither was reloaded with the new files (what the handler does after restoring them is its tests').
    assert marks.read_text().split("\n")[:2] == ["validate app", "validate proxy"]
    marks.unlink()

    fixed = deploy(emu, tmp_path, inv, extra_vars=good)

    assert fixed.rc == 0 and serial_of((dest / "certificate.pem").read_bytes()) == renewed
    assert result_of(fixed)["services_reloaded"] == ["app", "proxy"]


def test_failed_reload_on_a_first_deployment_removes_the_new_files(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    marks = tmp_path / "marks"
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    extra = {"certctrl_default_services": ["app"], "certctrl_services": [marking_service("app", marks, reload_rc=3)]}

    run = deploy(emu, tmp_path, inv, extra_vars=extra)

    assert run.rc != 0
    message = run.task(HANDLER_TASK, "web")["msg"]
    assert "the reload of app failed" in message and "rc 3" in message and "reload output of app" in message
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    assert not [p.name for p in dest.iterdir() if not p.name.startswith(".")]  # the host is as it was: no certificate


@pytest.mark.parametrize("verify_from", ["host", "controller"])
def test_a_changed_run_prints_one_handler_line_and_the_result_names_the_reload_and_the_check(emu: Emulator, api: Api, tmp_path: Path, verify_from: str) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    domain = record["domain_name"]
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    with nginx_serving(tmp_path, domain) as site:
        label = site["label"]
        extra = {
            "certctrl_default_services": ["nginx"],
            "certctrl_services": [site["service"]],
            "certctrl_verify_endpoints": {domain: [label]},
            "certctrl_verify_from": verify_from,
        }
        check = "then check from the controller that" if verify_from == "controller" else "then check that"

        plan = deploy(emu, tmp_path, inv, extra_vars=extra, check=True)

        assert plan.rc == 0, plan.stdout
        assert handler_lines(plan) == HANDLERS, plan.stdout
        assert plan.task(HANDLER_TASK, "web")["msg"] == f"check mode: would test and reload nginx, {check} {label} serves the new certificate"
        planned = result_of(plan)
        assert planned["check_mode"] and planned["services_reloaded"] == ["nginx"] and planned["verified_endpoints"] == []
        assert fixture("probe", label)["serial"] == site["previous"]

        run = deploy(emu, tmp_path, inv, extra_vars=extra)

        assert run.rc == 0, run.stdout
        assert handler_lines(run) == HANDLERS, run.stdout
        checked = " (checked from the controller)" if verify_from == "controller" else ""
        assert run.task(HANDLER_TASK, "web")["msg"] == f"tested and reloaded nginx; {label} serves the new certificate{checked}"
        # The result fact has the reload and the check, at the top and on the certificate.
        result = result_of(run)
        assert result["changed"] and result["services_reloaded"] == ["nginx"] and result["verified_endpoints"] == [label]
        (certificate,) = result["certificates"]
        assert certificate["services_reloaded"] == ["nginx"] and certificate["verified_endpoints"] == [label]
        assert fixture("probe", label)["serial"] == serial_of(record["cert"]) != site["previous"]
        manifest = read_manifest(str(site["manifest"]))
        assert manifest is not None and manifest["reload_pending"] is False

        again = deploy(emu, tmp_path, inv, extra_vars=extra)

        assert again.rc == 0 and again.changed == 0, again.stdout
        assert handler_lines(again) == []


def test_an_endpoint_that_the_controller_finds_serving_the_previous_certificate_fails_the_host_and_stays_pending(
    emu: Emulator, api: Api, tmp_path: Path
) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    domain = record["domain_name"]
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    with nginx_serving(tmp_path, domain) as site:
        label = site["label"]
        lazy = {**site["service"], "reload": ["true"]}  # "reloads" without nginx reading the new files
        extra = {
            "certctrl_default_services": ["nginx"],
            "certctrl_services": [lazy],
            "certctrl_verify_endpoints": {domain: [label]},
            "certctrl_verify_from": "controller",
            "certctrl_verify_timeout": 1,
        }

        run = deploy(emu, tmp_path, inv, extra_vars=extra)

        assert run.rc != 0
        assert handler_lines(run) == HANDLERS[:1], run.stdout  # the host failed in the reload: nothing runs after it
        failed = run.task(HANDLER_TASK, "web")
        # served_certificate_info's message (require_match), for the endpoint that serves the previous certificate.
        assert failed["msg"].startswith(f"{label} serves serial {site['previous']} ("), failed["msg"]
        assert ", not the expected " in failed["msg"] and " attempts)" in failed["msg"]
        assert failed["services_reloaded"] == ["nginx"] and failed["verified_endpoints"] == []
        manifest = read_manifest(str(site["manifest"]))
        assert manifest is not None and manifest["reload_pending"] is True
        assert fixture("probe", label)["serial"] == site["previous"]

        fixed = deploy(emu, tmp_path, inv, extra_vars={**extra, "certctrl_services": [site["service"]], "certctrl_verify_timeout": 15})

        # The files are current, but the reload was pending: the next run reloads and checks again.
        assert fixed.rc == 0, fixed.stdout
        assert handler_lines(fixed) == HANDLERS, fixed.stdout
        assert fixture("probe", label)["serial"] == serial_of(record["cert"])
        assert result_of(fixed)["verified_endpoints"] == [label]
        manifest = read_manifest(str(site["manifest"]))
        assert manifest is not None and manifest["reload_pending"] is False


def test_handler_topics_for_other_roles(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    api.certificate(device)
    marks = tmp_path / "marks"
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    playbook = f"""
- hosts: web
  gather_facts: false
  vars:
    certctrl_services:
      - {json.dumps(marking_service("nginx", marks))}
  roles:
    - role: cjj365.certctrl.deploy
  tasks:
    - name: Another role changed nginx's configuration
      ansible.builtin.command: "true"
      changed_when: true
      notify: certctrl reload nginx
  handlers:
    - name: Restart the application that reads the certificate at start
      ansible.builtin.shell: echo app restarted >> {marks}
      listen: certctrl certificate changed
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=inv)

    assert run.rc == 0, run.stdout
    # The role's own flush ran the listener; the later notification tested and reloaded nginx.
    assert marks.read_text().split("\n")[:-1] == ["app restarted", "validate nginx", "reload nginx"]


def test_configuration_errors_name_what_to_fix(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}, "nameless": {}})

    run = deploy(emu, tmp_path, inv, hosts="all:!localhost", extra_vars={"certctrl_certificates": [{"domain_name": "nope.role.test"}]})

    assert run.rc != 0
    assert (
        "nameless has neither certctrl_device_id nor certctrl_device_public_id" in run.task("Check that the host names its cert-ctrl device", "nameless")["msg"]
    )
    included = run.task(DEPLOY_TASK, "web")["msg"]
    assert "no certificate for 'nope.role.test' is assigned to this device" in included
    assert f"(assigned: {record['id']} ({record['domain_name']}))" in included and "cjj365.certctrl.assign" in included


def test_certificate_files_undoes_a_run_and_refuses_links(emu: Emulator, tmp_path: Path) -> None:
    inv = inventory(tmp_path, {"web": {}})
    dest = tmp_path / "files"
    dest.mkdir()
    (dest / "a.pem").write_text("old a\n")
    (dest / "stale.pem").write_text("stale\n")
    (dest / "link.pem").symlink_to(dest / "a.pem")
    encoded = {name: base64.b64encode(text.encode()).decode() for name, text in {"a": "new a\n", "b": "new b\n"}.items()}
    playbook = f"""
- hosts: web
  gather_facts: false
  tasks:
    - name: Replace
      cjj365.certctrl.certificate_files:
        files:
          - {{path: {dest}/a.pem, content: {encoded['a']}, mode: "0600"}}
          - {{path: {dest}/b.pem, content: {encoded['b']}}}
          - {{path: {dest}/stale.pem, state: absent}}
      register: replaced
    - name: Undo
      cjj365.certctrl.certificate_files:
        state: restored
        restore_from: "{{{{ replaced.files }}}}"
    - name: Through a link
      cjj365.certctrl.certificate_files:
        files:
          - {{path: {dest}/b.pem, content: {encoded['a']}}}
          - {{path: {dest}/link.pem, content: {encoded['b']}}}
      ignore_errors: true
"""
    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=inv, diff=True)

    replaced = run.task("Replace", "web")
    assert [f["action"] for f in replaced["files"]] == ["replaced", "created", "removed"]
    assert replaced["files"][0]["backup"] and replaced["files"][1]["backup"] is None
    assert "old a" not in json.dumps(replaced) and "new a" not in json.dumps(replaced)
    assert [f["action"] for f in run.task("Undo", "web")["files"]] == ["restored", "removed", "restored"]
    assert (dest / "a.pem").read_text() == "old a\n" and (dest / "stale.pem").read_text() == "stale\n" and not (dest / "b.pem").exists()
    refused = run.task("Through a link", "web")
    assert refused["_status"] == "failed" and "is a symbolic link" in refused["msg"] and "nothing was changed" in refused["msg"]
    assert not (dest / "b.pem").exists()


def test_playbooks_issue_and_deploy_then_renew(emu: Emulator, tmp_path: Path) -> None:
    one, two = emu.admin.create_devices(2)
    devices = {
        d["id"]: d
        for d in requests.get(f"{emu.base_url}/apiv1/me/devices", headers={"Authorization": f"Bearer {emu.token()}"}, verify=emu.ca_file, timeout=30).json()[
            "data"
        ]
    }
    inv = inventory(tmp_path, {"web1": {"certctrl_device_id": one}, "web2": {"certctrl_device_public_id": devices[two]["device_public_id"]}})
    domain = f"pb{next(_n)}.role.test"
    issue_vars = {
        "certctrl_hosts": "web1:web2",
        "certctrl_domain_name": domain,
        "certctrl_acme_account": "playbooks",
        "certctrl_acme_provider": "SELF_CA",
        "certctrl_acme_ca_id": 1,
        "certctrl_acme_email": "ops@example.test",
    }
    playbooks = Path(__file__).resolve().parents[2] / "playbooks"

    first = run_playbook(playbooks / "issue_and_deploy.yml", ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars=issue_vars)

    assert first.rc == 0, first.stdout
    serials = {h: serial_of((tmp_path / "roots" / h / domain / "certificate.pem").read_bytes()) for h in ("web1", "web2")}
    assert len(set(serials.values())) == 1
    again = run_playbook(playbooks / "issue_and_deploy.yml", ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars=issue_vars)
    assert again.rc == 0 and again.changed == 0, again.stdout
    assert downloads(emu, one) == 1 and downloads(emu, two) == 1

    renew_vars = {"certctrl_hosts": "web1:web2", "certctrl_renew_force": True}
    renewed = run_playbook(playbooks / "renew.yml", ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars=renew_vars)

    assert renewed.rc == 0, renewed.stdout
    new = {h: serial_of((tmp_path / "roots" / h / domain / "certificate.pem").read_bytes()) for h in ("web1", "web2")}
    assert new["web1"] == new["web2"] != serials["web1"]
    assert downloads(emu, one) == 2 and downloads(emu, two) == 2

    quiet = run_playbook(playbooks / "renew.yml", ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars={"certctrl_hosts": "web1:web2"})

    assert quiet.rc == 0 and quiet.changed == 0, quiet.stdout
    assert "0 of 1 certificate(s) renewed" in quiet.stdout
    assert downloads(emu, one) == 2 and downloads(emu, two) == 2
    assert os.path.exists(tmp_path / "roots" / "web1" / domain / ".certctrl-backup")


def test_deploy_playbook_over_the_devices_inventory(emu: Emulator, api: Api, tmp_path: Path) -> None:
    # The seeded devices web1..web3 (ids 1-3) are used by this test only; the others create their own devices.
    shared = api.certificate(1, 2, 3)
    own = api.certificate(2)
    roots = tmp_path / "roots"
    config = tmp_path / "fleet.certctrl.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "plugin": "cjj365.certctrl.devices",
                "status": ["ACTIVE"],
                "name_patterns": ["web*"],
                "include_certificates": True,  # sets certctrl_certificates, which the role takes as its list
                "compose": {
                    "ansible_connection": "'local'",
                    "ansible_python_interpreter": repr(sys.executable),
                    "certctrl_cert_root": f"'{roots}/' ~ certctrl_name",
                },
            }
        )
    )
    playbook = Path(__file__).resolve().parents[2] / "playbooks" / "deploy.yml"

    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=config, extra_vars={"certctrl_hosts": "certctrl_status_active"})

    assert run.rc == 0, run.stdout + run.stderr
    deployed = {host.name: sorted(p.name for p in host.iterdir()) for host in roots.iterdir()}
    assert deployed == {
        "web1": [shared["domain_name"]],
        "web2": sorted([shared["domain_name"], own["domain_name"]]),
        "web3": [shared["domain_name"]],
    }
    assert serial_of((roots / "web2" / own["domain_name"] / "certificate.pem").read_bytes()) == serial_of(own["cert"])
    again = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=config, extra_vars={"certctrl_hosts": "certctrl_status_active"})
    assert again.rc == 0 and again.changed == 0
    assert [downloads(emu, d) for d in (1, 2, 3)] == [1, 2, 1]


def test_api_throttle_keeps_hosts_from_calling_the_api_at_once(emu: Emulator, api: Api, tmp_path: Path) -> None:
    devices = emu.admin.create_devices(3)
    api.certificate(*devices)
    inv = inventory(tmp_path, {f"t{d}": {"certctrl_device_id": d} for d in devices})
    # Each host's first request takes 1.5 s; with 5 forks and no throttle the three would overlap.
    emu.admin.add_fault(path="^/apiv1/me/devices/(" + "|".join(map(str, devices)) + ")$", method="GET", kind="slow", delay=1.5, count=3)

    run = deploy(emu, tmp_path, inv, hosts=":".join(f"t{d}" for d in devices), extra_vars={"certctrl_api_throttle": 1})

    assert run.rc == 0, run.stdout
    reads = [r for r in emu.admin.requests() if r["method"] == "GET" and r["path"] in {f"/apiv1/me/devices/{d}" for d in devices}]
    assert len(reads) == 3
    spans = sorted((r["ts"] - r["duration_ms"] / 1000, r["ts"]) for r in reads)
    assert all(spans[i][1] <= spans[i + 1][0] + 0.01 for i in range(2)), spans  # one host at a time
    assert all(result_of(run, f"t{d}")["changed"] for d in devices)


def test_certificate_files_info_describes_files_and_fingerprints_without_reading_keys(emu: Emulator, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes, serialization

    from certctrl_emulator import pki

    inv = inventory(tmp_path, {"web": {}})
    ca_key, ca_cert = pki.make_ca("Info Test CA")
    issued = pki.issue(
        pki.key_pem(ca_key), pki.cert_pem(ca_cert), [pki.cert_pem(ca_cert)], domain="info.role.test", sans=["info.role.test"], key_algorithm="ECDSA"
    )
    leaf = x509.load_pem_x509_certificates(issued["cert"].encode())[0]
    expected = leaf.fingerprint(hashes.SHA256()).hex(":").upper()
    dest = tmp_path / "files"
    dest.mkdir()
    (dest / "combined.pem").write_text(issued["key_pem"] + issued["cert"])  # the key block comes first
    (dest / "combined.pem").chmod(0o640)
    (dest / "certificate.der").write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    (dest / "link.pem").symlink_to(dest / "combined.pem")
    (dest / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    paths = [dest / name for name in ("combined.pem", "certificate.der", "link.pem", "missing.pem")]
    tasks = "\n".join(f"""    - name: Info {name}
      cjj365.certctrl.certificate_files_info:
        paths: {[str(p) for p in paths]}
        fingerprint_file: {dest / name}""" for name in ("combined.pem", "certificate.der", "link.pem", "junk.pem", "missing.pem"))
    run = run_playbook(f"- hosts: web\n  gather_facts: false\n  tasks:\n{tasks}\n", ansible_env(emu), tmp_path=tmp_path, inventory=inv, check=True)

    assert run.rc == 0, run.stdout
    info = run.task("Info combined.pem", "web")
    assert info["changed"] is False
    owner = pwd.getpwuid(os.getuid()).pw_name
    combined, der, link, missing = info["files"]
    assert combined == {"path": str(paths[0]), "exists": True, "regular": True, "mode": "0640", "owner": owner, "group": grp.getgrgid(os.getgid()).gr_name}
    assert der["exists"] and der["regular"]
    assert link["exists"] and not link["regular"]  # a link is described, not followed
    assert missing == {"path": str(paths[3]), "exists": False}
    # The same fingerprint from PEM behind a key, from DER and through a link; none for garbage or a missing file.
    assert [run.task(f"Info {n}", "web")["fingerprint"] for n in ("combined.pem", "certificate.der", "link.pem", "junk.pem", "missing.pem")] == [
        expected,
        expected,
        expected,
        "",
        "",
    ]
    assert "PRIVATE KEY" not in run.stdout + json.dumps(info)
