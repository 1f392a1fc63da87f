# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# Server data handed to Ansible by the lookup and the inventory goes through make_unsafe, so a device
# named "{{ lookup('pipe', ...) }}" stays a name and is never rendered as a template.
# Only strings that could be templates (containing "{" or "}") are marked, as community.general, community.dns
# and community.docker do: on ansible-core 2.16-2.18 a marked string shows up in `ansible-inventory --list --export`
# (what AWX's inventory sync runs) as {"__ansible_unsafe": ...}, so marking everything broke every host name there.
# ansible-core 2.19 does not template plugin output unless it is tagged trusted; wrap_var keeps that tag away.
# Its --export, though, writes every untrusted host variable as {"__ansible_unsafe": ...}; so the inventory asks
# for trust_plain: strings that cannot be templates (no brace, no "#jinja2:" header) are tagged trusted there.

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Set

from ansible.utils.unsafe_proxy import wrap_var

try:
    from ansible.template import trust_as_template  # ansible-core 2.19+
except ImportError:  # pragma: no cover - 2.16-2.18: plain strings are exported as they are
    trust_as_template = None

_OVERRIDES_HEADER = "#jinja2:"  # changes the template delimiters: a string starting with it could be a template


def could_be_template(value: str | bytes) -> bool:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return "{" in text or "}" in text or text.startswith(_OVERRIDES_HEADER)


def make_unsafe(value: t.Any, *, trust_plain: bool = False) -> t.Any:
    """A copy of ``value`` with every string (keys included) that could be a template marked unsafe.

    With ``trust_plain`` the other strings are tagged trusted on ansible-core 2.19+, so its --export shows them plainly.
    Containers are always rebuilt, so the result never shares a dict or list with the input
    (the inventory hands cached structures through here and must not mutate them).
    """
    if isinstance(value, Mapping):
        return {make_unsafe(key, trust_plain=trust_plain): make_unsafe(item, trust_plain=trust_plain) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [make_unsafe(item, trust_plain=trust_plain) for item in value]
    if isinstance(value, Set):
        return {make_unsafe(item, trust_plain=trust_plain) for item in value}
    if isinstance(value, (str, bytes)):
        if could_be_template(value):
            return wrap_var(value)
        if trust_plain and trust_as_template is not None and isinstance(value, str):
            return trust_as_template(value)
    return value


__all__ = ["could_be_template", "make_unsafe"]
