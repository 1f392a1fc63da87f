# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Bench-only callback (`make bench`): counts what each host ran and times every task, like
# ansible.posix's profile_tasks (not installed here), into the JSON file named by CERTCTRL_BENCH_TASKS.
# It also counts every module execution, those an action runs inside one task included (copy's and unarchive's stat,
# an action plugin's own modules): ActionBase._execute_module is wrapped in this process before Ansible forks its
# workers, and each execution appends one line to CERTCTRL_BENCH_TASKS + ".modules".

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: Count task executions per host and time each task for make bench
description:
  - Used by tools/bench.py only. Writes its figures to the JSON file named by E(CERTCTRL_BENCH_TASKS) when the run ends.
  - Appends one JSON line per module execution (host, module, task action) to E(CERTCTRL_BENCH_TASKS) with C(.modules) added.
options: {}
"""

import json
import os
import time
from collections import Counter, defaultdict

from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase

# Actions that run on the controller alone: no module is sent to (or run for) the host.
CONTROLLER_ONLY = frozenset(
    {
        "ansible.builtin.set_fact",
        "ansible.builtin.assert",
        "ansible.builtin.debug",
        "ansible.builtin.fail",
        "ansible.builtin.meta",
        "ansible.builtin.include_tasks",
        "ansible.builtin.import_tasks",
        "ansible.builtin.include_role",
        "ansible.builtin.include_vars",
        "ansible.builtin.validate_argument_spec",
        "set_fact",
        "assert",
        "debug",
        "fail",
        "meta",
        "include_tasks",
    }
)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("CERTCTRL_BENCH_TASKS")
        if self._path:
            _count_module_executions(self._path + ".modules")
        self._modules: Counter[str] = Counter()  # host -> module executions (loop items one by one)
        self._actions: Counter[str] = Counter()  # action -> module executions, all hosts
        self._results: Counter[str] = Counter()  # host -> task results of any kind
        self._changed: Counter[str] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)  # task -> wall seconds, summed over its runs
        self._runs: Counter[str] = Counter()
        self._current: tuple[str, float] | None = None
        self._returned: list[dict] = []  # wall clock time at which each result reached the controller

    # -- timing ------------------------------------------------------------------------------
    def _task_key(self, task) -> str:
        path = (task.get_path() or "").rsplit("/", 2)
        return f"{task.action} | {task.get_name()} ({'/'.join(path[-2:])})"

    def _close_task(self) -> None:
        if self._current is not None:
            key, began = self._current
            self._seconds[key] += time.perf_counter() - began
            self._current = None

    def _start(self, task) -> None:
        self._close_task()
        key = self._task_key(task)
        self._runs[key] += 1
        self._current = (key, time.perf_counter())

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._start(task)

    # -- counting ----------------------------------------------------------------------------
    def _count(self, result, status: str) -> None:
        host = result._host.get_name()
        self._results[host] += 1
        self._returned.append({"host": host, "task": result._task.get_name(), "status": status, "time": time.time(), "result": _light(result._result)})
        if result._result.get("changed"):
            self._changed[host] += 1
        if status == "skipped" or result._task.action in CONTROLLER_ONLY:
            return
        if "results" in result._result and result._task.loop is not None:
            return  # counted item by item
        self._modules[host] += 1
        self._actions[result._task.action] += 1

    def _item(self, result) -> None:
        if result._task.action not in CONTROLLER_ONLY:
            self._modules[result._host.get_name()] += 1
            self._actions[result._task.action] += 1

    def v2_runner_on_ok(self, result) -> None:
        self._count(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._count(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._count(result, "unreachable")

    def v2_runner_item_on_ok(self, result) -> None:
        self._item(result)

    def v2_runner_item_on_failed(self, result) -> None:
        self._item(result)

    def v2_playbook_on_stats(self, stats) -> None:
        self._close_task()
        if not self._path:
            return
        with open(self._path, "w") as handle:
            json.dump(
                {
                    "modules": dict(self._modules),
                    "actions": dict(self._actions),
                    "results": dict(self._results),
                    "changed": dict(self._changed),
                    "tasks": [{"task": key, "runs": self._runs[key], "seconds": round(sec, 3)} for key, sec in self._seconds.items()],
                    "returned": self._returned,
                },
                handle,
            )


def _light(result: dict) -> dict:
    """What the bench reads back from a result: small scalar fields and the issue module's history row."""
    keep = {k: v for k, v in result.items() if isinstance(v, (int, float, bool)) or v is None or (isinstance(v, str) and len(v) <= 200)}
    if isinstance(result.get("issue"), dict):
        keep["issue"] = result["issue"]
    return keep


def _count_module_executions(path: str) -> None:
    """Wrap ActionBase._execute_module: the forked workers inherit it, and every module they run adds a line to path."""
    if getattr(ActionBase._execute_module, "bench_counted", False):
        return
    original = ActionBase._execute_module

    def counted(self, *args, **kwargs):
        module = kwargs.get("module_name") or (args[0] if args else None) or self._task.action
        task_vars = kwargs.get("task_vars") or (args[3] if len(args) > 3 else None) or {}
        host = task_vars.get("inventory_hostname") or getattr(self._play_context, "remote_addr", None) or "?"
        line = json.dumps({"host": host, "module": module, "action": self._task.action}) + "\n"
        with open(path, "a") as handle:  # one short line per write: appends from several workers do not interleave
            handle.write(line)
        return original(self, *args, **kwargs)

    counted.bench_counted = True
    ActionBase._execute_module = counted
