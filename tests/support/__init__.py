# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers of the test suites, imported by the collection path (``ansible_collections.cjj365.certctrl.tests.support``)
so that plain pytest (tests/conftest.py links the checkout) and ``ansible-test units`` (a real copy) find them alike.

ansible_run: ansible commands against an emulator; emulator: REST set-up and counters; modules: a module's main() in-process.
"""
