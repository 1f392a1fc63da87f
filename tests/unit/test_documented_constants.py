# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Documentation states some of the code's constants as literals (ansible-doc reads defaults as data, and prose
cannot import): each such literal must equal the one constant it describes."""

from __future__ import annotations

import re

import yaml

from ansible_collections.cjj365.certctrl.plugins.doc_fragments._api import ModuleDocFragment
from ansible_collections.cjj365.certctrl.plugins.inventory import devices as inventory
from ansible_collections.cjj365.certctrl.plugins.lookup import api as lookup
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RETRYABLE_STATUSES, RetryPolicy
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import BUNDLE_MAX_BYTES
from ansible_collections.cjj365.certctrl.plugins.modules import device_bundle, issue


def options(documentation: str) -> dict:
    return yaml.safe_load(documentation)["options"]


def statuses(text: str) -> set[int]:
    return {int(status) for status in re.findall(r"\b[45]\d\d\b", text)}


def test_the_retries_option_names_the_retried_statuses_and_the_retry_after_cap() -> None:
    description = " ".join(options(ModuleDocFragment.DOCUMENTATION)["retries"]["description"])
    listed = re.search(r"HTTP ([\d, or]+) answer", description)
    assert listed, description
    assert statuses(listed.group(1)) == RETRYABLE_STATUSES
    assert f"at most {RetryPolicy().retry_after_max:g} seconds" in description
    assert options(ModuleDocFragment.DOCUMENTATION)["retries"]["default"] == RetryPolicy().retries


def test_the_issue_module_names_the_statuses_it_keeps_polling_through() -> None:
    notes = " ".join(" ".join(yaml.safe_load(issue.DOCUMENTATION)["description"]).split())
    polling = re.search(r"HTTP ([\d/ and]+) answers while polling are retried", notes)
    assert polling, notes
    assert statuses(polling.group(1)) == RETRYABLE_STATUSES


def test_the_device_bundle_max_bytes_default_is_the_bundle_limit() -> None:
    assert options(device_bundle.DOCUMENTATION)["max_bytes"]["default"] == BUNDLE_MAX_BYTES


def test_the_page_size_of_the_lookup_and_the_inventory_is_the_clients() -> None:
    for plugin in (lookup, inventory):
        page_size = options(plugin.DOCUMENTATION)["page_size"]
        assert page_size["default"] == DEFAULT_PAGE_SIZE, plugin.__name__
        assert f"(1 to {MAX_PAGE_SIZE})" in " ".join(page_size["description"]), plugin.__name__
