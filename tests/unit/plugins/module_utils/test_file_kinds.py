# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_file_kinds: the table of rendered files and the sets derived from it, and how a file on a host is told to be
a secret (never read into a diff) or to show the leaf, by its name alone."""

from __future__ import annotations

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _file_kinds as kinds


def test_the_derived_sets_follow_the_table() -> None:
    assert tuple(kinds.FILE_KINDS) == kinds.OUTPUT_FILES
    assert kinds.DEFAULT_FILES == ("certificate.pem", "chain.pem", "fullchain.pem", "private.key")
    assert {"private.key", "combined.pem", "bundle.pfx"} == kinds.SECRET_FILES
    assert {"chain.pem"} == kinds.OPTIONAL_FILES


def test_every_kind_says_all_three_things() -> None:
    for name, kind in kinds.FILE_KINDS.items():
        assert set(kind) == {"secret", "default", "optional"}, name
        assert all(isinstance(value, bool) for value in kind.values()), name


def test_the_names_tell_apart_exactly_the_secret_files_of_the_table() -> None:
    for name in kinds.OUTPUT_FILES:
        assert kinds.is_secret(f"/etc/ssl/site/{name}") is (name in kinds.SECRET_FILES), name


@pytest.mark.parametrize(
    "path",
    ["/etc/nginx/ssl/www.example.com.key", "/srv/app/keystore.p12", "/srv/app/site.pfx", "/etc/ssl/private-www.pem", "combined_www.pem", "private"],
)
def test_renamed_key_and_pkcs12_files_are_secret(path: str) -> None:
    assert kinds.is_secret(path)
    assert not kinds.shows_leaf(path)


@pytest.mark.parametrize("path", ["/etc/ssl/private/www.pem", "/etc/ssl/www.key.pem", "/etc/ssl/www.crt", "/etc/ssl/my-private.pem", "keys.txt"])
def test_only_the_file_name_counts_not_its_directory_nor_an_inner_word(path: str) -> None:
    assert not kinds.is_secret(path)


@pytest.mark.parametrize("path", ["/etc/ssl/certificate.pem", "/etc/ssl/fullchain.pem", "/etc/ssl/certificate.der", "/etc/ssl/www.crt"])
def test_public_certificate_files_show_the_leaf(path: str) -> None:
    assert kinds.shows_leaf(path)


@pytest.mark.parametrize("path", ["/etc/ssl/chain.pem", "/etc/ssl/chain-www.pem", "/etc/ssl/private.key", "/etc/ssl/combined.pem", "/etc/ssl/bundle.pfx"])
def test_a_chain_or_a_secret_file_does_not_show_the_leaf(path: str) -> None:
    assert not kinds.shows_leaf(path)


def test_the_suffixes_and_prefixes_cover_every_secret_name_of_the_table() -> None:
    for name in kinds.SECRET_FILES:
        assert name.endswith(kinds.SECRET_SUFFIXES) or name.startswith(kinds.SECRET_PREFIXES), name
