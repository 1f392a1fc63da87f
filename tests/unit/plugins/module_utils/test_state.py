# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic of _state: what is compared, what a check run predicts, what a diff may show."""

from __future__ import annotations

import pytest

from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import RATE_LIMITED, UNCERTAIN_STATUSES
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import APIError, InvalidResponseError, NotFoundError, TransportError

KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


# -- the options the user set -------------------------------------------------------------------


def test_user_set_keeps_only_options_that_are_not_none() -> None:
    params = {"email": "a@example.com", "provider": None, "ca_id": 0, "leaf_ec_curve": ""}
    assert state.user_set(params, ["email", "provider", "ca_id", "leaf_ec_curve"]) == {"email": "a@example.com", "ca_id": 0, "leaf_ec_curve": ""}


def test_user_set_maps_option_names_to_record_fields() -> None:
    params = {"policy": "HYBRID", "state_or_province": "Bavaria", "sans": None}
    fields = {"key_dist_policy": "policy", "state": "state_or_province", "sans": "sans"}
    assert state.user_set(params, fields) == {"key_dist_policy": "HYBRID", "state": "Bavaria"}


# -- comparison ----------------------------------------------------------------------------------


def test_differences_ignore_fields_the_user_did_not_set() -> None:
    current = {"name": "a", "email": "a@example.com", "provider": "letsencrypt", "leaf_rsa_bits": 4096}
    assert state.differences(current, {"email": "a@example.com"}) == {}


def test_differences_report_before_and_after() -> None:
    current = {"email": "a@example.com", "provider": "letsencrypt"}
    assert state.differences(current, {"email": "b@example.com", "provider": "letsencrypt"}) == {"email": {"before": "a@example.com", "after": "b@example.com"}}


def test_a_field_the_server_does_not_echo_is_never_a_difference() -> None:
    # Production's ACME account record has no leaf_* or cert_valid_seconds (production-shape row 6).
    lean = {"id": 3, "name": "a", "email": "a@example.com", "provider": "letsencrypt", "kid": "k", "ca_id": 0, "user_id": 1}
    desired = {"leaf_ec_curve": "prime256v1", "cert_valid_seconds": 86400, "email": "a@example.com"}
    assert state.differences(lean, desired) == {}
    assert state.not_echoed(lean, desired) == ["cert_valid_seconds", "leaf_ec_curve"]


def test_a_field_echoed_as_null_is_compared() -> None:
    assert state.differences({"leaf_ec_curve": None}, {"leaf_ec_curve": "prime256v1"}) == {"leaf_ec_curve": {"before": None, "after": "prime256v1"}}
    assert state.not_echoed({"leaf_ec_curve": None}, {"leaf_ec_curve": "prime256v1"}) == []


@pytest.mark.parametrize("value", [0, -1, -42, True])
def test_check_ids_refuses_non_positive_ids_naming_the_option(value: object) -> None:
    with pytest.raises(state.CertCtrlError) as info:
        state.check_ids({"certificate_id": value, "device_id": 5}, "device_id", "certificate_id")
    assert info.value.msg.startswith("certificate_id must be a positive integer")
    assert repr(value) in info.value.msg
    assert info.value.details == {"option": "certificate_id"}


def test_check_ids_accepts_positive_and_unset_ids() -> None:
    assert state.check_ids({"certificate_id": 1, "acct_id": None}, "certificate_id", "acct_id", "device_id") is None


@pytest.mark.parametrize(
    ("normalizer", "have", "want", "same"),
    [
        (state.as_name_set, ["a.example.com", "b.example.com"], ["B.example.com", "a.example.com"], True),
        (state.as_name_set, ["a.example.com", "a.example.com"], ["a.example.com"], True),
        (state.as_name_set, ["a.example.com"], ["a.example.com", "b.example.com"], False),
        (state.as_name_set, None, [], True),
        (state.casefold, "GB", "gb", True),
        (state.casefold, "", None, True),
        (state.casefold, "GB", "DE", False),
        (state.text, "", None, True),
        (state.text, "Example Ltd", "example ltd", False),
        (state.zero_is_none, 0, None, True),
        (state.zero_is_none, 0, 0, True),
        (state.zero_is_none, 1, 0, False),
    ],
)
def test_normalizers(normalizer: state.Normalizer, have: object, want: object, same: bool) -> None:
    changed = state.differences({"f": have}, {"f": want}, {"f": normalizer})
    assert (changed == {}) is same


def test_describe_differences_uses_the_option_names() -> None:
    changed = {"key_dist_policy": {"before": "HYBRID", "after": "MASTER_ONLY"}, "country": {"before": "GB", "after": "DE"}}
    text = state.describe_differences(changed, {"key_dist_policy": "policy"})
    assert text == "country: 'GB' -> 'DE'; policy: 'HYBRID' -> 'MASTER_ONLY'"


# -- prediction ----------------------------------------------------------------------------------


def test_predict_update_applies_desired_fields_and_keeps_the_rest() -> None:
    current = {"id": 7, "name": "a", "email": "a@example.com"}
    predicted = state.predict(current, {"email": "b@example.com"})
    assert predicted == {"id": 7, "name": "a", "email": "b@example.com"}
    assert current["email"] == "a@example.com"  # the record is not modified in place


def test_predict_create_has_the_template_shape() -> None:
    template = {"id": None, "name": None, "email": "", "ca_id": 0}
    assert state.predict(None, {"name": "a"}, template) == {"id": None, "name": "a", "email": "", "ca_id": 0}
    assert template["name"] is None


# -- results and diffs never carry secrets ----------------------------------------------------------


def test_public_drops_key_material_and_heavy_fields() -> None:
    record = {"id": 1, "cert": CERT_PEM, "der": "MIIB", "csr": "x", "enc_privkey": "x", "key_pem": KEY_PEM, "jwk": {"d": "x"}}
    assert state.public(record) == {"id": 1}


def test_public_keeps_heavy_fields_on_request_but_never_keys() -> None:
    # der is the private key DER in production (production-shape row 2): secret even when heavy fields are kept.
    record = {"id": 1, "cert": CERT_PEM, "csr": "c", "der": "MIIE", "key_pem": KEY_PEM, "privkey_tag": "t"}
    assert state.public(record, keep_heavy=True) == {"id": 1, "cert": CERT_PEM, "csr": "c"}


def test_public_drops_der_in_nested_records() -> None:
    record = {"id": 1, "certificates": [{"id": 2, "der": "MIIE"}], "cert": {"id": 3, "der": "MIIE"}}
    assert state.public(record, keep_heavy=True) == {"id": 1, "certificates": [{"id": 2}], "cert": {"id": 3}}


def test_public_redacts_private_keys_hidden_in_any_field() -> None:
    record = {"id": 1, "note": KEY_PEM, "nested": {"list": [KEY_PEM, "ok"], "private_key": "x"}}
    out = state.public(record)
    assert "PRIVATE KEY" not in repr(out)
    assert out["nested"] == {"list": [state.REDACTED, "ok"]}


def test_public_keeps_only_the_heavy_fields_it_is_given() -> None:
    record = {"id": 1, "cert": CERT_PEM, "csr": "c", "der": "MIIE"}
    assert state.public(record, keep_heavy=frozenset({"cert"})) == {"id": 1, "cert": CERT_PEM}
    assert state.public(record, keep_heavy=frozenset()) == {"id": 1}


def test_public_drops_key_like_field_names_only_on_request() -> None:
    # Production's wrapped-key fields (enc_privkey_b64 ...) are not in SECRET_FIELDS; a caller may drop them by name.
    record = {"id": 1, "enc_privkey_b64": "x", "privkey_nonce_b64": "n", "device_key_pem": "p", "private_ip": "10.0.0.1"}
    assert state.public(record, drop_key_like=True) == {"id": 1}
    assert state.public(record) == record


def test_make_diff_is_key_level_and_pem_free() -> None:
    before = {"id": 1, "email": "a@example.com", "cert": CERT_PEM}
    after = {"id": 1, "email": "b@example.com", "cert": CERT_PEM}
    diff = state.make_diff(before, after)
    assert diff == {"before": {"id": 1, "email": "a@example.com"}, "after": {"id": 1, "email": "b@example.com"}}


def test_make_diff_of_create_and_delete() -> None:
    assert state.make_diff(None, {"id": None, "name": "a"}) == {"before": {}, "after": {"id": None, "name": "a"}}
    assert state.make_diff({"id": 3}, None) == {"before": {"id": 3}, "after": {}}


# -- create_or_adopt ----------------------------------------------------------------------------------


class Calls:
    def __init__(self, outcomes: list[object], rereads: list[object]) -> None:
        self.outcomes = list(outcomes)
        self.rereads = list(rereads)
        self.creates = 0
        self.reads = 0
        self.warnings: list[str] = []
        self.sleeps: list[float] = []

    def create(self) -> object:
        self.creates += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def reread(self) -> object:
        self.reads += 1
        return self.rereads.pop(0)

    def run(self, attempts: int = 3) -> tuple[object, bool]:
        return state.create_or_adopt(
            create=self.create, reread=self.reread, attempts=attempts, warn=self.warnings.append, what="the thing", sleep=self.sleeps.append
        )


def _status(status: int) -> APIError:
    return APIError(status=status, code=None, what="busy", method="POST", path="/x")


def test_create_succeeds_first_time_without_reading() -> None:
    calls = Calls([{"id": 1}], [])
    assert calls.run() == ({"id": 1}, False)
    assert (calls.creates, calls.reads, calls.warnings) == (1, 0, [])


def test_create_lost_in_transit_is_adopted_not_sent_again() -> None:
    calls = Calls([TransportError("POST /x: connection reset")], [{"id": 9}])
    assert calls.run() == ({"id": 9}, True)
    assert (calls.creates, calls.reads) == (1, 1)
    assert "adopted" in calls.warnings[0]


def test_create_that_did_not_happen_is_retried_after_a_reread() -> None:
    calls = Calls([_status(503), InvalidResponseError("bad json"), {"id": 2}], [None, None])
    assert calls.run() == ({"id": 2}, False)
    assert (calls.creates, calls.reads, len(calls.sleeps)) == (3, 2, 2)
    assert all("retry" in w for w in calls.warnings)


def test_create_gives_up_after_the_attempts() -> None:
    calls = Calls([_status(503), _status(502)], [None, None])
    with pytest.raises(APIError) as raised:
        calls.run(attempts=2)
    assert raised.value.status == 502
    assert calls.creates == 2


def test_definite_refusals_are_not_retried_or_reread() -> None:
    refusal = NotFoundError(status=404, code=5003, what="nope", method="POST", path="/x")
    calls = Calls([refusal], [])
    with pytest.raises(NotFoundError):
        calls.run()
    assert (calls.creates, calls.reads) == (1, 0)


@pytest.mark.parametrize("status", sorted(UNCERTAIN_STATUSES))
def test_every_uncertain_status_is_reread_before_sending_again(status: int) -> None:
    calls = Calls([_status(status)], [{"id": 4}])
    assert calls.run() == ({"id": 4}, True)
    assert (calls.creates, calls.reads) == (1, 1)


def test_a_rate_limited_create_is_not_uncertain() -> None:
    # 429 says the server did not act: the client sends the POST again itself, no re-read is needed.
    calls = Calls([_status(RATE_LIMITED)], [])
    with pytest.raises(APIError):
        calls.run()
    assert (calls.creates, calls.reads) == (1, 0)
