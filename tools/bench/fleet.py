# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet of local "hosts" (one root directory each) and one measured ansible-playbook run over it.

Each host is a device of the emulator with its own certificate and one certificate shared by every device, all
issued up front. The hosts use the local connection; the role's paths and the service's test and reload commands
point into each host's root, so nothing outside the temporary directory is touched and no web server is needed.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BUNDLE_ROUTE = "GET /apiv1/me/devices/:id/certificates/:id/bundle"


@dataclass
class Fleet:
    inventory: Path
    hosts: int
    certificates_per_host: int = 2

    @property
    def pairs(self) -> int:
        """(device, certificate) pairs: what a deployment has to look at."""
        return self.hosts * self.certificates_per_host


@dataclass
class Run:
    """One ansible-playbook run: wall time, what the API saw and what the hosts ran."""

    label: str
    rc: int
    seconds: float
    cpu_seconds: float  # user + system time of ansible-playbook and every process it started (modules included)
    requests: int
    bytes: int
    bundle_downloads: int
    by_route: dict[str, int]
    modules: dict[str, int]  # host -> module executions
    actions: dict[str, int]  # action -> module executions
    changed: dict[str, int]  # host -> changed results
    tasks: list[dict] = field(default_factory=list)  # per task: runs, seconds
    returned: list[dict] = field(default_factory=list)  # every result with the time it reached the controller
    output: str = ""

    @property
    def metadata_requests(self) -> int:
        return self.requests - self.bundle_downloads

    @property
    def changed_hosts(self) -> list[str]:
        return [host for host, count in self.changed.items() if count]


def make_fleet(emu, hosts: int, root: Path) -> Fleet:
    """Devices, certificates (issued by the emulator's SELF_CA), assignments and a static inventory."""
    user = emu.api()
    account = user.call("POST", "/acme-accounts", {"name": "bench-fleet", "provider": "SELF_CA", "ca_id": 1})
    device_ids = emu.admin.create_devices(hosts, name_prefix="fleet")

    def issued(domain: str) -> int:
        cert = user.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": account["id"], "action": "create"})
        user.call("POST", f"/certificates/{cert['id']}/issues", {})
        return cert["id"]

    shared = issued("shared.fleet.example.test")
    inventory_hosts = {}
    for index, device_id in enumerate(device_ids, 1):
        name = f"host{index:04d}"
        own = issued(f"{name}.fleet.example.test")
        for cid in (own, shared):
            user.call("POST", "/certificate-assign", {"certificate_id": cid, "device_id": device_id})
        host_root = root / "hosts" / name
        host_root.mkdir(parents=True)
        inventory_hosts[name] = {"certctrl_device_id": device_id, "bench_root": str(host_root), "certctrl_cert_root": str(host_root / "certs")}
    inventory = root / "fleet.yml"
    service = {"name": "bench_web", "validate": ["test", "-d", "{{ bench_root }}"], "reload": ["touch", "{{ bench_root }}/reloaded"]}
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "certctrl_services": [service],
        "certctrl_default_services": ["bench_web"],
    }
    inventory.write_text(yaml.safe_dump({"all": {"vars": group_vars, "hosts": inventory_hosts}}, sort_keys=False))
    return Fleet(inventory=inventory, hosts=hosts)


def run_playbook(emu, playbook: str, inventory: Path | str, env: dict[str, str], work: Path, label: str, extra_args: tuple[str, ...] = ()) -> Run:
    """ansible-playbook with the bench callback; the emulator's counters are reset first."""
    figures = work / f"tasks-{label.replace(' ', '-')}.json"
    env = {
        **env,
        "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(p for p in (str(HERE / "callback_plugins"), env.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_tasks",
        "CERTCTRL_BENCH_TASKS": str(figures),
    }
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), playbook, *extra_args]
    emu.admin.reset()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = emu.admin.requests()
    counters = emu.admin.counters()
    data = json.loads(figures.read_text()) if figures.exists() else {}
    return Run(
        label=label,
        rc=proc.returncode,
        seconds=seconds,
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        requests=counters["total"],
        bytes=sum(entry["bytes"] or 0 for entry in log),
        bundle_downloads=counters["by_route"].get(BUNDLE_ROUTE, 0),
        by_route=counters["by_route"],
        modules=data.get("modules", {}),
        actions=data.get("actions", {}),
        changed=data.get("changed", {}),
        tasks=data.get("tasks", []),
        returned=data.get("returned", []),
        output=proc.stdout[-4000:] + proc.stderr[-4000:],
    )


def profile(tasks: list[dict], top: int = 8) -> list[tuple[str, int, float]]:
    """The costliest tasks of a run: (task, runs, seconds), the runs of one task file line added up."""
    grouped: dict[str, list] = {}
    for task in tasks:
        action, _sep, rest = task["task"].partition(" | ")
        name, _sep, where = rest.rpartition(" (")
        name = re.sub(r"(:| of| for)? certificate \d+$", "", name.split(" : ", 1)[-1])
        entry = grouped.setdefault(f"{action} {where.rstrip(')')}", [f"{name} ({action.rsplit('.', 1)[-1]}, {where.rstrip(')')})", 0, 0.0])
        entry[1] += task["runs"]
        entry[2] += task["seconds"]
    return [tuple(e) for e in sorted(grouped.values(), key=lambda e: -e[2])[:top]]
