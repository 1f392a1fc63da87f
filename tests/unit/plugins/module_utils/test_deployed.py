# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_deployed over real files: each path's attributes and hash (links not followed), the leftovers of killed swaps,
old staging directories, the leaf summary read from a public file only, and the fingerprint of the served file."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import tempfile
import time
from pathlib import Path

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _deployed as deployed
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import manifest_path, write_manifest
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import sha256_fingerprint
from ansible_collections.cjj365.certctrl.tests.support.certs import chain

OLD = 2 * deployed.STAGING_MIN_AGE


@pytest.fixture(scope="module")
def pair():
    return chain("www.example.com", serial=0xABCDEF)


def test_sha256_file_is_the_hash_of_the_content(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 200_000)  # more than one read block

    assert deployed.sha256_file(str(path)) == hashlib.sha256(b"x" * 200_000).hexdigest()


def test_describe_path_of_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "certificate.pem"
    path.write_bytes(b"pem")
    path.chmod(0o640)

    info = deployed.describe_path(str(path), setype=lambda p: f"cert_t:{os.path.basename(p)}")

    owner, group = pwd.getpwuid(os.getuid())[0], grp.getgrgid(os.getgid())[0]
    assert info == {
        "path": str(path),
        "exists": True,
        "regular": True,
        "directory": False,
        "mode": "0640",
        "owner": owner,
        "group": group,
        "sha256": hashlib.sha256(b"pem").hexdigest(),
        "setype": "cert_t:certificate.pem",
    }


def test_describe_path_of_a_missing_path(tmp_path: Path) -> None:
    assert deployed.describe_path(str(tmp_path / "missing")) == {"path": str(tmp_path / "missing"), "exists": False}


def test_describe_path_does_not_follow_a_link(tmp_path: Path) -> None:
    (tmp_path / "real.pem").write_bytes(b"pem")
    link = tmp_path / "link.pem"
    link.symlink_to(tmp_path / "real.pem")

    info = deployed.describe_path(str(link))

    assert info["exists"] is True and info["regular"] is False and info["directory"] is False
    assert "sha256" not in info


def test_describe_path_of_a_directory_without_digest(tmp_path: Path) -> None:
    tmp_path.chmod(0o750)

    info = deployed.describe_path(str(tmp_path), digest=False)

    assert info["directory"] is True and info["regular"] is False and info["mode"] == "0750" and "sha256" not in info


def test_a_file_over_the_size_limit_is_not_hashed(tmp_path: Path) -> None:
    path = tmp_path / "huge.pem"
    with open(path, "wb") as handle:
        handle.truncate(deployed.MAX_BYTES + 1)  # sparse: nothing is really written

    assert deployed.describe_path(str(path))["sha256"] is None


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to an unknown user needs root")
def test_an_owner_without_a_name_is_reported_as_the_number(tmp_path: Path) -> None:
    path = tmp_path / "orphan.pem"
    path.write_bytes(b"x")
    uid = next(i for i in range(54321, 64000) if not _exists(pwd.getpwuid, i))
    gid = next(i for i in range(54321, 64000) if not _exists(grp.getgrgid, i))
    os.chown(path, uid, gid)

    info = deployed.attributes(os.lstat(path))

    assert info["owner"] == str(uid) and info["group"] == str(gid)


def _exists(lookup, ident: int) -> bool:
    try:
        lookup(ident)
    except KeyError:
        return False
    return True


def test_stale_files_are_the_temporaries_of_a_swap_or_a_restore(tmp_path: Path) -> None:
    for name in (".fullchain.pem.x1y2z3.certctrl-tmp", ".private.key.4242.certctrl-restore", "certificate.pem", "plain.certctrl-tmp", ".x.certctrl-tmpx"):
        (tmp_path / name).write_bytes(b"")

    assert deployed.stale_files(str(tmp_path)) == [str(tmp_path / ".fullchain.pem.x1y2z3.certctrl-tmp"), str(tmp_path / ".private.key.4242.certctrl-restore")]
    assert deployed.stale_files(str(tmp_path / "missing")) == []


def staging(root: Path, name: str, *, files: tuple = ("certificate.pem", "private.key"), mode: int = 0o700, age: float = OLD) -> Path:
    path = root / name
    path.mkdir()
    for file in files:
        (path / file).write_bytes(b"")
    path.chmod(mode)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_staging_dirs_are_old_private_directories_holding_only_bundle_files(tmp_path: Path) -> None:
    found = staging(tmp_path, "certctrl-abc123")
    empty = staging(tmp_path, "certctrl-empty_1", files=())
    staging(tmp_path, "certctrl-young1", age=60)
    staging(tmp_path, "certctrl-other1", files=("certificate.pem", "notes.txt"))
    staging(tmp_path, "certctrl-open1", mode=0o755)
    staging(tmp_path, "certctrl-ab")  # too short a suffix for the tempfile module
    staging(tmp_path, "other-abcdef")
    (tmp_path / "certctrl-afile1").write_bytes(b"")

    assert deployed.staging_dirs(str(tmp_path)) == sorted([str(found), str(empty)])


def test_staging_dirs_age_is_measured_from_now(tmp_path: Path) -> None:
    young = staging(tmp_path, "certctrl-young1", age=60)

    assert deployed.staging_dirs(str(tmp_path)) == []
    assert deployed.staging_dirs(str(tmp_path), now=time.time() + OLD) == [str(young)]
    assert deployed.staging_dirs(str(tmp_path), min_age=0) == [str(young)]
    assert deployed.staging_dirs(str(tmp_path / "missing")) == []


def test_staging_dirs_default_to_the_temp_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    found = staging(tmp_path, "certctrl-abc123")

    assert deployed.staging_dirs() == [str(found)]


def test_describe_certificates_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pair) -> None:
    leaf, ca = pair
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dest = tmp_path / "www"
    dest.mkdir()
    (dest / "private.key").write_bytes(leaf.key_pem)
    (dest / "chain.pem").write_bytes(ca.pem)
    (dest / "fullchain.pem").write_bytes(leaf.pem + ca.pem)
    (dest / ".fullchain.pem.abc.certctrl-tmp").write_bytes(b"")
    write_manifest(manifest_path(str(dest)), {"certificate_id": 7, "serial": "abcdef", "files": {}, "reload_pending": False})
    paths = [str(dest / n) for n in ("private.key", "chain.pem", "fullchain.pem", "certificate.pem")]

    result = deployed.describe_certificates([{"dest_dir": str(dest), "paths": paths}, {"dest_dir": str(tmp_path / "gone")}])

    first, second = result["certificates"]
    assert result["staging"] == []
    assert [f["exists"] for f in first["files"]] == [True, True, True, False]
    assert first["files"][0]["sha256"] == hashlib.sha256(leaf.key_pem).hexdigest()
    assert first["directory"]["directory"] is True and "sha256" not in first["directory"]
    assert first["manifest"]["certificate_id"] == 7
    assert first["stale"] == [str(dest / ".fullchain.pem.abc.certctrl-tmp")]
    # The leaf is read from fullchain.pem: never from the key, and not from chain.pem (the CA comes first there).
    assert first["deployed"]["serial"] == "abcdef" and first["deployed"]["sha256_fingerprint"] == sha256_fingerprint(leaf.der)
    assert second == {
        "dest_dir": str(tmp_path / "gone"),
        "directory": {"path": str(tmp_path / "gone"), "exists": False},
        "files": [],
        "manifest": None,
        "stale": [],
        "deployed": None,
    }


def test_describe_certificates_without_a_readable_certificate_has_no_leaf(tmp_path: Path, pair) -> None:
    leaf, _ca = pair
    (tmp_path / "private.key").write_bytes(leaf.key_pem)
    (tmp_path / "certificate.pem").write_bytes(b"not a certificate")

    result = deployed.describe_certificates([{"dest_dir": str(tmp_path), "paths": [str(tmp_path / "private.key"), str(tmp_path / "certificate.pem")]}])

    assert result["certificates"][0]["deployed"] is None


def test_describe_files_gives_attributes_and_the_fingerprint_of_the_first_certificate(tmp_path: Path, pair) -> None:
    leaf, ca = pair
    (tmp_path / "fullchain.pem").write_bytes(leaf.pem + ca.pem)
    (tmp_path / "fullchain.pem").chmod(0o644)
    (tmp_path / "served.pem").symlink_to(tmp_path / "fullchain.pem")

    result = deployed.describe_files([str(tmp_path / "fullchain.pem"), str(tmp_path / "served.pem"), str(tmp_path / "missing")], str(tmp_path / "served.pem"))

    full, link, missing = result["files"]
    assert full["regular"] is True and full["mode"] == "0644" and "sha256" not in full
    assert link["exists"] is True and link["regular"] is False  # described as the link it is
    assert missing == {"path": str(tmp_path / "missing"), "exists": False}
    assert result["fingerprint"] == sha256_fingerprint(leaf.der)  # read through the link


def test_describe_files_fingerprint_is_empty_without_a_certificate(tmp_path: Path, pair) -> None:
    leaf, _ca = pair
    (tmp_path / "private.key").write_bytes(leaf.key_pem)
    (tmp_path / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n")

    assert deployed.describe_files([], None) == {"files": [], "fingerprint": ""}
    assert deployed.describe_files([], str(tmp_path / "missing.pem"))["fingerprint"] == ""
    assert deployed.describe_files([], str(tmp_path / "private.key"))["fingerprint"] == ""
    assert deployed.describe_files([], str(tmp_path / "broken.pem"))["fingerprint"] == ""
    assert deployed.describe_files([], str(tmp_path))["fingerprint"] == ""  # a directory is not read
