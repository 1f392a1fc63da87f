# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The emulator as the tests drive it: REST set-up with an API key, and its counters as read by a playbook.

State is arranged through the emulator's REST API (not through the code under test), and work is read from the
emulator's counters, never from wall-clock time.
"""

from __future__ import annotations

import itertools
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient, RetryPolicy
from certctrl_emulator.testing import Emulator, UserClient

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}"


class Api(UserClient):
    """Direct REST access to /apiv1/me with one of the seeded keys, and the set-ups the tests share."""

    def __init__(self, emu: Emulator, key: str = "full") -> None:
        super().__init__(emu.base_url, emu.token(key), emu.ca_file)
        self.emu = emu

    def account(self, name: str | None = None, *, provider: str = "SELF_CA") -> dict:
        body: dict[str, t.Any] = {"name": name or unique("acct"), "provider": provider}
        if provider == "SELF_CA":
            body["ca_id"] = 1
        else:
            body["email"] = "ops@example.com"
        return self.call("POST", "/acme-accounts", body)

    def certificate(self, acct_id: int, domain: str, **extra: t.Any) -> dict:
        return self.call("POST", "/certificates", {"domain_name": domain, "acct_id": acct_id, "action": "create", **extra})

    def issue(self, certificate_id: int) -> dict:
        """Issue inline (SELF_CA accounts answer SUCCESS at once)."""
        answer = self.call("POST", f"/certificates/{certificate_id}/issues", {})
        assert answer["status"] == "SUCCESS", answer
        return answer

    def certificates(self, acct_id: int, domain: str) -> list[dict]:
        return [c for c in self.call("GET", f"/acme-accounts/{acct_id}/certificates", params={"limit": 1000}) if c["domain_name"] == domain]

    def device_certificate_ids(self, device_id: int) -> list[int]:
        return [c["id"] for c in self.call("GET", f"/devices/{device_id}/certificates")]


def admin_vars(emu: Emulator) -> dict[str, str]:
    """Extra vars with which a playbook reads the emulator's counters (plain HTTP admin listener)."""
    return {"admin_url": emu.http_url or emu.base_url, "admin_token": emu.admin_token}


def writes(run: t.Any, task: str) -> int:
    """The emulator's write counter as read by a ``uri`` task of a playbook."""
    return int(run.task(task)["json"]["data"]["writes"])


def route_count(run: t.Any, task: str, route: str) -> int:
    return int(run.task(task)["json"]["data"]["by_route"].get(route, 0))


def client_of(emu: Emulator) -> CertCtrlClient:
    """The collection's client for ``emu``'s first user, with no retries and no sleeping, as unit tests want it."""
    return CertCtrlClient(api_url=emu.base_url, api_key=emu.token(), ca_path=emu.ca_file, retry_policy=RetryPolicy(retries=0), sleep=lambda s: None)


class Warnings(list):
    """A ``warn`` callback that keeps what it was told."""

    def __call__(self, msg: str) -> None:
        self.append(msg)


__all__ = ["Api", "Warnings", "admin_vars", "client_of", "route_count", "unique", "writes"]
