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

from report import Table, Target, kib, seconds

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


INVENTORY_WHY = """
{requests} requests for {devices} devices: 50 full pages of 100, then the empty page that tells the client the list has ended.
The contract sends no total count, and the client stops at the first short page, so a count that is an exact multiple
of the page size costs one more request (5,001 to 5,099 devices take 51 requests, which is their number of pages).
What would close it (in the client, `_client.paginate`, not changed here): a total from the server, or asking for
`page_size + 1` items and moving on by `page_size`, so the extra item tells whether another page exists (1% more
items; it must stay within the server's largest page, so `page_size: 1000` could not use it). With `page_size: 1000`
the same 5,000 devices take 6 requests today.
"""


def report(results: list[Listing]) -> tuple[list[Table], list[Target]]:
    table = Table("Large accounts: the api lookup and the devices inventory", ["Read", "Items", "Requests", "Response bytes", "API time", "Wall time"])
    for r in results:
        table.add(r.label, r.items, r.requests, kib(r.bytes), seconds(r.api_seconds), seconds(r.seconds))
    table.notes += [
        "Lookup: `query('cjj365.certctrl.api', 'certificates')` in a playbook. Inventory: `ansible-inventory -i bench.certctrl.yml --list`"
        " with the `cjj365.certctrl.devices` plugin; its cache is `ansible.builtin.jsonfile`.",
        "API time: from the first request reaching the emulator to the last answer. Wall time: the whole command, Ansible's start-up included.",
        "Lists are read page by page until a short page: the API sends no total, so a count that is a multiple of the page size costs one more (empty) page.",
    ]
    inventory = next(r for r in results if r.label == "inventory, page size 100")
    cached = results[-1]
    targets = [
        Target(
            "Inventory over 5,000 devices",
            "requests = pages of 100 (50)",
            f"{inventory.requests} requests for {inventory.items} devices",
            inventory.requests <= 50,
            why=INVENTORY_WHY.format(requests=inventory.requests, devices=inventory.items),
        ),
        Target("Inventory from its cache", "0 requests", f"{cached.requests} requests for {cached.items} devices", cached.requests == 0),
    ]
    return [table], targets
