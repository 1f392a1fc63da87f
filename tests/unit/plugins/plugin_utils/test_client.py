# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller-plugin adapter of the client: options through ``get_option`` (a tiny stand-in plugin;
precedence through a real lookup plugin is tested with the lookup), errors as AnsibleError. Requests go
to the live emulator."""

from __future__ import annotations

import typing as t

import pytest
from ansible.errors import AnsibleError

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    AuthenticationError,
    CertCtrlError,
    PermissionDeniedError,
    TransportError,
)
from ansible_collections.cjj365.certctrl.plugins.plugin_utils import _client as plugin_client
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._client import client_from_plugin, plain, translate_errors

DEVICES = "/apiv1/me/devices"
DEVICES_ROUTE = "GET /apiv1/me/devices"


class StubPlugin:
    """What client_from_plugin needs of a lookup or inventory plugin: get_option."""

    def __init__(self, **options: t.Any) -> None:
        self.options = options
        self.asked: list[str] = []

    def get_option(self, name: str) -> t.Any:
        self.asked.append(name)
        return self.options[name]


def plugin_for(emu: t.Any, key: str = "full", **options: t.Any) -> StubPlugin:
    """Options as get_option returns them once the doc fragment's defaults are applied."""
    values = {"api_url": emu.base_url, "api_key": emu.token(key), "validate_certs": True, "ca_path": emu.ca_file, "timeout": 10, "retries": 0}
    values.update(options)
    return StubPlugin(**values)


@pytest.fixture
def emu(emulator: t.Any) -> t.Iterator[t.Any]:
    emulator.admin.clear_faults()
    emulator.admin.reset()
    yield emulator
    emulator.admin.clear_faults()


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the adapter shows the user through Display.warning."""
    seen: list[str] = []
    monkeypatch.setattr(plugin_client.display, "warning", lambda msg, *args, **kwargs: seen.append(msg))
    return seen


def test_client_from_plugin_options(emu):
    plugin = plugin_for(emu, api_url=emu.base_url + "/", timeout="7.5", retries="2")
    client = client_from_plugin(plugin)
    assert {d["name"] for d in client.get(DEVICES)} >= {"web1", "web2", "web3"}
    assert client.api_url == emu.base_url
    assert client.timeout == 7.5
    assert client.policy.retries == 2
    assert set(plugin.asked) == {"api_url", "api_key", "validate_certs", "ca_path", "timeout", "retries"}


def test_overrides_beat_get_option_and_none_falls_back(emu):
    # An inventory passes already-templated values; None means "not given", so get_option decides.
    plugin = plugin_for(emu, api_url="https://unreachable.invalid", api_key="ak_wrong_0123456789")
    client = client_from_plugin(plugin, api_url=emu.http_url, api_key=emu.token(), ca_path=None, timeout=None)
    assert client.api_url == emu.http_url
    assert client.timeout == 10.0
    assert len(client.get(DEVICES)) >= 5
    assert "api_url" not in plugin.asked and "api_key" not in plugin.asked
    assert {"ca_path", "timeout", "retries", "validate_certs"} <= set(plugin.asked)


@pytest.mark.parametrize("value", [False, "false", "False", " no ", "0", "off", "OFF"])
def test_validate_certs_false_in_any_spelling(emu, value):
    client = client_from_plugin(plugin_for(emu, validate_certs=value, ca_path=None))
    assert len(client.get(DEVICES)) >= 5


@pytest.mark.parametrize("value", [True, "true", "yes", "1", "on"])
def test_validate_certs_true_in_any_spelling(emu, value):
    client = client_from_plugin(plugin_for(emu, validate_certs=value, ca_path=None))
    with pytest.raises(AnsibleError) as info, translate_errors("listing devices"):
        client.get(DEVICES)
    assert "TLS verification" in str(info.value) and "set ca_path" in str(info.value)
    assert isinstance(info.value.__cause__, TransportError)


def test_missing_api_key_is_an_ansible_error(emu):
    with pytest.raises(AnsibleError) as info:
        client_from_plugin(plugin_for(emu, api_key=None))
    assert str(info.value).startswith("cert-ctrl: configuring the cert-ctrl client: api_key is required")
    assert info.value.__cause__.__class__ is CertCtrlError


def test_missing_ca_path_is_an_ansible_error(emu):
    with pytest.raises(AnsibleError, match=r"ca_path '/nonexistent/ca\.pem' does not exist"):
        client_from_plugin(plugin_for(emu, ca_path="/nonexistent/ca.pem"))


def test_translate_errors_keeps_the_servers_words(emu):
    token = emu.token("certs_only")
    client = client_from_plugin(plugin_for(emu, key="certs_only"))
    with pytest.raises(AnsibleError) as info, translate_errors("listing devices"):
        client.get(DEVICES)
    cause = info.value.__cause__
    assert isinstance(cause, PermissionDeniedError) and cause.status == 403
    assert str(info.value) == f"cert-ctrl: listing devices: {cause.msg}"  # once, not repeated by the cause chain
    assert "API key lacks scope devices:*[read]" in str(info.value)
    assert token not in str(info.value) and token not in repr(info.value)


def test_translate_errors_on_an_unknown_key(emu):
    client = client_from_plugin(plugin_for(emu, api_key="ak_unknown_0123456789abcdef"))
    with pytest.raises(AnsibleError) as info, translate_errors("reading /apiv1/me/devices"):
        client.get(DEVICES)
    assert isinstance(info.value.__cause__, AuthenticationError)
    assert "HTTP 401" in str(info.value) and "unknown API key" in str(info.value)
    assert "ak_unknown_0123456789abcdef" not in str(info.value)


def test_translate_errors_leaves_other_exceptions_and_success_alone():
    with translate_errors("nothing happens"):
        value = 42
    assert value == 42
    with pytest.raises(KeyError), translate_errors("a bug is a bug"):
        raise KeyError("not ours")


def test_retries_are_reported_as_warnings_without_the_key(emu, warnings):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=503, retry_after=0, count=2)
    client = client_from_plugin(plugin_for(emu, retries=3))
    assert len(client.get(DEVICES)) >= 5
    assert emu.admin.counters()["by_route"][DEVICES_ROUTE] == 3
    assert len(warnings) == 2
    assert all(w.startswith(f"cert-ctrl: GET {DEVICES} failed: HTTP 503") for w in warnings)
    assert warnings[0].endswith("retry 1/3 in 0.0 s")
    assert all(emu.token() not in w for w in warnings)


def test_negative_retries_are_an_error_naming_the_option(emu, warnings):
    with pytest.raises(AnsibleError) as info:
        client_from_plugin(plugin_for(emu, retries="-3"))
    assert str(info.value) == "cert-ctrl: configuring the cert-ctrl client: retries must be 0 or more (0 sends each request once), got -3"
    assert emu.admin.counters()["total"] == 0 and warnings == []


def test_retries_zero_means_one_attempt(emu, warnings):
    emu.admin.add_fault(path=r"^/apiv1/me/devices$", method="GET", kind="status", status=503, retry_after=0, count=None)
    client = client_from_plugin(plugin_for(emu, retries="0"))
    with pytest.raises(AnsibleError, match="HTTP 503"), translate_errors("listing devices"):
        client.get(DEVICES)
    assert emu.admin.counters()["by_route"][DEVICES_ROUTE] == 1
    assert warnings == []


@pytest.mark.parametrize("value", [0, "0", -1, "nan"])
def test_timeout_must_be_positive(emu, value):
    with pytest.raises(AnsibleError, match=r"^cert-ctrl: configuring the cert-ctrl client: timeout must be a positive number of seconds"):
        client_from_plugin(plugin_for(emu, timeout=value))


def vaulted(plaintext: str) -> t.Any:
    """``plaintext`` as the running core represents a ``!vault`` value, still encrypted."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(b"unit-password")
    cipher = VaultLib([("default", secret)]).encrypt(plaintext).decode()
    try:
        from ansible.parsing.vault import EncryptedString, VaultSecretsContext  # ansible-core 2.19+
    except ImportError:  # 2.16-2.18: the value carries its VaultLib
        from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode

        value = AnsibleVaultEncryptedUnicode(cipher)
        value.vault = VaultLib([("default", secret)])
        return value
    try:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets=[("default", secret)]))
    except Exception:  # already initialized in this process
        VaultSecretsContext.current().secrets = [("default", secret)]
    return EncryptedString(ciphertext=cipher)


def test_vault_values_are_decrypted_for_the_client(emu):
    api_key = vaulted(emu.token("readonly"))
    client = client_from_plugin(plugin_for(emu, api_key=api_key))
    assert client.get(DEVICES + "/1")["name"] == "web1"
    assert emu.admin.requests()[-1]["key"] == "readonly"


def test_plain_decrypts_vaulted_values_only():
    value = vaulted("vaulted text")
    assert not isinstance(value, str)  # neither AnsibleVaultEncryptedUnicode nor EncryptedString is one
    decrypted = plain(value)
    assert isinstance(decrypted, str) and decrypted == "vaulted text"  # 2.20+ gives a tagged str subclass
    assert plain("{{ not rendered }}") == "{{ not rendered }}" and plain(7) == 7 and plain(None) is None
