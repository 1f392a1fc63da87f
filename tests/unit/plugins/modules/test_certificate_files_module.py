# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The certificate_files module's main() in-process (tests/support/modules.py): its argument validation, check
mode, a write and its failure message, on real files in tmp_path. The same module through ansible-playbook is
tested in tests/integration/test_role_deploy.py."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.modules.certificate_files import main
from ansible_collections.cjj365.certctrl.tests.support.modules import run_module

SECRET = "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n"


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({}, "state is present but all of the following are missing: files"),
        ({"state": "restored"}, "state is restored but all of the following are missing: restore_from"),
        ({"state": "gone", "files": []}, "value of state must be one of: present, restored"),
        ({"files": [{"path": "/x", "src": "/y", "content": "eA=="}]}, "parameters are mutually exclusive: src|content"),
        ({"files": [{"src": "/y"}]}, "missing required arguments: path"),
        ({"files": [{"path": "/x", "state": "latest"}]}, "value of state must be one of: present, absent"),
        ({"files": [], "keep_backups": "many"}, "keep_backups"),
        ({"files": [], "colour": "blue"}, "Unsupported parameters"),
    ],
)
def test_argument_errors(args: dict, words: str) -> None:
    rc, result = run_module(main, args)
    assert rc == 1 and result["failed"]
    assert words in result["msg"]


def test_check_mode_reports_and_writes_nothing(tmp_path: Path) -> None:
    files = [{"path": str(tmp_path / "cert.pem"), "content": encoded("cert")}, {"path": str(tmp_path / "private.key")}]
    rc, result = run_module(main, {"files": files}, check_mode=True, diff=True)
    assert rc == 0, result
    assert result["changed"] and result["content_changed"]
    assert [f["action"] for f in result["files"]] == ["created", "created"]
    assert list(tmp_path.iterdir()) == []
    assert f"{tmp_path / 'private.key'}: created" in result["diff"]["after"]


def test_a_write_then_the_same_again(tmp_path: Path) -> None:
    files = [
        {"path": str(tmp_path / "cert.pem"), "content": encoded("cert"), "mode": "0644"},
        {"path": str(tmp_path / "private.key"), "content": encoded(SECRET)},
    ]
    rc, result = run_module(main, {"files": files})
    assert rc == 0 and result["changed"], result
    assert (tmp_path / "cert.pem").read_text() == "cert" and (tmp_path / "private.key").read_text() == SECRET
    assert oct((tmp_path / "cert.pem").stat().st_mode & 0o777) == "0o644" and oct((tmp_path / "private.key").stat().st_mode & 0o777) == "0o600"
    assert SECRET not in str(result) and encoded(SECRET) not in str(result)  # content is no_log and never returned

    rc, again = run_module(main, {"files": files})
    assert rc == 0 and not again["changed"]
    assert [f["action"] for f in again["files"]] == ["unchanged", "unchanged"]


def test_a_failure_is_a_failed_result_with_the_reason(tmp_path: Path) -> None:
    rc, result = run_module(main, {"files": [{"path": str(tmp_path / "cert.pem"), "content": "not base64!"}]})
    assert rc == 1 and result["failed"]
    assert result["msg"] == f"the content of {tmp_path / 'cert.pem'} is not valid base64; nothing was changed"
    assert list(tmp_path.iterdir()) == []
