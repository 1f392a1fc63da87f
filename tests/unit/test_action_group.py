# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""meta/runtime.yml action group ``certctrl`` must list exactly the modules that talk to the API, so that
``module_defaults: group/cjj365.certctrl.certctrl`` reaches every one of them. Modules that run on the
managed hosts and take no API option stay out: group defaults would hand them api_key, which they refuse."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def module_files() -> set[str]:
    return {p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}


def api_modules() -> set[str]:
    """Modules whose documentation extends the shared API options fragment."""
    names = set()
    for path in (REPO / "plugins" / "modules").glob("*.py"):
        fragments = re.search(r"^extends_documentation_fragment:\n((?:  - .*\n)+)", path.read_text(), re.MULTILINE)
        if fragments and "  - cjj365.certctrl._api\n" in fragments.group(1):
            names.add(path.stem)
    return names


def test_api_modules_are_found():
    assert {"acme_account", "certificate", "issue", "assign", "device_info", "device_bundle"} <= api_modules()


def action_group() -> list[str]:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["certctrl"]
    assert isinstance(group, list) and all(isinstance(name, str) for name in group), group
    return group


def test_every_api_module_is_in_the_action_group():
    missing = sorted(api_modules() - set(action_group()))
    assert not missing, f"add to meta/runtime.yml action_groups.certctrl: {missing}"


def test_host_side_modules_are_not_in_the_action_group():
    extra = sorted(set(action_group()) - api_modules())
    assert not extra, f"these modules take no API options; remove them from the certctrl action group: {extra}"


def test_every_action_group_entry_has_a_module():
    group = action_group()
    assert group, "the certctrl action group is empty"
    orphans = sorted(set(group) - module_files())
    assert not orphans, f"listed in meta/runtime.yml action_groups.certctrl without plugins/modules/<name>.py: {orphans}"


def test_action_group_entries_are_short_names_listed_once():
    group = action_group()
    assert len(group) == len(set(group)), f"duplicates in the certctrl action group: {group}"
    assert all("." not in name and "/" not in name for name in group), group
