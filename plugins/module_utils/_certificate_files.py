# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The certificate_files module's job, on the managed host: replace certificates' files as one transaction
# (every new file staged next to its destination with its final owner, group, mode and SELinux context, the
# replaced files hard-linked into a backup, then all renamed, and each directory's manifest written LAST;
# a failure puts back what was already renamed), sweep what a killed run left, and put a backup back.
# Each directory is locked (flock) while it is changed, so a sweep never takes a live swap's files.
# Standard library only. Key material never enters a result, a diff or a message.

import base64
import binascii
import contextlib
import datetime
import fcntl
import hashlib
import os
import shutil
import signal
import stat
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._atomic import TEMP_SUFFIX, discard, fsync_dir, stage
from ansible_collections.cjj365.certctrl.plugins.module_utils._deployed import attributes, sha256_file, staging_dirs, stale_files
from ansible_collections.cjj365.certctrl.plugins.module_utils._device_required import fill_files
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import shows_leaf
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import manifest_path, write_manifest
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import leaf_summary

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

BACKUP_DIR = ".certctrl-backup"
MAX_BYTES = 16 * 1024 * 1024
# Test hook of the kill drill (tests/integration): SIGKILL the module after this many renames of a swap.
KILL_HOOK = "CERTCTRL_TEST_KILL_AFTER_RENAME"


class FilesError(CertCtrlError):
    """Nothing (or everything already undone) was changed; the message says what failed."""


def _describe_file(path: str) -> str:
    try:
        attrs = attributes(os.lstat(path))
    except FileNotFoundError:
        return f"{path}: absent"
    return f"{path}: {attrs['mode']} {attrs['owner']}:{attrs['group']}"


def _certificate_line(summary: t.Optional[t.Dict[str, t.Any]]) -> str:
    if not summary:
        return "certificate: none"
    parts = [f"{k} {summary[k]}" for k in ("serial", "not_after", "sha256_fingerprint", "domain_name") if summary.get(k)]
    return "certificate: " + ", ".join(parts)


@contextlib.contextmanager
def locked(directories: t.Iterable[str]) -> t.Iterator[None]:
    """Hold an exclusive flock on each existing directory (sorted, so two runs never deadlock); released on exit or death."""
    fds = []
    try:
        for directory in sorted(set(directories)):
            if not os.path.isdir(directory):
                continue
            fd = os.open(directory, os.O_RDONLY)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def _kill_point(count: int) -> None:
    """The kill drill: die like an OOM kill or a lost session right after ``count`` renames."""
    wanted = os.environ.get(KILL_HOOK)
    if wanted is not None and wanted.strip() == str(count):
        os.kill(os.getpid(), signal.SIGKILL)


class CertificateFiles:
    """One transaction over a list of files (dicts with path, src or content, state, owner, group, mode, setype)."""

    def __init__(self, module: "AnsibleModule") -> None:
        self.module = module
        p = module.params
        self.files: t.List[t.Dict[str, t.Any]] = p["files"]
        self.backup: bool = p["backup"]
        self.keep_backups: int = max(1, p["keep_backups"])
        self.directory = {"mode": p["directory_mode"], "owner": p["directory_owner"], "group": p["directory_group"]}
        # Per directory: its attributes and the manifest to write last (O(directories)).
        self.directories: t.Dict[str, t.Dict[str, t.Any]] = {os.path.abspath(d["path"]): d for d in p.get("directories") or []}
        self.certificate: t.Optional[t.Dict[str, t.Any]] = p["certificate"]
        self.stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S.%f")
        self._backup_dirs: t.Dict[str, str] = {}
        self._renames = 0

    # -- planning ---------------------------------------------------------------------------------

    def _new_content(self, item: t.Dict[str, t.Any]) -> t.Optional[bytes]:
        """The new bytes: from O(src) (a file staged on the host) or O(content) (base64); None when neither is given."""
        if item.get("src"):
            try:
                with open(item["src"], "rb") as handle:
                    data = handle.read(MAX_BYTES + 1)
            except OSError as exc:
                raise FilesError(f"cannot read {item['src']}: {exc.strerror or exc}; nothing was changed") from None
            if len(data) > MAX_BYTES:
                raise FilesError(f"{item['src']} is larger than {MAX_BYTES} bytes; nothing was changed")
            return data
        if item.get("content") is None:
            return None
        try:
            return base64.b64decode("".join(item["content"].split()), validate=True)
        except (binascii.Error, ValueError):
            raise FilesError(f"the content of {item['path']} is not valid base64; nothing was changed") from None

    def plan(self) -> t.List[t.Dict[str, t.Any]]:
        """Each file with what would happen to it: created, replaced, unchanged, removed or absent."""
        planned = []
        seen = set()
        for item in self.files:
            path = os.path.abspath(item["path"])
            if path in seen:
                raise FilesError(f"{path} is listed twice; nothing was changed")
            seen.add(path)
            exists = os.path.lexists(path)
            if exists and os.path.islink(path):
                raise FilesError(f"{path} is a symbolic link; point the destination at the real location; nothing was changed")
            if exists and not os.path.isfile(path):
                raise FilesError(f"{path} exists and is not a regular file; nothing was changed")
            content = self._new_content(item)
            if item["state"] == "absent":
                action = "removed" if exists else "absent"
            elif content is None and exists and item.get("keep"):
                action = "unchanged"  # only its owner, group, mode and context are kept right
            elif content is None:
                if not self.module.check_mode:
                    raise FilesError(f"{path}: src or content is required outside check mode; nothing was changed")
                action = "replaced" if exists else "created"  # planning a bundle that is not downloaded yet
            elif not exists:
                action = "created"
            else:
                action = "unchanged" if sha256_file(path) == hashlib.sha256(content).hexdigest() else "replaced"
            planned.append({**item, "path": path, "data": content, "exists": exists, "action": action})
        return planned

    # -- attributes -------------------------------------------------------------------------------

    def _context(self, path: str, exists: bool, setype: t.Optional[str]) -> t.Optional[list]:
        if not self.module.selinux_enabled():
            return None
        context = list(self.module.selinux_context(path) if exists else self.module.selinux_default_context(path))
        if setype and len(context) > 2:
            context[2] = setype
        return context

    def _apply(self, target: str, *, mode: t.Any, owner: t.Optional[str], group: t.Optional[str], context: t.Optional[list], like: t.Optional[str]) -> bool:
        """Set attributes on ``target``; unset ones are taken from ``like`` (the file being replaced) when there is one."""
        if like is not None:
            st = os.stat(like)
            mode = mode if mode is not None else stat.S_IMODE(st.st_mode)
            owner = owner if owner is not None else str(st.st_uid)
            group = group if group is not None else str(st.st_gid)
        changed = False
        if owner is not None:
            changed = self.module.set_owner_if_different(target, owner, changed)
        if group is not None:
            changed = self.module.set_group_if_different(target, group, changed)
        if mode is not None:
            changed = self.module.set_mode_if_different(target, mode, changed)
        if context is not None:
            changed = self.module.set_context_if_different(target, context, changed)
        return changed

    def _directory_attributes(self, path: str) -> t.Dict[str, t.Any]:
        listed = self.directories.get(path)
        if listed is None:
            return self.directory
        return {"mode": listed.get("mode"), "owner": listed.get("owner"), "group": listed.get("group")}

    def _ensure_directory(self, path: str) -> bool:
        """Create missing parents (with the directory attributes); apply them to the immediate parent."""
        attrs = self._directory_attributes(path)
        missing = []
        current = path
        while not os.path.isdir(current):
            if os.path.lexists(current):
                raise FilesError(f"{current} exists and is not a directory; nothing was changed")
            missing.append(current)
            current = os.path.dirname(current)
        for directory in reversed(missing):
            os.mkdir(directory, 0o700)
            self._apply(directory, mode=attrs["mode"] or 0o750, owner=attrs["owner"], group=attrs["group"], context=None, like=None)
        changed = self._apply(path, context=None, like=None, **attrs) if not missing else False
        return bool(missing) or changed

    def directory_attributes(self) -> bool:
        """Owner, group and mode of every listed directory that exists (check mode aware): drift is corrected on every run."""
        changed = False
        for path in self.directories:
            if os.path.isdir(path) and not os.path.islink(path):
                changed = self._apply(path, context=None, like=None, **self._directory_attributes(path)) or changed
        return changed

    # -- the transaction --------------------------------------------------------------------------

    def _backup_dir(self, parent: str) -> str:
        if parent not in self._backup_dirs:
            root = os.path.join(parent, BACKUP_DIR)
            if not os.path.isdir(root):
                os.mkdir(root, 0o700)
            os.chmod(root, 0o700)
            directory = os.path.join(root, self.stamp)
            os.mkdir(directory, 0o700)
            self._backup_dirs[parent] = directory
        return self._backup_dirs[parent]

    def _keep(self, path: str) -> str:
        """Hard-link (or copy) the file into this run's backup directory."""
        target = os.path.join(self._backup_dir(os.path.dirname(path)), os.path.basename(path))
        _link_or_copy(path, target)
        return target

    def _stage(self, item: t.Dict[str, t.Any]) -> str:
        temp = stage(item["path"], item["data"])
        try:
            context = self._context(item["path"], item["exists"], item.get("setype"))
            like = item["path"] if item["exists"] else None
            self._apply(temp, mode=item.get("mode"), owner=item.get("owner"), group=item.get("group"), context=context, like=like)
        except BaseException:  # fail_json (SystemExit) of a bad mode or owner too: never leave a staged key behind
            os.unlink(temp)
            raise
        return temp

    def _renamed(self) -> None:
        self._renames += 1
        _kill_point(self._renames)

    def _undo(self, done: t.List[t.Dict[str, t.Any]]) -> t.List[str]:
        """Put the files already renamed or removed back; the paths that could not be are returned."""
        failed = []
        for item in reversed(done):
            try:
                if item.get("backup"):
                    restore_file(item["backup"], item["path"])
                elif os.path.lexists(item["path"]):
                    os.unlink(item["path"])
            except OSError:
                failed.append(item["path"])
        return failed

    def _prepare(self, writes: t.List[t.Dict[str, t.Any]], removals: t.List[t.Dict[str, t.Any]], temps: t.Dict[str, str]) -> None:
        """Directories, staged files (into ``temps``: path -> staged name) and backups; nothing is replaced yet."""
        for item in writes:
            self._ensure_directory(os.path.dirname(item["path"]))
        for item in writes:
            temps[item["path"]] = self._stage(item)
        if self.backup:
            for item in writes + removals:
                if item["exists"]:
                    item["backup"] = self._keep(item["path"])
        _kill_point(0)

    def _swap(
        self, writes: t.List[t.Dict[str, t.Any]], removals: t.List[t.Dict[str, t.Any]], temps: t.Dict[str, str], done: t.List[t.Dict[str, t.Any]]
    ) -> None:
        """Rename every staged file into place, then remove the files to remove; ``done`` is what to undo on failure."""
        for item in writes:
            # Forget the staged file only once it is in place: a failed rename must still remove it.
            os.replace(temps[item["path"]], item["path"])
            del temps[item["path"]]
            done.append(item)
            self._renamed()
        for item in removals:
            os.unlink(item["path"])
            done.append(item)
            self._renamed()

    def transact(self, planned: t.List[t.Dict[str, t.Any]]) -> None:
        """Stage every new file, back up what it replaces, then rename them all; on failure undo and raise."""
        writes = [i for i in planned if i["action"] in ("created", "replaced")]
        removals = [i for i in planned if i["action"] == "removed"]
        temps: t.Dict[str, str] = {}
        done: t.List[t.Dict[str, t.Any]] = []
        try:
            self._prepare(writes, removals, temps)
            self._swap(writes, removals, temps, done)
        except BaseException as exc:
            discard(temps.values())
            failed = self._undo(done)
            if not isinstance(exc, (OSError, FilesError)):
                raise  # fail_json already reported it; the staged files are gone and the renamed ones put back
            raise _swap_failed(exc, failed) from None
        for directory in {os.path.dirname(i["path"]) for i in done}:
            fsync_dir(directory)
        self._prune()

    def write_manifests(self, planned: t.List[t.Dict[str, t.Any]]) -> t.List[str]:
        """Each listed directory's manifest, written last and atomically, describing its files as they are now."""
        written = []
        for directory, listed in self.directories.items():
            manifest = listed.get("manifest")
            if not manifest or not os.path.isdir(directory):
                continue
            files = {}
            for item in planned:
                if os.path.dirname(item["path"]) != directory or item["action"] in ("removed", "absent") or not os.path.isfile(item["path"]):
                    continue
                files[item["path"]] = {"sha256": sha256_file(item["path"]), **attributes(os.stat(item["path"]))}
            write_manifest(manifest_path(directory), {**manifest, "files": files})
            written.append(manifest_path(directory))
        return written

    def sweep(self) -> t.List[str]:
        """Temporary files a killed swap or restore left in the listed directories (the caller holds their locks)."""
        swept = []
        for directory in self.directories:
            for path in stale_files(directory):
                if not self.module.check_mode:
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        continue
                swept.append(path)
        return swept

    def remove_staging(self, paths: t.List[str]) -> t.List[str]:
        """Private staging directories an older role version left (only those that still look like one)."""
        known = set(staging_dirs())
        removed = [p for p in paths if p in known]
        if not self.module.check_mode:
            for path in removed:
                shutil.rmtree(path, ignore_errors=True)
        return removed

    def attributes(self, planned: t.List[t.Dict[str, t.Any]]) -> bool:
        """Owner, group, mode and SELinux type of the files whose content stays (check mode aware)."""
        changed = False
        for item in planned:
            if item["action"] != "unchanged":
                continue
            context = self._context(item["path"], True, item.get("setype")) if item.get("setype") else None
            if self._apply(item["path"], mode=item.get("mode"), owner=item.get("owner"), group=item.get("group"), context=context, like=None):
                item["action"] = "attributes"
                changed = True
        return changed

    def _prune(self) -> None:
        for directory in self._backup_dirs.values():
            root = os.path.dirname(directory)
            runs = sorted(os.listdir(root))
            for old in runs[: max(0, len(runs) - self.keep_backups)]:
                shutil.rmtree(os.path.join(root, old), ignore_errors=True)

    # -- reporting --------------------------------------------------------------------------------

    def diff(self, planned: t.List[t.Dict[str, t.Any]]) -> t.Dict[str, str]:
        """Metadata only: the certificate (serial, expiry, fingerprint) and each path's mode and owner."""
        before_cert = next((s for s in (self._host_summary(i) for i in planned) if s), None)
        incoming = (leaf_summary(i["data"]) for i in planned if i["data"] and shows_leaf(i["path"]))
        after_cert = next((s for s in incoming if s), None) or self.certificate
        before = [_certificate_line(before_cert)] + [_describe_file(i["path"]) for i in planned]
        after = [_certificate_line(after_cert)]
        for item in planned:
            mode = item.get("mode")
            attrs = " ".join(str(x) for x in (mode, f"{item.get('owner') or '-'}:{item.get('group') or '-'}") if x)
            after.append(f"{item['path']}: {item['action']}" + (f" ({attrs})" if item["action"] not in ("removed", "absent") else ""))
        return {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"}

    def _host_summary(self, item: t.Dict[str, t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
        if not item["exists"] or not shows_leaf(item["path"]):
            return None
        try:
            with open(item["path"], "rb") as handle:
                return leaf_summary(handle.read(1024 * 1024))
        except OSError:
            return None


def _swap_failed(exc: BaseException, failed: t.List[str]) -> FilesError:
    """The error of a failed swap, once it is undone: what failed, and whether everything was put back."""
    what = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
    msg = f"replacing the certificate files failed: {what}{where}"
    if failed:
        return FilesError(f"{msg}; could NOT put back {', '.join(failed)}: restore them from {BACKUP_DIR}")
    return FilesError(f"{msg}; the previous files were put back")


def _link_or_copy(source: str, target: str) -> None:
    """A hard link of ``source`` at ``target``; a copy with the same owner, group and mode where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
        st = os.stat(source)
        os.chown(target, st.st_uid, st.st_gid)


def restore_file(backup: str, path: str) -> None:
    """Atomically put ``backup`` at ``path``; the backup stays where it is."""
    parent, name = os.path.split(path)
    temp = os.path.join(parent, f".{name}.{os.getpid()}.certctrl-restore")
    if os.path.lexists(temp):
        os.unlink(temp)
    _link_or_copy(backup, temp)
    os.replace(temp, path)


def _undo_step(item: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """What undoing one changed file does: its backup back (restored, unchanged) or the new file removed (removed, absent)."""
    path, backup = os.path.abspath(item["path"]), item.get("backup")
    if backup:
        changed = not os.path.isfile(path) or sha256_file(path) != sha256_file(backup)
        action = "restored" if changed else "unchanged"
    elif item.get("existed"):
        raise FilesError(f"{path} has no backup (the run used backup=false); nothing was restored")
    else:
        changed = os.path.lexists(path)
        action = "removed" if changed else "absent"
    return {"path": path, "backup": backup, "action": action, "changed": changed}


def _apply_undo(results: t.List[t.Dict[str, t.Any]]) -> None:
    for item in results:
        if item["changed"] and item["backup"]:
            restore_file(item["backup"], item["path"])
        elif item["changed"]:
            os.unlink(item["path"])
    for directory in {os.path.dirname(i["path"]) for i in results if i["changed"]}:
        fsync_dir(directory)


def restore(module: "AnsibleModule") -> t.Dict[str, t.Any]:
    """state=restored: undo a run given its ``files`` result: backups back, new files removed."""
    # Unchanged, attribute-only or absent files: nothing to undo.
    undo = [i for i in module.params["restore_from"] if i.get("action") in ("created", "replaced", "removed") and i.get("path")]
    missing = [i["backup"] for i in undo if i.get("backup") and not os.path.isfile(i["backup"])]
    results = [_undo_step(i) for i in undo if not i.get("backup") or i["backup"] not in missing]
    if missing:
        raise FilesError(f"backup files are missing: {', '.join(missing)}; nothing was restored")
    if not module.check_mode:
        _apply_undo(results)
    changed = any(i["changed"] for i in results)
    return {"changed": changed, "content_changed": changed, "files": results}


def deploy(module: "AnsibleModule") -> t.Dict[str, t.Any]:
    """state=present: the module's result."""
    fill_files(module.params["files"], module.params.get("unwrap") or [])
    job = CertificateFiles(module)
    with locked([*job.directories, *(os.path.dirname(os.path.abspath(f["path"])) for f in job.files)]):
        swept = job.sweep() if module.params["sweep"] else []
        planned = job.plan()
        content_changed = any(i["action"] in ("created", "replaced", "removed") for i in planned)
        diff = job.diff(planned) if module._diff else None
        if content_changed and not module.check_mode:
            job.transact(planned)
        attributes_changed = job.attributes(planned)
        attributes_changed = job.directory_attributes() or attributes_changed
        manifests = [] if module.check_mode else job.write_manifests(planned)
    staging = job.remove_staging(module.params["staging"] or [])
    result: t.Dict[str, t.Any] = {
        "changed": content_changed or attributes_changed or bool(swept or staging or manifests),
        "content_changed": content_changed,
        "files": [
            {"path": i["path"], "action": i["action"], "changed": i["action"] not in ("unchanged", "absent"), "existed": i["exists"], "backup": i.get("backup")}
            for i in planned
        ],
        "manifests": manifests,
        "swept": swept + staging,
    }
    if diff is not None:
        result["diff"] = diff
    return result


__all__ = ["BACKUP_DIR", "KILL_HOOK", "TEMP_SUFFIX", "CertificateFiles", "FilesError", "deploy", "locked", "restore", "restore_file"]
