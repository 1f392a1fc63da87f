# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_lock: the private lock directory, one flock'ed file per natural key, the wait and its timeout, and create_once
against the live emulator (ACME accounts, whose names the server keeps unique), the requests counted by the emulator.

Every test points the temp directory at its own ``tmp_path``, so no lock is shared with another run."""

from __future__ import annotations

import os
import stat
import tempfile
import typing as t
import uuid
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _lock as lock
from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, ConflictError
from certctrl_emulator.testing import Emulator

POSTS = "POST /apiv1/me/acme-accounts"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(lock.LOCK_TIMEOUT_ENV, raising=False)
    return tmp_path


def posts(emu: Emulator) -> int:
    return emu.admin.counters()["by_route"].get(POSTS, 0)


def create_account(client: CertCtrlClient, name: str, warnings: list, **kwargs: t.Any) -> tuple[dict, bool]:
    body = {"name": name, "provider": "SELF_CA", "ca_id": 1}
    options = {
        "kind": "acme_account",
        "key": (name,),
        "find": lambda: api.find_acme_account(client, name),
        "create": lambda: api.create_acme_account(client, body),
        "warn": warnings.append,
        "what": f"ACME account {name!r}",
        **kwargs,
    }
    return lock.create_once(client, **options)


def unique() -> str:
    return f"lock-{uuid.uuid4().hex[:8]}"


def test_lock_directory_is_created_private_and_reused(private_tmp: Path) -> None:
    path = lock.lock_directory()

    assert Path(path).parent == private_tmp and Path(path).name == f"cjj365.certctrl-locks-{os.getuid()}"
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700
    assert lock.lock_directory() == path


def test_lock_directory_others_could_write_to_is_refused(private_tmp: Path) -> None:
    path = lock.lock_directory()
    os.chmod(path, 0o770)

    with pytest.raises(CertCtrlError, match=r"refusing the lock directory .*found mode 0770.*remove it and run again"):
        lock.lock_directory()


def test_lock_directory_that_is_a_link_is_refused(private_tmp: Path) -> None:
    target = private_tmp / "elsewhere"
    target.mkdir(mode=0o700)
    (private_tmp / f"cjj365.certctrl-locks-{os.getuid()}").symlink_to(target)

    with pytest.raises(CertCtrlError, match="refusing the lock directory"):
        lock.lock_directory()


def test_lock_path_names_the_kind_and_hides_the_key() -> None:
    path = lock.lock_path("https://api.example.com/", "certificate", (3, "www.example.com"))

    assert path == lock.lock_path("https://api.example.com", "certificate", ("3", "www.example.com"))  # same key, same file
    name = os.path.basename(path)
    assert name.startswith("certificate-") and name.endswith(".lock") and len(name) == len("certificate-") + 32 + len(".lock")
    assert "example" not in name
    assert path != lock.lock_path("https://api.example.com", "certificate", (4, "www.example.com"))
    assert path != lock.lock_path("https://other.example.com", "certificate", (3, "www.example.com"))


def test_lock_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lock.lock_timeout() == lock.DEFAULT_LOCK_TIMEOUT
    monkeypatch.setenv(lock.LOCK_TIMEOUT_ENV, " 2.5 ")
    assert lock.lock_timeout() == 2.5
    monkeypatch.setenv(lock.LOCK_TIMEOUT_ENV, "0")
    assert lock.lock_timeout() == 0.0


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_lock_timeout_that_is_not_a_number_of_seconds_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(lock.LOCK_TIMEOUT_ENV, raw)

    with pytest.raises(CertCtrlError, match=rf"{lock.LOCK_TIMEOUT_ENV} must be a number of seconds \(0 or more\), got '{raw}'"):
        lock.lock_timeout()


def test_the_holder_writes_its_pid_into_a_0600_lock_file() -> None:
    with lock.natural_key_lock("https://api", "certificate", (1, "a"), what="the test") as path:
        assert Path(path).read_text() == f"{os.getpid()}\n"
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert path == lock.lock_path("https://api", "certificate", (1, "a"))


def test_a_held_lock_times_out_naming_the_holder() -> None:
    sleeps: list[float] = []
    with (
        lock.natural_key_lock("https://api", "certificate", (1, "a"), what="outer") as path,
        pytest.raises(lock.LockTimeoutError) as raised,
        lock.natural_key_lock("https://api", "certificate", (1, "a"), what="the certificate 'a'", timeout=0.2, sleep=sleeps.append),
    ):
        pytest.fail("the lock was taken twice")

    message = raised.value.msg
    assert message.startswith("gave up waiting for the certificate 'a' after 0.2 s")
    assert f"(process {os.getpid()}) holds the lock file {path}" in message and lock.LOCK_TIMEOUT_ENV in message
    assert raised.value.details == {"lock_file": path}
    assert sleeps and set(sleeps) == {0.05}  # polled, never waited in one block


def test_the_timeout_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lock.LOCK_TIMEOUT_ENV, "0")
    with (
        lock.natural_key_lock("https://api", "device", (9,), what="outer"),
        pytest.raises(lock.LockTimeoutError, match="after 0 s"),
        lock.natural_key_lock("https://api", "device", (9,), what="inner"),
    ):
        pytest.fail("the lock was taken twice")


def test_the_lock_is_released_on_error_and_other_keys_never_wait() -> None:
    with (
        pytest.raises(RuntimeError),
        lock.natural_key_lock("https://api", "certificate", (1, "a"), what="first"),
        lock.natural_key_lock("https://api", "certificate", (1, "b"), what="another key", timeout=0),
    ):
        raise RuntimeError("the task failed")

    with lock.natural_key_lock("https://api", "certificate", (1, "a"), what="again", timeout=0) as path:
        assert Path(path).read_text() == f"{os.getpid()}\n"


def test_create_once_creates_then_finds(emu: Emulator, client: CertCtrlClient) -> None:
    name, warnings = unique(), []

    created, is_new = create_account(client, name, warnings)
    found, again = create_account(client, name, warnings)

    assert is_new is True and again is False and created["name"] == name and found["id"] == created["id"]
    assert posts(emu) == 1 and warnings == []


def test_create_once_holds_the_lock_of_the_key_while_it_reads_and_creates(emu: Emulator, client: CertCtrlClient) -> None:
    name = unique()
    attempts = []

    def find() -> dict | None:
        with pytest.raises(lock.LockTimeoutError), lock.natural_key_lock(client.api_url, "acme_account", (name,), what="a parallel run", timeout=0):
            pass
        attempts.append(name)
        return api.find_acme_account(client, name)

    _account, is_new = create_account(client, name, [], find=find)

    assert is_new is True and len(attempts) == 2  # before the create, and the re-read after it


def test_create_once_adopts_on_a_409(emu: Emulator, client: CertCtrlClient) -> None:
    name, warnings = unique(), []
    existing = emu.api().call("POST", "/acme-accounts", {"name": name, "provider": "SELF_CA", "ca_id": 1})
    emu.admin.reset()
    reads = []

    def find_late() -> dict | None:  # the first read misses what a run elsewhere creates meanwhile
        reads.append(1)
        return api.find_acme_account(client, name) if len(reads) > 1 else None

    account, is_new = create_account(client, name, warnings, find=find_late)

    assert is_new is False and account["id"] == existing["id"] and posts(emu) == 1
    assert len(warnings) == 1 and "answered HTTP 409" in warnings[0] and "another run created it first, so it was adopted" in warnings[0]


def test_create_once_raises_a_409_it_cannot_explain(emu: Emulator, client: CertCtrlClient) -> None:
    name = unique()
    emu.api().call("POST", "/acme-accounts", {"name": name, "provider": "SELF_CA", "ca_id": 1})

    with pytest.raises(ConflictError, match="already exists"):
        create_account(client, name, [], find=lambda: None)


def test_create_once_adopts_a_create_whose_answer_was_lost(emu: Emulator, client: CertCtrlClient) -> None:
    name, warnings = unique(), []
    emu.admin.add_fault(path="^/apiv1/me/acme-accounts$", method="POST", kind="drop_after", count=1)

    account, is_new = create_account(client, name, warnings, reread_after=False)

    assert account["name"] == name and is_new is True and posts(emu) == 1
    assert len(warnings) == 1 and "the re-read shows the server created it" in warnings[0]


def test_create_once_returns_what_find_chooses_after_creating(emu: Emulator, client: CertCtrlClient) -> None:
    name = unique()
    chosen = {"id": 1, "name": name, "chosen": True}
    reads = []

    def find() -> dict | None:
        reads.append(1)
        return None if len(reads) == 1 else chosen

    account, is_new = create_account(client, name, [], find=find)
    created = create_account(client, unique(), [], reread_after=False, find=lambda: None)[0]

    assert account is chosen and is_new is True
    assert "chosen" not in created and posts(emu) == 2
