# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a killed run left behind is swept by a later one: only ours, by name, mode and age (issue 14 item 8)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ansible_collections.cjj365.certctrl.plugins.action.deploy_certificates import sweep_old_bundle_dirs
from ansible_collections.cjj365.certctrl.plugins.module_utils._deployed import staging_dirs

HOUR = 3600.0


def leftover(root: Path, name: str, *, mode: int = 0o700, age: float = 2 * HOUR, files: tuple[str, ...] = ("private.key",)) -> Path:
    path = root / name
    path.mkdir()
    for file in files:
        (path / file).write_text("key material\n")
    path.chmod(mode)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_old_controller_bundle_dirs_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    old = leftover(tmp_path, "certctrl-bundles-abc123")
    young = leftover(tmp_path, "certctrl-bundles-def456", age=60)
    shared = leftover(tmp_path, "certctrl-bundles-ghi789", mode=0o755)
    other = leftover(tmp_path, "somebody-elses-abc123")

    removed = sweep_old_bundle_dirs(str(tmp_path))

    assert removed == [str(old)] and not old.exists()
    assert young.exists() and shared.exists() and other.exists()  # a live run's, not private, not ours


def test_old_host_staging_dirs_are_found_only_when_they_hold_bundle_files(tmp_path: Path) -> None:
    old = leftover(tmp_path, "certctrl-a1b2c3d4", files=("private.key", "certificate.pem"))
    foreign = leftover(tmp_path, "certctrl-e5f6g7h8", files=("notes.txt",))
    young = leftover(tmp_path, "certctrl-i9j0k1l2", age=60)

    found = staging_dirs(str(tmp_path), now=time.time())

    assert found == [str(old)]
    assert foreign.exists() and young.exists()
