# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_service_reload.py: the handler's decisions and the truth of its messages.

The services are simulated at the one seam the module has, the command runner: a reload makes a service load the
certificate file that is on disk at that moment, as a real server does, and the probe answers with what each service
loaded. Files, backups and manifests are real files in a temporary directory. Real nginx is in
tests/integration/test_service_reload.py.
"""

from __future__ import annotations

import datetime
import shutil
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.cjj365.certctrl.plugins.module_utils import _service_reload as sr
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import read_manifest, write_manifest
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import leaf_summary, normalize_fingerprint


def certificate_pem(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def facts(pem: bytes) -> dict[str, str]:
    summary = leaf_summary(pem)
    assert summary
    return summary


class Host:
    """Files on disk, and services that load them when reloaded. Commands are ["svc", step, name]."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[str] = []
        self.rcs: dict[tuple[str, str], list[int]] = {}  # scripted exit codes per (step, service); the last one repeats
        self.loaded: dict[str, dict[str, str] | None] = {}  # service -> facts of the certificate it serves (None: down)
        self.cert_of: dict[str, Path] = {}

    def service(self, name: str, cert: Path, *, validate: bool = True) -> sr.Service:
        self.cert_of[name] = cert
        self.loaded[name] = facts(cert.read_bytes()) if cert.exists() else None
        return sr.Service(name, ["svc", "test", name] if validate else None, ["svc", "reload", name])

    def script(self, step: str, name: str, *rcs: int) -> None:
        self.rcs[(step, name)] = list(rcs)

    def run(self, command: list[str]) -> tuple[int, str, str]:
        _prefix, step, name = command
        self.calls.append(f"{step} {name}")
        scripted = self.rcs.get((step, name), [0])
        rc = scripted.pop(0) if len(scripted) > 1 else scripted[0]
        if step == "reload":
            if rc == 0:
                cert = self.cert_of[name]
                self.loaded[name] = facts(cert.read_bytes()) if cert.exists() else None
            elif rc == 99:  # a reload that takes the service down
                self.loaded[name] = None
        return rc, f"{step} stdout of {name}", f"{step} stderr of {name}" if rc else ""

    def probe(self, endpoint: sr.Endpoint, accept: t.Callable[[str], bool], wait_timeout: float) -> sr.Served:
        served = self.loaded.get(endpoint.host)
        if served is None:
            return sr.Served(endpoint, None, f"TLS handshake with {endpoint.label} failed: connection refused", 3)
        return sr.Served(endpoint, served, None, 1)


class Deployed:
    """One certificate's directory after a swap: the new certificate in place, the previous one in a backup."""

    def __init__(self, root: Path, name: str, *, first: bool = False) -> None:
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.cert = self.dir / "certificate.pem"
        self.key = self.dir / "private.key"
        self.old = None if first else certificate_pem(name)
        self.new = certificate_pem(name)
        if self.old:
            self.cert.write_bytes(self.old)
            self.key.write_bytes(b"old key")
        self.manifest = self.dir / ".certctrl-manifest.json"

    def swap(self) -> list[dict[str, str | None]]:
        backup_dir = self.dir / ".certctrl-backup" / "1"
        backup_dir.mkdir(parents=True)
        restore = []
        for path, data in ((self.cert, self.new), (self.key, b"new key")):
            backup = None
            if path.exists():
                backup = backup_dir / path.name
                shutil.copy2(path, backup)
            path.write_bytes(data)
            restore.append({"path": str(path), "backup": str(backup) if backup else None})
        write_manifest(str(self.manifest), {"certificate_id": 7, "serial": facts(self.new)["serial"], "files": {}, "reload_pending": True})
        return restore

    def certificate(self, *endpoints: str) -> sr.Certificate:
        new = facts(self.new)
        eps = tuple(sr.Endpoint(host, 443, None, f"{host}:443") for host in endpoints)
        return sr.Certificate(7, self.dir.name, new["serial"], normalize_fingerprint(new["sha256_fingerprint"]), eps, new["sha256_fingerprint"])


def job(host: Host, services: list[sr.Service], deployed: Deployed | None = None, restore=None, endpoints=(), **kwargs: t.Any) -> sr.ServiceReload:
    return sr.ServiceReload(
        services=services,
        restore=sr.parse_restore(restore or []),
        manifests=[str(deployed.manifest)] if deployed else [],
        certificates=[deployed.certificate(*endpoints)] if deployed else [],
        run=host.run,
        probe=host.probe,
        **kwargs,
    )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def pending(deployed: Deployed) -> bool:
    manifest = read_manifest(str(deployed.manifest))
    assert manifest is not None
    return manifest["reload_pending"]


# -- input ------------------------------------------------------------------------------------------


def test_services_run_once_each_in_the_order_first_named_with_the_last_definition() -> None:
    services = sr.parse_services(
        [{"name": "web", "validate": "a -t", "reload": "a reload"}, {"name": "mail", "reload": ["m", "r"]}, {"name": "web", "validate": "", "reload": "b"}]
    )
    assert services == [sr.Service("web", None, "b"), sr.Service("mail", None, ["m", "r"])]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"reload": "x"}, "services[0] needs a name"),
        ({"name": "web", "reload": ""}, "services[0] (web): reload must be a command"),
        ({"name": "web", "reload": ["x", 1]}, "services[0] (web): reload must be a command"),
        ({"name": "web", "reload": "x", "validate": {"cmd": "t"}}, "services[0] (web): validate must be a command"),
    ],
)
def test_bad_service_definitions_name_the_option(entry: dict, message: str) -> None:
    with pytest.raises(sr.OptionError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        sr.parse_services([entry])


def test_the_first_restore_entry_of_a_path_counts() -> None:
    entries = sr.parse_restore([{"path": "/c/a.pem", "backup": "/b/1/a.pem"}, {"path": "/c/a.pem", "backup": "/b/2/a.pem"}, {"path": "/c/k", "backup": None}])
    assert entries == [{"path": "/c/a.pem", "backup": "/b/1/a.pem"}, {"path": "/c/k", "backup": None}]


def test_certificates_keep_the_latest_entry_of_an_id_and_label_their_endpoints() -> None:
    parsed = sr.parse_certificates(
        [
            {"id": 1, "sha256_fingerprint": "AA:BB", "verify_endpoints": []},
            {"id": 1, "sha256_fingerprint": "CC:DD", "verify_endpoints": [{"host": "::1", "port": 8443}, {"host": "h", "server_name": "www"}]},
        ]
    )
    assert [(c.id, c.fingerprint) for c in parsed] == [(1, "ccdd")]
    assert [e.label for e in parsed[0].endpoints] == ["[::1]:8443", "h:443/www"]


def test_endpoints_need_a_fingerprint_to_expect() -> None:
    with pytest.raises(sr.OptionError, match=r"certificates\[0\] has verify_endpoints but no sha256_fingerprint"):
        sr.parse_certificates([{"id": 1, "verify_endpoints": [{"host": "h"}]}])


def test_commands_are_shown_as_a_shell_would_read_them() -> None:
    assert sr.command_text("nginx -t") == "nginx -t"
    assert sr.command_text(["sh", "-c", "echo a; exit 1"]) == "sh -c 'echo a; exit 1'"


def test_output_prefers_the_error_stream_and_is_bounded() -> None:
    assert sr._output("the whole configuration", "nginx: [emerg] unknown directive\n") == "nginx: [emerg] unknown directive"
    assert sr._output("only stdout\n", "") == "only stdout"
    assert sr._output("", "x" * 5000).endswith(" [...]") and len(sr._output("", "x" * 5000)) == sr.OUTPUT_LIMIT + 6


# -- a good reload ----------------------------------------------------------------------------------


def test_tests_every_service_then_reloads_each_then_checks_and_marks(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    services = [host.service("web", d.cert), host.service("proxy", d.cert)]

    result = job(host, services, d, restore, endpoints=["web"]).execute()

    assert host.calls == ["test web", "test proxy", "reload web", "reload proxy"]
    assert result["services_reloaded"] == ["web", "proxy"] and result["verified_endpoints"] == ["web:443"]
    assert result["manifests_marked"] == [str(d.manifest)] and not pending(d)
    assert result["changed"] and result["msg"] == "tested and reloaded web and proxy; web:443 serves the new certificate"
    assert d.cert.read_bytes() == d.new


def test_a_service_without_a_test_is_only_reloaded(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    result = job(host, [host.service("app", d.cert, validate=False)], d, restore).execute()
    assert host.calls == ["reload app"] and result["services_tested"] == []


def test_check_mode_runs_nothing_and_says_what_it_would_do(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    result = job(host, [host.service("web", d.cert)], d, restore, endpoints=["web"], check_mode=True).execute()
    assert host.calls == [] and pending(d)
    assert result["planned"] and result["changed"] and result["services_reloaded"] == ["web"]
    assert result["msg"] == "check mode: would test and reload web, then check that web:443 serves the new certificate"


# -- verification -----------------------------------------------------------------------------------


def test_a_failed_check_fails_and_leaves_the_reload_pending(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    services = [host.service("web", d.cert)]
    stuck = Deployed(tmp_path, "stuck.test")  # the endpoint keeps serving another certificate
    host.service("other", stuck.cert)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, services, d, restore, endpoints=["other"]).execute()

    message = str(failed.value)
    assert f"other:443 serves serial {facts(stuck.old)['serial']}, not the deployed {facts(d.new)['serial']} (after 1 attempt)" in message
    assert "web was reloaded and the new files stay in place; the reload stays pending, so the next run reloads and checks again" in message
    assert pending(d) and d.cert.read_bytes() == d.new
    assert failed.value.fields["services_reloaded"] == ["web"]


def test_an_endpoint_that_does_not_answer_is_a_failed_check(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    with pytest.raises(sr.ReloadFailed, match="nowhere:443 could not be checked: TLS handshake with nowhere:443 failed"):
        job(host, [host.service("web", d.cert)], d, restore, endpoints=["nowhere"]).execute()
    assert pending(d)


def test_skip_leaves_certificates_with_endpoints_pending_until_verified(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    first = job(host, [host.service("web", d.cert)], d, restore, endpoints=["far"], verify="skip").execute()
    assert first["manifests_marked"] == [] and first["verified_endpoints"] == [] and pending(d)
    assert first["certificates"][0]["verify_endpoints"][0]["label"] == "far:443"

    then = job(host, [], d, [], endpoints=["far"], verify="verified").execute()

    assert host.calls == ["test web", "reload web"]  # the second run only records
    assert then["verified_endpoints"] == ["far:443"] and then["manifests_marked"] == [str(d.manifest)] and not pending(d)


def test_entries_an_earlier_run_settled_are_skipped(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    job(host, [host.service("web", d.cert)], d, restore, endpoints=["web"]).execute()
    host.calls.clear()
    host.script("reload", "web", 1)

    # The role's pending record still lists the settled change; a reload of another cause fails.
    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("web", d.cert)], d, restore, endpoints=["web"]).execute()

    assert d.cert.read_bytes() == d.new  # the reloaded and verified files were not "restored"
    assert "there were no replaced certificate files to put back" in str(failed.value)


# -- a failed test ----------------------------------------------------------------------------------


def test_a_failed_test_restores_tests_and_reloads_again_and_the_previous_certificate_is_served(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    services = [host.service("web", d.cert), host.service("proxy", d.cert)]
    host.script("test", "proxy", 1, 0)  # the new files fail proxy's test, the previous ones pass

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, services, d, restore, endpoints=["web"]).execute()

    message = str(failed.value)
    # With the previous files, each service is tested and reloaded on its own: one that fails does not hold back the others.
    assert host.calls == ["test web", "test proxy", "test web", "reload web", "test proxy", "reload proxy"]
    assert message.startswith("certctrl: the configuration test of proxy failed (svc test proxy, rc 1): test stderr of proxy -- ")
    assert f"the previous certificate files were restored ({d.cert}, {d.key})" in message
    assert "web reloaded with them and serves the previous certificate; proxy reloaded with them and serves the previous certificate" in message
    assert f"now web:443 serves the previous certificate (serial {facts(d.old)['serial']})" in message
    assert d.cert.read_bytes() == d.old and d.key.read_bytes() == b"old key" and pending(d)
    fields = failed.value.fields
    assert fields["service"] == "proxy" and fields["step"] == "configuration test" and fields["rc"] == 1
    assert [r["action"] for r in fields["restored"]] == ["restored", "restored"]


def test_a_configuration_broken_either_way_is_not_reloaded_and_that_is_said(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    web = host.service("web", d.cert)  # running with the previous certificate
    restore = d.swap()
    host.script("test", "web", 1)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [web], d, restore, endpoints=["web"]).execute()

    message = str(failed.value)
    assert host.calls == ["test web", "test web"]
    assert "web's configuration test fails with them too (svc test web, rc 1): test stderr of web, so it was not reloaded again" in message
    assert "it was not reloaded with the new files either and runs what it loaded before" in message
    assert "reloaded with them" not in message
    assert f"now web:443 serves the previous certificate (serial {facts(d.old)['serial']})" in message


def test_no_claim_about_what_is_served_when_an_endpoint_says_otherwise(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    stuck = Deployed(tmp_path, "stuck.test")
    host.service("other", stuck.cert)
    host.script("test", "web", 1, 0)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("web", d.cert)], d, restore, endpoints=["other"]).execute()

    message = str(failed.value)
    assert "web reloaded with them;" in message and "serves the previous certificate" not in message
    assert f"now other:443 serves serial {facts(stuck.old)['serial']}, neither the new nor the previous certificate" in message


# -- a failed reload --------------------------------------------------------------------------------


def test_a_failed_reload_stops_the_reloads_and_the_rollback_reloads_every_service(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    services = [host.service("web", d.cert), host.service("proxy", d.cert), host.service("mail", d.cert)]
    host.script("reload", "proxy", 3, 0)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, services, d, restore).execute()

    first = ["test web", "test proxy", "test mail", "reload web", "reload proxy"]
    assert host.calls == [*first, "test web", "reload web", "test proxy", "reload proxy", "test mail", "reload mail"]
    message = str(failed.value)
    assert message.startswith("certctrl: the reload of proxy failed (svc reload proxy, rc 3): reload stderr of proxy -- ")
    assert "mail reloaded with them and serves the previous certificate" in message  # no endpoint: the reload's success is the evidence
    assert failed.value.fields["services_reloaded"] == ["web", "proxy", "mail"]
    assert all(facts(d.old)["serial"] == host.loaded[s]["serial"] for s in ("web", "proxy", "mail"))


def test_when_the_second_reload_fails_too_the_message_claims_nothing(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    host.script("reload", "web", 99)  # the reload takes web down, and so does the second one

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("web", d.cert)], d, restore, endpoints=["web"], verify_timeout=0).execute()

    message = str(failed.value)
    assert "the previous certificate files were restored" in message
    assert (
        "the second reload of web failed too (svc reload web, rc 99): reload stderr of web; web may be down or serving the new or the previous certificate"
        in message
    )
    assert "now web:443 could not be checked: TLS handshake with web:443 failed: connection refused" in message
    assert "serves the previous certificate" not in message and "keeps serving" not in message


def test_when_the_second_reload_fails_without_endpoints_nothing_is_claimed_either(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    host.script("reload", "web", 1)
    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("web", d.cert)], d, restore).execute()
    assert "web may be down or serving the new or the previous certificate" in str(failed.value)
    assert "serves the previous" not in str(failed.value) and " now " not in str(failed.value)


def test_a_first_deployment_that_fails_removes_the_new_files(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test", first=True)
    restore = d.swap()
    host.service("web", d.cert)
    host.loaded["web"] = facts(certificate_pem("snakeoil"))  # what web served before: not ours
    host.script("reload", "web", 3, 0)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [sr.Service("web", ["svc", "test", "web"], ["svc", "reload", "web"])], d, restore).execute()

    message = str(failed.value)
    assert not d.cert.exists() and not d.key.exists()
    assert f"the new files that had no previous version were removed ({d.cert}, {d.key}); web reloaded without them" in message
    assert "previous certificate" not in message


def test_a_missing_backup_stops_the_rollback_and_says_so(host: Host, tmp_path: Path) -> None:
    d = Deployed(tmp_path, "www.test")
    restore = d.swap()
    Path(restore[1]["backup"]).unlink()
    host.script("test", "web", 1)

    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("web", d.cert)], d, restore).execute()

    message = str(failed.value)
    assert host.calls == ["test web"]  # nothing reloaded on a half-restored directory
    assert f"the previous certificate files could NOT all be restored ({d.key}: the backup is missing ({restore[1]['backup']}))" in message
    assert "so no service was reloaded again; no service was reloaded, so each runs what it loaded before" in message
    assert d.cert.read_bytes() == d.old  # what could be restored was


def test_without_replaced_files_a_failed_test_reloads_nothing(host: Host, tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_bytes(certificate_pem("x"))
    host.script("test", "nginx", 1)
    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, [host.service("nginx", cert)]).execute()
    assert host.calls == ["test nginx"]
    assert str(failed.value).endswith("-- there were no replaced certificate files to put back; no service was reloaded, so each runs what it loaded before")


def test_without_replaced_files_a_failed_reload_says_what_was_reloaded(host: Host, tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_bytes(certificate_pem("x"))
    services = [host.service("a", cert), host.service("b", cert), host.service("c", cert)]
    host.script("reload", "b", 1)
    with pytest.raises(sr.ReloadFailed) as failed:
        job(host, services).execute()
    assert host.calls == ["test a", "test b", "test c", "reload a", "reload b"]
    assert str(failed.value).endswith("a reloaded with the new files; b may be down or still running what it loaded before; c was not reloaded")


def test_a_command_that_cannot_start_is_a_failure_with_the_reason(tmp_path: Path) -> None:
    def run(command: list[str]) -> tuple[int, str, str]:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    handler = sr.ServiceReload(services=[sr.Service("web", ["nginxx", "-t"], "x")], restore=[], manifests=[], certificates=[], run=run)
    with pytest.raises(sr.ReloadFailed, match=r"the configuration test of web failed \(nginxx -t, not started\): No such file or directory: nginxx"):
        handler.execute()


# -- the role's result ------------------------------------------------------------------------------


def test_the_result_gains_the_reloads_and_checks_of_the_certificates_acted_for() -> None:
    result = {
        "changed": True,
        "services_reloaded": [],
        "verified_endpoints": [],
        "certificates": [
            {"id": 1, "services": ["web", "mail"], "services_reloaded": [], "verified_endpoints": []},
            {"id": 2, "services": ["ftp"], "services_reloaded": [], "verified_endpoints": []},
        ],
    }
    handled = {
        "services_reloaded": ["web", "mail"],
        "verified_endpoints": ["h:443/www"],
        "certificates": [{"id": 1, "verify_endpoints": [{"label": "h:443/www"}, {"label": "h:443/other"}]}],
    }
    merged = sr.merge_result(result, handled)
    assert merged["services_reloaded"] == ["web", "mail"] and merged["verified_endpoints"] == ["h:443/www"]
    assert merged["certificates"][0] == {"id": 1, "services": ["web", "mail"], "services_reloaded": ["web", "mail"], "verified_endpoints": ["h:443/www"]}
    assert merged["certificates"][1] == result["certificates"][1]
    assert result["services_reloaded"] == []  # the input is not changed
