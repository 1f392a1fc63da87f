# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A module's main() in-process, the way ansible-core's own unit tests run one: the arguments where AnsibleModule
reads them, SystemExit caught, the JSON result read from stdout. For tests where a subprocess is not the point."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19 and later
except ImportError:  # 2.16 - 2.18 read the JSON from basic._ANSIBLE_ARGS alone

    @contextlib.contextmanager
    def patch_module_args(args: dict[str, t.Any] | None = None) -> t.Iterator[None]:
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


@contextlib.contextmanager
def on_a_host() -> t.Iterator[None]:
    """Run module code as on a managed host. Once a test process has imported controller code (a plugin, the
    display), ansible-core 2.19+ marks it as the controller, and module warnings then go to the display instead of
    the module's result; which test ran first in a worker must not decide that."""
    try:
        from ansible.module_utils import _internal as internal  # 2.19 and later
    except ImportError:
        internal = None
    saved = getattr(internal, "is_controller", None)
    if internal is None or saved is None:
        yield
        return
    internal.is_controller = False
    try:
        yield
    finally:
        internal.is_controller = saved


def _with_flags(args: dict[str, t.Any], check_mode: bool, diff: bool) -> dict[str, t.Any]:
    return {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}


def ansible_module(args: dict[str, t.Any], *, check_mode: bool = False, diff: bool = False, **spec: t.Any) -> basic.AnsibleModule:
    """A real AnsibleModule over ``args`` (``spec`` is AnsibleModule's keywords: argument_spec, supports_check_mode...)."""
    with patch_module_args(_with_flags(args, check_mode, diff)):
        return basic.AnsibleModule(**spec)


class ModuleRun(t.NamedTuple):
    rc: int
    result: dict[str, t.Any]


def run_module(main: t.Callable[[], None], args: dict[str, t.Any], *, check_mode: bool = False, diff: bool = False) -> ModuleRun:
    """Run ``main`` with ``args``; its exit code and the result it printed (exit_json or fail_json)."""
    out = io.StringIO()
    rc = None
    with patch_module_args(_with_flags(args, check_mode, diff)), on_a_host(), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    if rc is None:
        raise AssertionError(f"{main.__module__}.main() returned without exit_json or fail_json")
    text = out.getvalue()
    try:
        return ModuleRun(rc, json.loads(text[text.index("{") :]))
    except ValueError:
        raise AssertionError(f"no JSON result in the module's output: {text!r}") from None


__all__ = ["ModuleRun", "ansible_module", "on_a_host", "patch_module_args", "run_module"]
