# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The controller-plugin side of the shared client (same file name as module_utils/_client.py):
# options come from get_option (arguments > vars > env > ansible.cfg), errors become AnsibleError.

from __future__ import annotations

import contextlib
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.utils.display import Display

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient, RetryPolicy
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

try:
    from ansible.parsing.vault import EncryptedString as _VaultValue  # ansible-core 2.19+
except ImportError:  # pragma: no cover - ansible-core 2.16-2.18
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode as _VaultValue

display = Display()

CONNECTION_OPTIONS = ("api_url", "api_key", "validate_certs", "ca_path", "timeout", "retries")
_FALSE_WORDS = ("0", "false", "no", "off", "n", "f")


def plain(value: t.Any) -> t.Any:
    """A vault-encrypted value as its plain text (decrypted here, never earlier); anything else unchanged."""
    if isinstance(value, _VaultValue):
        return to_native(str(value))
    return value


def var_options(plugin: t.Any, templar: t.Any, variables: Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """The variables that feed the plugin's options (their ``vars:`` sources), templated and decrypted.

    A lookup receives ``variables`` as they were written: ``certctrl_api_key: "{{ vault_key }}"`` arrives as
    that text, and a ``!vault`` value still encrypted. Each variable an option reads is rendered here with
    all the variables (what Ansible does when a task uses it); values that are not trusted templates (facts,
    server data) stay as they are, because the templar refuses them.
    """
    if not variables:
        return {}
    names = {
        source["name"]
        for definition in (plugin.option_definitions or {}).values()
        for source in (definition.get("vars") or ())
        if isinstance(source, Mapping) and source.get("name")
    }
    wanted = {name: variables[name] for name in names if name in variables}
    if not wanted:
        return {}
    renderer = _templar_with(templar, variables)
    out: dict[str, t.Any] = {}
    for name, value in wanted.items():
        try:
            out[name] = plain(renderer.template(value))
        except AnsibleError as exc:
            raise AnsibleError(f"cert-ctrl: the variable {name} could not be templated: {_message(exc)}") from exc
    return out


def plain_options(options: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Keyword arguments of a lookup call with vault-encrypted values decrypted (no templating: Jinja did it)."""
    return {name: plain(value) for name, value in options.items()}


def client_from_plugin(plugin: t.Any, **overrides: t.Any) -> CertCtrlClient:
    """Build the client from a plugin's options; ``overrides`` are already-templated values (inventory)."""

    def option(name: str) -> t.Any:
        return plain(overrides[name] if overrides.get(name) is not None else plugin.get_option(name))

    with translate_errors("configuring the cert-ctrl client"):
        timeout = _number(option("timeout"), "timeout", float)
        retries = _number(option("retries"), "retries", int)
        api_url, api_key, ca_path = option("api_url"), option("api_key"), option("ca_path")
        return CertCtrlClient(
            api_url=to_native(api_url) if api_url is not None else "",
            api_key=to_native(api_key) if api_key else None,
            validate_certs=_boolean(option("validate_certs")),
            ca_path=to_native(ca_path) if ca_path else None,
            timeout=timeout,
            retry_policy=RetryPolicy(retries=retries),
            on_retry=lambda msg: display.warning(f"cert-ctrl: {msg}"),
            warn=lambda msg: display.warning(f"cert-ctrl: {msg}"),
        )


@contextlib.contextmanager
def translate_errors(what: str) -> t.Iterator[None]:
    """Turn collection errors into AnsibleError, keeping the server's words."""
    try:
        yield
    except CertCtrlError as exc:
        raise AnsibleError(f"cert-ctrl: {what}: {exc.msg}") from exc


def _templar_with(templar: t.Any, variables: Mapping[str, t.Any]) -> t.Any:
    """A templar that renders with ``variables``, on every supported ansible-core."""
    if hasattr(templar, "evaluate_expression"):  # ansible-core 2.19+
        return templar.copy_with_new_env(available_variables=variables)
    templar.available_variables = variables  # pragma: no cover - 2.16-2.18: the same variables the lookup was given
    return templar


def _boolean(value: t.Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    return bool(value)


def _number(value: t.Any, name: str, kind: type) -> t.Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise CertCtrlError(f"{name} must be a number, got {value!r}") from None


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc).splitlines()[0]


__all__ = ["CONNECTION_OPTIONS", "client_from_plugin", "display", "plain", "plain_options", "translate_errors", "var_options"]
