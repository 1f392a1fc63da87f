# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy manifest: written atomically with mode 0600, an unusable one reads as absent, mark_reloaded."""

from __future__ import annotations

import stat
from pathlib import Path

from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import manifest_path, mark_reloaded, read_manifest, write_manifest


def test_write_then_read(tmp_path: Path) -> None:
    path = manifest_path(str(tmp_path))
    files = {str(tmp_path / "certificate.pem"): {"sha256": "ab", "mode": "0644", "owner": "root", "group": "root"}}

    write_manifest(path, {"certificate_id": 7, "serial": "4a1b2", "files": files, "reload_pending": True, "ignored": "x"})

    data = read_manifest(path)
    assert data is not None and data["version"] == 1 and data["files"] == files and data["reload_pending"] is True
    assert "ignored" not in data and data["written_at"]
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".certctrl-manifest.json"]  # no temporary file left


def test_an_unusable_manifest_reads_as_absent(tmp_path: Path) -> None:
    path = Path(manifest_path(str(tmp_path)))
    assert read_manifest(str(path)) is None
    for text in ("{not json", '{"version": 2, "files": {}}', "[]", '{"version": 1}'):
        path.write_text(text)
        assert read_manifest(str(path)) is None, text


def test_mark_reloaded(tmp_path: Path) -> None:
    path = manifest_path(str(tmp_path))
    assert mark_reloaded(path) is False
    write_manifest(path, {"certificate_id": 7, "files": {}, "reload_pending": True})

    assert mark_reloaded(path) is True
    assert read_manifest(path)["reload_pending"] is False
