# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_module: the API argument spec against the doc fragment that documents it, its CERTCTRL_* environment fallbacks,
the client a module builds from its parameters (used against the live emulator), and run() turning a CertCtrlError
into fail_json. Modules run in-process with a real AnsibleModule (tests/support/modules.py)."""

from __future__ import annotations

import typing as t

import pytest
import yaml

from ansible_collections.cjj365.certctrl.plugins.doc_fragments._api import ModuleDocFragment
from ansible_collections.cjj365.certctrl.plugins.module_utils import _devices as devices
from ansible_collections.cjj365.certctrl.plugins.module_utils import _module as module_utils
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_API_URL
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.tests.support.modules import ansible_module, patch_module_args, run_module
from certctrl_emulator.testing import Emulator

ENV = {
    "api_url": "CERTCTRL_API_URL",
    "api_key": "CERTCTRL_API_KEY",
    "validate_certs": "CERTCTRL_VALIDATE_CERTS",
    "ca_path": "CERTCTRL_CA_PATH",
    "timeout": "CERTCTRL_TIMEOUT",
    "retries": "CERTCTRL_RETRIES",
}
DEVICE_SPEC = {"device_id": {"type": "int"}, "device_public_id": {"type": "str"}, "status": {"type": "str"}, "include_certificates": {"type": "bool"}}


@pytest.fixture(autouse=True)
def no_certctrl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)


def connection(emu: Emulator, **overrides: t.Any) -> dict:
    return {"api_url": emu.base_url, "api_key": emu.token(), "ca_path": emu.ca_file, "retries": 0, **overrides}


def device_info_main() -> None:
    """A module like device_info: create_module, then run() over the real _devices.read."""
    module = module_utils.create_module(DEVICE_SPEC, supports_check_mode=True)
    module_utils.run(module, lambda client: devices.read(client, module.params))


def api_module(args: dict) -> t.Any:
    return ansible_module(args, argument_spec=module_utils.api_argument_spec())


# -- the argument spec -------------------------------------------------------------------------


def test_the_spec_is_the_doc_fragment_with_an_environment_fallback_for_each_option():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = module_utils.api_argument_spec()
    assert set(spec) == set(documented) == set(ENV)
    for name, option in spec.items():
        assert option["type"] == documented[name]["type"], name
        assert option.get("default") == documented[name].get("default"), name
        assert option["fallback"][1] == [ENV[name]], name
    assert spec["api_key"]["no_log"] is True and not spec["api_key"].get("required")


def test_unset_options_take_their_documented_defaults():
    params = api_module({}).params
    assert params == {"api_url": DEFAULT_API_URL, "api_key": None, "validate_certs": True, "ca_path": None, "timeout": 30.0, "retries": 5}


def test_unset_options_fall_back_to_the_environment_with_their_types(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    values = {"api_url": "https://certctrl.example.test", "api_key": "ak_env", "validate_certs": "no", "ca_path": str(ca), "timeout": "7.5", "retries": "2"}
    for name, value in values.items():
        monkeypatch.setenv(ENV[name], value)
    params = api_module({}).params
    assert params == {**values, "validate_certs": False, "timeout": 7.5, "retries": 2}


def test_a_task_option_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("CERTCTRL_API_URL", "https://from-env.example.test")
    monkeypatch.setenv("CERTCTRL_RETRIES", "9")
    params = api_module({"api_url": "https://from-task.example.test", "retries": 1}).params
    assert (params["api_url"], params["retries"]) == ("https://from-task.example.test", 1)


def test_create_module_adds_the_api_options_to_the_modules_own():
    with patch_module_args({"device_id": 3, "api_key": "ak_x", "_ansible_check_mode": True}):
        module = module_utils.create_module(DEVICE_SPEC, supports_check_mode=True)
    assert module.params["device_id"] == 3 and module.params["api_key"] == "ak_x" and module.params["retries"] == 5
    assert module.check_mode is True


# -- client_from_module ------------------------------------------------------------------------


def test_the_client_takes_the_modules_parameters(emu):
    client = module_utils.client_from_module(api_module(connection(emu, timeout=4, retries=3)))
    try:
        assert (client.api_url, client.timeout, client.policy.retries) == (emu.base_url, 4.0, 3)
        assert client.get("/apiv1/me/devices/1")["name"] == "web1"
    finally:
        client.close()


def test_the_client_reaches_the_emulator_from_the_environment_alone(emu, monkeypatch):
    for name, value in connection(emu).items():
        monkeypatch.setenv(ENV[name], str(value))
    result = run_module(device_info_main, {"device_id": 1})
    assert result.rc == 0 and [d["name"] for d in result.result["devices"]] == ["web1"]


def test_validate_certs_false_accepts_a_server_certificate_no_trusted_ca_signed(emu):
    unverified = run_module(device_info_main, {**connection(emu, validate_certs=False), "ca_path": None, "device_id": 1})
    assert unverified.rc == 0
    verified = run_module(device_info_main, {**connection(emu), "ca_path": None, "device_id": 1})
    assert verified.rc == 1 and verified.result["failed"] is True


def test_the_modules_warnings_carry_the_clients_warnings_and_retries(emu):
    emu.admin.add_fault(path=r"^/apiv1/me/devices/1$", method="GET", kind="status", status=503, retry_after=0, count=1)
    result = run_module(device_info_main, {**connection(emu, retries=1), "device_id": 1})
    assert result.rc == 0 and [d["id"] for d in result.result["devices"]] == [1]
    # str(): ansible-core 2.19 reports a warning as a structured event, earlier versions as a string.
    assert any("HTTP 503" in str(w) and "retry 1/1" in str(w) for w in result.result["warnings"])

    cleartext = run_module(
        lambda: module_utils.run(module_utils.create_module({}), lambda client: {"changed": False}),
        {"api_url": "http://certctrl.example.test", "api_key": "ak_x"},
    )
    assert cleartext.rc == 0 and any("uses plain http" in str(w) for w in cleartext.result["warnings"])


# -- run ---------------------------------------------------------------------------------------


def test_run_exits_with_the_actions_result(emu):
    result = run_module(device_info_main, {**connection(emu), "device_id": 2})
    assert result.rc == 0 and result.result["changed"] is False and [d["id"] for d in result.result["devices"]] == [2]


def test_a_collection_error_becomes_fail_json_with_its_details(emu):
    result = run_module(device_info_main, {**connection(emu), "device_id": 999999})
    assert result.rc == 1 and result.result["failed"] is True
    assert "device 999999" in result.result["msg"] and result.result["device_id"] == 999999


def test_an_api_error_keeps_the_servers_status(emu):
    result = run_module(device_info_main, {**connection(emu, api_key=emu.token("revoked")), "device_id": 1})
    assert result.rc == 1 and result.result["status"] in (401, 403)


def test_a_missing_api_key_fails_naming_the_option_and_the_variable_without_a_request(emu):
    result = run_module(device_info_main, {**connection(emu), "api_key": None, "device_id": 1})
    assert result.rc == 1
    assert result.result["msg"] == "api_key is required: set the api_key option or the CERTCTRL_API_KEY environment variable"
    assert emu.admin.counters()["total"] == 0


def test_the_api_key_never_appears_in_a_failure(emu):
    token = emu.token()

    def refuse(client: t.Any) -> dict:
        raise CertCtrlError(f"the server refused {token}", key=token)

    def echoing_main() -> None:
        module_utils.run(module_utils.create_module({}), refuse)

    result = run_module(echoing_main, connection(emu))
    assert result.rc == 1 and token not in str(result.result)


def test_an_error_that_is_not_the_collections_is_not_turned_into_a_failure(emu):
    def buggy_main() -> None:
        module_utils.run(module_utils.create_module({}), lambda client: {}["missing"])

    with pytest.raises(KeyError):
        run_module(buggy_main, connection(emu))
