# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_atomic on real files: a write is a 0600 temporary file renamed over the destination, and a failure at any step
leaves the old file as it was and no temporary file behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _atomic as atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_file_creates_the_file_0600_and_leaves_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "certificate.pem"

    atomic.write_file(str(dest), b"new")

    assert dest.read_bytes() == b"new" and mode(dest) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["certificate.pem"]


def test_write_file_replaces_the_file_by_a_rename(tmp_path: Path) -> None:
    dest = tmp_path / "fullchain.pem"
    dest.write_bytes(b"old")
    dest.chmod(0o644)
    old_inode = dest.stat().st_ino

    atomic.write_file(str(dest), b"new")

    assert dest.read_bytes() == b"new" and mode(dest) == 0o600
    assert dest.stat().st_ino != old_inode  # a new file renamed over it, not the old one rewritten in place


def test_write_file_with_a_bare_name_writes_in_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    atomic.write_file("bare.txt", b"here")

    assert (tmp_path / "bare.txt").read_bytes() == b"here"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.txt"]


def test_stage_writes_a_0600_temporary_next_to_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "private.key"
    dest.write_bytes(b"old")

    temp = Path(atomic.stage(str(dest), b"secret"))

    assert temp.parent == tmp_path and temp.name.startswith(".private.key.") and temp.name.endswith(atomic.TEMP_SUFFIX)
    assert temp.read_bytes() == b"secret" and mode(temp) == 0o600
    assert dest.read_bytes() == b"old"  # the destination is untouched until the caller renames


def test_stage_of_a_hidden_name_does_not_double_its_dot(tmp_path: Path) -> None:
    temp = Path(atomic.stage(str(tmp_path / ".certctrl-manifest.json"), b"{}"))

    assert temp.name.startswith(".certctrl-manifest.json.") and not temp.name.startswith("..")


def test_stage_that_fails_to_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)

    with pytest.raises(OSError, match="No space left"):
        atomic.stage(str(tmp_path / "certificate.pem"), b"data")
    assert list(tmp_path.iterdir()) == []


def test_write_file_whose_rename_fails_keeps_the_old_file_and_discards_the_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "certificate.pem"
    dest.write_bytes(b"old")

    def refused(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(os, "replace", refused)

    with pytest.raises(PermissionError):
        atomic.write_file(str(dest), b"new")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["certificate.pem"]


def test_write_file_into_a_missing_directory_fails_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic.write_file(str(tmp_path / "missing" / "certificate.pem"), b"data")
    assert list(tmp_path.iterdir()) == []


def test_discard_removes_what_exists_and_ignores_the_rest(tmp_path: Path) -> None:
    present = tmp_path / "a.certctrl-tmp"
    present.write_bytes(b"x")
    directory = tmp_path / "a-directory"
    directory.mkdir()

    atomic.discard([str(tmp_path / "missing"), str(present), str(directory)])

    assert not present.exists() and directory.is_dir()  # a directory is not unlinked; no error either


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors through /proc")
def test_fsync_dir_is_best_effort_and_closes_what_it_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = open_fds()
    atomic.fsync_dir(str(tmp_path / "missing"))  # cannot be opened: nothing to sync, no error
    atomic.fsync_dir(str(tmp_path))

    def refused(fd: int) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "fsync", refused)
    atomic.fsync_dir(str(tmp_path))  # a filesystem that refuses fsync on a directory

    assert open_fds() == before
