# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fixtures of the module_utils tests that talk to the session emulator (tests/conftest.py starts it)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.tests.support.emulator import client_of
from certctrl_emulator.testing import Emulator


@pytest.fixture
def emu(emulator: Emulator) -> t.Iterator[Emulator]:
    """The session emulator with no faults and zeroed counters."""
    emulator.admin.clear_faults()
    emulator.admin.reset()
    yield emulator
    emulator.admin.clear_faults()


@pytest.fixture
def client(emu: Emulator) -> t.Iterator[CertCtrlClient]:
    """The collection's client for the session emulator (no retries, no sleeping)."""
    c = client_of(emu)
    yield c
    c.close()
