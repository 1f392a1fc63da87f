# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Server data handed to Ansible by the lookup and the inventory goes through make_unsafe, so a device
# named "{{ lookup('pipe', ...) }}" stays a name and is never rendered as a template.
# ansible-core 2.19 does not template plugin output unless it is tagged trusted, so there wrap_var only
# guarantees the absence of that tag; on 2.16-2.18 it is what marks the strings unsafe.

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Set

from ansible.utils.unsafe_proxy import wrap_var


def make_unsafe(value: t.Any) -> t.Any:
    """A copy of ``value`` with every string (keys included) marked unsafe.

    Containers are always rebuilt, so the result never shares a dict or list with the input
    (the inventory hands cached structures through here and must not mutate them).
    """
    if isinstance(value, Mapping):
        return {make_unsafe(key): make_unsafe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [make_unsafe(item) for item in value]
    if isinstance(value, Set):
        return {make_unsafe(item) for item in value}
    if isinstance(value, (str, bytes)):
        return wrap_var(value)
    return value


__all__ = ["make_unsafe"]
