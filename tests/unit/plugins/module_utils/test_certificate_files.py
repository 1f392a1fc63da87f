# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host's file transaction (module_utils/_certificate_files.py) on real files in tmp_path, with a real
AnsibleModule: stage, back up, rename, the manifest, the undo, and each failure point (a failed write, a rename
failing half-way through a swap, an undo that fails too), modes and ownership, and no temporary file left.
Failures are injected by replacing an OS call (os.fsync, os.replace) from its n-th call on."""

from __future__ import annotations

import base64
import errno
import grp
import hashlib
import json
import os
import pwd
import stat
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate_files import (
    BACKUP_DIR,
    CertificateFiles,
    FilesError,
    deploy,
    restore,
    restore_file,
)
from ansible_collections.cjj365.certctrl.tests.support.modules import ansible_module

FILE_DEFAULTS = {"src": None, "content": None, "keep": False, "state": "present", "owner": None, "group": None, "mode": None, "setype": None}
DEFAULTS = {
    "state": "present",
    "files": None,
    "restore_from": None,
    "directories": None,
    "sweep": False,
    "staging": None,
    "backup": True,
    "keep_backups": 5,
    "directory_mode": None,
    "directory_owner": None,
    "directory_group": None,
    "certificate": None,
}
ROOT = os.geteuid() == 0


def module(*, check_mode: bool = False, diff: bool = False, **params: t.Any):
    """An AnsibleModule with the module's parameters as main() passes them (every option present, defaults filled)."""
    args = {**DEFAULTS, **params}
    if args["files"] is not None:
        args["files"] = [{**FILE_DEFAULTS, **item} for item in args["files"]]
    return ansible_module(args, check_mode=check_mode, diff=diff, argument_spec={name: {"type": "raw"} for name in args}, supports_check_mode=True)


def content(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def swap(directory: Path, **texts: str) -> list[dict[str, t.Any]]:
    """files entries writing each ``name=text`` into ``directory``."""
    return [{"path": str(directory / name.replace("_", ".")), "content": content(text)} for name, text in texts.items()]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    """Files that are neither a destination nor in the backup directory: temporary files of a swap or restore."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name != BACKUP_DIR)


def fail_from(monkeypatch: pytest.MonkeyPatch, name: str, call: int, err: int = errno.EIO, *, once: bool = False) -> list[tuple]:
    """Make os.<name> raise OSError(err) from its ``call``-th call on (only that call when ``once``); the calls are recorded."""
    real, calls = getattr(os, name), []

    def failing(*args: t.Any, **kwargs: t.Any) -> t.Any:
        calls.append(args)
        if len(calls) == call or (len(calls) > call and not once):
            raise OSError(err, os.strerror(err), str(args[-1]) if args and isinstance(args[-1], (str, Path)) else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    return calls


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A directory with a live certificate and key (modes 0644 and 0600)."""
    directory = tmp_path / "live"
    directory.mkdir()
    (directory / "cert.pem").write_text("old cert")
    (directory / "cert.pem").chmod(0o644)
    (directory / "private.key").write_text("old key")
    (directory / "private.key").chmod(0o600)
    return directory


# -- the transaction ----------------------------------------------------------------------------


def test_a_swap_replaces_every_file_and_keeps_the_old_ones(live: Path) -> None:
    result = deploy(module(files=swap(live, cert_pem="new cert", private_key="new key", chain_pem="new chain")))
    assert result["changed"] and result["content_changed"]
    actions = {Path(f["path"]).name: (f["action"], f["existed"]) for f in result["files"]}
    assert actions == {"cert.pem": ("replaced", True), "private.key": ("replaced", True), "chain.pem": ("created", False)}
    assert [(live / n).read_text() for n in ("cert.pem", "private.key", "chain.pem")] == ["new cert", "new key", "new chain"]
    backups = {Path(f["path"]).name: f["backup"] for f in result["files"]}
    assert backups["chain.pem"] is None
    assert Path(backups["cert.pem"]).read_text() == "old cert" and Path(backups["private.key"]).read_text() == "old key"
    assert Path(backups["cert.pem"]).parent.parent == live / BACKUP_DIR
    assert mode_of(live / BACKUP_DIR) == 0o700 and mode_of(Path(backups["cert.pem"]).parent) == 0o700
    assert leftovers(live) == []


def test_the_same_content_again_changes_nothing(live: Path) -> None:
    files = swap(live, cert_pem="old cert", private_key="old key")
    result = deploy(module(files=files))
    assert not result["changed"] and [f["action"] for f in result["files"]] == ["unchanged", "unchanged"]
    assert not (live / BACKUP_DIR).exists()


def test_modes_kept_from_the_replaced_file_given_or_0600_for_a_new_one(live: Path) -> None:
    files = [*swap(live, cert_pem="new cert", new_pem="created"), {**swap(live, private_key="new key")[0], "mode": "0640"}]
    deploy(module(files=files))
    assert (mode_of(live / "cert.pem"), mode_of(live / "new.pem"), mode_of(live / "private.key")) == (0o644, 0o600, 0o640)


def test_only_the_mode_of_a_file_whose_content_stays_is_corrected(live: Path) -> None:
    result = deploy(module(files=[{**swap(live, cert_pem="old cert")[0], "mode": "0600"}]))
    assert result["changed"] and not result["content_changed"]
    assert [f["action"] for f in result["files"]] == ["attributes"]
    assert mode_of(live / "cert.pem") == 0o600 and not (live / BACKUP_DIR).exists()


@pytest.mark.skipif(not ROOT, reason="changing a file's owner needs root")
def test_owner_and_group_of_new_files(live: Path) -> None:
    files = [{**item, "owner": "nobody", "group": "nogroup" if _group_exists("nogroup") else "nobody"} for item in swap(live, cert_pem="new", new_pem="x")]
    deploy(module(files=files))
    assert {(live / n).stat().st_uid for n in ("cert.pem", "new.pem")} == {pwd.getpwnam("nobody").pw_uid}
    backup = next((live / BACKUP_DIR).iterdir()) / "cert.pem"
    assert backup.stat().st_uid == 0  # the backup is the old file itself (hard link), its owner unchanged


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_removing_a_file_keeps_it_in_the_backup(live: Path) -> None:
    result = deploy(module(files=[{"path": str(live / "private.key"), "state": "absent"}, {"path": str(live / "gone.pem"), "state": "absent"}]))
    assert [f["action"] for f in result["files"]] == ["removed", "absent"]
    assert not (live / "private.key").exists() and Path(result["files"][0]["backup"]).read_text() == "old key"


def test_missing_directories_are_created_with_the_directory_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    deploy(module(files=swap(target, cert_pem="x"), directory_mode="0755"))
    assert (target / "cert.pem").read_text() == "x"
    assert mode_of(tmp_path / "a") == 0o755 and mode_of(target) == 0o755


def test_old_backups_are_pruned_to_keep_backups(live: Path) -> None:
    for n in range(4):
        deploy(module(files=swap(live, cert_pem=f"cert {n}"), keep_backups=2))
    runs = sorted((live / BACKUP_DIR).iterdir())
    assert [(run / "cert.pem").read_text() for run in runs] == ["cert 1", "cert 2"]


def test_the_manifest_is_written_with_the_files_as_they_are(live: Path) -> None:
    result = deploy(module(files=swap(live, cert_pem="new cert"), directories=[{"path": str(live), "manifest": {"certificate_id": 7}}]))
    (manifest,) = result["manifests"]
    data = json.loads(Path(manifest).read_text())
    assert data["certificate_id"] == 7
    assert set(data["files"]) == {str(live / "cert.pem")}
    assert data["files"][str(live / "cert.pem")]["sha256"] == hashlib.sha256(b"new cert").hexdigest()
    assert leftovers(live) == [Path(manifest).name]  # the manifest is the only dot-file beside the certificates


# -- planning refusals: nothing changed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "words"),
    [
        (lambda d: [{"path": str(d / "cert.pem"), "content": "not base64!"}], "not valid base64"),
        (lambda d: [{"path": str(d / "cert.pem"), "src": str(d / "missing.pem")}], "cannot read"),
        (lambda d: [{"path": str(d / "cert.pem")}], "src or content is required"),
        (lambda d: swap(d, cert_pem="a") + swap(d, cert_pem="b"), "is listed twice"),
        (lambda d: swap(d, link_pem="x"), "is a symbolic link"),
        (lambda d: swap(d, sub="x"), "is not a regular file"),
    ],
)
def test_refused_before_anything_changes(live: Path, files: t.Callable[[Path], list], words: str) -> None:
    (live / "link.pem").symlink_to(live / "cert.pem")
    (live / "sub").mkdir()
    before = sorted(p.name for p in live.iterdir())
    with pytest.raises(FilesError, match=words):
        deploy(module(files=files(live)))
    assert sorted(p.name for p in live.iterdir()) == before
    assert (live / "cert.pem").read_text() == "old cert"


def test_check_mode_plans_without_content_and_writes_nothing(live: Path) -> None:
    result = deploy(module(check_mode=True, diff=True, files=[{"path": str(live / "cert.pem")}, {"path": str(live / "new.pem")}]))
    assert [f["action"] for f in result["files"]] == ["replaced", "created"]
    assert result["changed"] and (live / "cert.pem").read_text() == "old cert" and not (live / "new.pem").exists()
    assert "certificate: none" in result["diff"]["before"]  # "old cert" is no certificate
    assert f"{live / 'new.pem'}: absent" in result["diff"]["before"]
    assert f"{live / 'cert.pem'}: 0644 " in result["diff"]["before"]
    assert leftovers(live) == []


# -- failure points -----------------------------------------------------------------------------


def test_a_failed_write_changes_nothing_and_leaves_no_staged_file(live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_from(monkeypatch, "fsync", 2, errno.ENOSPC)  # the second staged file cannot be synced: disk full
    with pytest.raises(FilesError, match=r"replacing the certificate files failed: No space left on device.*the previous files were put back"):
        deploy(module(files=swap(live, cert_pem="new cert", private_key="new key")))
    monkeypatch.undo()
    assert (live / "cert.pem").read_text() == "old cert" and (live / "private.key").read_text() == "old key"
    assert leftovers(live) == []


def test_a_rename_failing_half_way_puts_the_renamed_files_back(live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renames = fail_from(monkeypatch, "replace", 2, once=True)  # the first file is in place, the second rename fails
    job = CertificateFiles(module(files=swap(live, cert_pem="new cert", private_key="new key", chain_pem="new chain")))
    with pytest.raises(FilesError, match=r"failed: Input/output error \(.*private\.key\); the previous files were put back"):
        job.transact(job.plan())
    monkeypatch.undo()
    assert len(renames) == 3  # cert.pem, private.key (failed), then the undo putting cert.pem's backup back
    assert (live / "cert.pem").read_text() == "old cert" and (live / "private.key").read_text() == "old key"
    assert not (live / "chain.pem").exists()
    assert leftovers(live) == []


def test_a_created_file_is_removed_when_a_later_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_from(monkeypatch, "replace", 2, once=True)
    with pytest.raises(FilesError, match="the previous files were put back"):
        deploy(module(files=swap(tmp_path, a_pem="a", b_pem="b")))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_undo_that_fails_too_names_the_files_to_restore_by_hand(live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_from(monkeypatch, "replace", 2)  # the second rename fails, and so does putting the first file back
    with pytest.raises(FilesError, match=rf"could NOT put back {live / 'cert.pem'}: restore them from {BACKUP_DIR}"):
        deploy(module(files=swap(live, cert_pem="new cert", private_key="new key")))
    monkeypatch.undo()
    assert (live / "cert.pem").read_text() == "new cert" and (live / "private.key").read_text() == "old key"
    (backup,) = (live / BACKUP_DIR).iterdir()
    assert (backup / "cert.pem").read_text() == "old cert"  # what to restore by hand is there
    # The failed put-back leaves its temporary link (".cert.pem.<pid>.certctrl-restore"); the next run's sweep removes it.
    (left,) = leftovers(live)
    assert left.startswith(".cert.pem.") and left.endswith(".certctrl-restore")
    swept = deploy(module(files=swap(live, cert_pem="old cert"), directories=[{"path": str(live)}], sweep=True))["swept"]
    assert swept == [str(live / left)] and leftovers(live) == []


# -- restore ------------------------------------------------------------------------------------


def test_restore_undoes_a_run(live: Path) -> None:
    run = deploy(module(files=swap(live, cert_pem="new cert", chain_pem="new chain")))
    undone = restore(module(state="restored", restore_from=run["files"]))
    assert undone["changed"]
    assert {Path(f["path"]).name: f["action"] for f in undone["files"]} == {"cert.pem": "restored", "chain.pem": "removed"}
    assert (live / "cert.pem").read_text() == "old cert" and not (live / "chain.pem").exists()
    assert mode_of(live / "cert.pem") == 0o644
    assert not restore(module(state="restored", restore_from=run["files"]))["changed"]  # twice: nothing more to do
    assert leftovers(live) == []


def test_restore_in_check_mode_changes_nothing(live: Path) -> None:
    run = deploy(module(files=swap(live, cert_pem="new cert")))
    assert restore(module(state="restored", restore_from=run["files"], check_mode=True))["changed"]
    assert (live / "cert.pem").read_text() == "new cert"


def test_restore_refuses_when_a_backup_is_missing_or_was_never_made(live: Path) -> None:
    run = deploy(module(files=swap(live, cert_pem="new cert", private_key="new key")))
    Path(run["files"][1]["backup"]).unlink()
    with pytest.raises(FilesError, match=r"backup files are missing: .*private\.key; nothing was restored"):
        restore(module(state="restored", restore_from=run["files"]))
    assert (live / "cert.pem").read_text() == "new cert"  # not even the file whose backup is there

    unbacked = deploy(module(files=swap(live, cert_pem="newer cert"), backup=False))
    with pytest.raises(FilesError, match="has no backup"):
        restore(module(state="restored", restore_from=unbacked["files"]))


def test_restore_file_is_atomic_and_keeps_the_backup(live: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backup = live / "backup.pem"
    backup.write_text("backup")
    fail_from(monkeypatch, "replace", 1)
    with pytest.raises(OSError):
        restore_file(str(backup), str(live / "cert.pem"))
    monkeypatch.undo()
    assert (live / "cert.pem").read_text() == "old cert"  # a failed rename: the old file whole
    restore_file(str(backup), str(live / "cert.pem"))  # again (the temporary name of the failed one is reused)
    assert (live / "cert.pem").read_text() == "backup" and backup.read_text() == "backup"
    assert leftovers(live) == []
