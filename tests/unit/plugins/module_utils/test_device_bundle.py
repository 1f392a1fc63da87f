# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_device_bundle.py write_files: private modes, all-or-nothing, stale files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._device_bundle import write_files
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_a_private_directory_and_private_files(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        dest = tmp_path / "a" / "b"
        paths = write_files(str(dest), {"private.key": b"k", "fullchain.pem": b"c"})
    finally:
        os.umask(old_umask)
    assert paths == {"private.key": str(dest / "private.key"), "fullchain.pem": str(dest / "fullchain.pem")}
    assert mode(dest) == 0o700
    assert {p.name: (p.read_bytes(), mode(p)) for p in dest.iterdir()} == {"private.key": (b"k", 0o600), "fullchain.pem": (b"c", 0o600)}


def test_replaces_files_by_rename_and_tightens_their_mode(tmp_path: Path) -> None:
    target = tmp_path / "fullchain.pem"
    target.write_bytes(b"old")
    target.chmod(0o644)
    inode = target.stat().st_ino
    write_files(str(tmp_path), {"fullchain.pem": b"new"})
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600
    assert target.stat().st_ino != inode  # a new file renamed over the old one, never a partial rewrite
    assert sorted(os.listdir(tmp_path)) == ["fullchain.pem"]


def test_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "private.key").symlink_to(outside)
    write_files(str(dest), {"private.key": b"k"})
    assert outside.read_bytes() == b"keep me"
    assert not (dest / "private.key").is_symlink()


def test_removes_a_stale_file_it_did_not_render(tmp_path: Path) -> None:
    (tmp_path / "chain.pem").write_bytes(b"an intermediate of the previous certificate")
    (tmp_path / "unrelated.txt").write_bytes(b"not ours")
    paths = write_files(str(tmp_path), {"fullchain.pem": b"c"}, stale=["chain.pem", "fullchain.pem"])
    assert list(paths) == ["fullchain.pem"]
    assert sorted(os.listdir(tmp_path)) == ["fullchain.pem", "unrelated.txt"]


def test_a_dest_that_is_a_file_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "file"
    dest.write_bytes(b"x")
    with pytest.raises(CertCtrlError, match="is not a directory; nothing was changed"):
        write_files(str(dest), {"private.key": b"k"})
    assert dest.read_bytes() == b"x"


def test_a_failed_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    # A name that cannot be a temp file prefix inside dest ("sub/x": the directory does not exist) fails mid-way.
    with pytest.raises(CertCtrlError, match="nothing was changed"):
        write_files(str(tmp_path), {"private.key": b"k", "sub/x": b"y"})
    assert os.listdir(tmp_path) == []
