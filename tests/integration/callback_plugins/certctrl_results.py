# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Test-only callback: records every task result as JSON so pytest can assert on it.

from __future__ import annotations

DOCUMENTATION = r"""
name: certctrl_results
type: aggregate
short_description: Write task results to the JSON file named by CERTCTRL_TEST_RESULTS
description:
  - Used by the collection's tests only.
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "certctrl_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        # "{pid}" in the name: one file per ansible-playbook run (molecule runs several in one scenario)
        self._path = (os.environ.get("CERTCTRL_TEST_RESULTS") or "").replace("{pid}", str(os.getpid())) or None
        self._results: list[dict] = []

    def _record(self, result, status: str) -> None:
        self._results.append(
            {
                "task": result.task_name or result._task.get_name(),
                "host": result._host.get_name(),
                "status": status,
                "result": json.loads(json.dumps(result._result, default=str)),
            }
        )
        if self._path:
            with open(self._path, "w") as handle:
                json.dump(self._results, handle, default=str)

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, "unreachable")
