# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy action's decisions (pure): current or not from the manifest and the server's serial or fingerprint,
drift, each file's fate, the diff (metadata only) and the deploy__pending merge."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.cjj365.certctrl.plugins.plugin_utils import _deploy as decide
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._deploy_plan import deploy_plan

DEST = "/srv/certs/www.example.test"
CONTENT = {"certificate.pem": b"leaf\n", "chain.pem": b"chain\n", "fullchain.pem": b"leaf\nchain\n", "private.key": b"key\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def entry() -> dict:
    definitions = {"web": {"validate": "true", "reload": "true"}}
    (planned,) = deploy_plan([{"id": 7, "domain_name": "www.example.test"}], cert_root="/srv/certs", services=["web"], definitions=definitions)
    return planned


def state_of(contents: dict[str, bytes], *, manifest: dict | None = None, mode: str = "0644", dir_mode: str = "0750") -> dict:
    files = []
    for name in ("certificate.pem", "chain.pem", "fullchain.pem", "private.key"):
        path = f"{DEST}/{name}"
        if name in contents:
            file_mode = "0600" if name == "private.key" else mode
            files.append({"path": path, "exists": True, "regular": True, "mode": file_mode, "owner": "root", "group": "root", "sha256": sha(contents[name])})
        else:
            files.append({"path": path, "exists": False})
    directory = {"path": DEST, "exists": True, "directory": True, "mode": dir_mode, "owner": "root", "group": "root"}
    return {"dest_dir": DEST, "directory": directory, "files": files, "manifest": manifest, "stale": [], "deployed": None}


def manifest_of(contents: dict[str, bytes], **extra: object) -> dict:
    files = {f"{DEST}/{n}": {"sha256": sha(c), "mode": "0644", "owner": "root", "group": "root"} for n, c in contents.items()}
    return {"version": 1, "certificate_id": 7, "serial": "4a1b2", "sha256_fingerprint": "AB:CD", "files": files, "reload_pending": False, **extra}


def test_files_that_match_the_manifest_are_current(entry: dict) -> None:
    assert decide.host_matches_manifest(entry, state_of(CONTENT, manifest=manifest_of(CONTENT))) == (True, "the files match the manifest")


def test_no_manifest_is_not_current(entry: dict) -> None:
    assert decide.host_matches_manifest(entry, state_of(CONTENT)) == (False, "no deploy manifest")


def test_a_partial_swap_is_not_current(entry: dict) -> None:
    # Killed after renaming the new certificate.pem: the old manifest describes the old certificate.pem.
    new = {**CONTENT, "certificate.pem": b"new leaf\n"}
    matches, why = decide.host_matches_manifest(entry, state_of(new, manifest=manifest_of(CONTENT)))
    assert not matches and "certificate.pem differs from what was deployed" in why


def test_a_missing_file_is_not_current_but_a_chain_never_deployed_is(entry: dict) -> None:
    without_key = {k: v for k, v in CONTENT.items() if k != "private.key"}
    assert decide.host_matches_manifest(entry, state_of(without_key, manifest=manifest_of(CONTENT)))[1].endswith("private.key is missing")
    chainless = {k: v for k, v in CONTENT.items() if k != "chain.pem"}
    assert decide.host_matches_manifest(entry, state_of(chainless, manifest=manifest_of(chainless)))[0]


def test_another_certificates_manifest_is_not_current(entry: dict) -> None:
    assert not decide.host_matches_manifest(entry, state_of(CONTENT, manifest=manifest_of(CONTENT, certificate_id=8)))[0]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"serial": "04:A1:B2"}, True),  # production's spelling of the manifest's 4a1b2
        ({"serial": "4A1B3"}, False),
        ({"sha256_fingerprint": "ab:cd", "serial": "ffff"}, True),  # the fingerprint, when the PEM is known, wins
        ({"sha256_fingerprint": "AB:CE"}, False),
        ({}, None),  # the record tells nothing: read the detail
    ],
)
def test_the_server_is_compared_by_fingerprint_or_serial(facts: dict, expected: bool | None) -> None:
    assert decide.server_matches(manifest_of(CONTENT), facts) is expected


def test_no_manifest_never_matches_the_server() -> None:
    assert decide.server_matches(None, {"serial": "4a1b2"}) is False


def test_drift_of_files_and_the_directory(entry: dict) -> None:
    assert decide.drift(entry, state_of(CONTENT)) == {"files": [], "directory": False}
    drifted = decide.drift(entry, state_of(CONTENT, mode="0666", dir_mode="0777"))
    assert drifted == {"files": [f"{DEST}/certificate.pem", f"{DEST}/chain.pem", f"{DEST}/fullchain.pem"], "directory": True}


def test_owner_is_drift_only_when_one_is_planned(entry: dict) -> None:
    owned = {**entry, "files": [{**f, "owner": "www-data"} for f in entry["files"]]}
    assert len(decide.drift(owned, state_of(CONTENT))["files"]) == 4


def test_file_actions(entry: dict) -> None:
    on_host = {k: v for k, v in CONTENT.items() if k != "private.key"}
    new = {**CONTENT, "certificate.pem": b"renewed\n"}
    new.pop("chain.pem")
    assert decide.file_actions(entry, state_of(on_host), new) == {
        f"{DEST}/certificate.pem": "replaced",
        f"{DEST}/chain.pem": "removed",
        f"{DEST}/fullchain.pem": "unchanged",
        f"{DEST}/private.key": "created",
    }
    # Check mode: nothing downloaded, every file planned.
    assert set(decide.file_actions(entry, state_of({}), None).values()) == {"created"}


def test_apply_files_carry_content_or_keep_attributes(entry: dict) -> None:
    new = {k: v for k, v in CONTENT.items() if k != "chain.pem"}
    files = decide.apply_files(entry, new, [])
    assert [("content" in f, f.get("state")) for f in files] == [(True, None), (False, "absent"), (True, None), (True, None)]
    kept = decide.apply_files(entry, None, [f"{DEST}/private.key"])
    assert kept == [{"path": f"{DEST}/private.key", "owner": None, "group": None, "mode": "0600", "setype": None, "keep": True}]


def test_files_rendered_on_the_host_are_planned_and_sent_without_content(entry: dict) -> None:
    """DEVICE_REQUIRED: the controller cannot render private.key (None); the host fills it (certificate_files' unwrap)."""
    new = {**CONTENT, "private.key": None}
    actions = decide.file_actions(entry, state_of(CONTENT), new)
    assert actions[f"{DEST}/private.key"] == "replaced" and actions[f"{DEST}/certificate.pem"] == "unchanged"
    assert decide.file_actions(entry, state_of({}), new)[f"{DEST}/private.key"] == "created"
    files = {f["path"]: f for f in decide.apply_files(entry, new, [])}
    assert "content" not in files[f"{DEST}/private.key"] and "state" not in files[f"{DEST}/private.key"]
    assert "content" in files[f"{DEST}/certificate.pem"]


def test_the_diff_shows_metadata_never_content(entry: dict) -> None:
    facts = {"serial": "4a1b2", "not_after": "2027-01-01T00:00:00+00:00", "sha256_fingerprint": "AB:CD", "sans": ["www.example.test"], "issuer": "CN=CA"}
    actions = decide.file_actions(entry, state_of({}), None)

    diff = decide.diff(entry, state_of({}), facts, actions, [])

    assert diff["before"].splitlines()[0] == "certificate: none"
    assert "serial 4a1b2, not_after 2027-01-01T00:00:00+00:00, sha256_fingerprint AB:CD, sans www.example.test, issuer CN=CA" in diff["after"]
    assert f"{DEST}/private.key: created (0600 -:-)" in diff["after"]
    assert "key" not in diff["after"].replace("private.key", "")


def test_pending_merges_over_earlier_runs() -> None:
    service = {"name": "web", "validate": None, "reload": "true"}
    earlier = {"services": [service], "restore": [{"path": "/a", "backup": None}], "manifests": ["/m1"], "certificates": [{"id": 1}], "planned": False}
    new = {"services": [service], "restore": [{"path": "/b", "backup": "/bk/b"}], "manifests": ["/m2"], "certificates": [{"id": 2}], "planned": False}

    merged = decide.merge_pending(earlier, new)

    assert merged == {
        "services": [service],
        "restore": [{"path": "/a", "backup": None}, {"path": "/b", "backup": "/bk/b"}],
        "manifests": ["/m1", "/m2"],
        "certificates": [{"id": 1}, {"id": 2}],
        "planned": False,
    }
    assert decide.merge_pending(None, new)["manifests"] == ["/m2"]


def test_pending_drops_what_the_handler_already_settled() -> None:
    service = {"name": "web", "validate": None, "reload": "true"}
    earlier = {
        "services": [service],
        "restore": [{"path": "/d1/certificate.pem", "backup": "/bk/1"}],
        "manifests": ["/d1/.certctrl-manifest.json"],
        "certificates": [{"id": 1}],
        "planned": False,
    }
    empty = {"services": [], "restore": [], "manifests": [], "certificates": [], "planned": False}
    settled = [{"id": 1, "dest_dir": "/d1", "files": [{"path": "/d1/certificate.pem"}]}]

    merged = decide.merge_pending(earlier, empty, settled=settled)

    # Nothing is left for the handler: a later run that only fixed attributes does not wake it.
    assert merged == {"services": [], "restore": [], "manifests": [], "certificates": [], "planned": False}
    # An entry of another directory that is still pending stays, with its services.
    other = {**earlier, "manifests": ["/d2/.certctrl-manifest.json"], "certificates": [{"id": 2}], "restore": [{"path": "/d2/x", "backup": None}]}
    assert decide.merge_pending(other, empty, settled=settled) == {**other, "services": [service]}
