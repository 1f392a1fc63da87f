# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The controller-plugin side of the shared client (same file name as module_utils/_client.py):
# options come from get_option (arguments > vars > env > ansible.cfg), errors become AnsibleError.

from __future__ import annotations

import contextlib
import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.utils.display import Display

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient, RetryPolicy
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

display = Display()


def client_from_plugin(plugin: t.Any, **overrides: t.Any) -> CertCtrlClient:
    """Build the client from a plugin's options; ``overrides`` are already-templated values (inventory)."""

    def option(name: str) -> t.Any:
        return overrides[name] if overrides.get(name) is not None else plugin.get_option(name)

    validate = option("validate_certs")
    if isinstance(validate, str):
        validate = validate.strip().lower() not in ("0", "false", "no", "off")
    with translate_errors("configuring the cert-ctrl client"):
        try:
            timeout, retries = float(option("timeout")), int(option("retries"))
        except (TypeError, ValueError):
            raise CertCtrlError(f"timeout and retries must be numbers, got {option('timeout')!r} and {option('retries')!r}") from None
        return CertCtrlClient(
            api_url=to_native(option("api_url")),
            api_key=to_native(option("api_key")) if option("api_key") else None,
            validate_certs=bool(validate),
            ca_path=option("ca_path"),
            timeout=timeout,
            retry_policy=RetryPolicy(retries=max(0, retries)),
            on_retry=lambda msg: display.warning(f"cert-ctrl: {msg}"),
        )


@contextlib.contextmanager
def translate_errors(what: str) -> t.Iterator[None]:
    """Turn collection errors into AnsibleError, keeping the server's words."""
    try:
        yield
    except CertCtrlError as exc:
        raise AnsibleError(f"cert-ctrl: {what}: {exc.msg}") from exc


__all__ = ["client_from_plugin", "display", "translate_errors"]
