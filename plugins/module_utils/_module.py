# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The AnsibleModule side of the shared client: the argument spec that matches
# doc_fragments/_api.py, and the one place where collection errors become fail_json.

import typing as t

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.cjj365.certctrl.plugins.module_utils._client import (
    DEFAULT_API_URL,
    REQUESTS_IMPORT_ERROR,
    CertCtrlClient,
    RetryPolicy,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError


def api_argument_spec() -> t.Dict[str, t.Dict[str, t.Any]]:
    """The options of doc_fragments/_api.py DOCUMENTATION, with their environment fallbacks."""
    return {
        "api_url": {"type": "str", "default": DEFAULT_API_URL, "fallback": (env_fallback, ["CERTCTRL_API_URL"])},
        # Not required here: the client's own message names CERTCTRL_API_KEY, AnsibleModule's would not.
        "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["CERTCTRL_API_KEY"])},
        "validate_certs": {"type": "bool", "default": True, "fallback": (env_fallback, ["CERTCTRL_VALIDATE_CERTS"])},
        "ca_path": {"type": "path", "fallback": (env_fallback, ["CERTCTRL_CA_PATH"])},
        "timeout": {"type": "float", "default": 30, "fallback": (env_fallback, ["CERTCTRL_TIMEOUT"])},
        "retries": {"type": "int", "default": 5, "fallback": (env_fallback, ["CERTCTRL_RETRIES"])},
    }


def create_module(argument_spec: t.Dict[str, t.Dict[str, t.Any]], **kwargs: t.Any) -> AnsibleModule:
    """An AnsibleModule with the API options added; fails early when requests is missing."""
    module = AnsibleModule(argument_spec={**api_argument_spec(), **argument_spec}, **kwargs)
    if REQUESTS_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
    return module


def client_from_module(module: AnsibleModule) -> CertCtrlClient:
    p = module.params
    return CertCtrlClient(
        api_url=p["api_url"],
        api_key=p["api_key"],
        validate_certs=p["validate_certs"],
        ca_path=p["ca_path"],
        timeout=p["timeout"],
        retry_policy=RetryPolicy(retries=p["retries"]),
        on_retry=module.warn,
        warn=module.warn,
    )


def run(module: AnsibleModule, action: t.Callable[[CertCtrlClient], t.Dict[str, t.Any]]) -> t.NoReturn:
    """Run ``action`` with a client and exit: its dict becomes exit_json, a CertCtrlError fail_json."""
    try:
        client = client_from_module(module)
        try:
            result = action(client)
        finally:
            client.close()
    except CertCtrlError as exc:
        module.fail_json(**exc.fail_kwargs())
    module.exit_json(**result)


__all__ = ["api_argument_spec", "client_from_module", "create_module", "run"]
