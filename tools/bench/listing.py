# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading large accounts: the api lookup over many certificates, the devices inventory over many devices."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class Listing:
    label: str
    items: int
    requests: int
    bytes: int
    seconds: float  # the whole command, ansible start-up included
    api_seconds: float  # first request received -> last request answered


def _api_span(log: list[dict]) -> float:
    if not log:
        return 0.0
    first = log[0]["ts"] - (log[0]["duration_ms"] or 0) / 1000.0
    return log[-1]["ts"] - first


def lookup_certificates(emu, env: dict[str, str], work: Path, *, page_size: int = 100) -> Listing:
    """``query('cjj365.certctrl.api', 'certificates')`` in a playbook; the count comes back through a file."""
    out = work / f"lookup-{page_size}.json"
    playbook = work / f"lookup-{page_size}.yml"
    playbook.write_text(f"""---
- name: Bench lookup
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read every certificate once
      ansible.builtin.set_fact:
        bench_certificates: "{{{{ query('cjj365.certctrl.api', 'certificates', page_size={page_size}) }}}}"
    - name: Write how many were read
      ansible.builtin.copy:
        content: "{{{{ bench_certificates | length }}}}"
        dest: {out}
        mode: "0600"
""")
    emu.admin.reset()
    began = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    log = [e for e in emu.admin.requests() if e["route"] == "GET /apiv1/me/certificates"]
    return Listing(f"api lookup, page size {page_size}", int(out.read_text()), len(log), sum(e["bytes"] for e in log), seconds, _api_span(log))


def inventory_devices(emu, env: dict[str, str], work: Path, *, page_size: int = 100, label: str, cache_dir: Path | None = None) -> Listing:
    """``ansible-inventory --list`` with the devices plugin; optionally with the jsonfile cache."""
    config = work / f"bench{page_size}{'-cached' if cache_dir else ''}.certctrl.yml"
    text = f"plugin: cjj365.certctrl.devices\npage_size: {page_size}\n"
    if cache_dir:
        text += f"cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: {cache_dir}\n"
    config.write_text(text)
    emu.admin.reset()
    began = time.perf_counter()
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(config), "--list"], env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode()[-3000:])
    hosts = sum(1 for value in json.loads(proc.stdout)["_meta"]["hostvars"].values() if "certctrl_device_id" in value)
    log = emu.admin.requests()
    return Listing(label, hosts, len(log), sum(e["bytes"] for e in log), seconds, _api_span(log))


def pages(items: int, page_size: int) -> int:
    """Requests needed to read ``items`` page by page until a short page (the API sends no total)."""
    return items // page_size + 1
