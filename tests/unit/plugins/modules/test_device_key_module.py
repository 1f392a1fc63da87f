# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The device_key module's main() in-process (tests/support/modules.py): a run, a rerun, check mode, its failures,
and a result that never holds the secret key. The key pair's rules are tested in module_utils/test_device_key.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.cjj365.certctrl.plugins.module_utils import _device_key as dk
from ansible_collections.cjj365.certctrl.plugins.modules import device_key
from ansible_collections.cjj365.certctrl.tests.support.modules import run_module

RESULT_KEYS = {"changed", "created", "path", "public_key", "fingerprint", "device_public_id"}


def assert_no_secret(result: dict, key_dir: Path) -> None:
    secret = (key_dir / "dev_sk.bin").read_bytes()
    text = json.dumps(result)
    assert base64.b64encode(secret).decode() not in text and secret.hex() not in text and secret.hex().upper() not in text


def test_a_run_then_a_rerun(tmp_path: Path) -> None:
    key_dir = tmp_path / "certctrl" / "keys"
    rc, result = run_module(device_key.main, {"path": str(key_dir)})
    assert rc == 0, result
    assert result["changed"] and result["created"] and result["path"] == str(key_dir)
    assert set(result) >= RESULT_KEYS
    public = (key_dir / "dev_pk.bin").read_bytes()
    assert result["public_key"] == base64.b64encode(public).decode()
    assert result["fingerprint"] == base64.b64encode(dk.fingerprint(public)).decode()
    assert result["device_public_id"] == dk.public_id_for(public)
    assert_no_secret(result, key_dir)
    rc, again = run_module(device_key.main, {"path": str(key_dir)})
    assert rc == 0 and not again["changed"] and not again["created"]
    assert {k: again[k] for k in RESULT_KEYS - {"changed", "created"}} == {k: result[k] for k in RESULT_KEYS - {"changed", "created"}}
    assert_no_secret(again, key_dir)


def test_check_mode_makes_nothing_then_reports_an_existing_pair(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    rc, result = run_module(device_key.main, {"path": str(key_dir)}, check_mode=True)
    assert rc == 0, result
    assert result["changed"] and result["created"] and result["public_key"] is None and result["fingerprint"] is None
    assert list(tmp_path.iterdir()) == []
    run_module(device_key.main, {"path": str(key_dir)})
    rc, result = run_module(device_key.main, {"path": str(key_dir)}, check_mode=True)
    assert rc == 0 and not result["changed"] and result["public_key"]
    assert_no_secret(result, key_dir)


def test_a_refused_secret_key_fails_the_task(tmp_path: Path) -> None:
    run_module(device_key.main, {"path": str(tmp_path / "keys")})
    (tmp_path / "keys" / "dev_sk.bin").chmod(0o644)
    rc, result = run_module(device_key.main, {"path": str(tmp_path / "keys")})
    assert rc == 1 and result["failed"]
    assert "dev_sk.bin has mode 0644: a device secret key must be readable by its owner only (0600)" in result["msg"]
    assert_no_secret(result, tmp_path / "keys")


def test_a_file_system_error_is_worded(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    rc, result = run_module(device_key.main, {"path": str(tmp_path / "file" / "keys")})
    assert rc == 1 and result["failed"]
    assert result["msg"] == f"File exists ({tmp_path / 'file'})"


def test_without_pynacl_and_cryptography_it_names_the_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dk, "NACL_IMPORT_ERROR", "Traceback: No module named 'nacl'")
    monkeypatch.setattr(dk, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: No module named 'cryptography'")
    rc, result = run_module(device_key.main, {"path": str(tmp_path / "keys")})
    assert rc == 1 and result["failed"]
    assert "Failed to import the required Python library (PyNaCl [Debian/Ubuntu python3-nacl" in result["msg"]
    assert "python3-pynacl" in result["msg"] and "py3-cryptography" in result["msg"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "words"), [({"state": "absent"}, "value of state must be one of: present"), ({"api_key": "k"}, "Unsupported parameters")])
def test_argument_errors(args: dict, words: str) -> None:
    rc, result = run_module(device_key.main, args)
    assert rc == 1 and words in result["msg"]


def test_the_documented_default_path_is_the_agents_key_directory() -> None:
    assert yaml.safe_load(device_key.DOCUMENTATION)["options"]["path"]["default"] == dk.DEFAULT_KEY_DIR
