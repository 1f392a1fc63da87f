# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleets of local "hosts" (one root directory each), the order of their runs, and one measured ansible-playbook run.

Each host is a device of the emulator with its own certificate and one certificate shared by every device, all
issued up front. The hosts use the local connection; the role's paths and the service's test and reload commands
point into each host's root, so nothing outside the temporary directory is touched and no web server is needed.
Every playbook gets the same devices under its own roots, so their first runs and reruns can be interleaved.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BUNDLE_ROUTE = "GET /apiv1/me/devices/:id/certificates/:id/bundle"
PHASES = ("first", "rerun")


@dataclass
class Fleet:
    hosts: int
    inventories: dict[str, Path]  # playbook -> its inventory: the same hosts and devices, roots of its own
    roots: dict[str, Path]  # playbook -> the directory holding its hosts' roots
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
    modules: dict[str, int]  # host -> module executions, those run inside one task (copy's stat, an action's) included
    actions: dict[str, int]  # module -> executions, all hosts
    task_modules: dict[str, int]  # host -> task results that ran a module (loop items one by one)
    changed: dict[str, int]  # host -> changed results
    load: float = 0.0  # 1-minute load average when the run started
    started: float = 0.0  # time.time() at the start
    tasks: list[dict] = field(default_factory=list)  # per task: runs, seconds
    returned: list[dict] = field(default_factory=list)  # every result with the time it reached the controller
    output: str = ""

    @property
    def metadata_requests(self) -> int:
        return self.requests - self.bundle_downloads

    @property
    def changed_hosts(self) -> list[str]:
        return [host for host, count in self.changed.items() if count]


def parse_sizes(text: str) -> list[int]:
    """BENCH_SIZES: fleet sizes separated by commas, each a positive number of hosts."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"BENCH_SIZES must be positive numbers of hosts separated by commas (for example 20,50,200), not {text!r}")
        sizes.append(int(part))
    return sizes


def run_order(names: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """Every playbook's first run in a random order, then every rerun in another: machine noise hits all alike."""
    firsts, reruns = list(names), list(names)
    rng.shuffle(firsts)
    rng.shuffle(reruns)
    return [(name, "first") for name in firsts] + [(name, "rerun") for name in reruns]


def count_modules(lines: list[str]) -> tuple[Counter[str], Counter[str]]:
    """The callback's module log (one JSON line per execution): executions per host and per module."""
    hosts: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    for line in lines:
        if line.strip():
            entry = json.loads(line)
            hosts[entry["host"]] += 1
            modules[entry["module"].replace("ansible.legacy.", "ansible.builtin.")] += 1
    return hosts, modules


def make_fleet(emu, hosts: int, root: Path, playbooks: list[str]) -> Fleet:
    """Devices, certificates (issued by the emulator's SELF_CA), assignments and one static inventory per playbook."""
    user = emu.api()
    account = user.call("POST", "/acme-accounts", {"name": "bench-fleet", "provider": "SELF_CA", "ca_id": 1})
    device_ids = emu.admin.create_devices(hosts, name_prefix="fleet")

    def issued(domain: str) -> int:
        cert = user.call("POST", "/certificates", {"domain_name": domain, "sans": [domain], "acct_id": account["id"], "action": "create"})
        user.call("POST", f"/certificates/{cert['id']}/issues", {})
        return cert["id"]

    shared_domain = "shared.fleet.example.test"
    shared = issued(shared_domain)
    devices = []
    for index, device_id in enumerate(device_ids, 1):
        name = f"host{index:04d}"
        domain = f"{name}.fleet.example.test"
        own = issued(domain)
        public_id = user.call("GET", f"/devices/{device_id}")["device_public_id"]
        for cid in (own, shared):  # production's assign keys on the device's public id (production-shape.md row 8)
            user.call("POST", "/certificate-assign", {"certificate_id": cid, "device_public_id": public_id})
        # What the naive playbook's author writes in the inventory: the ids of the host's certificates.
        devices.append((name, device_id, [{"id": own, "domain_name": domain}, {"id": shared, "domain_name": shared_domain}]))
    service = {"name": "bench_web", "validate": ["test", "-d", "{{ bench_root }}"], "reload": ["touch", "{{ bench_root }}/reloaded"]}
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "certctrl_services": [service],
        "certctrl_default_services": ["bench_web"],
    }
    inventories, roots = {}, {}
    for playbook in playbooks:
        roots[playbook] = root / playbook / "hosts"
        inventory_hosts = {}
        for name, device_id, certificates in devices:
            host_root = roots[playbook] / name
            (host_root / "downloads").mkdir(parents=True)
            inventory_hosts[name] = {
                "certctrl_device_id": device_id,
                "bench_root": str(host_root),
                "bench_certificates": certificates,
                "certctrl_cert_root": str(host_root / "certs"),
            }
        inventories[playbook] = root / playbook / "fleet.yml"
        inventories[playbook].write_text(yaml.safe_dump({"all": {"vars": group_vars, "hosts": inventory_hosts}}, sort_keys=False))
    return Fleet(hosts=hosts, inventories=inventories, roots=roots)


def run_playbook(
    emu,
    playbook: str,
    inventory: Path | str,
    env: dict[str, str],
    work: Path,
    label: str,
    extra_args: tuple[str, ...] = (),
    timeout: float | None = None,
) -> Run:
    """ansible-playbook with the bench callback; the emulator's counters are reset first."""
    figures = work / f"tasks-{label.replace(' ', '-')}.json"
    module_log = Path(f"{figures}.modules")
    module_log.unlink(missing_ok=True)
    env = {
        **env,
        "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(p for p in (str(HERE / "callback_plugins"), env.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_tasks",
        "CERTCTRL_BENCH_TASKS": str(figures),
    }
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), playbook, *extra_args]
    emu.admin.reset()
    load, started = os.getloadavg()[0], time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"{label}: ansible-playbook ran longer than {timeout:.0f} s (BENCH_RUN_TIMEOUT) and was stopped") from exc
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = emu.admin.requests()
    counters = emu.admin.counters()
    data = json.loads(figures.read_text()) if figures.exists() else {}
    per_host, per_module = count_modules(module_log.read_text().splitlines() if module_log.exists() else [])
    return Run(
        label=label,
        rc=proc.returncode,
        seconds=seconds,
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        requests=counters["total"],
        bytes=sum(entry["bytes"] or 0 for entry in log),
        bundle_downloads=counters["by_route"].get(BUNDLE_ROUTE, 0),
        by_route=counters["by_route"],
        modules=dict(per_host),
        actions=dict(per_module),
        task_modules=data.get("modules", {}),
        changed=data.get("changed", {}),
        load=load,
        started=started,
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
