# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""make_unsafe: server data that could be a template is never rendered; the rest stays plain (AWX's --export)."""

from __future__ import annotations

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.cjj365.certctrl.plugins.plugin_utils._unsafe import could_be_template, make_unsafe

try:
    from ansible.template import is_trusted_as_template, trust_as_template  # ansible-core 2.19+
except ImportError:  # 2.16-2.18: every plain string may be templated
    is_trusted_as_template = trust_as_template = None

HOSTILE = "{{ 6 * 7 }}"


def render(value):
    """What Ansible makes of ``value`` when a playbook uses it, e.g. as a host variable."""
    return Templar(loader=DataLoader()).template(value)


def as_a_playbook_gives_it(value: str):
    """The same text as a playbook would hand it to the templar (2.19+: trusted), to show what marking prevents."""
    return trust_as_template(value) if trust_as_template is not None else value


def test_the_control_a_playbooks_own_string_is_rendered():
    assert str(render(as_a_playbook_gives_it(HOSTILE))) == "42"  # 2.19+ keeps the native int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("web1", False),
        ("{{ x }}", True),
        ("a}", True),
        ("{", True),
        ("#jinja2:variable_start_string:'[['", True),
        (b"{%", True),
        (b"plain", False),
        ("", False),
    ],
)
def test_could_be_template(value, expected):
    assert could_be_template(value) is expected


def test_a_template_like_string_is_not_rendered():
    marked = make_unsafe(HOSTILE)
    assert marked == HOSTILE
    assert render(marked) == HOSTILE  # not "42"


def test_keys_and_nested_values_are_marked_and_containers_rebuilt():
    data = {HOSTILE: [HOSTILE, ("t", HOSTILE)], "plain": {"name": "web1", "tags": {HOSTILE}}}
    marked = make_unsafe(data)
    assert marked == {HOSTILE: [HOSTILE, ["t", HOSTILE]], "plain": {"name": "web1", "tags": {HOSTILE}}}
    assert marked is not data and marked["plain"] is not data["plain"]
    assert marked[HOSTILE] is not data[HOSTILE]
    key = next(k for k in marked if k == HOSTILE)
    assert render(key) == HOSTILE and render(marked[HOSTILE][0]) == HOSTILE and render(marked[HOSTILE][1][1]) == HOSTILE
    assert render(next(iter(marked["plain"]["tags"]))) == HOSTILE


def test_the_input_is_never_mutated():
    data = {"devices": [{"name": HOSTILE}]}
    make_unsafe(data, trust_plain=True)
    assert data == {"devices": [{"name": HOSTILE}]} and data["devices"][0]["name"].__class__ is str


def test_plain_strings_and_other_values_stay_as_they_are():
    assert make_unsafe("web1") == "web1" and make_unsafe("web1").__class__ is str
    assert make_unsafe(7) == 7 and make_unsafe(None) is None and make_unsafe(True) is True


def test_trust_plain_tags_plain_strings_trusted_but_never_a_template_like_one():
    marked = make_unsafe({"name": "web1", "bad": HOSTILE}, trust_plain=True)
    assert marked == {"name": "web1", "bad": HOSTILE} and render(marked["bad"]) == HOSTILE
    if is_trusted_as_template is None:  # 2.16-2.18 have no trust tags: the plain string stays a plain str
        assert marked["name"].__class__ is str
        return
    assert is_trusted_as_template(marked["name"])
    assert not is_trusted_as_template(marked["bad"])
    assert not is_trusted_as_template(make_unsafe("web1"))  # without trust_plain, nothing is trusted
