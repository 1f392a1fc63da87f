# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy action's costs and its reliability drills, against a live emulator on local "hosts".

Module executions on a host are counted by its Python interpreter (a wrapper that notes each start): every module
run, pipelined or not, starts it once. API requests are counted from the emulator's request log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_role_deploy import FOUR, Api, deploy, downloads, handler_lines, inventory, marking_service, nginx_serving, result_of, serial_of

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env
from certctrl_emulator.testing import Emulator

KILL_HOOK = "CERTCTRL_TEST_KILL_AFTER_RENAME"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    # Its own emulator: the drills count requests and bundle downloads, and inject faults.
    with Emulator(tls=True, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator-drills")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Api:
    return Api(emu)


def counting_python(tmp_path: Path) -> tuple[Path, Path]:
    """An interpreter that appends a line to a file each time a module starts on the host."""
    counter = tmp_path / "module-runs"
    wrapper = tmp_path / "python-counting"
    wrapper.write_text(f'#!/bin/sh\necho run >> {counter}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, counter


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def requests_since(emu: Emulator, start: int, device: int) -> list[dict]:
    return [r for r in emu.admin.requests()[start:] if f"/devices/{device}" in r["path"]]


def key_matches(dest: Path) -> bool:
    leaf = x509.load_pem_x509_certificate((dest / "certificate.pem").read_bytes())
    key = serialization.load_pem_private_key((dest / "private.key").read_bytes(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.DER, spki) == leaf.public_key().public_bytes(serialization.Encoding.DER, spki)


def consistent(dest: Path) -> str:
    """The key matches the certificate, fullchain is certificate + chain, no temporary file: the deployed serial."""
    assert key_matches(dest)
    leaf = x509.load_pem_x509_certificate((dest / "certificate.pem").read_bytes())
    chain = (dest / "chain.pem").read_bytes() if (dest / "chain.pem").exists() else b""
    assert (dest / "fullchain.pem").read_bytes() == (dest / "certificate.pem").read_bytes() + chain
    assert not [p.name for p in dest.iterdir() if p.name.endswith((".certctrl-tmp", ".certctrl-restore"))]
    return format(leaf.serial_number, "x")


def test_a_current_host_costs_one_module_run_and_one_request(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    api.certificate(device)
    python, counter = counting_python(tmp_path)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device, "ansible_python_interpreter": str(python)}})
    start = len(emu.admin.requests())

    first = deploy(emu, tmp_path, inv)

    assert first.rc == 0, first.stdout
    # The action's two (read the host, swap the files) and the handler's one.
    assert runs(counter) == 3
    assert [r["route"].rsplit("/", 1)[-1] for r in requests_since(emu, start, device)] == ["certificates", "bundle"]
    counter.unlink()
    start = len(emu.admin.requests())

    again = deploy(emu, tmp_path, inv)

    assert again.rc == 0 and again.changed == 0, again.stdout
    assert runs(counter) == 1
    assert [r["path"] for r in requests_since(emu, start, device)] == [f"/apiv1/me/devices/{device}/certificates"]
    assert not result_of(again)["changed"] and downloads(emu, device) == 1


@pytest.mark.parametrize(("verify_from", "handler_runs"), [("host", 1), ("controller", 2)])
def test_the_reload_handler_is_one_module_task_with_one_module_run_or_two_when_the_controller_checks(
    emu: Emulator, api: Api, tmp_path: Path, verify_from: str, handler_runs: int
) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    python, counter = counting_python(tmp_path)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device, "ansible_python_interpreter": str(python)}})
    with nginx_serving(tmp_path, record["domain_name"]) as site:
        extra = {
            "certctrl_default_services": ["nginx"],
            "certctrl_services": [site["service"]],
            "certctrl_verify_endpoints": {record["domain_name"]: [site["label"]]},
            "certctrl_verify_from": verify_from,
        }

        run = deploy(emu, tmp_path, inv, extra_vars=extra, env=ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1"))

    assert run.rc == 0, run.stdout
    # One reload task, then the set_fact that completes the result (no module).
    assert len(handler_lines(run)) == 2 and result_of(run)["verified_endpoints"] == [site["label"]]
    # The action's two (read the host, swap the files), then the handler's module on the host; when the controller
    # checks, one more records the check. The check itself is a TLS handshake in the action: no module on the controller.
    assert runs(counter) == 2 + handler_runs
    assert not [p for p in (tmp_path / "remote-tmp" / "controller").rglob("*") if p.is_file()]


def test_directory_and_file_drift_is_corrected_on_a_current_host(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    python, counter = counting_python(tmp_path)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device, "ansible_python_interpreter": str(python)}})
    assert deploy(emu, tmp_path, inv).rc == 0
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    dest.chmod(0o777)
    (dest / "private.key").chmod(0o644)
    (dest / ".private.key.abc123.certctrl-tmp").write_text("left by a killed run\n")
    counter.unlink()

    run = deploy(emu, tmp_path, inv)

    assert run.rc == 0, run.stdout
    assert oct(dest.stat().st_mode & 0o7777) == "0o750" and oct((dest / "private.key").stat().st_mode & 0o7777) == "0o600"
    assert not (dest / ".private.key.abc123.certctrl-tmp").exists()
    # Read, then fix: nothing downloaded, and the handler (notified by the change) has nothing to do, so no module run.
    assert runs(counter) == 2 and downloads(emu, device) == 1
    assert not result_of(run)["changed"]  # the certificates did not change; the task did
    assert run.changed == 1


@pytest.mark.parametrize("kill_after", [0, 1, 2, 3])
def test_a_swap_killed_at_any_rename_is_repaired_by_the_next_run(emu: Emulator, api: Api, tmp_path: Path, kill_after: int) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    marks = tmp_path / "marks"
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    extra = {"certctrl_default_services": ["web"], "certctrl_services": [marking_service("web", marks)]}
    assert deploy(emu, tmp_path, inv, extra_vars=extra).rc == 0
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    old = consistent(dest)
    renewed = api.reissue(record["id"])
    marks.unlink()

    killed = deploy(emu, tmp_path, inv, extra_vars=extra, env=ansible_env(emu, **{KILL_HOOK: str(kill_after)}))

    assert killed.rc != 0
    # The swap renames the changed files in the plan's order: certificate.pem, fullchain.pem, private.key (the
    # renewal keeps the intermediate, so chain.pem is unchanged); the old manifest stays until all are in place.
    assert serial_of((dest / "certificate.pem").read_bytes()) == (renewed if kill_after >= 1 else old)
    assert serial_of((dest / "fullchain.pem").read_bytes()) == (renewed if kill_after >= 2 else old)
    assert key_matches(dest) is not (1 <= kill_after < 3)  # a new certificate with the old key: the partial swap of issue 14
    assert bool([p for p in dest.iterdir() if p.name.endswith(".certctrl-tmp")]) is (kill_after < 3)
    assert not marks.exists()  # nothing was reloaded

    repaired = deploy(emu, tmp_path, inv, extra_vars=extra)

    assert repaired.rc == 0, repaired.stdout
    assert consistent(dest) == renewed
    assert result_of(repaired)["certificates"][0]["changed"]
    # Even when every file was already in place (killed after the last rename), the services are reloaded.
    assert marks.read_text().split("\n")[:-1] == ["validate web", "reload web"]
    again = deploy(emu, tmp_path, inv, extra_vars=extra)
    assert again.rc == 0 and again.changed == 0


def test_sigkill_of_ansible_playbook_leaves_no_key_material_and_the_rerun_converges(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    playbook = tmp_path / "deploy.yml"
    playbook.write_text("- hosts: web\n  gather_facts: false\n  roles: [cjj365.certctrl.deploy]\n")
    env = {**ansible_env(emu), "CERTCTRL_TEST_RESULTS": str(tmp_path / "killed.json")}
    # Kill while the bundle is on its way (a slow answer), then late in a run (80% of how long the first rerun took).
    kill_at, full_run = 1.5, 0.0
    for slow in (True, False):
        api.reissue(record["id"])
        if slow:
            emu.admin.add_fault(path="/bundle$", method="GET", kind="slow", delay=3.0, count=1)
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv), str(playbook)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(kill_at if slow else 0.8 * full_run)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(1.0)  # a module the kill did not reach finishes on its own
        # The swap's arguments (the key) went through the connection's stdin: no payload of it may be left behind.
        leftovers = [p for p in (tmp_path / "remote-tmp").rglob("*") if p.name == "AnsiballZ_certificate_files.py"]
        assert not leftovers, leftovers

        started = time.monotonic()
        rerun = deploy(emu, tmp_path, inv)
        full_run = full_run or time.monotonic() - started

        assert rerun.rc == 0, rerun.stdout
        assert consistent(dest) == serial_of(api.detail(record["id"])["cert"])
        key = (dest / "private.key").read_bytes()
        body = b"".join(key.strip().splitlines()[1:-1])[:48]
        outside = [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents and body in p.read_bytes()]
        assert not outside, outside


def test_a_bad_mode_fails_before_anything_is_staged(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})

    run = deploy(emu, tmp_path, inv, extra_vars={"certctrl_key_mode": "abc"})

    assert run.rc != 0
    from test_role_deploy import DEPLOY_TASK

    assert "certctrl_key_mode: 'abc' is not an octal mode such as '0640'" in run.task(DEPLOY_TASK, "web")["msg"]
    assert not (tmp_path / "roots").exists() and downloads(emu, device) == 0
    assert not [p for p in (tmp_path / "remote-tmp").rglob("*") if p.is_file()]
    assert record["id"]


@pytest.mark.parametrize(
    ("certificates", "message"),
    [
        ("notalist", "certctrl_certificates must be a list of certificate entries (dicts or ids), not str 'notalist'"),
        ([{"domain_name": "{domain}", "service": ["nginx"]}], "certctrl_certificates[0] ({domain}) has unknown key(s) service; allowed: id, domain_name"),
    ],
)
def test_bad_certificate_lists_are_named(emu: Emulator, api: Api, tmp_path: Path, certificates: t.Any, message: str) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    certificates = json.loads(json.dumps(certificates).replace("{domain}", record["domain_name"]))

    run = deploy(emu, tmp_path, inv, extra_vars={"certctrl_certificates": certificates})

    assert run.rc != 0
    from test_role_deploy import DEPLOY_TASK

    assert message.replace("{domain}", record["domain_name"]) in run.task(DEPLOY_TASK, "web")["msg"]


def test_a_truncated_download_is_fetched_again(emu: Emulator, api: Api, tmp_path: Path) -> None:
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    emu.admin.add_bundle_fault("truncated", certificate_id=record["id"], count=1)

    run = deploy(emu, tmp_path, inv)

    assert run.rc == 0, run.stdout
    assert downloads(emu, device) == 2
    assert "downloading it again (1/3)" in run.stdout + run.stderr
    assert consistent(tmp_path / "roots" / "web" / record["domain_name"]) == serial_of(record["cert"])
    assert set(FOUR) <= {p.name for p in (tmp_path / "roots" / "web" / record["domain_name"]).iterdir()}


def test_export_forbidden_fails_the_host_naming_the_certificate_and_the_setting(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """Production-shape row 12: a 403 EXPORT_FORBIDDEN is an actionable message, and nothing reaches the host."""
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    emu.admin.set_certificate(record["id"], server_decrypt_export=0)  # production's default; the contract profile's is 1
    emu.admin.set_shape(export_forbidden=True)
    try:
        run = deploy(emu, tmp_path, inv)
    finally:
        emu.admin.set_shape(export_forbidden=False)

    assert run.rc != 0
    failure = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")
    assert f"certificate {record['id']} ({record['domain_name']})" in failure["msg"]
    assert "server_decrypt_export" in failure["msg"] and "nothing was changed" in failure["msg"]
    assert not (tmp_path / "roots" / "web" / record["domain_name"]).exists()


def test_wrap_pending_is_waited_for_then_deployed(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """Production-shape row 13: 409 WRAP_PENDING is retried with doubling waits; the deploy then goes through."""
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    inv = inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    emu.admin.add_bundle_fault("wrap_pending", certificate_id=record["id"], count=2)

    run = deploy(emu, tmp_path, inv)

    assert run.rc == 0, run.stdout
    pending = [r for r in emu.admin.requests() if r["route"].endswith("/bundle") and f"/devices/{device}/" in r["path"] and r["status"] == 409]
    assert len(pending) == 2
    assert consistent(tmp_path / "roots" / "web" / record["domain_name"]) == serial_of(record["cert"])
