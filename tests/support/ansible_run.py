# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running the ansible commands against an emulator: their environment, ansible-playbook and its task results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

if t.TYPE_CHECKING:
    from certctrl_emulator.testing import Emulator

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"
PLAYBOOKS = REPO / "tests" / "integration" / "playbooks"


def ansible_command(name: str) -> str:
    """An ansible-* command of the running Python's environment; under ansible-test (no scripts beside its Python) PATH's."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or str(beside))


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list[dict[str, t.Any]] = field(default_factory=list)

    def task(self, name: str, host: str | None = None) -> dict[str, t.Any]:
        """The result of the last run of the task with this name (on ``host`` when given)."""
        # ansible-core 2.21 names a role's tasks "<role> : <name>" in results; earlier cores give the name alone.
        matches = [r for r in self.results if r["task"] in (name, f"{r['task'].partition(' : ')[0]} : {name}") and (host is None or r["host"] == host)]
        if not matches:
            raise AssertionError(f"task {name!r} did not run; ran: {[r['task'] for r in self.results]}\n{self.stdout}\n{self.stderr}")
        return matches[-1]["result"] | {"_status": matches[-1]["status"]}

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r["result"].get("changed"))


def ansible_env(emu: Emulator, *, key: str = "full", **extra: str) -> dict[str, str]:
    """Environment for ansible commands against ``emu``, authenticated with the seeded key ``key``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTCTRL_", "ANSIBLE_"))}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_HOME": str(REPO / ".cache" / "ansible-home"),
            "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "integration" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "certctrl_results",
            "CERTCTRL_API_URL": emu.base_url,
            "CERTCTRL_API_KEY": emu.token(key),
            "CERTCTRL_CA_PATH": emu.ca_file or "",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.update(extra)
    return env


def run_playbook(
    playbook: str | Path,
    env: dict[str, str],
    *,
    tmp_path: Path,
    extra_vars: dict[str, t.Any] | None = None,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    inventory: str | Path | None = None,
    extra_args: t.Sequence[str] = (),
) -> PlaybookRun:
    """Run ansible-playbook; ``playbook`` is a path or YAML text. Each task result is recorded."""
    if isinstance(playbook, str) and "\n" in playbook:
        path = tmp_path / f"playbook-{len(list(tmp_path.glob('playbook-*.yml')))}.yml"
        path.write_text(playbook)
        playbook = path
    results_file = tmp_path / f"results-{os.getpid()}-{len(list(tmp_path.glob('results-*.json')))}.json"
    cmd = [ansible_command("ansible-playbook"), str(playbook)]
    cmd += ["-i", str(inventory) if inventory else "localhost,", "-c", "local"] if not inventory else ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    cmd += list(extra_args)
    proc = subprocess.run(cmd, env={**env, "CERTCTRL_TEST_RESULTS": str(results_file)}, capture_output=True, text=True, timeout=600, check=False)
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, results)


__all__ = ["COLLECTIONS", "PLAYBOOKS", "REPO", "PlaybookRun", "ansible_command", "ansible_env", "run_playbook"]
