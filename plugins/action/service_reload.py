# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The controller's part of cjj365.certctrl.service_reload (documented in plugins/modules/service_reload.py), as
# ansible.builtin.copy does it: the deploy role's whole handler in ONE task. It runs the module on the host (one
# execution: test, reload, roll back, check the endpoints from the host). With verify=controller it checks the
# endpoints from the controller in this process (served_certificate_info's probe: no module, no delegation), then runs
# the module once more to record in the manifests that they serve the new certificate. With result_fact it returns
# the role's result, with the reloaded services and the checked endpoints added, as that fact.

from __future__ import annotations

import typing as t

from ansible.module_utils.common.validation import check_type_float
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cjj365.certctrl.plugins.module_utils._served_certificate import EndpointError, mismatch_message, served_certificate
from ansible_collections.cjj365.certctrl.plugins.module_utils._service_reload import join_names, merge_result

display = Display()

MODULE = "cjj365.certctrl.service_reload"
# The module's choices, and the action's own: check from the controller.
VERIFY_CHOICES = ("host", "controller", "skip", "verified")
# One handshake's timeout (served_certificate_info's default); verify_timeout bounds the polling.
HANDSHAKE_TIMEOUT = 10.0

# probe(host, port, *, server_name, timeout, expect_fingerprint, wait_timeout) -> served_certificate()'s result.
Probe = t.Callable[..., dict[str, t.Any]]


class ReloadError(Exception):
    """Fails the host with this message."""


def _serve(labels: list[str]) -> str:
    return f"{join_names(labels)} serve{'s' if len(labels) == 1 else ''} the new certificate"


def endpoint_labels(certificates: list[dict[str, t.Any]]) -> list[str]:
    return [e["label"] for c in certificates for e in c.get("verify_endpoints") or []]


def check_endpoints(certificates: list[dict[str, t.Any]], *, wait_timeout: float, probe: Probe = served_certificate) -> tuple[list[str], list[str]]:
    """Each endpoint of each certificate (the module's RV(certificates)) must serve its certificate, polled for up to
    ``wait_timeout`` seconds, as served_certificate_info with require_match checks it: (the labels of those that do,
    served_certificate_info's message for each that does not)."""
    verified, wrong = [], []
    for certificate in certificates:
        expected = certificate.get("sha256_fingerprint")
        for endpoint in certificate.get("verify_endpoints") or []:
            try:
                served = probe(
                    endpoint["host"],
                    int(endpoint.get("port") or 443),
                    server_name=endpoint.get("server_name") or None,
                    timeout=HANDSHAKE_TIMEOUT,
                    expect_fingerprint=expected,
                    wait_timeout=wait_timeout,
                )
            except EndpointError as exc:
                wrong.append(str(exc))
                continue
            if served.get("matches"):
                verified.append(endpoint["label"])
            else:
                wrong.append(mismatch_message(served, expected or ""))
            display.vvv(f"cert-ctrl: {endpoint['label']}: {'serves' if served.get('matches') else 'does not serve'} the new certificate")
    return verified, wrong


def planned(first: dict[str, t.Any]) -> dict[str, t.Any]:
    """The plan of a check-mode run: the module's, and the check from the controller that would follow."""
    labels = endpoint_labels(first.get("certificates") or [])
    if not labels:
        return first
    return {**first, "msg": f"{first['msg']}, then check from the controller that {_serve(labels)}"}


def without_result(first: dict[str, t.Any]) -> dict[str, t.Any]:
    """The first run's answer for a failure: no deploy_result, so the role's result keeps what it had."""
    return {k: v for k, v in first.items() if k != "deploy_result"}


def not_served(first: dict[str, t.Any], verified: list[str], wrong: list[str]) -> dict[str, t.Any]:
    """The failure when an endpoint does not serve the new certificate: the services stay reloaded, the reload pending."""
    return {**without_result(first), "failed": True, "msg": "; ".join(wrong), "verified_endpoints": verified}


def recorded(first: dict[str, t.Any], second: dict[str, t.Any]) -> dict[str, t.Any]:
    """One result for the reload (first run) and the record of the controller's check (second run). The result fact is
    the first run's with the checked endpoints added here: the record reloads nothing, so merged on the host it would
    empty each certificate's ``services_reloaded``."""
    changed = bool(first.get("changed") or second.get("changed"))
    if second.get("failed"):
        return {**without_result(first), **second, "changed": changed}
    labels = second.get("verified_endpoints") or []
    result = {
        **first,
        "changed": changed,
        "msg": f"{first['msg']}; {_serve(labels)} (checked from the controller)" if labels else first["msg"],
        "verified_endpoints": labels,
        "manifests_marked": [*(first.get("manifests_marked") or []), *(second.get("manifests_marked") or [])],
    }
    for key in ("warnings", "deprecations"):
        if first.get(key) or second.get(key):
            result[key] = [*(first.get(key) or []), *(second.get(key) or [])]
    if first.get("deploy_result") is not None:
        handled = {"services_reloaded": first.get("services_reloaded") or [], "verified_endpoints": labels, "certificates": first.get("certificates") or []}
        result["deploy_result"] = merge_result(first["deploy_result"], handled)
    return result


def own_options(args: dict[str, t.Any]) -> tuple[dict[str, t.Any], str, str | None, float]:
    """The module's arguments (``verify`` as the module takes it), where to verify, the fact name and the timeout."""
    module_args = dict(args)
    verify = module_args.pop("verify", None) or "host"
    fact = module_args.pop("result_fact", None) or None
    if verify not in VERIFY_CHOICES:
        raise ReloadError(f"verify must be one of {', '.join(VERIFY_CHOICES)}, not {verify!r}")
    if fact is not None and not (isinstance(fact, str) and fact.isidentifier()):
        raise ReloadError(f"result_fact must be a variable name, not {fact!r}")
    try:
        timeout = check_type_float(module_args.get("verify_timeout", 15))
    except TypeError as exc:
        raise ReloadError(f"verify_timeout: {exc}") from None
    module_args["verify"] = "skip" if verify == "controller" else verify
    return module_args, verify, fact, timeout


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True
    probe = staticmethod(served_certificate)  # the TLS probe of the check from the controller

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        try:
            result.update(self._reload(dict(self._task.args), task_vars))
        except ReloadError as exc:
            result.update(failed=True, msg=str(exc))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _module(self, module_args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        return self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)

    def _reload(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        module_args, verify, fact, timeout = own_options(args)
        first = self._module(module_args, task_vars)
        if first.get("failed"):
            return first  # the module's own account: what failed, what was put back, what is served now
        outcome = first
        if verify == "controller" and first.get("planned"):
            outcome = planned(first)
        elif verify == "controller" and endpoint_labels(first.get("certificates") or []):
            verified, wrong = check_endpoints(first["certificates"], wait_timeout=timeout, probe=self.probe)
            if wrong:
                return not_served(first, verified, wrong)
            record = {"manifests": module_args.get("manifests") or [], "certificates": first["certificates"], "verify": "verified"}
            second = self._module(record, task_vars)
            second.pop("invocation", None)
            outcome = recorded(first, second)
        if fact and not outcome.get("failed") and outcome.get("deploy_result") is not None:
            outcome = {**outcome, "ansible_facts": {fact: outcome["deploy_result"]}}
        return outcome
