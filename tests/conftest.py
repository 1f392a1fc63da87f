# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by the unit and integration tests: a live emulator. The helpers are in tests/support/.

Everything talks to the real emulator over HTTP(S); nothing here mocks our own client.
"""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest


def _link_collection() -> None:
    """Make the checkout importable as ansible_collections.cjj365.certctrl (any clone location), tests/support included."""
    repo = Path(__file__).resolve().parents[1]
    collections = repo / ".cache" / "collections"
    link = collections / "ansible_collections" / "cjj365" / "certctrl"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(repo, target_is_directory=True)
        except FileExistsError:  # another xdist worker made it first
            pass
    for path in (str(collections), str(repo / "tests" / "emulator")):
        if path not in sys.path:
            sys.path.insert(0, path)


_link_collection()

from certctrl_emulator.testing import Emulator  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Emulator]:
    """One TLS emulator for a whole test session. Tests that need clean state use ``fresh_emulator``."""
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> t.Iterator[Emulator]:
    with Emulator(tls=True, issue_delay=0.2, workdir=tmp_path / "emulator") as emu:
        yield emu
