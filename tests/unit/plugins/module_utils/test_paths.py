# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The path rules of the cjj365.certctrl.api lookup (module_utils/_paths.py): which terms are readable paths,
which are refused and why, and how filters match items. No server; the lookup itself runs in
tests/integration/test_plugins_lookup_api.py.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._paths import InvalidPathError, item_matches, resolve

WEB1_PUBLIC_ID = "6f1c2a3b-0001-4c5d-8e9f-a1b2c3d4e5f1"


@pytest.mark.parametrize(
    ("term", "path", "is_list"),
    [
        ("certificates", "/apiv1/me/certificates", True),
        ("/apiv1/me/certificates", "/apiv1/me/certificates", True),
        ("apiv1/me/certificates/42", "/apiv1/me/certificates/42", False),
        ("certificates/42/", "/apiv1/me/certificates/42", False),
        ("certificates/42/issues", "/apiv1/me/certificates/42/issues", True),
        ("certificates/42/devices", "/apiv1/me/certificates/42/devices", True),
        ("certificates/42/export", "/apiv1/me/certificates/42/export", False),
        ("devices", "/apiv1/me/devices", True),
        ("devices/7", "/apiv1/me/devices/7", False),
        ("devices/7/certificates", "/apiv1/me/devices/7/certificates", True),
        ("devices/7/certificates/42", "/apiv1/me/devices/7/certificates/42", False),
        (f"devices/by-public-id/{WEB1_PUBLIC_ID}", f"/apiv1/me/devices/by-public-id/{WEB1_PUBLIC_ID}", False),
        ("acme-accounts", "/apiv1/me/acme-accounts", True),
        (" acme-accounts/3/certificates ", "/apiv1/me/acme-accounts/3/certificates", True),
    ],
)
def test_readable_paths(term: str, path: str, is_list: bool) -> None:
    resolved = resolve(term)
    assert (resolved.path, resolved.is_list) == (path, is_list)


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("certificate-assign", "accepts POST only"),
        ("/apiv1/me/certificate-assign", "cjj365.certctrl.assign"),
        ("devices/7/certificates/42/bundle", "private key"),
        ("install-config-update/abc", "POST only"),
        ("devices method=POST", "only reads"),
        ("method=DELETE", "only reads"),
        ("certificates?status=ACTIVE", "keyword arguments"),
        ("certificates?limit=1&offset=5", "query strings"),
        ("certificates#x", "query strings"),
        ("certificates/../devices", "'..'"),
        ("../../etc/passwd", "'..'"),
        ("certificates/./42", "'.'"),
        ("certificates//42", "empty"),
        ("certificates/%2e%2e", "only letters"),
        ("certificates/4 2", "only letters"),
        ("devices\\7", "only letters"),
        ("/apiv1/users/1/devices", "only paths under /apiv1/me/"),
        ("/apiv1/me/", "name a resource"),
        ("", "only letters"),
        ("certificates/0", "positive integers"),
        ("certificates/abc", "not a readable"),
        ("devices/by-public-id/a.b", "not a readable"),
        ("users", "not a readable"),
        (42, "must be a path"),
    ],
)
def test_refused_paths(term: t.Any, words: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        resolve(term)
    assert words in caught.value.msg


@pytest.mark.parametrize(
    ("item", "filters", "expected"),
    [
        ({"status": "ACTIVE"}, {"status": "ACTIVE"}, True),
        ({"status": "ACTIVE"}, {"status": "active"}, False),  # exact, case-sensitive
        ({"status": "LOST"}, {"status": ["ACTIVE", "LOST"]}, True),
        ({"id": 42}, {"id": "42"}, True),
        ({"id": 42}, {"id": 42}, True),
        ({"id": 1}, {"id": True}, False),  # True == 1 in Python, not here
        ({"verified": True}, {"verified": "true"}, True),
        ({"verified": False}, {"verified": 0}, False),
        ({"sans": ["a.example.com", "b.example.com"]}, {"sans": "b.example.com"}, True),
        ({"sans": ["a.example.com"]}, {"sans": "example.com"}, False),
        ({"name": "web1"}, {"name": "web*"}, False),  # no patterns
        ({"name": "web1", "status": "ACTIVE"}, {"name": "web1", "status": "LOST"}, False),
        ({"name": "web1"}, {"platform": "Linux"}, False),  # a missing field never matches
        ({"name": "web1"}, {}, True),
    ],
)
def test_item_matches(item: dict, filters: dict, expected: bool) -> None:
    assert item_matches(item, filters) is expected
