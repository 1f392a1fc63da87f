# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_host.run on a real AnsibleModule built in-process: the result it exits with, the CertCtrlError and OSError it
turns into fail_json, and the errors it leaves as tracebacks (bugs)."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError, NotFoundError
from ansible_collections.cjj365.certctrl.plugins.module_utils._host import os_error_message, run
from ansible_collections.cjj365.certctrl.tests.support.modules import ansible_module, patch_module_args


def module(**args: t.Any):
    return ansible_module(args, argument_spec={name: {"type": "raw"} for name in args}, supports_check_mode=True)


def finish(action: t.Callable[[], dict], **kwargs: t.Any) -> tuple[int, dict]:
    """The exit code and the JSON result of ``run`` over a fresh module (its arguments stay in place until it exits,
    as in a real run: ansible-core 2.19 reads its serialization profile from them)."""
    out = io.StringIO()
    with patch_module_args({"path": "/etc/ssl"}), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        run(module(path="/etc/ssl"), action, **kwargs)
    text = out.getvalue()
    return exited.value.code, json.loads(text[text.index("{") :])


def read_missing(tmp_path: Path) -> dict:
    (tmp_path / "missing.pem").read_bytes()
    return {"changed": False}


def test_run_exits_with_the_result_of_the_action() -> None:
    rc, result = finish(lambda: {"changed": True, "files": ["/etc/ssl/certificate.pem"]})

    assert rc == 0
    assert result["changed"] is True and result["files"] == ["/etc/ssl/certificate.pem"]
    assert "failed" not in result


def test_a_certctrl_error_fails_with_its_message_and_fields() -> None:
    def action() -> dict:
        raise CertCtrlError("the manifest is unusable", path="/etc/ssl/.certctrl-manifest.json", certificate_id=7)

    rc, result = finish(action)

    assert rc == 1 and result["failed"] is True
    assert result["msg"] == "the manifest is unusable"
    assert result["path"] == "/etc/ssl/.certctrl-manifest.json" and result["certificate_id"] == 7


def test_a_certctrl_error_subclass_fails_the_same_way() -> None:
    def action() -> dict:
        raise NotFoundError(status=404, code=40400, what="certificate 9 not found", method="GET", path="/apiv1/me/certificates/9")

    rc, result = finish(action)

    assert rc == 1 and result["failed"] is True and "certificate 9 not found" in result["msg"]


def test_an_os_error_fails_in_the_words_given_when_the_module_words_them(tmp_path: Path) -> None:
    rc, result = finish(lambda: read_missing(tmp_path), os_error=os_error_message)

    assert rc == 1 and result["failed"] is True
    assert result["msg"] == f"No such file or directory ({tmp_path / 'missing.pem'})"


def test_a_custom_wording_of_an_os_error_is_used(tmp_path: Path) -> None:
    rc, result = finish(lambda: read_missing(tmp_path), os_error=lambda exc: f"cannot read {exc.filename}")

    assert rc == 1 and result["msg"] == f"cannot read {tmp_path / 'missing.pem'}"


def test_an_os_error_stays_a_traceback_when_the_module_does_not_word_it(tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(FileNotFoundError):
        run(module(), lambda: read_missing(tmp_path))
    assert out.getvalue() == ""  # neither exit_json nor fail_json


def test_any_other_error_is_a_bug_and_propagates() -> None:
    def action() -> dict:
        raise KeyError("dest_dir")

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(KeyError):
        run(module(), action, os_error=os_error_message)
    assert out.getvalue() == ""


def test_os_error_message_names_the_error_and_the_file(tmp_path: Path) -> None:
    with pytest.raises(PermissionError) as raised:
        raise PermissionError(13, "Permission denied", str(tmp_path / "private.key"))

    assert os_error_message(raised.value) == f"Permission denied ({tmp_path / 'private.key'})"


def test_os_error_message_of_an_error_without_strerror_uses_its_text() -> None:
    assert os_error_message(OSError("disk gone")) == "disk gone (None)"
