# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host-side modules and the deploy role on the oldest Python the running ansible-core supports on targets.

The controller is the test's Python (as everywhere); only the managed host's interpreter changes. It is
CERTCTRL_HOST_PYTHON when set (noxfile.py sets it per ansible-core), otherwise the oldest pyenv Python the running
ansible-core still supports as a target (2.16: 3.6, 2.17: 3.7, 2.18 and 2.19: 3.8, 2.20 and 2.21: 3.9). Without such
an interpreter the tests fail: a silent skip would hide that the collection's Python 3.6 claim is no longer tested.

Each playbook proves where it ran: ``ansible_facts.python`` of a setup run, ``<interpreter> -V``, and the shebang of
every AnsiballZ payload of our modules, kept in the host's remote_tmp (ANSIBLE_KEEP_REMOTE_FILES).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml
from test_role_deploy import ROLE_PLAY, Api, downloads, marking_service, mode, result_of, serial_of
from test_role_deploy import inventory as role_inventory
from test_service_reload import NAME, Nginx, fixture

from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import read_manifest
from ansible_collections.cjj365.certctrl.tests.support.ansible_run import ansible_env, run_playbook
from certctrl_emulator.testing import Emulator

# The oldest target Python of each ansible-core release (its porting guide / support matrix), for releases whose
# module_utils do not say it as a tuple (2.16 has a boolean _PY_MIN; 2.19 has _PY_MIN = (3, 8)).
OLDEST_TARGET = {(2, 16): (3, 6), (2, 17): (3, 7), (2, 18): (3, 8), (2, 19): (3, 8), (2, 20): (3, 9), (2, 21): (3, 9)}
PYENV = "/root/.pyenv/versions"
HOST_MODULES = ("certificate_files", "certificate_files_info", "service_reload", "served_certificate_info")


def oldest_target() -> tuple[int, int]:
    from ansible.module_utils import basic
    from ansible.release import __version__

    declared = getattr(basic, "_PY_MIN", None)
    if isinstance(declared, tuple):
        return (int(declared[0]), int(declared[1]))
    core = tuple(int(part) for part in __version__.split(".")[:2])
    if core not in OLDEST_TARGET:
        pytest.fail(f"ansible-core {__version__}: its oldest target Python is unknown; add it to OLDEST_TARGET")
    return OLDEST_TARGET[core]


def version_of(python: str) -> tuple[int, int]:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=60, check=True)
    major, minor = out.stdout.strip().split(".")
    return (int(major), int(minor))


@pytest.fixture(scope="module")
def host_python() -> str:
    """The interpreter of the managed host: CERTCTRL_HOST_PYTHON, else the oldest supported pyenv Python. Fails, never skips."""
    wanted = oldest_target()
    given = os.environ.get("CERTCTRL_HOST_PYTHON", "").strip()
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"CERTCTRL_HOST_PYTHON={given} is not an executable")
        if version_of(given) < wanted:
            pytest.fail(f"CERTCTRL_HOST_PYTHON={given} is Python {version_of(given)}, older than ansible-core supports ({wanted})")
        return given
    found = []
    for path in glob.glob(f"{PYENV}/*/bin/python3.*"):
        name = re.fullmatch(r"python3\.(\d+)", os.path.basename(path))
        if name and os.access(path, os.X_OK) and (3, int(name.group(1))) >= wanted:
            found.append(((3, int(name.group(1))), path))
    if not found:
        pytest.fail(f"no Python {wanted[0]}.{wanted[1]} or later under {PYENV}: install it or set CERTCTRL_HOST_PYTHON")
    return min(found)[1]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    # Its own emulator: the role's test counts bundle downloads.
    with Emulator(tls=True, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator-host-python")) as emulator:
        yield emulator


def host_inventory(tmp_path: Path, python: str) -> Path:
    path = tmp_path / "inventory.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": python, "ansible_remote_tmp": str(tmp_path / "remote-tmp" / "target")}
    path.write_text(yaml.safe_dump({"all": {"hosts": {"target": host}}}))
    return path


def where_it_ran(run: t.Any, host: str) -> tuple[str, str, str]:
    """(the interpreter the setup module reports, its version, what ``<ansible_python_interpreter> -V`` printed)."""
    facts = run.task("Facts of the host's Python", host)["ansible_facts"]["ansible_python"]
    version = run.task("Version of ansible_python_interpreter", host)
    return facts["executable"], f"{facts['version']['major']}.{facts['version']['minor']}", (version["stdout"] + version["stderr"]).strip()


def assert_ran_on(run: t.Any, host: str, python: str, remote_tmp: Path, modules: t.Iterable[str]) -> None:
    expected = ".".join(map(str, version_of(python)))
    executable, version, printed = where_it_ran(run, host)
    assert os.path.realpath(executable) == os.path.realpath(python) and version == expected
    assert printed.startswith(f"Python {expected}.")
    # The payloads of our modules, kept in the host's remote_tmp: each was started with the host's interpreter.
    for module in modules:
        payloads = list(remote_tmp.rglob(f"AnsiballZ_{module}.py"))
        assert payloads, f"no payload of {module} in {remote_tmp}"
        assert {p.read_text().splitlines()[0] for p in payloads} == {f"#!{python}"}, module


PROOF = """
    - name: Facts of the host's Python
      ansible.builtin.setup:
        gather_subset: ["!all", "!min", "python"]
    - name: Version of ansible_python_interpreter
      ansible.builtin.command: "{{ ansible_python_interpreter }} -V"
      changed_when: false
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_certificate_files_and_info_on_the_host_python(emu: Emulator, host_python: str, tmp_path: Path) -> None:
    dest = tmp_path / "certs"
    fullchain, key = dest / "fullchain.pem", dest / "private.key"
    serial = fixture("snakeoil", str(tmp_path / "one" / "fullchain.pem"), str(tmp_path / "one" / "private.key"), "host-python.test")["serial"]
    first = {"fullchain": (tmp_path / "one" / "fullchain.pem").read_text(), "key": (tmp_path / "one" / "private.key").read_text()}

    def files(chain: str, key_text: str) -> str:
        return json.dumps([{"path": str(fullchain), "content": b64(chain), "mode": "0644"}, {"path": str(key), "content": b64(key_text), "mode": "0600"}])

    directories = json.dumps([{"path": str(dest), "mode": "0750", "manifest": {"certificate_id": 1, "serial": serial, "reload_pending": True}}])
    same_directory = json.dumps([{"path": str(dest), "mode": "0750"}])  # no manifest: the role writes one only with a swap
    changed_chain = first["fullchain"] + "\n"  # the same certificate, other bytes: a content change
    playbook = f"""
- hosts: target
  gather_facts: false
  tasks:
{PROOF}
    - name: First write
      cjj365.certctrl.certificate_files:
        files: {files(first["fullchain"], first["key"])}
        directories: {directories}
    - name: Unchanged
      cjj365.certctrl.certificate_files:
        files: {files(first["fullchain"], first["key"])}
        directories: {same_directory}
    - name: Info
      cjj365.certctrl.certificate_files_info:
        paths: ["{fullchain}", "{key}", "{dest}/missing.pem"]
        fingerprint_file: "{fullchain}"
    - name: Info of the certificates
      cjj365.certctrl.certificate_files_info:
        certificates: [{{"dest_dir": "{dest}", "paths": ["{fullchain}", "{key}"]}}]
    - name: Change
      cjj365.certctrl.certificate_files:
        files: {files(changed_chain, first["key"])}
        directories: {directories}
      register: change
    - name: Undo the change
      cjj365.certctrl.certificate_files:
        state: restored
        restore_from: "{{{{ change.files }}}}"
"""
    env = ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1")
    run = run_playbook(playbook, env, tmp_path=tmp_path, inventory=host_inventory(tmp_path, host_python))

    assert run.rc == 0, run.stdout + run.stderr
    assert_ran_on(run, "target", host_python, tmp_path / "remote-tmp" / "target", ("certificate_files", "certificate_files_info"))
    written = run.task("First write", "target")
    assert written["changed"] and [f["action"] for f in written["files"]] == ["created", "created"]
    assert fullchain.read_text() == first["fullchain"] and key.read_text() == first["key"]
    assert (mode(fullchain), mode(key), mode(dest)) == ("0644", "0600", "0750")
    manifest = read_manifest(str(dest / ".certctrl-manifest.json"))
    assert manifest is not None and manifest["serial"] == serial and manifest["reload_pending"] is True
    assert manifest["files"][str(key)]["sha256"] == hashlib.sha256(first["key"].encode()).hexdigest() and manifest["files"][str(key)]["mode"] == "0600"
    unchanged = run.task("Unchanged", "target")
    assert not unchanged["changed"] and not unchanged["content_changed"] and [f["action"] for f in unchanged["files"]] == ["unchanged", "unchanged"]
    assert unchanged["manifests"] == [] and read_manifest(str(dest / ".certctrl-manifest.json")) == manifest
    info = run.task("Info", "target")
    assert [(f["path"], f["exists"], f.get("mode")) for f in info["files"]] == [
        (str(fullchain), True, "0644"),
        (str(key), True, "0600"),
        (f"{dest}/missing.pem", False, None),
    ]
    described = run.task("Info of the certificates", "target")["certificates"][0]
    assert described["deployed"]["serial"] == serial and described["deployed"]["sha256_fingerprint"] == info["fingerprint"]
    assert described["manifest"]["serial"] == serial and described["directory"]["mode"] == "0750"
    change = run.task("Change", "target")
    assert change["changed"] and [f["action"] for f in change["files"]] == ["replaced", "unchanged"] and change["files"][0]["backup"]
    undo = run.task("Undo the change", "target")
    assert undo["changed"] and [f["action"] for f in undo["files"]] == ["restored"]
    assert fullchain.read_text() == first["fullchain"]
    assert "PRIVATE KEY" not in run.stdout


def test_a_failed_swap_puts_the_previous_files_back_on_the_host_python(emu: Emulator, host_python: str, tmp_path: Path) -> None:
    dest = tmp_path / "certs"
    dest.mkdir()
    first, second = dest / "a.pem", dest / "b.pem"
    first.write_text("old a\n")
    second.write_text("old b\n")
    chattr = shutil.which("chattr")
    pinned = chattr is not None and subprocess.run([chattr, "+i", str(second)], capture_output=True, check=False).returncode == 0
    if not pinned:  # no immutable attribute here: a name too long for the staged copy fails the swap instead
        second = dest / ("b" * 240 + ".pem")
        second.write_text("old b\n")
    playbook = f"""
- hosts: target
  gather_facts: false
  tasks:
{PROOF}
    - name: Swap
      cjj365.certctrl.certificate_files:
        files:
          - {{path: "{first}", content: {b64("new a")}}}
          - {{path: "{second}", content: {b64("new b")}}}
      failed_when: false
"""
    try:
        run = run_playbook(playbook, ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1"), tmp_path=tmp_path, inventory=host_inventory(tmp_path, host_python))
    finally:
        if pinned:
            subprocess.run([chattr, "-i", str(second)], check=True)

    assert run.rc == 0, run.stdout + run.stderr
    assert_ran_on(run, "target", host_python, tmp_path / "remote-tmp" / "target", ("certificate_files",))
    swap = run.task("Swap", "target")
    assert swap["msg"].startswith("replacing the certificate files failed: "), swap  # failed_when: false keeps the play going
    assert swap["msg"].endswith("the previous files were put back"), swap["msg"]
    assert first.read_text() == "old a\n" and second.read_text() == "old b\n"


RELOAD_PLAY = """
- hosts: target
  gather_facts: false
  tasks:
{proof}
    - name: Served before
      cjj365.certctrl.served_certificate_info:
        host: 127.0.0.1
        port: {port}
        server_name: {name}
    - name: Reload
      cjj365.certctrl.service_reload:
        services: "{{{{ job.services }}}}"
        restore: "{{{{ job.restore }}}}"
        manifests: "{{{{ job.manifests }}}}"
        certificates: "{{{{ job.certificates }}}}"
        verify_timeout: 5
      failed_when: false
    - name: Served after
      cjj365.certctrl.served_certificate_info:
        host: 127.0.0.1
        port: {port}
        server_name: {name}
        expect_fingerprint: "{{{{ job.certificates[0].sha256_fingerprint }}}}"
        wait_timeout: 5
"""


def reload_with_nginx(emu: Emulator, nginx: Nginx, job: dict[str, t.Any], python: str, tmp_path: Path) -> t.Any:
    playbook = RELOAD_PLAY.format(proof=PROOF, port=nginx.port, name=NAME)
    run = run_playbook(
        playbook, ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1"), tmp_path=tmp_path, inventory=host_inventory(tmp_path, python), extra_vars={"job": job}
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert_ran_on(run, "target", python, tmp_path / "remote-tmp" / "target", ("service_reload", "served_certificate_info"))
    return run


@pytest.fixture
def nginx(tmp_path: Path) -> t.Iterator[Nginx]:
    server = Nginx(tmp_path / "site")
    try:
        yield server
    finally:
        server.stop()


def test_service_reload_and_served_certificate_info_on_the_host_python(emu: Emulator, nginx: Nginx, host_python: str, tmp_path: Path) -> None:
    job = nginx.swap()

    run = reload_with_nginx(emu, nginx, job, host_python, tmp_path)

    before = run.task("Served before", "target")
    assert before["certificate"]["serial"] == nginx.previous and before["attempts"] == 1 and "matches" not in before
    reload = run.task("Reload", "target")
    label = f"127.0.0.1:{nginx.port}/{NAME}"
    assert "step" not in reload, reload["msg"]
    assert reload["changed"] and reload["services_reloaded"] == ["nginx"] and reload["verified_endpoints"] == [label]
    assert reload["msg"] == f"tested and reloaded nginx; {label} serves the new certificate"
    assert not nginx.reload_pending() and nginx.served() == job["serial"]
    after = run.task("Served after", "target")
    assert after["matches"] is True and after["certificate"]["serial"] == job["serial"]


def test_a_failed_validate_rolls_back_on_the_host_python(emu: Emulator, nginx: Nginx, host_python: str, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in (nginx.fullchain, nginx.key)}
    job = nginx.swap(key_of_another=True)  # nginx -t refuses a key that does not match the certificate

    run = reload_with_nginx(emu, nginx, job, host_python, tmp_path)

    reload = run.task("Reload", "target")
    assert reload["step"] == "configuration test" and reload["rc"] == 1, reload
    assert "key values mismatch" in reload["msg"]
    assert f"the previous certificate files were restored ({nginx.fullchain}, {nginx.key})" in reload["msg"]
    assert f"now 127.0.0.1:{nginx.port}/{NAME} serves the previous certificate (serial {nginx.previous})" in reload["msg"]
    assert [r["action"] for r in reload["restored"]] == ["restored", "restored"]
    assert {p: p.read_bytes() for p in (nginx.fullchain, nginx.key)} == before and nginx.reload_pending()
    after = run.task("Served after", "target")
    assert after["matches"] is False and after["certificate"]["serial"] == nginx.previous == nginx.served()


def test_the_deploy_role_end_to_end_on_the_host_python(emu: Emulator, host_python: str, tmp_path: Path) -> None:
    api = Api(emu)
    (device,) = emu.admin.create_devices(1)
    record = api.certificate(device)
    marks = tmp_path / "marks"
    inv = role_inventory(tmp_path, {"web": {"certctrl_device_id": device, "ansible_python_interpreter": host_python}})
    extra = {"certctrl_default_services": ["app"], "certctrl_services": [marking_service("app", marks)]}
    play = tmp_path / "role.yml"
    play.write_text(f"- hosts: web\n  gather_facts: false\n  tasks:\n{PROOF}\n{ROLE_PLAY.format(hosts='web')}")
    env = ansible_env(emu, ANSIBLE_KEEP_REMOTE_FILES="1")

    first = run_playbook(play, env, tmp_path=tmp_path, inventory=inv, extra_vars=extra)

    assert first.rc == 0, first.stdout + first.stderr
    remote_tmp = tmp_path / "remote-tmp" / "web"
    assert_ran_on(first, "web", host_python, remote_tmp, ("certificate_files_info", "certificate_files", "service_reload"))
    dest = tmp_path / "roots" / "web" / record["domain_name"]
    files = ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
    assert {p.name for p in dest.iterdir()} == {*files, ".certctrl-manifest.json"}
    assert {f: mode(dest / f) for f in files} == {"certificate.pem": "0644", "chain.pem": "0644", "fullchain.pem": "0644", "private.key": "0600"}
    assert serial_of((dest / "certificate.pem").read_bytes()) == serial_of(record["cert"])
    manifest = read_manifest(str(dest / ".certctrl-manifest.json"))
    assert manifest is not None and manifest["certificate_id"] == record["id"] and manifest["reload_pending"] is False
    assert sorted(manifest["files"]) == sorted(str(dest / f) for f in files)
    assert marks.read_text().split("\n")[:-1] == ["validate app", "reload app"]
    result = result_of(first)
    assert result["changed"] and result["services_reloaded"] == ["app"] and result["certificates"][0]["serial"] == serial_of(record["cert"])
    assert downloads(emu, device) == 1

    second = run_playbook(play, env, tmp_path=tmp_path, inventory=inv, extra_vars=extra)

    assert second.rc == 0 and second.changed == 0, second.stdout + second.stderr
    assert not result_of(second)["changed"] and downloads(emu, device) == 1
    assert marks.read_text().split("\n")[:-1] == ["validate app", "reload app"]  # nothing was reloaded again
    assert_ran_on(second, "web", host_python, remote_tmp, ("certificate_files_info",))
