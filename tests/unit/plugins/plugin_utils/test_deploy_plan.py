# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy action's planner (pure): defaults, modes, and every bad input named before anything happens."""

from __future__ import annotations

import pytest

from ansible_collections.cjj365.certctrl.plugins.plugin_utils._deploy_plan import PlanError, deploy_plan, normalize_mode

ASSIGNED = [{"id": 7, "domain_name": "www.example.test"}, {"id": 9, "domain_name": "*.example.test"}]
NGINX = {"nginx": {"validate": "nginx -t", "reload": "systemctl reload nginx"}}


def test_every_assigned_certificate_with_the_defaults() -> None:
    plan = deploy_plan(ASSIGNED, cert_root="/srv/certs")

    assert [(e["id"], e["dest_dir"]) for e in plan] == [(7, "/srv/certs/www.example.test"), (9, "/srv/certs/_.example.test")]
    www = plan[0]
    assert [(f["name"], f["mode"], f["secret"]) for f in www["files"]] == [
        ("certificate.pem", "0644", False),
        ("chain.pem", "0644", False),
        ("fullchain.pem", "0644", False),
        ("private.key", "0600", True),
    ]
    assert www["directory"] == {"mode": "0750", "owner": None, "group": None}
    assert www["services"] == [] and www["verify_endpoints"] == [] and www["pfx_password"] is None


def test_entry_settings_group_modes_services_and_endpoints() -> None:
    entries = [{"id": 7, "group": "ssl-cert", "files": ["fullchain.pem", {"name": "private.key", "path": "key.pem"}], "services": ["nginx"]}]

    (entry,) = deploy_plan(ASSIGNED, certificates=entries, definitions=NGINX, verify_endpoints={"www.example.test": ["[::1]:8443/alt.test"]})

    assert [(f["path"].rsplit("/", 1)[-1], f["mode"], f["group"]) for f in entry["files"]] == [
        ("fullchain.pem", "0644", "ssl-cert"),
        ("key.pem", "0640", "ssl-cert"),
    ]
    assert entry["services"] == [{"name": "nginx", "validate": "nginx -t", "reload": "systemctl reload nginx"}]
    assert entry["verify_endpoints"] == [{"host": "::1", "port": 8443, "server_name": "alt.test", "label": "::1:8443/alt.test"}]


@pytest.mark.parametrize(("value", "expected"), [("0640", "0640"), ("640", "0640"), (0o640, "0640"), ("2750", "2750"), ("0o600", "0600")])
def test_modes_are_octal(value: object, expected: str) -> None:
    assert normalize_mode(value, "certctrl_key_mode") == expected


@pytest.mark.parametrize("value", ["abc", "0999", "u=rw", "", None, True, 0o17777])
def test_a_bad_mode_names_its_option(value: object) -> None:
    with pytest.raises(PlanError, match=r"certctrl_key_mode: .* is not an octal mode"):
        deploy_plan(ASSIGNED, key_mode=value)


def test_a_bad_entry_mode_names_the_entry() -> None:
    with pytest.raises(PlanError, match=r"certctrl_certificates\[0\] \(www.example.test\): directory_mode: 'rwx' is not an octal mode"):
        deploy_plan(ASSIGNED, certificates=[{"domain_name": "www.example.test", "directory_mode": "rwx"}])


def test_an_unknown_key_names_the_entry_and_the_allowed_keys() -> None:
    with pytest.raises(PlanError) as info:
        deploy_plan(ASSIGNED, certificates=[{"id": 7}, {"domain_name": "www.example.test", "service": ["nginx"]}])

    assert "certctrl_certificates[1] (www.example.test) has unknown key(s) service; allowed: id, domain_name" in str(info.value)
    assert "services" in str(info.value)


def test_an_unknown_file_key_is_named() -> None:
    with pytest.raises(PlanError, match=r"file 'private.key' has unknown key\(s\) mod; allowed: name, path"):
        deploy_plan(ASSIGNED, certificates=[{"id": 7, "files": [{"name": "private.key", "mod": "0600"}]}])


@pytest.mark.parametrize("value", ["notalist", {"id": 7}, 7])
def test_certificates_must_be_a_list(value: object) -> None:
    with pytest.raises(PlanError, match="certctrl_certificates must be a list of certificate entries"):
        deploy_plan(ASSIGNED, certificates=value)


def test_errors_name_what_to_fix() -> None:
    with pytest.raises(PlanError, match=r"no certificate for 'nope.test' is assigned to this device \(assigned: 7 \(www.example.test\), 9"):
        deploy_plan(ASSIGNED, certificates=[{"domain_name": "nope.test"}])
    with pytest.raises(PlanError, match=r"certctrl_certificates\[0\] \(8\): certificate 8 is not assigned"):
        deploy_plan(ASSIGNED, certificates=[8])
    with pytest.raises(PlanError, match="unknown service 'apache'; known: nginx"):
        deploy_plan(ASSIGNED, certificates=[{"id": 7, "services": ["apache"]}], definitions=NGINX)
    with pytest.raises(PlanError, match="needs a pfx_password"):
        deploy_plan(ASSIGNED, certificates=[{"id": 7, "files": ["bundle.pfx"]}])
    with pytest.raises(PlanError, match="is written for both"):
        deploy_plan(ASSIGNED, certificates=[{"id": 7, "dest_dir": "/x"}, {"id": 9, "dest_dir": "/x"}])
    with pytest.raises(PlanError, match="must be an absolute path"):
        deploy_plan(ASSIGNED, cert_root="relative")
    with pytest.raises(PlanError, match=r"unknown file 'cert\.crt'"):
        deploy_plan(ASSIGNED, files=["cert.crt"])
    with pytest.raises(PlanError, match="is not host:port"):
        deploy_plan(ASSIGNED, certificates=[{"id": 7, "verify_endpoints": ["a b:c"]}])


def test_endpoints_as_dicts_and_the_default_server_name() -> None:
    endpoints = {"www.example.test": [{"host": "10.0.0.1"}, {"host": "10.0.0.2", "port": "8443", "server_name": None}], "9": ["web:443"]}
    www, wildcard = deploy_plan(ASSIGNED, verify_endpoints=endpoints)
    assert [e["label"] for e in www["verify_endpoints"]] == ["10.0.0.1:443/www.example.test", "10.0.0.2:8443"]
    assert wildcard["verify_endpoints"] == [{"host": "web", "port": 443, "server_name": None, "label": "web:443"}]  # by id; a wildcard sends no SNI


def test_a_file_mode_of_its_own_and_the_pfx_password_only_with_a_pfx() -> None:
    entries = [{"id": 7, "files": [{"name": "private.key", "mode": "400"}, "bundle.pfx"], "pfx_password": "s3cret"}, {"id": 9, "pfx_password": "unused"}]
    www, wildcard = deploy_plan(ASSIGNED, certificates=entries)
    assert [(f["name"], f["mode"]) for f in www["files"]] == [("private.key", "0400"), ("bundle.pfx", "0600")]
    assert (www["pfx_password"], wildcard["pfx_password"]) == ("s3cret", None)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"certificates": [True]}, r"certctrl_certificates\[0\] must be a dict or a certificate id, not bool"),
        ({"certificates": [[7]]}, r"certctrl_certificates\[0\] must be a dict or a certificate id, not list"),
        ({"certificates": [None]}, r"certctrl_certificates\[0\] must be a dict or a certificate id, not NoneType"),
        ({"certificates": [{"owner": "root"}]}, r"certctrl_certificates\[0\] needs an id or a domain_name; this one has: owner"),
        ({"certificates": [{}]}, "this one has: nothing"),
        ({"certificates": [{"id": 7, "verify_endpoints": [{"port": 443}]}]}, "needs a host"),
        ({"certificates": [{"id": 7, "verify_endpoints": [{"host": "a", "port": "https"}]}]}, "port must be a number"),
        ({"certificates": [{"id": 7, "services": ["nginx"]}], "definitions": {"nginx": {"validate": "nginx -t"}}}, "service 'nginx' has no reload command"),
        ({"certificates": [{"id": 7, "files": [7]}]}, "each file is a name or a dict with name, not 7"),
        ({"certificates": [{"id": 7, "files": "private.key"}]}, "files must be a list, not 'private.key'"),
        ({"certificates": [{"id": 7, "files": ["chain.pem", {"name": "chain.pem", "path": "other.pem"}]}]}, "a file is listed twice"),
        ({"certificates": [{"id": 7, "files": [{"name": "private.key", "mode": "rw"}]}]}, "mode of private.key: 'rw' is not an octal mode"),
        ({"certificates": [{"id": 7, "services": "nginx"}]}, "services must be a list of service names, not 'nginx'"),
        ({"certificates": [{"id": 7, "verify_endpoints": "web:443"}]}, "verify_endpoints must be a list, not 'web:443'"),
        ({"files": "private.key"}, "certctrl_files must be a list of file names"),
        ({"verify_endpoints": ["web:443"]}, "certctrl_verify_endpoints must be a dict .*, not list"),
    ],
)
def test_each_bad_input_is_named(kwargs: dict, words: str) -> None:
    with pytest.raises(PlanError, match=words):
        deploy_plan(ASSIGNED, **kwargs)


def test_a_domain_name_assigned_twice_needs_the_id() -> None:
    twice = [*ASSIGNED, {"id": 11, "domain_name": "www.example.test"}]
    with pytest.raises(PlanError, match=r"several certificates for 'www.example.test' are assigned to this device \(7, 11\); give the id"):
        deploy_plan(twice, certificates=[{"domain_name": "www.example.test"}])
    assert [e["id"] for e in deploy_plan(twice, certificates=[11])] == [11]
