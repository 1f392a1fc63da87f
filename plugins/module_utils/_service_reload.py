# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The service_reload module's job, on the managed host, in one execution for the deploy role's whole handler:
# test the configuration of every affected service, then reload each once. When a test or a reload fails, put the
# previous certificate files back, test and reload again, and fail with the service's name, the command, its output
# and a true account of the state (what was reloaded, what the endpoints serve). After a good reload, check that the
# endpoints serve the new certificate, and only then record in each manifest that no reload is pending.
# Standard library only. Commands run through the ``run`` callable the module gives (AnsibleModule.run_command).

import os
import shlex
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._atomic import fsync_dir
from ansible_collections.cjj365.certctrl.plugins.module_utils._certificate_files import locked, restore_file
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import shows_leaf
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import mark_reloaded, read_manifest
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import leaf_summary, normalize_fingerprint
from ansible_collections.cjj365.certctrl.plugins.module_utils._served_certificate import wait_for

TEST, RELOAD = "configuration test", "reload"
VERIFY_CHOICES = ("host", "skip", "verified")
# Validator output quoted in a message: enough for any configuration error, bounded for a chatty one.
OUTPUT_LIMIT = 4000
# Backups that can tell which certificate was served before: certificate files (_file_kinds.shows_leaf), by suffix.
_CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")

# Aliases for annotations (defined at run time: Python 3.6 evaluates annotations when a function is defined).
Command = t.Union[str, t.List[str]]
# run(command) -> (rc, stdout, stderr); raises OSError when the command cannot be started.
Runner = t.Callable[[Command], t.Tuple[int, str, str]]
# probe(endpoint, accept, wait_timeout) -> Served: poll until ``accept(fingerprint)`` or the timeout.
Probe = t.Callable[["Endpoint", t.Callable[[str], bool], float], "Served"]


class OptionError(CertCtrlError, ValueError):
    """Bad input; the message names the option."""


class ReloadFailed(CertCtrlError):
    """The handler failed; ``fields`` go into the module's failure result next to the message."""

    @property
    def fields(self) -> t.Dict[str, t.Any]:
        return self.details


class _Value:
    """A plain value record (what a frozen dataclass gives, on hosts' Python 3.6 too): equal, hashable and shown by its fields."""

    _fields: t.Tuple[str, ...] = ()

    def _values(self) -> t.Tuple[t.Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == t.cast(_Value, other)._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={getattr(self, name)!r}' for name in self._fields)})"


class Service(_Value):
    _fields = ("name", "validate", "reload")

    def __init__(self, name: str, validate: t.Optional[Command], reload: Command) -> None:
        self.name = name
        self.validate = validate
        self.reload = reload


class Endpoint(_Value):
    _fields = ("host", "port", "server_name", "label")

    def __init__(self, host: str, port: int, server_name: t.Optional[str], label: str) -> None:
        self.host = host
        self.port = port
        self.server_name = server_name
        self.label = label


class Certificate(_Value):
    _fields = ("id", "domain_name", "serial", "fingerprint", "endpoints", "sha256_fingerprint")

    def __init__(
        self,
        id: t.Optional[int],
        domain_name: t.Optional[str],
        serial: t.Optional[str],
        fingerprint: str,  # normalized: plain lower-case hex
        endpoints: t.Tuple[Endpoint, ...],
        sha256_fingerprint: t.Optional[str] = None,  # as given
    ) -> None:
        self.id = id
        self.domain_name = domain_name
        self.serial = serial
        self.fingerprint = fingerprint
        self.endpoints = endpoints
        self.sha256_fingerprint = sha256_fingerprint

    def as_option(self) -> t.Dict[str, t.Any]:
        """The entry as the module's O(certificates) takes it (returned, so a later run can be given it back)."""
        return {
            "id": self.id,
            "domain_name": self.domain_name,
            "serial": self.serial,
            "sha256_fingerprint": self.sha256_fingerprint,
            "verify_endpoints": [{"host": e.host, "port": e.port, "server_name": e.server_name, "label": e.label} for e in self.endpoints],
        }


class Ran(_Value):
    """One command of one service: what ran and how it ended."""

    _fields = ("service", "step", "command", "rc", "output")

    def __init__(self, service: str, step: str, command: str, rc: t.Optional[int], output: str) -> None:
        self.service = service
        self.step = step
        self.command = command
        self.rc = rc  # None: it could not be started
        self.output = output

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def how(self) -> str:
        return f"{self.command}, rc {self.rc}" if self.rc is not None else f"{self.command}, not started"


class Served(_Value):
    """What an endpoint presented (after polling), or why it could not be read."""

    _fields = ("endpoint", "certificate", "error", "attempts")

    def __init__(self, endpoint: Endpoint, certificate: t.Optional[t.Dict[str, t.Any]], error: t.Optional[str], attempts: int) -> None:
        self.endpoint = endpoint
        self.certificate = certificate
        self.error = error
        self.attempts = attempts

    @property
    def fingerprint(self) -> str:
        return normalize_fingerprint(self.certificate["sha256_fingerprint"], strict=False) if self.certificate else ""


def tls_probe(endpoint: Endpoint, accept: t.Callable[[str], bool], wait_timeout: float) -> Served:
    served, error, attempts = wait_for(
        endpoint.host,
        endpoint.port,
        accept=lambda cert: accept(normalize_fingerprint(cert["sha256_fingerprint"], strict=False)),
        server_name=endpoint.server_name,
        wait_timeout=wait_timeout,
    )
    return Served(endpoint, served, str(error) if served is None and error else None, attempts)


# -- input ------------------------------------------------------------------------------------------


def command_text(command: Command) -> str:
    return command if isinstance(command, str) else " ".join(shlex.quote(arg) for arg in command)  # shlex.join (3.8+)


def _is_command(value: t.Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, list) and bool(value) and all(isinstance(arg, str) for arg in value)


def parse_services(raw: t.Optional[t.List[t.Dict[str, t.Any]]]) -> t.List[Service]:
    """Each service once, in the order first named (a later definition of the same name wins)."""
    services: t.Dict[str, Service] = {}
    for index, item in enumerate(raw or []):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise OptionError(f"services[{index}] needs a name")
        validate, reload = item.get("validate") or None, item.get("reload")
        if not _is_command(reload):
            raise OptionError(f"services[{index}] ({name}): reload must be a command (a string or a list of strings), not {reload!r}")
        if validate is not None and not _is_command(validate):
            raise OptionError(f"services[{index}] ({name}): validate must be a command (a string or a list of strings) or empty, not {validate!r}")
        services[name] = Service(name, validate, reload)
    return list(services.values())


def parse_certificates(raw: t.Optional[t.List[t.Dict[str, t.Any]]]) -> t.List[Certificate]:
    """Each certificate once (a later entry of the same id wins: it is the newer deployment)."""
    certificates: t.Dict[t.Any, Certificate] = {}
    for index, item in enumerate(raw or []):
        fingerprint = normalize_fingerprint(item.get("sha256_fingerprint"), strict=False)
        endpoints = tuple(
            Endpoint(e["host"], int(e.get("port") or 443), e.get("server_name") or None, e.get("label") or _label(e))
            for e in item.get("verify_endpoints") or []
        )
        if endpoints and not fingerprint:
            raise OptionError(f"certificates[{index}] has verify_endpoints but no sha256_fingerprint to expect")
        key = item.get("id") if item.get("id") is not None else f"#{index}"
        certificates.pop(key, None)
        certificates[key] = Certificate(item.get("id"), item.get("domain_name"), item.get("serial"), fingerprint, endpoints, item.get("sha256_fingerprint"))
    return list(certificates.values())


def _label(endpoint: t.Dict[str, t.Any]) -> str:
    host = endpoint["host"]
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{int(endpoint.get('port') or 443)}" + (f"/{endpoint['server_name']}" if endpoint.get("server_name") else "")


def parse_restore(raw: t.Optional[t.List[t.Dict[str, t.Any]]]) -> t.List[t.Dict[str, t.Optional[str]]]:
    """One entry per path, the first one: it holds the state before the first change that was not reloaded yet."""
    seen: t.Dict[str, t.Dict[str, t.Optional[str]]] = {}
    for item in raw or []:
        path = os.path.abspath(item["path"])
        seen.setdefault(path, {"path": path, "backup": item.get("backup") or None})
    return list(seen.values())


def _holds_certificate(path: str) -> bool:
    name = os.path.basename(path).lower()
    return name.endswith(_CERTIFICATE_SUFFIXES) and not name.startswith(".") and shows_leaf(name)


def previous_certificates(restore: t.List[t.Dict[str, t.Optional[str]]]) -> t.Dict[str, str]:
    """{fingerprint: serial} of the certificates in the backups: what the host served before the change."""
    found: t.Dict[str, str] = {}
    for item in restore:
        if not item["backup"] or not _holds_certificate(item["path"]):
            continue
        try:
            with open(item["backup"], "rb") as handle:
                summary = leaf_summary(handle.read(1024 * 1024))
        except OSError:
            continue
        if summary:
            found[normalize_fingerprint(summary["sha256_fingerprint"], strict=False)] = summary["serial"]
    return found


def _output(stdout: str, stderr: str) -> str:
    """What a validator said: its error stream, or its standard output when it wrote nothing else (``doveconf -n``
    prints the whole configuration on stdout: only quoted when there is nothing better)."""
    text = (stderr or "").strip() or (stdout or "").strip()
    return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + " [...]"


def join_names(names: t.Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# -- the handler ------------------------------------------------------------------------------------


class ServiceReload:
    """One handler run. ``execute()`` returns the module's result or raises ReloadFailed (message + fields)."""

    def __init__(
        self,
        *,
        services: t.List[Service],
        restore: t.List[t.Dict[str, t.Optional[str]]],
        manifests: t.List[str],
        certificates: t.List[Certificate],
        run: Runner,
        probe: Probe = tls_probe,
        verify: str = "host",
        verify_timeout: float = 15.0,
        check_mode: bool = False,
    ) -> None:
        if verify not in VERIFY_CHOICES:
            raise OptionError(f"verify must be one of {', '.join(VERIFY_CHOICES)}, not {verify!r}")
        self.services = services
        self.run, self.probe = run, probe
        self.verify, self.verify_timeout = verify, max(0.0, verify_timeout)
        self.check_mode = check_mode
        self.manifests = [os.path.abspath(m) for m in dict.fromkeys(manifests)]
        self.restore, self.certificates = self._unsettled(restore, certificates)
        self.ran: t.List[Ran] = []
        self.changed = False

    def _unsettled(self, restore: t.List[dict], certificates: t.List[Certificate]) -> t.Tuple[t.List[dict], t.List[Certificate]]:
        """Drop what an earlier handler run already settled: a manifest that says no reload is pending covers its
        directory's restore entries and its certificate (the role's pending record can outlive a failed, rescued run)."""
        manifests = {path: read_manifest(path) for path in self.manifests}
        settled = {os.path.dirname(p): m.get("certificate_id") for p, m in manifests.items() if m is not None and not m.get("reload_pending")}
        if not settled:
            return restore, certificates
        pending_ids = {m.get("certificate_id") for m in manifests.values() if m is not None and m.get("reload_pending")}
        done_ids = set(settled.values()) - pending_ids
        restore = [r for r in restore if os.path.dirname(r["path"]) not in settled]
        return restore, [c for c in certificates if c.id is None or c.id not in done_ids]

    # -- commands -----------------------------------------------------------------------------------

    def _run(self, service: Service, step: str) -> Ran:
        command = service.reload if step == RELOAD else service.validate
        if not command:
            raise OptionError(f"{service.name} has no command for its {step}")
        try:
            rc, stdout, stderr = self.run(command)
        except OSError as exc:
            ran = Ran(service.name, step, command_text(command), None, f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        else:
            ran = Ran(service.name, step, command_text(command), rc, _output(stdout, stderr))
        if step == RELOAD:
            self.changed = True
        self.ran.append(ran)
        return ran

    def _test_all(self) -> t.List[Ran]:
        """The configuration test of every service that has one; the failed ones."""
        return [ran for ran in (self._run(s, TEST) for s in self.services if s.validate) if not ran.ok]

    def _reload_all(self) -> t.Tuple[t.List[str], t.Optional[Ran]]:
        """Reload each service once, stopping at the first failure: (the reloaded ones, the failure)."""
        reloaded = []
        for service in self.services:
            ran = self._run(service, RELOAD)
            if not ran.ok:
                return reloaded, ran
            reloaded.append(service.name)
        return reloaded, None

    # -- the run ------------------------------------------------------------------------------------

    def execute(self) -> t.Dict[str, t.Any]:
        names = [s.name for s in self.services]
        if self.check_mode:
            return self._result(planned=True, reloaded=names, msg=self._plan_message(names))
        failed_tests = self._test_all()
        reloaded, failed_reload = ([], None) if failed_tests else self._reload_all()
        if failed_tests or failed_reload:
            raise self._rolled_back(failed_tests or [failed_reload], reloaded)
        verified = self._verify_new()
        marked = self._mark()
        labels = [label for c in self.certificates for label in verified.get(c, [])]
        done = f"tested and reloaded {join_names(names)}" if names else "no service to reload"
        if labels:
            done += f"; {join_names(labels)} serve{'s' if len(labels) == 1 else ''} the new certificate"
        return self._result(planned=False, reloaded=names, verified=verified, marked=marked, msg=done)

    def _plan_message(self, names: t.List[str]) -> str:
        parts = [f"check mode: would test and reload {join_names(names)}" if names else "check mode: no service to reload"]
        endpoints = [e.label for c in self.certificates for e in c.endpoints]
        if endpoints and self.verify == "host":
            parts.append(f"then check that {join_names(endpoints)} serve{'s' if len(endpoints) == 1 else ''} the new certificate")
        return ", ".join(parts)

    def _result(
        self,
        *,
        planned: bool,
        reloaded: t.List[str],
        msg: str,
        verified: t.Optional[t.Dict[Certificate, t.List[str]]] = None,
        marked: t.Optional[t.List[str]] = None,
    ) -> t.Dict[str, t.Any]:
        verified = verified or {}
        return {
            "changed": bool(reloaded) if planned else self.changed,
            "planned": planned,
            "msg": msg,
            "services_tested": [r.service for r in self.ran if r.step == TEST],
            "services_reloaded": list(reloaded),
            "verified_endpoints": [label for c in self.certificates for label in verified.get(c, [])],
            "certificates": [c.as_option() for c in self.certificates],
            "manifests_marked": marked or [],
            "restored": [],
        }

    # -- after a good reload ------------------------------------------------------------------------

    def _verify_new(self) -> t.Dict[Certificate, t.List[str]]:
        """Each endpoint must serve its certificate (polled: a reloaded server may answer with the old one at first).
        {certificate: the labels of its endpoints that serve it}."""
        if self.verify == "skip":
            return {}
        if self.verify == "verified":
            return {c: [e.label for e in c.endpoints] for c in self.certificates}
        verified: t.Dict[Certificate, t.List[str]] = {}
        wrong = []
        for certificate in self.certificates:
            for endpoint in certificate.endpoints:
                served = self.probe(endpoint, lambda fp, want=certificate.fingerprint: fp == want, self.verify_timeout)
                if served.fingerprint == certificate.fingerprint:
                    verified.setdefault(certificate, []).append(endpoint.label)
                elif served.certificate:
                    tries = f"after {served.attempts} attempt{'s' if served.attempts != 1 else ''}"
                    wrong.append(f"{endpoint.label} serves serial {served.certificate['serial']}, not the deployed {certificate.serial} ({tries})")
                else:
                    wrong.append(f"{endpoint.label} could not be checked: {served.error}")
        if wrong:
            names = [s.name for s in self.services]
            what = f"{join_names(names)} {'was' if len(names) == 1 else 'were'} reloaded" if names else "no service was reloaded"
            raise ReloadFailed(
                f"certctrl: {'; '.join(wrong)} -- {what} and the new files stay in place; the reload stays pending, so the next run reloads and checks again",
                changed=self.changed,
                services_reloaded=names,
                verified_endpoints=[label for c in self.certificates for label in verified.get(c, [])],
                restored=[],
            )
        return verified

    def _mark(self) -> t.List[str]:
        """Record in each manifest that the services were reloaded (and its endpoints checked)."""
        if self.verify == "skip" and any(c.endpoints for c in self.certificates):
            return []  # the caller checks the endpoints, then runs again with verify=verified
        marked = []
        for path in self.manifests:
            manifest = read_manifest(path)
            if manifest is not None and manifest.get("reload_pending"):
                mark_reloaded(path)
                marked.append(path)
                self.changed = True
        return marked

    # -- after a failed test or reload --------------------------------------------------------------

    def _put_back(self) -> t.Tuple[t.List[t.Dict[str, t.Any]], t.List[str]]:
        """Restore every backup and remove every file that did not exist before: (what was done, what failed)."""
        done, errors = [], []
        with locked(os.path.dirname(item["path"]) for item in self.restore):  # as a swap does: no sweep meanwhile
            for item in self.restore:
                path, backup = item["path"], item["backup"]
                try:
                    if backup:
                        if not os.path.isfile(backup):
                            raise FileNotFoundError(2, "the backup is missing", backup)
                        restore_file(backup, path)
                        action = "restored"
                    elif os.path.lexists(path):
                        os.unlink(path)
                        action = "removed"
                    else:
                        action = "absent"
                except OSError as exc:
                    errors.append(f"{path}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename and exc.filename != path else ""))
                    continue
                done.append({"path": path, "backup": backup, "action": action})
                self.changed = self.changed or action != "absent"
        for directory in {os.path.dirname(d["path"]) for d in done}:
            fsync_dir(directory)
        return done, errors

    def _rolled_back(self, failures: t.List[Ran], reloaded: t.List[str]) -> ReloadFailed:
        """Put the previous files back, test and reload again, and describe truly what the host runs now."""
        previous = previous_certificates(self.restore)
        restored, errors = self._put_back() if self.restore else ([], [])
        start = len(self.ran)
        outcomes = self._second_round(failures, reloaded) if self.restore and not errors else []
        again = self.ran[start:]
        served, all_previous = self._served_now(previous) if self.verify == "host" else ([], False)
        if not self.restore:
            state = ["there were no replaced certificate files to put back", *self._first_round_state(failures, reloaded)]
        elif errors:
            state = [f"the previous certificate files could NOT all be restored ({'; '.join(errors)}), so no service was reloaded again"]
            state += self._first_round_state(failures, reloaded)
        else:
            state = self._rollback_state(restored, outcomes, claim=bool(previous) and (all_previous or not served))
        if served:
            state.append(f"now {'; '.join(served)}")
        head = "; ".join(f"the {f.step} of {f.service} failed ({f.how()}): {f.output}" for f in failures)
        failed = failures[0]
        return ReloadFailed(
            f"certctrl: {head} -- {'; '.join(state)}",
            changed=self.changed,
            service=failed.service,
            step=failed.step,
            command=failed.command,
            rc=failed.rc,
            output=failed.output,
            restored=restored,
            services_reloaded=[r.service for r in again if r.step == RELOAD and r.ok],
            verified_endpoints=[],
        )

    def _first_round_state(self, failures: t.List[Ran], reloaded: t.List[str]) -> t.List[str]:
        """What the services run when nothing was restored (or could be): from the first round alone."""
        if failures[0].step == TEST:
            return ["no service was reloaded, so each runs what it loaded before"]
        parts = [f"{join_names(reloaded)} reloaded with the new files"] if reloaded else []
        parts.append(f"{failures[0].service} may be down or still running what it loaded before")
        rest = [s.name for s in self.services if s.name not in reloaded and s.name != failures[0].service]
        if rest:
            parts.append(f"{join_names(rest)} {'was' if len(rest) == 1 else 'were'} not reloaded")
        return parts

    def _second_round(self, failures: t.List[Ran], reloaded: t.List[str]) -> t.List[t.Tuple[str, t.Optional[str]]]:
        """Test and reload each service again with the restored files: (service, None when it reloaded, else what is known)."""
        outcomes: t.List[t.Tuple[str, t.Optional[str]]] = []
        for service in self.services:
            test = self._run(service, TEST) if service.validate else None
            if test is not None and not test.ok:
                if service.name in reloaded:
                    now = "it may still serve the new certificate"
                elif failures[0].step == RELOAD and service.name == failures[0].service:
                    now = "it may be down or serving either certificate"
                else:
                    now = "it was not reloaded with the new files either and runs what it loaded before"
                outcomes.append(
                    (
                        service.name,
                        f"{service.name}'s configuration test fails with them too ({test.how()}): {test.output}, so it was not reloaded again: {now}",
                    )
                )
                continue
            reload = self._run(service, RELOAD)
            if reload.ok:
                outcomes.append((service.name, None))
            else:
                outcomes.append(
                    (
                        service.name,
                        f"the second reload of {service.name} failed too ({reload.how()}): {reload.output}; "
                        f"{service.name} may be down or serving the new or the previous certificate",
                    )
                )
        return outcomes

    @staticmethod
    def _rollback_state(restored: t.List[t.Dict[str, t.Any]], outcomes: t.List[t.Tuple[str, t.Optional[str]]], *, claim: bool) -> t.List[str]:
        """The files put back and each service's state. "serves the previous certificate" only when its second reload
        succeeded, a previous certificate was put back, and every endpoint checked (if any) serves it."""
        back = [d["path"] for d in restored if d["action"] == "restored"]
        gone = [d["path"] for d in restored if d["action"] == "removed"]
        told = []
        if back:
            told.append(f"the previous certificate files were restored ({', '.join(back)})")
        if gone:
            told.append(f"the new files that had no previous version were removed ({', '.join(gone)})")
        for name, trouble in outcomes:
            if trouble:
                told.append(trouble)
            elif not back:
                told.append(f"{name} reloaded without them")
            else:
                told.append(f"{name} reloaded with them" + (" and serves the previous certificate" if claim else ""))
        return told

    def _served_now(self, previous: t.Dict[str, str]) -> t.Tuple[t.List[str], bool]:
        """What each endpoint serves after the rollback (polled until it is a previous certificate, or when none is
        known, until it is not the new one); and whether every endpoint serves a previous certificate."""
        new = {c.fingerprint for c in self.certificates if c.fingerprint}
        accept: t.Callable[[str], bool] = previous.__contains__ if previous else (lambda fp: fp not in new)
        told, seen, all_previous = [], set(), True
        for certificate in self.certificates:
            for endpoint in certificate.endpoints:
                if endpoint.label in seen:
                    continue
                seen.add(endpoint.label)
                served = self.probe(endpoint, accept, self.verify_timeout)
                all_previous = all_previous and served.fingerprint in previous
                if not served.certificate:
                    told.append(f"{endpoint.label} could not be checked: {served.error}")
                elif served.fingerprint in previous:
                    told.append(f"{endpoint.label} serves the previous certificate (serial {served.certificate['serial']})")
                elif served.fingerprint in new:
                    told.append(f"{endpoint.label} still serves the new certificate (serial {served.certificate['serial']})")
                else:
                    other = "neither the new nor the previous certificate" if previous else "not the new certificate"
                    told.append(f"{endpoint.label} serves serial {served.certificate['serial']}, {other}")
        return told, all_previous and bool(seen)


def merge_result(result: t.Optional[t.Dict[str, t.Any]], handled: t.Dict[str, t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
    """The role's certctrl_deploy_result with this run's reloads and checks added: at the top, and on each certificate
    this run acted for (those of its services that were reloaded, its endpoints that were checked)."""
    if not result:
        return result
    reloaded = handled["services_reloaded"]
    merged = dict(result)
    merged["services_reloaded"] = list(dict.fromkeys([*result.get("services_reloaded", []), *reloaded]))
    merged["verified_endpoints"] = list(dict.fromkeys([*result.get("verified_endpoints", []), *handled["verified_endpoints"]]))
    verified = set(handled["verified_endpoints"])
    acted = {c["id"]: [e["label"] for e in c["verify_endpoints"] if e["label"] in verified] for c in handled["certificates"]}
    merged["certificates"] = []
    for entry in result.get("certificates", []):
        entry = dict(entry)
        if entry.get("id") in acted:
            entry["services_reloaded"] = [s for s in entry.get("services", []) if s in reloaded]
            entry["verified_endpoints"] = list(dict.fromkeys([*entry.get("verified_endpoints", []), *acted[entry["id"]]]))
        merged["certificates"].append(entry)
    return merged


__all__ = [
    "Certificate",
    "Endpoint",
    "OptionError",
    "Ran",
    "ReloadFailed",
    "Served",
    "Service",
    "ServiceReload",
    "command_text",
    "merge_result",
    "parse_certificates",
    "parse_restore",
    "parse_services",
    "previous_certificates",
    "tls_probe",
]
