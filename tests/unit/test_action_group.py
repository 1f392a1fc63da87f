# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""meta/runtime.yml action group ``certctrl`` and plugins/modules/ must list the same modules, so that
``module_defaults: group/cjj365.certctrl.certctrl`` reaches every module."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def module_files() -> set[str]:
    return {p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}


def action_group() -> list[str]:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["certctrl"]
    assert isinstance(group, list) and all(isinstance(name, str) for name in group), group
    return group


def test_every_module_is_in_the_action_group():
    missing = sorted(module_files() - set(action_group()))
    assert not missing, f"add to meta/runtime.yml action_groups.certctrl: {missing}"


def test_every_action_group_entry_has_a_module():
    group = action_group()
    assert group, "the certctrl action group is empty"
    orphans = sorted(set(group) - module_files())
    assert not orphans, f"listed in meta/runtime.yml action_groups.certctrl without plugins/modules/<name>.py: {orphans}"


def test_action_group_entries_are_short_names_listed_once():
    group = action_group()
    assert len(group) == len(set(group)), f"duplicates in the certctrl action group: {group}"
    assert all("." not in name and "/" not in name for name in group), group
