# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugins/action/service_reload.py: the deploy role's handler as one task.

The module runs are replaced at the action's one seam to the host (``_module``) and the TLS probe at its seam to the
network (``probe``); what the action sends, how many times, and what it returns are read from them. The module itself
is tested in tests/unit/plugins/module_utils/test_service_reload.py, the whole handler with nginx in
tests/integration/test_role_deploy.py.
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.cjj365.certctrl.plugins.action import service_reload as action
from ansible_collections.cjj365.certctrl.plugins.module_utils._served_certificate import EndpointError

NEW = "AB:CD:EF"
OLD = "12:34:56"
WWW = {"host": "127.0.0.1", "port": 8443, "server_name": "www.example.test", "label": "127.0.0.1:8443/www.example.test"}
MAIL = {"host": "mail.example.test", "port": 993, "server_name": None, "label": "mail.example.test:993"}
CERTIFICATES = [
    {"id": 7, "domain_name": "www.example.test", "serial": "0a", "sha256_fingerprint": NEW, "verify_endpoints": [WWW]},
    {"id": 8, "domain_name": "mail.example.test", "serial": "0b", "sha256_fingerprint": NEW, "verify_endpoints": [MAIL]},
]


class Probe:
    """Serves ``serving[label]`` (a fingerprint, or an EndpointError to raise); records each call."""

    def __init__(self, **serving: t.Any) -> None:
        self.serving = serving
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, host: str, port: int, **kwargs: t.Any) -> dict[str, t.Any]:
        self.calls.append({"host": host, "port": port, **kwargs})
        label = f"{host}:{port}" + (f"/{kwargs['server_name']}" if kwargs["server_name"] else "")
        served = self.serving[label]
        if isinstance(served, Exception):
            raise served
        return {
            "endpoint": f"{host}:{port}",
            "server_name": kwargs["server_name"],
            "certificate": {"serial": "0a" if served == NEW else "99", "sha256_fingerprint": served},
            "attempts": 3,
            "matches": served == kwargs["expect_fingerprint"],
        }


def reloaded(**extra: t.Any) -> dict[str, t.Any]:
    """What the module returns after a good reload with verify=skip (or verified, for the record)."""
    return {
        "changed": True,
        "planned": False,
        "msg": "tested and reloaded nginx",
        "services_tested": ["nginx"],
        "services_reloaded": ["nginx"],
        "verified_endpoints": [],
        "certificates": CERTIFICATES,
        "manifests_marked": [],
        "restored": [],
        "invocation": {"module_args": {}},
        **extra,
    }


class Handler:
    """The action with its module runs answered in turn and recorded."""

    def __init__(self, *answers: dict[str, t.Any], probe: Probe | None = None) -> None:
        self.sent: list[dict[str, t.Any]] = []
        self.answers = list(answers)
        self.action = object.__new__(action.ActionModule)  # no task or connection: only _reload is exercised
        self.action._module = self._module  # type: ignore[method-assign]
        self.action.probe = probe or Probe()  # type: ignore[assignment]

    def _module(self, module_args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        self.sent.append(module_args)
        return dict(self.answers.pop(0))

    def run(self, **args: t.Any) -> dict[str, t.Any]:
        return self.action._reload(args, {})


JOB = {"services": [{"name": "nginx", "reload": "true"}], "manifests": ["/etc/certctrl/certs/www/.certctrl-manifest.json"], "certificates": CERTIFICATES}


def test_verify_from_the_host_is_one_module_run_and_the_result_fact() -> None:
    answer = reloaded(verified_endpoints=[WWW["label"], MAIL["label"]], deploy_result={"changed": True, "services_reloaded": ["nginx"]})
    handler = Handler(answer)

    result = handler.run(**JOB, verify_timeout=5, result={"changed": True}, result_fact="certctrl_deploy_result")

    assert handler.sent == [{**JOB, "verify_timeout": 5, "result": {"changed": True}, "verify": "host"}]  # the action's own option stays here
    assert result["ansible_facts"] == {"certctrl_deploy_result": answer["deploy_result"]}
    assert {k: v for k, v in result.items() if k != "ansible_facts"} == answer
    assert not handler.action.probe.calls


def test_no_result_fact_without_a_deploy_result_or_a_name() -> None:
    assert "ansible_facts" not in Handler(reloaded()).run(**JOB, result_fact="certctrl_deploy_result")
    assert "ansible_facts" not in Handler(reloaded(deploy_result={})).run(**JOB)


def test_verify_from_the_controller_probes_in_process_then_records_the_check() -> None:
    probe = Probe(**{WWW["label"]: NEW, MAIL["label"]: NEW})
    so_far = {  # the role's result after the reload on the host (the module's merge_result)
        "changed": True,
        "services_reloaded": ["nginx"],
        "verified_endpoints": [],
        "certificates": [
            {"id": 7, "services": ["nginx"], "services_reloaded": ["nginx"], "verified_endpoints": []},
            {"id": 8, "services": [], "services_reloaded": [], "verified_endpoints": []},
        ],
    }
    record = {
        **reloaded(verified_endpoints=[WWW["label"], MAIL["label"]], manifests_marked=JOB["manifests"]),
        "msg": "no service to reload; 127.0.0.1:8443/www.example.test and mail.example.test:993 serve the new certificate",
        "services_tested": [],
        "services_reloaded": [],
        "warnings": ["from the record"],
    }
    handler = Handler(reloaded(deploy_result=so_far), record, probe=probe)

    result = handler.run(**JOB, verify="controller", verify_timeout="2.5", result={"changed": True}, result_fact="certctrl_deploy_result")

    first, second = handler.sent
    assert first["verify"] == "skip" and "result_fact" not in first and first["result"] == {"changed": True}
    # The record: the manifests given and the certificates the reload acted for; the result is merged here.
    assert second == {"manifests": JOB["manifests"], "certificates": CERTIFICATES, "verify": "verified"}
    # served_certificate_info's probe with require_match: the expected fingerprint, polled for verify_timeout.
    assert probe.calls == [
        {"host": "127.0.0.1", "port": 8443, "server_name": "www.example.test", "timeout": 10.0, "expect_fingerprint": NEW, "wait_timeout": 2.5},
        {"host": "mail.example.test", "port": 993, "server_name": None, "timeout": 10.0, "expect_fingerprint": NEW, "wait_timeout": 2.5},
    ]
    assert result["msg"] == (
        "tested and reloaded nginx; 127.0.0.1:8443/www.example.test and mail.example.test:993 serve the new certificate (checked from the controller)"
    )
    assert result["services_reloaded"] == ["nginx"] and result["services_tested"] == ["nginx"]
    assert result["verified_endpoints"] == [WWW["label"], MAIL["label"]] and result["manifests_marked"] == JOB["manifests"]
    assert result["changed"] and result["warnings"] == ["from the record"]
    # The reload stays on each certificate (the record reloaded nothing), the checked endpoints are added.
    assert result["ansible_facts"] == {
        "certctrl_deploy_result": {
            "changed": True,
            "services_reloaded": ["nginx"],
            "verified_endpoints": [WWW["label"], MAIL["label"]],
            "certificates": [
                {"id": 7, "services": ["nginx"], "services_reloaded": ["nginx"], "verified_endpoints": [WWW["label"]]},
                {"id": 8, "services": [], "services_reloaded": [], "verified_endpoints": [MAIL["label"]]},
            ],
        }
    }
    assert result["deploy_result"] == result["ansible_facts"]["certctrl_deploy_result"]


def test_an_endpoint_with_the_previous_certificate_fails_the_host_and_nothing_is_recorded() -> None:
    probe = Probe(**{WWW["label"]: OLD, MAIL["label"]: EndpointError("TLS handshake with mail.example.test:993 failed: refused (after 4 attempts)")})
    handler = Handler(reloaded(deploy_result={"services_reloaded": ["nginx"]}), probe=probe)

    result = handler.run(**JOB, verify="controller", result_fact="certctrl_deploy_result")

    assert len(handler.sent) == 1  # no record: the manifests keep the reload pending
    assert result["failed"] and result["changed"] and result["services_reloaded"] == ["nginx"] and result["verified_endpoints"] == []
    # served_certificate_info's messages, each endpoint's.
    assert result["msg"] == (
        f"127.0.0.1:8443/www.example.test serves serial 99 ({OLD}), not the expected {NEW} (after 3 attempts); "
        "TLS handshake with mail.example.test:993 failed: refused (after 4 attempts)"
    )
    assert "ansible_facts" not in result and "deploy_result" not in result


def test_one_endpoint_of_two_failing_names_it_and_reports_the_other_verified() -> None:
    handler = Handler(reloaded(), probe=Probe(**{WWW["label"]: NEW, MAIL["label"]: OLD}))

    result = handler.run(**JOB, verify="controller")

    assert result["failed"] and result["verified_endpoints"] == [WWW["label"]]
    assert result["msg"].startswith("mail.example.test:993 serves serial 99") and len(handler.sent) == 1


def test_check_mode_plans_the_check_from_the_controller_without_probing() -> None:
    plan = reloaded(planned=True, changed=True, msg="check mode: would test and reload nginx", deploy_result={"check_mode": True})
    handler = Handler(plan)

    result = handler.run(**JOB, verify="controller", planned=True, result_fact="certctrl_deploy_result")

    assert len(handler.sent) == 1 and handler.sent[0]["verify"] == "skip" and not handler.action.probe.calls
    assert result["msg"] == (
        "check mode: would test and reload nginx, then check from the controller that 127.0.0.1:8443/www.example.test and mail.example.test:993"
        " serve the new certificate"
    )
    assert result["ansible_facts"] == {"certctrl_deploy_result": {"check_mode": True}}


def test_without_endpoints_the_first_run_marks_the_manifests_and_there_is_no_second() -> None:
    bare = [{**c, "verify_endpoints": []} for c in CERTIFICATES]
    handler = Handler(reloaded(certificates=bare, manifests_marked=JOB["manifests"]))

    result = handler.run(**JOB, verify="controller")

    assert len(handler.sent) == 1 and result["msg"] == "tested and reloaded nginx" and result["manifests_marked"] == JOB["manifests"]


def test_a_failed_reload_is_the_modules_own_result() -> None:
    failure = {"failed": True, "msg": "certctrl: the configuration test of nginx failed", "restored": [{"path": "/x", "backup": "/y", "action": "restored"}]}
    handler = Handler(failure, probe=Probe())

    assert handler.run(**JOB, verify="controller", result_fact="certctrl_deploy_result") == failure
    assert len(handler.sent) == 1 and not handler.action.probe.calls


def test_a_failed_record_keeps_what_the_reload_did() -> None:
    both = Probe(**{WWW["label"]: NEW, MAIL["label"]: NEW})
    handler = Handler(reloaded(deploy_result={}), {"failed": True, "msg": "manifest: permission denied"}, probe=both)

    result = handler.run(**JOB, verify="controller", result_fact="certctrl_deploy_result")

    assert result["failed"] and result["msg"] == "manifest: permission denied" and result["services_reloaded"] == ["nginx"]
    assert "ansible_facts" not in result and "deploy_result" not in result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"verify": "elsewhere"}, "verify must be one of host, controller, skip, verified, not 'elsewhere'"),
        ({"result_fact": "not a name"}, "result_fact must be a variable name, not 'not a name'"),
        ({"result_fact": ["x"]}, "result_fact must be a variable name, not ['x']"),
        ({"verify_timeout": "soon"}, "verify_timeout: "),
    ],
)
def test_bad_options_are_named_before_anything_runs(args: dict[str, t.Any], message: str) -> None:
    handler = Handler()

    with pytest.raises(action.ReloadError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        handler.run(**JOB, **args)
    assert not handler.sent


@pytest.mark.parametrize(("given", "sent"), [(None, "host"), ("host", "host"), ("skip", "skip"), ("verified", "verified"), ("controller", "skip")])
def test_verify_as_the_module_takes_it(given: str | None, sent: str) -> None:
    module_args, verify, fact, timeout = action.own_options({"verify": given, "result_fact": "", "verify_timeout": 3})

    assert module_args == {"verify": sent, "verify_timeout": 3} and verify == (given or "host") and fact is None and timeout == 3.0
