# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every example of README.md and roles/deploy/README.md, run as written against a running emulator.

Each fenced block of the two files has a marker on the line before it, ``<!-- example: ID KIND [ARG] -->``:

- ``run``: a console block. Each ``$ `` command (``\\`` continues it) runs in order in one shell session (its
  environment carries over from command to command, as in a terminal), from a work directory that links ``.venv``
  and ``.cache/collections`` of this checkout, as a clone after ``make setup`` has them. It must exit 0, and the lines
  shown under it must appear in its output in that order (``...`` stands for any lines; spaces are compared loosely).
- ``background FILE``: a console block of one command that keeps running (the emulator): started in the background,
  the session goes on once FILE exists; stopped at the end of the test, after which FILE must be gone.
- ``file NAME``: written to NAME in the work directory when the session reaches it, for the commands after it.
- ``playbook``, ``vars``, ``result`` (roles/deploy/README.md): a playbook the test runs against local hosts, a
  variables file it passes to a role run, a ``certctrl_deploy_result`` compared with a real one.
- ``output``: what a command that is not run prints.

Substituted, and only this: ``/tmp/certctrl-try`` (a directory of the test), what must differ on a test machine
(SUBSTITUTIONS: ports, paths under /etc, a missing group or a user that is not root), and the ``-e @overrides.yml``
added to the commands of OVERRIDDEN, which reach "your own fleet" locally: services are small commands that leave
marks, privilege escalation is off. Commands that cannot run here are listed in NOT_RUN with the reason; a block or a
command that is neither run nor listed fails the test, so a new example cannot go untested.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from ansible_collections.cjj365.certctrl.tests.support.ansible_run import REPO, ansible_env, run_playbook
from certctrl_emulator.testing import Emulator, UserClient

README = REPO / "README.md"
ROLE_README = REPO / "roles" / "deploy" / "README.md"
TRY_ROOT = "/tmp/certctrl-try"

# Commands shown but not run, with the reason. Exact text (continuation lines joined with one space).
NOT_RUN: dict[str, str] = {
    "git clone https://github.com/cjj365/ansible-collection-certctrl.git && cd ansible-collection-certctrl": (
        "the test runs in this checkout: its work directory links this clone's .venv and .cache/collections"
    ),
    "make setup": "the test runs inside the set-up it makes (.venv with the pinned tools, the collection link)",
    "ansible-galaxy collection install cjj365.certctrl": "installs from Galaxy; the test uses this checkout through ANSIBLE_COLLECTIONS_PATH",
    "python3 -m pip install requests cryptography": "installs packages; the test's Python has them (tests/requirements.txt)",
    "export CERTCTRL_API_KEY=ak_...     # never put the key in a playbook": "a placeholder for a real key; the emulator's --env-file exported one",
    "make demo": "runs nginx and pebble for minutes; tools/demo.py is the demo's own check",
    "make test": "runs every suite, this one included",
    ".venv/bin/certctrl-emulator --tls-dir .cache/emulator --env-file .cache/emulator/env --pebble": (
        "a second emulator with pebble; tests/emulator/tests/test_acme_pebble.py runs --pebble"
    ),
    ".venv/bin/certctrl-emulator --tls-dir .cache/emulator --acme-directory https://acme.internal/dir --acme-ca-file ca.pem": (
        "acme.internal is a placeholder for your own ACME server"
    ),
}
# Blocks that are not run as a whole (and not console blocks), with the reason.
NOT_RUN_BLOCKS: dict[str, str] = {
    "demo-report": "the output of make demo (not run, see NOT_RUN)",
}
# Console blocks whose ansible-playbook commands get -e @overrides.yml (the README says they are for real hosts).
OVERRIDDEN = {"real-fleet"}
SERVICE_NAMES = ("nginx", "haproxy", "postfix", "dovecot")


@dataclass
class Block:
    source: str
    line: int
    id: str
    kind: str
    arg: str | None
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line} ({self.id})"


@dataclass
class Command:
    text: str
    expected: list[str] = field(default_factory=list)


MARKER = re.compile(r"^<!-- example: (?P<id>[a-z0-9-]+) (?P<kind>run|background|file|playbook|vars|result|output)(?: (?P<arg>\S+))? -->$")
FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` with their markers; a block without one, or a marker without a block, is an error."""
    lines = path.read_text().splitlines()
    found, marker, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("<!-- example:"):
            m = MARKER.match(line)
            assert m, f"{path.name}:{i + 1}: malformed marker {line!r}"
            marker = (m, i + 1)
        elif FENCE.match(line):
            lang = FENCE.match(line).group("lang")
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            assert end is not None, f"{path.name}:{i + 1}: unclosed block"
            assert marker and marker[1] == i, f"{path.name}:{i + 1}: a ```{lang} block without '<!-- example: ID KIND -->' on the line before it"
            m = marker[0]
            found.append(Block(path.name, i + 1, m["id"], m["kind"], m["arg"], lang, "\n".join(lines[i + 1 : end]) + "\n"))
            marker, i = None, end
        elif marker and line.strip():
            raise AssertionError(f"{path.name}:{marker[1]}: marker not directly before a block")
        i += 1
    ids = [b.id for b in found]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate example ids {ids}"
    return found


def commands(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, each with the output lines shown under it."""
    result: list[Command] = []
    continuing = False
    for line in block.text.splitlines():
        if continuing:
            result[-1].text = result[-1].text[:-1].rstrip() + " " + line.strip()
        elif line.startswith("$ "):
            result.append(Command(line[2:].rstrip()))
        else:
            assert result, f"{block.where}: output before the first command: {line!r}"
            result[-1].expected.append(line)
            continue
        continuing = result[-1].text.endswith("\\")
    return result


def loose(line: str) -> str:
    return " ".join(line.split())


def assert_shown(expected: list[str], output: str, what: str) -> None:
    """Each shown line (``...`` excepted) is part of an output line, in the order shown."""
    actual = [loose(line) for line in output.splitlines()]
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        want = re.compile(".*".join(re.escape(loose(part)) for part in line.split("...")))
        while position < len(actual) and not want.search(actual[position]):
            position += 1
        assert position < len(actual), f"{what}: {line.strip()!r} is not in the output (after the lines before it):\n{output}"
        position += 1


class Session:
    """One shell session, as a reader's terminal: commands run one by one, the environment carries over."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env
        self.background: list[tuple[subprocess.Popen, Path, Path]] = []

    def run(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        dump = self.work / ".session-env"
        script = f"{command}\n__certctrl_rc=$?\nenv -0 > {dump}\nexit $__certctrl_rc\n"
        proc = subprocess.run(["bash", "-c", script], cwd=self.work, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if dump.exists():
            pairs = [item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item]
            self.env = {k: v for k, v in pairs if k not in {"__certctrl_rc", "_", "SHLVL", "PWD", "OLDPWD"}}
            dump.unlink()
        with (self.work.parent / "session.log").open("a") as log:
            log.write(f"$ {command}\n# rc {proc.returncode}\n{proc.stdout}\n# stderr\n{proc.stderr}\n")
        return proc

    def start(self, command: str, ready: Path, timeout: float = 60) -> subprocess.Popen:
        log = self.work / f".background-{len(self.background)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.work, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.background.append((proc, ready, log))
        deadline = time.monotonic() + timeout
        while not ready.exists():
            assert proc.poll() is None, f"{command!r} exited with {proc.returncode}: {log.read_text()}"
            assert time.monotonic() < deadline, f"{command!r} did not write {ready} within {timeout}s: {log.read_text()}"
            time.sleep(0.1)
        return proc

    def stop(self) -> None:
        for proc, _ready, _log in self.background:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def work_dir(tmp_path: Path) -> Path:
    """A directory laid out as a clone after ``make setup``: ``.venv`` (the running Python's environment, so a nox
    session tests its own ansible-core) and ``.cache/collections`` (the link to this checkout)."""
    work = tmp_path / "clone"
    (work / ".cache").mkdir(parents=True)
    (work / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    (work / ".cache" / "collections").symlink_to(REPO / ".cache" / "collections", target_is_directory=True)
    return work


def session_env() -> dict[str, str]:
    """The reader's environment: nothing of ours set (no CERTCTRL_*, no ANSIBLE_*) but what keeps the test machine's
    state out of it: its own ANSIBLE_HOME, no colour, and the controller's Python on the local "hosts" (interpreter
    discovery may find a Python of this machine that does not run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTCTRL_", "ANSIBLE_", "VIRTUAL_ENV"))}
    env.update(
        {
            "ANSIBLE_HOME": str(REPO / ".cache" / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PYTHON_INTERPRETER": os.environ.get("CERTCTRL_HOST_PYTHON") or sys.executable,
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        }
    )
    return env


def marking_services(marks: Path) -> list[dict[str, t.Any]]:
    """Each service's test and reload append '<validate|reload> <service> <host>' to ``marks``."""
    return [
        {
            "name": name,
            "validate": ["sh", "-c", f"echo validate {name} {{{{ inventory_hostname }}}} >> {marks}"],
            "reload": ["sh", "-c", f"echo reload {name} {{{{ inventory_hostname }}}} >> {marks}"],
        }
        for name in SERVICE_NAMES
    ]


def write_overrides(path: Path, marks: Path) -> Path:
    path.write_text(yaml.safe_dump({"ansible_become": False, "certctrl_services": marking_services(marks)}))
    return path


def marked(marks: Path) -> set[tuple[str, str, str]]:
    return {tuple(line.split()) for line in marks.read_text().splitlines()} if marks.exists() else set()


def serial_of(path: Path) -> str:
    return format(x509.load_pem_x509_certificates(path.read_bytes())[0].serial_number, "x")


def mode(path: Path) -> str:
    return format(stat.S_IMODE(path.stat().st_mode), "04o")


def test_every_block_is_run_or_listed() -> None:
    """Fast and without an emulator: the markers are well formed, and nothing shown escapes the other tests."""
    listed = set(NOT_RUN)
    shown = set()
    for block in blocks(README) + blocks(ROLE_README):
        if block.kind in ("run", "background"):
            assert block.lang == "console", f"{block.where}: a {block.kind} block is a console block"
            cmds = commands(block)
            assert cmds, f"{block.where}: no '$ ' command"
            shown.update(c.text for c in cmds)
            if block.kind == "background":
                assert len(cmds) == 1 and block.arg, f"{block.where}: one command, and the file it writes as the marker's argument"
        elif block.kind == "output":
            assert block.id in NOT_RUN_BLOCKS, f"{block.where}: an output block must be listed in NOT_RUN_BLOCKS"
        elif block.kind == "file":
            assert block.arg, f"{block.where}: 'file' needs the file name"
        else:
            assert block.source == ROLE_README.name and block.id in ROLE_EXAMPLES, f"{block.where}: {block.kind} blocks are run by ROLE_EXAMPLES"
    assert listed <= shown, f"NOT_RUN lists commands no README shows any more: {sorted(listed - shown)}"
    stale = set(NOT_RUN_BLOCKS) - {b.id for b in blocks(README) + blocks(ROLE_README)}
    assert not stale, f"NOT_RUN_BLOCKS lists blocks that are gone: {sorted(stale)}"


def test_readme_from_a_clone(tmp_path: Path) -> None:
    """README.md top to bottom, in one session, against the emulator its own "Try it" starts."""
    work = work_dir(tmp_path)
    try_root = tmp_path / "try"
    marks = tmp_path / "marks"
    overrides = write_overrides(tmp_path / "overrides.yml", marks)
    session = Session(work, session_env())
    outputs: dict[str, list[subprocess.CompletedProcess]] = {}
    ran: set[str] = set()
    try:
        for block in blocks(README):
            text = block.text.replace(TRY_ROOT, str(try_root))
            if block.kind == "file":
                (work / block.arg).write_text(text)
                continue
            if block.kind == "output":
                continue
            outputs.setdefault(block.id, []).extend(run_block(block, text, session, work=work, overrides=overrides, ran=ran))
            check = README_CHECKS.get(block.id)
            if check:
                check(session=session, work=work, try_root=try_root, marks=marks, outputs=outputs.get(block.id, []))
        env_file = work / ".cache" / "emulator" / "env"
    finally:
        session.stop()
    assert not env_file.exists(), "the emulator removes its --env-file when it stops"
    assert_every_command_ran(README, ran)


def run_block(block: Block, text: str, session: Session, *, work: Path, overrides: Path, ran: set[str]) -> list[subprocess.CompletedProcess]:
    """Run (or start, for a background block) the commands of ``block`` as ``text`` spells them; each one's output.

    A command listed in NOT_RUN is skipped; each command run is added to ``ran`` as the README shows it."""
    procs = []
    for shown, command in zip(commands(block), commands(Block(**{**block.__dict__, "text": text}))):
        if shown.text in NOT_RUN:
            continue
        ran.add(shown.text)
        if block.kind == "background":
            session.start(command.text, work / block.arg)
            continue
        line = command.text
        if block.id in OVERRIDDEN and line.startswith("ansible-playbook "):
            line += f" -e @{overrides}"
        proc = session.run(line)
        assert proc.returncode == 0, f"{block.where}: {command.text!r} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert_shown(command.expected, proc.stdout, f"{block.where}: {command.text!r}")
        procs.append(proc)
    return procs


def assert_every_command_ran(readme: Path, ran: set[str]) -> None:
    for block in blocks(readme):
        if block.kind in ("run", "background"):
            for command in commands(block):
                assert command.text in ran or command.text in NOT_RUN, f"{block.where}: {command.text!r} neither ran nor is listed"


# Checks after a README block, beyond rc 0 and the output it shows.


def _api(session: Session) -> UserClient:
    env = session.env
    return UserClient(env["CERTCTRL_API_URL"], env["CERTCTRL_API_KEY"], env.get("CERTCTRL_CA_PATH"))


def _check_emulator(session: Session, work: Path, **_: t.Any) -> None:
    lines = (work / ".cache" / "emulator" / "env").read_text().splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["export CERTCTRL_API_URL", "export CERTCTRL_API_KEY", "export CERTCTRL_CA_PATH"]
    assert mode(work / ".cache" / "emulator" / "env") == "0600"
    assert lines[0].startswith("export CERTCTRL_API_URL=https://127.0.0.1:")
    assert lines[2] == f"export CERTCTRL_CA_PATH={work / '.cache' / 'emulator' / 'ca.pem'}"


def _check_device_info(session: Session, outputs: list[subprocess.CompletedProcess], **_: t.Any) -> None:
    assert session.env["CERTCTRL_API_URL"].startswith("https://127.0.0.1:"), "the env file was sourced"
    answer = json.loads(outputs[-1].stdout.split("=>", 1)[1])
    assert sorted(d["name"] for d in answer["devices"]) == ["web1", "web2", "web3"]


def _check_playbook(session: Session, **_: t.Any) -> None:
    api = _api(session)
    (account,) = [a for a in api.call("GET", "/acme-accounts") if a["name"] == "production"]
    assert account["provider"] == "letsencrypt"
    (record,) = api.call("GET", "/devices/1/certificates")
    assert record["domain_name"] == "www.example.com" and record["serial_number"]


def _check_deploy(try_root: Path, **_: t.Any) -> None:
    dest = try_root / "web1" / "www.example.com"
    assert sorted(p.name for p in dest.iterdir()) == [".certctrl-manifest.json", "certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
    assert mode(dest / "private.key") == "0600"
    assert not (try_root / "web2").exists() and not (try_root / "web3").exists(), "nothing is assigned to web2 and web3 yet"


def _check_issue_and_deploy(session: Session, try_root: Path, **_: t.Any) -> None:
    api = _api(session)
    (account,) = [a for a in api.call("GET", "/acme-accounts") if a["name"] == "default"]
    assert account["provider"] == "letsencrypt", "a new account is a Let's Encrypt one"
    serials = {serial_of(try_root / host / "shop.example.com" / "certificate.pem") for host in ("web1", "web2", "web3")}
    assert len(serials) == 1
    assert sorted(p.name for p in (try_root / "web1").iterdir()) == ["shop.example.com", "www.example.com"]


def _check_real_fleet(session: Session, try_root: Path, marks: Path, **_: t.Any) -> None:
    api = _api(session)
    default = [c for c in api.call("GET", "/certificates") if c["domain_name"] == "www.example.com"]
    assert len(default) == 2, "issue_and_deploy made www.example.com in the account 'default' too"
    for host in ("web1", "web2", "web3"):
        assert (try_root / host / "www.example.com" / "fullchain.pem").exists()
        assert {("validate", "nginx", host), ("reload", "nginx", host)} <= marked(marks), marks.read_text()


README_CHECKS: dict[str, t.Callable[..., None]] = {
    "try-emulator": _check_emulator,
    "try-device-info": _check_device_info,
    "try-playbook-run": _check_playbook,
    "try-deploy": _check_deploy,
    "try-issue-and-deploy": _check_issue_and_deploy,
    "real-fleet": _check_real_fleet,
}


# roles/deploy/README.md


class TLSEndpoint(threading.Thread):
    """A TLS server that serves whatever certificate and key are on disk at each handshake (a reloaded service)."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(daemon=True)
        self.cert, self.key = cert, key
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _addr = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.load_cert_chain(self.cert, self.key)
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    pass

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    with Emulator(tls=True, issue_delay=0.1, workdir=tmp_path_factory.mktemp("emulator-role-readme")) as emulator:
        yield emulator


class Api(UserClient):
    def __init__(self, emu: Emulator) -> None:
        super().__init__(emu.base_url, emu.token("full"), emu.ca_file)
        self.acct_id = self.call("POST", "/acme-accounts", {"name": "role-readme", "provider": "SELF_CA", "ca_id": 1})["id"]

    def certificate(self, domain: str, *devices: int) -> dict:
        record = self.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": self.acct_id, "action": "create"})
        assert self.call("POST", f"/certificates/{record['id']}/issues", {})["status"] == "SUCCESS"
        for device in devices:
            public_id = self.call("GET", f"/devices/{device}")["device_public_id"]
            self.call("POST", "/certificate-assign", {"certificate_id": record["id"], "device_public_id": public_id})
        return self.call("GET", f"/certificates/{record['id']}", params={"detail": "most"})


@pytest.fixture(scope="module")
def api(emu: Emulator) -> Api:
    return Api(emu)


def role_block(block_id: str) -> Block:
    (block,) = [b for b in blocks(ROLE_README) if b.id == block_id]
    return block


def static_inventory(tmp_path: Path, hosts: dict[str, dict[str, t.Any]]) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": os.environ.get("CERTCTRL_HOST_PYTHON") or sys.executable}
    entries = {name: {**local, "certctrl_cert_root": str(tmp_path / "roots" / name), **host_vars} for name, host_vars in hosts.items()}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {**entries, "localhost": local}}}))
    return path


def with_result(tmp_path: Path, example: str, hosts: str) -> Path:
    """The example as written, then a play that shows each host's certctrl_deploy_result."""
    (tmp_path / "example.yml").write_text(example)
    path = tmp_path / "site.yml"
    path.write_text(
        yaml.safe_dump(
            [
                {"ansible.builtin.import_playbook": "example.yml"},
                {
                    "name": "Show the result",
                    "hosts": hosts,
                    "gather_facts": False,
                    "tasks": [{"name": "Show the result", "ansible.builtin.debug": {"var": "certctrl_deploy_result"}}],
                },
            ],
            sort_keys=False,
        )
    )
    return path


def test_role_fleet_example(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """role-fleet: the seeded devices web1..web3 (used by this test only) over the devices inventory plugin."""
    record = api.certificate("fleet.example.com", 1, 2, 3)
    roots, marks = tmp_path / "roots", tmp_path / "marks"
    config = tmp_path / "fleet.certctrl.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "plugin": "cjj365.certctrl.devices",
                "status": ["ACTIVE"],
                "name_patterns": ["web*"],
                "include_certificates": True,
                "compose": {"ansible_connection": "'local'", "certctrl_cert_root": f"'{roots}/' ~ certctrl_name"},
            }
        )
    )
    playbook = with_result(tmp_path, role_block("role-fleet").text, "certctrl_status_active")

    run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=config, extra_args=["-e", f"@{write_overrides(tmp_path / 'o.yml', marks)}"])

    assert run.rc == 0, run.stdout + run.stderr
    for host in ("web1", "web2", "web3"):
        assert serial_of(roots / host / "fleet.example.com" / "certificate.pem") == format(
            x509.load_pem_x509_certificates(record["cert"].encode())[0].serial_number, "x"
        )
        assert {("validate", "nginx", host), ("reload", "nginx", host)} <= marked(marks)
        assert run.task("Show the result", host)["certctrl_deploy_result"]["services_reloaded"] == ["nginx"]


SUBSTITUTIONS = "127.0.0.1:443 (a free port), /etc/haproxy/certs (under the host's root), ssl-cert and root (when missing)"


def test_role_selected_example_and_its_result(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """role-selected, as written but for SUBSTITUTIONS; then role-result has the keys of the real result."""
    (device,) = emu.admin.create_devices(1, name_prefix="selected")
    records = {d: api.certificate(d, device) for d in ("www.example.com", "lb.example.com", "mail.example.com")}
    root, marks = tmp_path / "roots" / "web", tmp_path / "marks"
    inv = static_inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    endpoint = TLSEndpoint(root / "www.example.com" / "fullchain.pem", root / "www.example.com" / "private.key")
    endpoint.start()
    text = role_block("role-selected").text
    text = text.replace('"127.0.0.1:443"', f'"127.0.0.1:{endpoint.port}"').replace("/etc/haproxy/certs", f"{root}/etc/haproxy/certs")
    group = "ssl-cert"
    try:
        grp.getgrnam(group)
    except KeyError:
        group = grp.getgrgid(os.getgid()).gr_name
        text = text.replace("group: ssl-cert", f"group: {group}")
    if os.geteuid() != 0:
        text = text.replace("owner: root", f"owner: {pwd.getpwuid(os.geteuid()).pw_name}")
    playbook = with_result(tmp_path, text, "web")
    try:
        run = run_playbook(playbook, ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_args=["-e", f"@{write_overrides(tmp_path / 'o.yml', marks)}"])
    finally:
        endpoint.stop()

    assert run.rc == 0, run.stdout + run.stderr
    www, lb, mail = root / "www.example.com", root / "etc" / "haproxy" / "certs", root / "mail.example.com"
    assert sorted(p.name for p in www.iterdir() if not p.name.startswith(".")) == ["certificate.pem", "chain.pem", "fullchain.pem", "private.key"]
    assert [p.name for p in lb.iterdir() if not p.name.startswith(".")] == ["combined.pem"] and mode(lb / "combined.pem") == "0600"
    assert sorted(p.name for p in mail.iterdir() if not p.name.startswith(".")) == ["fullchain.pem", "private.key"]
    assert mode(mail / "private.key") == "0640" and grp.getgrgid((mail / "private.key").stat().st_gid).gr_name == group and mode(mail) == "0750"
    for domain, path in (("www.example.com", www / "fullchain.pem"), ("lb.example.com", lb / "combined.pem"), ("mail.example.com", mail / "fullchain.pem")):
        assert serial_of(path) == format(x509.load_pem_x509_certificates(records[domain]["cert"].encode())[0].serial_number, "x")
    assert {(step, name, "web") for step in ("validate", "reload") for name in SERVICE_NAMES} <= marked(marks)
    result = run.task("Show the result", "web")["certctrl_deploy_result"]
    assert result["verified_endpoints"] == [f"127.0.0.1:{endpoint.port}/www.example.com"]

    documented = yaml.safe_load(role_block("role-result").text)
    assert set(documented) == set(result), "role-result: the top-level keys of certctrl_deploy_result"
    www_result = next(c for c in result["certificates"] if c["domain_name"] == "www.example.com")
    assert set(documented["certificates"][0]) == set(www_result), "role-result: the keys of a certificate"


def test_role_services_example_in_check_mode(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """role-services, as a variables file: the role accepts it, and plans to test and reload both services."""
    (device,) = emu.admin.create_devices(1, name_prefix="services")
    api.certificate("svc.example.com", device)
    inv = static_inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    services = tmp_path / "services.yml"
    services.write_text(role_block("role-services").text)
    play = "- hosts: web\n  gather_facts: false\n  roles:\n    - role: cjj365.certctrl.deploy\n"

    run = run_playbook(
        play,
        ansible_env(emu),
        tmp_path=tmp_path,
        inventory=inv,
        check=True,
        extra_args=["-e", f"@{services}", "-e", json.dumps({"certctrl_default_services": ["nginx", "myapp"]})],
    )

    assert run.rc == 0, run.stdout + run.stderr
    assert not (tmp_path / "roots" / "web").exists()
    deployed = run.task("Deploy the device's certificates (fetch and validate the bundle only where the host is not current)", "web")
    assert deployed["deployment"]["certificates"][0]["services"] == ["nginx", "myapp"]


ROLE_EXAMPLES = {"role-fleet", "role-selected", "role-result", "role-services"}


def test_issue_and_deploy_keeps_an_existing_accounts_provider(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """The header's command without certctrl_acme_provider, on an existing SELF_CA account: it stays SELF_CA."""
    (device,) = emu.admin.create_devices(1, name_prefix="own-ca")
    api.call("POST", "/acme-accounts", {"name": "own-ca", "provider": "SELF_CA", "ca_id": 1, "email": "ops@example.com"})
    inv = static_inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    extra = {"certctrl_hosts": "web", "certctrl_domain_name": "own.example.com", "certctrl_acme_account": "own-ca", "certctrl_acme_email": "ops@example.com"}

    run = run_playbook(REPO / "playbooks" / "issue_and_deploy.yml", ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars=extra)

    assert run.rc == 0, run.stdout + run.stderr
    assert run.task("Make sure the ACME account exists")["changed"] is False
    (account,) = [a for a in api.call("GET", "/acme-accounts") if a["name"] == "own-ca"]
    assert account["provider"] == "SELF_CA"
    assert (tmp_path / "roots" / "web" / "own.example.com" / "fullchain.pem").exists()


def test_role_connection_variables_timeout_and_retries(emu: Emulator, api: Api, tmp_path: Path) -> None:
    """The Connection table: certctrl_retries and certctrl_timeout (the lookup's names) reach the role's API calls."""
    (device,) = emu.admin.create_devices(1, name_prefix="connection")
    api.certificate("conn.example.com", device)
    inv = static_inventory(tmp_path, {"web": {"certctrl_device_id": device}})
    play = "- hosts: web\n  gather_facts: false\n  roles:\n    - role: cjj365.certctrl.deploy\n"
    route = f"^/apiv1/me/devices/{device}/certificates$"
    try:
        emu.admin.add_fault(path=route, method="GET", kind="status", status=503, count=1)
        no_retry = run_playbook(play, ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars={"certctrl_retries": 0})
        emu.admin.clear_faults()
        emu.admin.add_fault(path=route, method="GET", kind="slow", delay=4, count=1)
        short = run_playbook(play, ansible_env(emu), tmp_path=tmp_path, inventory=inv, extra_vars={"certctrl_timeout": 1, "certctrl_retries": 0})
    finally:
        emu.admin.clear_faults()

    assert no_retry.rc != 0 and "503" in no_retry.stdout, no_retry.stdout
    assert short.rc != 0 and "within 1.0 s (timeout option)" in short.stdout, short.stdout
    assert not (tmp_path / "roots" / "web").exists()


def test_env_file_without_tls(tmp_path: Path) -> None:
    """--env-file of a plain-HTTP emulator: URL and key only, mode 0600, gone after SIGTERM."""
    env_file = tmp_path / "sub" / "env"
    exe = Path(sys.executable).parent / "certctrl-emulator"
    proc = subprocess.Popen([str(exe), "--env-file", str(env_file)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "no env file"
            time.sleep(0.05)
        lines = env_file.read_text().splitlines()
        assert mode(env_file) == "0600"
        assert len(lines) == 2 and lines[0].startswith("export CERTCTRL_API_URL=http://127.0.0.1:")
        assert lines[1] == "export CERTCTRL_API_KEY=ak_demo_full_0123456789abcdef"
        url = lines[0].split("=", 1)[1]
        client = UserClient(url, "ak_demo_full_0123456789abcdef")
        assert {d["name"] for d in client.call("GET", "/devices")} >= {"web1", "web2", "web3"}
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"its environment: . {env_file}" in err
    assert not env_file.exists()
