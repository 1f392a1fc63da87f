# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Creates that never duplicate. The API has no uniqueness check for certificates, and a play over many
# hosts runs the same create in parallel forks, so creates of one natural key are serialized on the machine
# that runs the task: an flock'ed file per (api_url, kind, natural key) in a private per-user directory.
# Whoever gets the lock second reads the state again and finds what the first one created.

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, ConflictError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, the re-reads still converge
    fcntl = None

LOCK_TIMEOUT_ENV = "CERTCTRL_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 300.0
_POLL = 0.05


class LockTimeoutError(CertCtrlError):
    """Another run held the lock of a natural key for longer than the wait allows."""


def lock_directory() -> str:
    """The private lock directory of this user (created 0700); refused when someone else could write to it."""
    path = os.path.join(tempfile.gettempdir(), f"cjj365.certctrl-locks-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise CertCtrlError(
            f"refusing the lock directory {path}: it must be a directory of user {os.getuid()} with mode 0700"
            f" (found mode {stat.S_IMODE(info.st_mode):04o}, owner {info.st_uid}); remove it and run again"
        )
    return path


def lock_path(api_url: str, kind: str, key: t.Iterable[t.Any]) -> str:
    """The lock file of one natural key: ``<kind>-<sha256 of api_url, kind and key>.lock`` (no name in clear)."""
    text = "\0".join([api_url.rstrip("/"), kind, *(str(part) for part in key)])
    return os.path.join(lock_directory(), f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:32]}.lock")


def lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise CertCtrlError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds (0 or more), got {raw!r}")
    return value


@contextlib.contextmanager
def natural_key_lock(
    api_url: str,
    kind: str,
    key: t.Sequence[t.Any],
    *,
    what: str,
    timeout: t.Optional[float] = None,
    sleep: t.Callable[[float], None] = time.sleep,
) -> t.Iterator[str]:
    """Hold the exclusive lock of one natural key; wait at most ``timeout`` seconds for it (default: the environment's)."""
    if fcntl is None:  # pragma: no cover
        yield ""
        return
    path = lock_path(api_url, kind, key)
    wait = lock_timeout() if timeout is None else timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    f"gave up waiting for {what} after {wait:g} s: another run (process {_holder(fd) or 'unknown'}) holds the lock file {path}."
                    f" It is released when that run ends; raise {LOCK_TIMEOUT_ENV} to wait longer",
                    lock_file=path,
                )
            sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def create_once(
    client: t.Any,
    *,
    kind: str,
    key: t.Sequence[t.Any],
    find: t.Callable[[], t.Any],
    create: t.Callable[[], t.Any],
    warn: t.Callable[[str], None],
    what: str,
    reread_after: bool = True,
) -> t.Tuple[t.Any, bool]:
    """Create the object of one natural key unless it exists; ``(object, created)``.

    Under the key's lock: read again (a parallel run may have created it while this one waited), create with
    ``state.create_or_adopt`` (a failure that may hide a success is re-read before sending again), adopt on a 409
    (a run elsewhere created it first), and with ``reread_after`` read once more, so every run returns the record
    ``find`` chooses (the lowest id) even when duplicates exist.
    """
    with natural_key_lock(client.api_url, kind, key, what=what):
        found = find()
        if found:
            return found, False
        try:
            created, _adopted = state.create_or_adopt(
                create=create,
                reread=find,
                attempts=1 + client.policy.retries,
                warn=warn,
                what=what,
                backoff=lambda attempt: client.policy.delay(attempt, None),
            )
        except ConflictError as exc:
            found = find()
            if not found:
                raise
            warn(f"creating {what} answered HTTP 409 ({exc.what or exc.msg}); another run created it first, so it was adopted")
            return found, False
        if reread_after:
            return find() or created, True
        return created, True


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


__all__ = ["DEFAULT_LOCK_TIMEOUT", "LOCK_TIMEOUT_ENV", "LockTimeoutError", "create_once", "lock_directory", "lock_path", "natural_key_lock"]
