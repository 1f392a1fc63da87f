# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DEVICE_REQUIRED certificates through the cjj365.certctrl.enroll playbook and the deploy role, on local "hosts".

The host makes its device key, the controller registers it and assigns the certificate, the host decrypts the key.
The controller side must never hold the key: every task result and the output of each run are searched for it.
The molecule scenario device_required does the same against a real nginx and scans every file of the run.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_plugins_templating import PASSWORD, vaulted
from test_role_deploy import Api, downloads, marking_service, mode, result_of, serial_of
from test_role_deploy_drills import KILL_HOOK

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

ENROLL_TASK = "Register the host as a cert-ctrl device"
DEPLOY_RESULT_PLAY = """
- ansible.builtin.import_playbook: cjj365.certctrl.enroll
- hosts: all:!localhost
  gather_facts: false
  tasks:
    - name: Show the result
      ansible.builtin.debug:
        var: certctrl_deploy_result
      when: certctrl_deploy_result is defined
    - name: Show the enrollment
      ansible.builtin.debug:
        var: certctrl_enrollment
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(tls=True, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator-device-required")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Api:
    return Api(emu)


def device_required(api: Api, domain: str) -> dict:
    """A DEVICE_REQUIRED certificate, issued, assigned to nobody yet."""
    record = api.call(
        "POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": api.acct_id, "action": "create", "policy": "DEVICE_REQUIRED"}
    )
    api.reissue(record["id"])
    return api.detail(record["id"])


def hosts_inventory(tmp_path: Path, names: list[str], *, python: str = sys.executable, **extra: t.Any) -> Path:
    hosts = {
        name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": python,
            "ansible_remote_tmp": str(tmp_path / "remote-tmp" / name),
            "certctrl_cert_root": str(tmp_path / "roots" / name),
            "certctrl_device_key_dir": str(tmp_path / "keys" / name),
            **extra,
        }
        for name in names
    }
    controller = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_remote_tmp": str(tmp_path / "remote-tmp" / "controller"),
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {**hosts, "localhost": controller}}}))
    return path


def key_forms(path: Path) -> list[str]:
    """The text encodings of a private key a leak would take: each base64 line of its PEM, its DER in base64 and hex."""
    pem = path.read_bytes()
    der = serialization.load_pem_private_key(pem, password=None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    lines = [line.decode() for line in pem.splitlines() if line and not line.startswith(b"-----")][:-1]
    return [*lines, base64.b64encode(der).decode(), der.hex()]


def key_matches(dest: Path) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    leaf = x509.load_pem_x509_certificate((dest / "certificate.pem").read_bytes())
    key = serialization.load_pem_private_key((dest / "private.key").read_bytes(), password=None)
    return leaf.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def assert_no_trace(run: t.Any, key: Path, *also: Path) -> None:
    text = "\n".join([run.stdout, run.stderr, repr(run.results), *(p.read_text(errors="replace") for p in also)])
    leaked = [form[:12] for form in key_forms(key) if form in text]
    assert not leaked, f"the controller side holds the key: {leaked}"


def enroll(emu: Emulator, tmp_path: Path, inv: Path, *, extra_vars: dict | None = None, env: dict | None = None, **kwargs: t.Any) -> t.Any:
    extra = {"certctrl_hosts": "all:!localhost", **(extra_vars or {})}
    return run_playbook(DEPLOY_RESULT_PLAY, env or ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars=extra, **kwargs)


def test_enroll_assign_deploy_then_rerun_changes_nothing(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = device_required(api, "enroll.dr.test")
    marks = tmp_path / "marks"
    inv = hosts_inventory(tmp_path, ["web1", "web2"])
    extra = {
        "certctrl_enroll_certificates": [record["id"]],
        "certctrl_certificates": [{"id": record["id"], "services": ["svc"]}],
        "certctrl_services": [marking_service("svc", marks)],
    }

    first = enroll(emu, tmp_path, inv, extra_vars=extra, extra_args=["--forks", "2"])

    assert first.rc == 0, first.stdout + first.stderr
    devices = {}
    for host in ("web1", "web2"):
        keys = tmp_path / "keys" / host
        assert mode(keys) == "0700" and mode(keys / "dev_sk.bin") == "0600" and (keys / "dev_sk.bin").stat().st_size == 32
        enrollment = first.task("Show the enrollment", host)["certctrl_enrollment"]
        assert enrollment["changed"] and enrollment["device_id"]
        devices[host] = enrollment["device_id"]
        dest = tmp_path / "roots" / host / record["domain_name"]
        assert mode(dest / "private.key") == "0600"
        assert serial_of((dest / "fullchain.pem").read_bytes()) == serial_of(record["cert"])
        assert key_matches(dest)
        result = result_of(first, host)
        assert result["changed"] and result["services_reloaded"] == ["svc"]
        assert_no_trace(first, dest / "private.key")
    # Two different devices, each with its own key: the two hosts' keys are the same certificate key, unwrapped twice.
    assert devices["web1"] != devices["web2"]
    assert (tmp_path / "keys/web1/dev_pk.bin").read_bytes() != (tmp_path / "keys/web2/dev_pk.bin").read_bytes()
    assert marks.read_text().count("reload svc") == 2

    second = enroll(emu, tmp_path, inv, extra_vars=extra)

    assert second.rc == 0, second.stdout
    assert "changed=0" in second.stdout and "changed=1" not in second.stdout, second.stdout
    assert {h: second.task("Show the enrollment", h)["certctrl_enrollment"]["device_id"] for h in devices} == devices
    assert [downloads(emu, d) for d in devices.values()] == [1, 1]
    assert marks.read_text().count("reload svc") == 2


def test_check_mode_on_a_fresh_host_creates_and_registers_nothing(emu: Emulator, api: Api, tmp_path: Path) -> None:
    before = len(api.call("GET", "/devices"))
    inv = hosts_inventory(tmp_path, ["fresh"])

    run = enroll(emu, tmp_path, inv, check=True)

    assert run.rc == 0, run.stdout
    assert not (tmp_path / "keys" / "fresh").exists()
    assert len(api.call("GET", "/devices")) == before
    assert run.task("Show the enrollment", "fresh")["certctrl_enrollment"]["changed"]


def test_a_host_whose_key_is_not_the_wrapped_one_fails_and_keeps_its_files(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = device_required(api, "swapped.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])
    extra = {"certctrl_enroll_certificates": [record["id"]], "certctrl_certificates": [record["id"]]}
    assert enroll(emu, tmp_path, inv, extra_vars=extra).rc == 0
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    before = {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()}
    api.reissue(record["id"])
    # The host's key files are replaced by another pair (a restored image, a copied directory): the device in
    # cert-ctrl still has the first public key, so the wrap cannot be opened here.
    keys = tmp_path / "keys" / "web"
    other = tmp_path / "other-keys"
    (tmp_path / "o").mkdir()
    assert enroll(emu, tmp_path, hosts_inventory(tmp_path / "o", ["o"], certctrl_device_key_dir=str(other)), extra_vars={}).rc == 0
    for name in ("dev_pk.bin", "dev_sk.bin"):
        (keys / name).write_bytes((other / name).read_bytes())

    run = run_playbook(
        "- hosts: web\n  gather_facts: false\n  roles: [cjj365.certctrl.deploy]\n",
        ansible_env(emu),
        tmp_path=tmp_path,
        inventory=inv,
        extra_vars={"certctrl_device_id": api.call("GET", f"/certificates/{record['id']}/devices")[0]["id"], "certctrl_certificates": [record["id"]]},
    )

    assert run.rc != 0
    msg = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")["msg"]
    assert "is not the one cert-ctrl wrapped the key for" in msg and "nothing was changed" in msg, msg
    assert {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()} == before


def test_a_host_without_a_device_key_is_told_to_enroll(emu: Emulator, api: Api, tmp_path: Path) -> None:
    record = device_required(api, "nokey.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])
    assert enroll(emu, tmp_path, inv, extra_vars={"certctrl_enroll_certificates": [record["id"]], "certctrl_enroll_deploy": False}).rc == 0
    device = api.call("GET", f"/certificates/{record['id']}/devices")[0]["id"]
    for path in (tmp_path / "keys" / "web").iterdir():
        path.unlink()

    run = run_playbook(
        "- hosts: web\n  gather_facts: false\n  roles: [cjj365.certctrl.deploy]\n",
        ansible_env(emu),
        tmp_path=tmp_path,
        inventory=inv,
        extra_vars={"certctrl_device_id": device, "certctrl_certificates": [record["id"]]},
    )

    assert run.rc != 0
    msg = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")["msg"]
    assert "has no cert-ctrl device key" in msg and "enroll" in msg and "nothing was changed" in msg, msg
    assert not (tmp_path / "roots" / "web" / record["domain_name"] / "private.key").exists()


def test_a_device_without_a_key_waits_for_the_wrap_then_says_so(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """A device registered without dev_pk (by the agent's older flow): the server answers 409 WRAP_PENDING."""
    record = device_required(api, "pending.dr.test")
    (device,) = emu.admin.create_devices(1)
    public_id = api.call("GET", f"/devices/{device}")["device_public_id"]
    api.call("POST", "/certificate-assign", {"certificate_id": record["id"], "device_public_id": public_id})
    inv = hosts_inventory(tmp_path, ["web"], certctrl_device_id=device)

    run = run_playbook(
        "- hosts: web\n  gather_facts: false\n  roles: [cjj365.certctrl.deploy]\n",
        ansible_env(emu),
        tmp_path=tmp_path,
        inventory=inv,
        extra_vars={"certctrl_certificates": [record["id"]], "certctrl_wrap_pending_timeout": 3},
    )

    assert run.rc != 0
    msg = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")["msg"]
    assert "has not wrapped the key" in msg and "WRAP_PENDING" in msg and "attempt(s) over 3 s" in msg, msg
    pending = [r for r in emu.admin.requests() if r["status"] == 409 and f"/devices/{device}/" in r["path"]]
    assert 2 <= len(pending) <= 4  # 1 s, 2 s: doubling waits within the bound


def test_a_host_without_pynacl_gets_the_package_names(emu: Emulator, api: Api, tmp_path: Path) -> None:
    bare = "/root/.pyenv/versions/3.9.18/bin/python3.9"
    assert subprocess.run([bare, "-c", "import nacl"], capture_output=True, check=False).returncode != 0
    record = device_required(api, "nonacl.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])
    assert enroll(emu, tmp_path, inv, extra_vars={"certctrl_enroll_certificates": [record["id"]], "certctrl_enroll_deploy": False}).rc == 0
    device = api.call("GET", f"/certificates/{record['id']}/devices")[0]["id"]

    run = run_playbook(
        "- hosts: web\n  gather_facts: false\n  roles: [cjj365.certctrl.deploy]\n",
        ansible_env(emu),
        tmp_path=tmp_path,
        inventory=hosts_inventory(tmp_path, ["web"], python=bare),
        extra_vars={"certctrl_device_id": device, "certctrl_certificates": [record["id"]]},
    )

    assert run.rc != 0
    msg = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")["msg"]
    assert "PyNaCl" in msg and "python3-nacl" in msg and "nothing was changed" in msg, msg


def test_other_certificates_on_an_enrolled_host_still_come_from_the_zip(emu: Emulator, api: Api, tmp_path: Path) -> None:
    hybrid = api.certificate(domain="hybrid.dr.test")
    secure = device_required(api, "mixed.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])

    run = enroll(emu, tmp_path, inv, extra_vars={"certctrl_enroll_certificates": [hybrid["id"], secure["id"]]})

    assert run.rc == 0, run.stdout
    deploy_task = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")
    checks = {c["domain_name"]: c for c in deploy_task["deployment"]["certificates"]}
    assert set(checks) == {"hybrid.dr.test", "mixed.dr.test"}
    for record in (hybrid, secure):
        dest = tmp_path / "roots" / "web" / record["domain_name"]
        assert serial_of((dest / "certificate.pem").read_bytes()) == serial_of(record["cert"])
        assert mode(dest / "private.key") == "0600" and key_matches(dest)
    assert os.path.exists(tmp_path / "keys" / "web" / "dev_sk.bin")


def test_the_opt_in_installs_the_distributions_packages_then_deploys_on_them(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """certctrl_install_crypto_packages on a Debian host whose system Python has no PyNaCl: the role installs
    python3-nacl (and python3-cryptography, 38 on Debian 12) and the key is decrypted with the distribution's libraries."""
    system = "/usr/bin/python3"
    record = device_required(api, "distro.dr.test")
    inv = hosts_inventory(tmp_path, ["web"], python=system)

    run = enroll(emu, tmp_path, inv, extra_vars={"certctrl_enroll_certificates": [record["id"]], "certctrl_install_crypto_packages": True})

    assert run.rc == 0, run.stdout + run.stderr
    probe = "import nacl, cryptography; print(nacl.__file__, cryptography.__version__)"
    found = subprocess.run([system, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.startswith("/usr/lib/python3/dist-packages/nacl/"), found.stdout
    assert not run.task("Install PyNaCl and cryptography", "web").get("failed")
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    assert key_matches(dest) and mode(dest / "private.key") == "0600"


def test_api_options_from_a_vaulted_key_and_templated_variables(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """The enroll flow as users configure it: no CERTCTRL_* in the environment, the key vault-encrypted in group_vars,
    the URL and CA templated over other variables; both the registration and the deploy use them."""
    record = device_required(api, "vaulted.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        f"certctrl_api_key: {vaulted(emu.token('full'))}\n"
        f"site_api: {emu.base_url}\nsite_ca: {emu.ca_file}\n"
        'certctrl_api_url: "{{ site_api }}"\ncertctrl_ca_path: "{{ site_ca }}"\n'
    )
    password = tmp_path / "vault-password"
    password.write_text(PASSWORD)
    env = {k: v for k, v in ansible_env(emu).items() if not k.startswith("CERTCTRL_")}
    extra = {"certctrl_hosts": "web", "certctrl_enroll_certificates": [record["id"]]}

    run = run_playbook(DEPLOY_RESULT_PLAY, env, tmp_path=tmp_path, inventory=inv, extra_vars=extra, extra_args=["--vault-password-file", str(password)])

    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Show the enrollment", "web")["certctrl_enrollment"]["device_id"]
    assert key_matches(tmp_path / "roots" / "web" / record["domain_name"])
    assert emu.token("full") not in run.stdout + run.stderr + repr(run.results)


def test_a_swap_killed_half_way_is_repaired_and_the_key_decrypted_again(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """Killed after the first rename (certificate.pem new, private.key old): the rerun downloads the wrapped key again,
    decrypts it on the host and completes the swap."""
    record = device_required(api, "killed.dr.test")
    inv = hosts_inventory(tmp_path, ["web"])
    extra = {"certctrl_enroll_certificates": [record["id"]], "certctrl_certificates": [record["id"]]}
    assert enroll(emu, tmp_path, inv, extra_vars=extra).rc == 0
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    api.reissue(record["id"])

    killed = enroll(emu, tmp_path, inv, extra_vars=extra, env=ansible_env(emu, **{KILL_HOOK: "1"}))

    assert killed.rc != 0
    assert not key_matches(dest)  # the new certificate beside the old key
    rerun = enroll(emu, tmp_path, inv, extra_vars=extra)
    assert rerun.rc == 0, rerun.stdout
    assert key_matches(dest) and serial_of((dest / "certificate.pem").read_bytes()) == serial_of(api.detail(record["id"])["cert"])
    assert not [p for p in dest.iterdir() if p.name.endswith(".certctrl-tmp")]
