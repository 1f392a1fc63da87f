# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The one way the collection writes a file: the new content goes to a 0600 temporary file next to its destination,
# is flushed to disk, then renamed over it, and the directory is synced; a reader, or a crash, sees the old file or
# the new one, never a part of either. Callers that replace several files stage them all before renaming any.
# Standard library only: it runs on managed hosts.

import os
import tempfile
import typing as t

# Every temporary file the deploy writes ends so; a run sweeps the ones a killed run left.
TEMP_SUFFIX = ".certctrl-tmp"


def fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (best effort: some filesystems refuse fsync on a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def discard(paths: t.Iterable[str]) -> None:
    """Remove temporary files, best effort: the caller is already failing for a better reason."""
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def stage(path: str, data: bytes) -> str:
    """A new temporary file next to ``path`` (mode 0600 from its creation) holding ``data``, synced; its name.

    Nothing is left behind when writing it fails. The caller renames it over ``path`` (os.replace) or discards it.
    """
    parent, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix=f".{name.lstrip('.')}.", suffix=TEMP_SUFFIX, dir=parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        discard([temp])
        raise
    return temp


def write_file(path: str, data: bytes) -> None:
    """Replace (or create) ``path`` with ``data`` atomically and durably; the file is 0600."""
    temp = stage(path, data)
    try:
        os.replace(temp, path)
    except BaseException:
        discard([temp])
        raise
    fsync_dir(os.path.dirname(path) or ".")


__all__ = ["TEMP_SUFFIX", "discard", "fsync_dir", "stage", "write_file"]
