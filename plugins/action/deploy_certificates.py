# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The controller's part of cjj365.certctrl.deploy_certificates (documented in plugins/modules/deploy_certificates.py),
# as ansible.builtin.copy does it: runs in each host's worker, plans the host's certificates, reads the API in-process
# (the API key never leaves the controller), reads the state of all the host's certificate files with ONE module run
# (certificate_files_info), and only when something must change downloads, validates and renders the bundles in memory
# and runs ONE more module (certificate_files) that receives the files as no_log arguments and swaps them.

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
import typing as t

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import (
    PASSWORD_HEADER,
    CorruptBundleError,
    expected_names,
    parse_bundle,
    public_bundle,
    render,
    validate,
)
from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle_json import is_json, parse_json_bundle
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_API_URL, CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._device_key import DEFAULT_KEY_DIR
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._file_kinds import SECRET_FILES
from ansible_collections.cjj365.certctrl.plugins.module_utils._manifest import manifest_path
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import CRYPTOGRAPHY_IMPORT_ERROR, describe, describe_pem, load_pem_chain
from ansible_collections.cjj365.certctrl.plugins.plugin_utils import _deploy as decide
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._client import client_from_plugin
from ansible_collections.cjj365.certctrl.plugins.plugin_utils._deploy_plan import deploy_plan

display = Display()

INFO_MODULE = "cjj365.certctrl.certificate_files_info"
APPLY_MODULE = "cjj365.certctrl.certificate_files"
BUNDLE_ATTEMPTS = 3
# Private bundle directories of earlier development versions of the role on the controller (ansible.builtin.tempfile, prefix certctrl-bundles-).
_OLD_BUNDLES = re.compile(r"^certctrl-bundles-[A-Za-z0-9_]{4,}$")
_OLD_AGE = 3600.0

# API options: task argument, then this variable (templated), then the environment, then the default. The variables
# are the lookup's and the inventory plugin's (doc fragment _api.plugins): one name per option for the whole collection.
API_OPTIONS: dict[str, tuple[str, str, t.Any]] = {
    "api_url": ("certctrl_api_url", "CERTCTRL_API_URL", DEFAULT_API_URL),
    "api_key": ("certctrl_api_key", "CERTCTRL_API_KEY", None),
    "validate_certs": ("certctrl_validate_certs", "CERTCTRL_VALIDATE_CERTS", True),
    "ca_path": ("certctrl_ca_path", "CERTCTRL_CA_PATH", None),
    "timeout": ("certctrl_timeout", "CERTCTRL_TIMEOUT", 30),
    "retries": ("certctrl_retries", "CERTCTRL_RETRIES", 5),
}

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    **selectors.device_selector_spec(),
    "certificates": {"type": "raw", "default": []},
    "cert_root": {"type": "str", "default": "/etc/certctrl/certs"},
    "files": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "cert_mode": {"type": "raw", "default": "0644"},
    "key_mode": {"type": "raw", "default": "0600"},
    "key_group_mode": {"type": "raw", "default": "0640"},
    "directory_mode": {"type": "raw", "default": "0750"},
    "keep_backups": {"type": "int", "default": 3},
    "pfx_password": {"type": "str", "no_log": True},
    "services": {"type": "list", "elements": "str", "default": []},
    "service_definitions": {"type": "dict", "default": {}},
    "verify_endpoints": {"type": "raw", "default": {}},
    "force": {"type": "bool", "default": False},
    "device_key_dir": {"type": "str", "default": DEFAULT_KEY_DIR},
    "wrap_pending_timeout": {"type": "float", "default": api.WRAP_PENDING_WAIT},
    "pending": {"type": "raw"},
    "api_url": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool"},
    "ca_path": {"type": "str"},
    "timeout": {"type": "raw"},
    "retries": {"type": "raw"},
}


class DeployError(Exception):
    """Fails the host with this message (the server's or the checks' words, never key material)."""


class _Options:
    """get_option for plugin_utils._client: the task's argument, then the certctrl_* variable, then the environment."""

    def __init__(self, args: dict[str, t.Any], template: t.Callable[[str], t.Any]) -> None:
        self._args = args
        self._template = template

    def get_option(self, name: str) -> t.Any:
        var, env, default = API_OPTIONS[name]
        if self._args.get(name) is not None:
            return self._args[name]
        value = self._template(var)
        if value not in (None, ""):
            return value
        return os.environ.get(env) or default


def sweep_old_bundle_dirs(root: str | None = None, *, now: float | None = None) -> list[str]:
    """Remove the controller-side bundle directories a killed run of the older role left (ours, 0700, old)."""
    root = root or tempfile.gettempdir()
    now = now if now is not None else time.time()
    removed = []
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if not _OLD_BUNDLES.match(name):
                continue
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700 and now - st.st_mtime > _OLD_AGE:
                    shutil.rmtree(path)
                    removed.append(path)
    return removed


def server_facts(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """What a record tells about the current certificate: everything when it carries the PEM, else its serial (or nothing)."""
    if record.get("cert"):
        return {**describe_pem(record["cert"]), "from_pem": True}
    serial = decide.normalize_serial(record.get("serial_number"))
    return {"serial": serial} if serial else {}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, mutually_exclusive=list(selectors.DEVICE_MUTUALLY_EXCLUSIVE))
        if CRYPTOGRAPHY_IMPORT_ERROR is not None:
            raise AnsibleError("cjj365.certctrl.deploy_certificates needs the Python library cryptography on the controller")
        self._check = bool(self._task.check_mode if self._task.check_mode is not None else self._play_context.check_mode)
        self._diff = bool(self._task.diff if self._task.diff is not None else self._play_context.diff)
        try:
            result.update(self._deploy(args, task_vars))
        except DeployError as exc:
            result.update(failed=True, msg=str(exc))
        except CertCtrlError as exc:
            result.update(failed=True, msg=exc.msg)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # -- the API ----------------------------------------------------------------------------------

    def _client(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> CertCtrlClient:
        def template(name: str) -> t.Any:
            if name not in task_vars:
                return None
            value = self._templar.template(task_vars[name])
            return None if value is None else (value if isinstance(value, (bool, int, float)) else to_native(value))

        try:
            return client_from_plugin(_Options(args, template))
        except AnsibleError as exc:
            raise DeployError(to_native(exc.message)) from None

    def _device_id(self, client: CertCtrlClient, args: dict[str, t.Any]) -> int:
        if args["device_id"] is None and not args["device_public_id"]:
            raise DeployError("certctrl deploy: the host names no cert-ctrl device; set certctrl_device_id or certctrl_device_public_id")
        return selectors.device_id(client, **selectors.device_args(args))

    def _detail(self, client: CertCtrlClient, device_id: int, entry: dict[str, t.Any]) -> dict[str, t.Any]:
        """The device's certificate with its PEM (``?detail=most``): one light read, only when the list did not tell enough."""
        record = api.device_certificate(client, device_id, entry["id"], detail=True)
        if record is None:
            raise DeployError(f"certificate {entry['id']} ({entry['domain_name']}) is no longer assigned to device {device_id}; run again")
        facts = server_facts(record)
        if not facts.get("from_pem"):
            raise DeployError(
                f"certificate {entry['id']} ({entry['domain_name']}) has never been issued, so there is no bundle to deploy;"
                " issue it first (cjj365.certctrl.issue)"
            )
        return {**facts, "record": record}

    def _download(
        self, client: CertCtrlClient, device_id: int, entry: dict[str, t.Any], record: dict[str, t.Any], wrap_wait: float
    ) -> tuple[t.Any, t.Any, t.Any]:
        """(bundle, download, wrapped material or None): the zip, or a JSON variant; a truncated or corrupt download is
        fetched again (bounded). The AEAD variant (DEVICE_REQUIRED) carries no certificate: it comes from the record."""
        what = f"certificate {entry['id']} ({entry['domain_name']})"
        for attempt in range(1, BUNDLE_ATTEMPTS + 1):
            try:
                download = api.download_bundle(client, device_id=device_id, certificate_id=entry["id"], wrap_wait=wrap_wait)
            except CertCtrlError as exc:
                raise DeployError(f"{what}: {exc.msg}; nothing was changed") from None
            try:
                if not is_json(download.content, download.headers):
                    return parse_bundle(download.content), download, None
                parsed = parse_json_bundle(download.content)
                bundle = public_bundle(parsed.get("certificate_pem") or self._record_pem(client, device_id, entry, record))
                if parsed["scheme"] == "plaintext":
                    bundle.entries["private.key"] = parsed["private_key_pem"]
                return bundle, download, parsed.get("material")
            except CorruptBundleError as exc:
                if attempt == BUNDLE_ATTEMPTS:
                    raise DeployError(f"{what}: {exc.msg} (downloaded {attempt} times)") from None
                display.warning(f"cert-ctrl: {what}: {exc.msg}; downloading it again ({attempt}/{BUNDLE_ATTEMPTS})")
            except CertCtrlError as exc:
                raise DeployError(f"{what}: {exc.msg}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _record_pem(self, client: CertCtrlClient, device_id: int, entry: dict[str, t.Any], record: dict[str, t.Any]) -> str:
        return record.get("cert") or self._detail(client, device_id, entry)["record"]["cert"]

    def _fetch(self, client: CertCtrlClient, device_id: int, item: dict[str, t.Any], *, key_dir: str) -> tuple:
        """Download, validate and render one bundle in memory: (contents, facts, unwrap job or None). The files of a
        DEVICE_REQUIRED key are None in contents: the host renders them after it opened the key (unwrap job)."""
        entry, record, facts = item["entry"], item["record"], item["facts"]
        what = f"certificate {entry['id']} ({entry['domain_name']})"
        bundle, download, material = self._download(client, device_id, entry, facts.get("record") or record, self._wrap_wait)
        expected = facts.get("sha256_fingerprint") if facts.get("from_pem") else None
        names = [f["name"] for f in entry["files"]]
        on_host = [n for n in names if n in SECRET_FILES] if material else []
        try:
            checks = validate(bundle, expected_names=expected_names(record), expected_fingerprint=expected, key_on_host=bool(material))
            leaf = describe(load_pem_chain(bundle.entries["certificate.pem"])[0])
            if not expected and facts.get("serial") and decide.normalize_serial(leaf["serial"]) != facts["serial"]:
                raise CertCtrlError(
                    f"bundle rejected: the bundle's certificate (serial {leaf['serial']}) is not the server's current certificate"
                    f" (serial {facts['serial']}); it may have been renewed meanwhile, run again; nothing was changed"
                )
            contents: dict[str, bytes | None] = dict(
                render(
                    bundle,
                    [n for n in names if n not in on_host],
                    pfx_password=entry["pfx_password"],
                    bundle_password=download.headers.get(PASSWORD_HEADER),
                    friendly_name=entry["domain_name"],
                )
            )
        except CertCtrlError as exc:
            raise DeployError(f"{what}: {exc.msg}") from None
        job = None
        if on_host:
            contents.update(dict.fromkeys(on_host))
            job = {
                "certificate_id": entry["id"],
                "key_dir": key_dir,
                "material": material,
                "certificate_pem": bundle.entries["fullchain.pem"].decode("ascii"),
                "files": [{"name": f["name"], "path": f["path"]} for f in entry["files"] if f["name"] in on_host],
                "pfx_password": entry["pfx_password"],
                "friendly_name": entry["domain_name"],
            }
            checks = [*checks, "key_decrypted_on_host"]
        return contents, {**leaf, "checks": checks}, job

    # -- the host ---------------------------------------------------------------------------------

    def _module(self, name: str, module_args: dict[str, t.Any], task_vars: dict[str, t.Any], *, secret: bool = False) -> dict[str, t.Any]:
        with self._pipelined(secret):
            answer = self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)
        answer.pop("invocation", None)
        if answer.get("failed"):
            raise DeployError(f"{name.rsplit('.', 1)[-1]} on the host failed: {answer.get('msg') or answer.get('module_stderr') or answer}")
        return answer

    @contextlib.contextmanager
    def _pipelined(self, secret: bool) -> t.Iterator[None]:
        """Send the arguments that hold key material over the connection's stdin (no module file on the host) where
        the connection can and no become method may need a terminal; elsewhere they sit in the 0700 remote tmp dir
        for the time of the run."""
        connection = self._connection
        previous = None
        if secret and connection.has_pipelining and not connection.become:
            with contextlib.suppress(KeyError, AttributeError):
                previous = connection.get_option("pipelining")
                connection.set_option("pipelining", True)
        try:
            yield
        finally:
            if previous is not None:
                connection.set_option("pipelining", previous)

    # -- the run ----------------------------------------------------------------------------------

    def _deploy(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        client = self._client(args, task_vars)
        self._wrap_wait = max(0.0, args["wrap_pending_timeout"])
        swept_controller = sweep_old_bundle_dirs()
        device_id = self._device_id(client, args)
        assigned = api.device_certificates(client, device_id)
        plan = deploy_plan(
            assigned,
            certificates=args["certificates"],
            cert_root=args["cert_root"],
            files=args["files"],
            owner=args["owner"],
            group=args["group"],
            cert_mode=args["cert_mode"],
            key_mode=args["key_mode"],
            key_group_mode=args["key_group_mode"],
            directory_mode=args["directory_mode"],
            services=args["services"],
            definitions=args["service_definitions"],
            verify_endpoints=args["verify_endpoints"],
            pfx_password=args["pfx_password"],
        )
        if args["keep_backups"] < 1:
            raise DeployError(f"certctrl deploy: certctrl_keep_backups must be at least 1 (the rollback needs one), not {args['keep_backups']}")
        records = {int(c["id"]): c for c in assigned}
        info = self._module(INFO_MODULE, {"certificates": [{"dest_dir": e["dest_dir"], "paths": [f["path"] for f in e["files"]]} for e in plan]}, task_vars)
        states = info["certificates"]

        work = []
        for entry, state in zip(plan, states):
            record = records[entry["id"]]
            facts = server_facts(record)
            on_host, why = decide.host_matches_manifest(entry, state)
            matches = decide.server_matches(state.get("manifest"), facts) if on_host else False
            if on_host and matches is None:
                facts = self._detail(client, device_id, entry)
                matches = decide.server_matches(state.get("manifest"), facts)
            current = on_host and bool(matches) and not args["force"]
            if current:
                facts = {**facts, **{k: state["manifest"].get(k) for k in ("serial", "sha256_fingerprint")}}
                facts.setdefault("not_after", (state.get("deployed") or {}).get("not_after"))
            if not current:
                display.vvv(f"cert-ctrl: {entry['domain_name']}: to deploy ({why if not on_host else 'the server has another certificate'})")
            work.append({"entry": entry, "state": state, "record": record, "facts": facts, "current": current, "drift": decide.drift(entry, state)})

        downloaded = False
        for item in work:
            if item["current"]:
                continue
            if self._check:
                if not item["facts"].get("from_pem"):
                    item["facts"] = self._detail(client, device_id, item["entry"])
                item["contents"] = None
                continue
            item["contents"], item["facts"], item["unwrap"] = self._fetch(client, device_id, item, key_dir=args["device_key_dir"])
            downloaded = True

        return self._apply(work, args=args, task_vars=task_vars, staging=info.get("staging") or [], swept_controller=swept_controller, downloaded=downloaded)

    def _apply(
        self,
        work: list[dict[str, t.Any]],
        *,
        args: dict[str, t.Any],
        task_vars: dict[str, t.Any],
        staging: list[str],
        swept_controller: list[str],
        downloaded: bool,
    ) -> dict[str, t.Any]:
        """Run the apply module once, only when a file, an attribute, a manifest or a leftover must change."""
        files, directories, diffs = [], [], []
        for item in work:
            entry, state = item["entry"], item["state"]
            contents = None if item["current"] else item.get("contents")
            actions = {} if item["current"] else decide.file_actions(entry, state, contents)
            item["actions"] = actions
            content_change = any(a in ("created", "replaced", "removed") for a in actions.values())
            manifest = state.get("manifest") or {}
            # A swap killed after its last rename leaves new files and an old manifest: the services never saw them.
            repair = not item["current"] and not content_change and not decide.host_matches_manifest(entry, state)[0]
            item["changed"] = content_change or repair
            # Only what a handler acts on is left pending: services to reload, endpoints to verify.
            acts = bool(entry["services"] or entry["verify_endpoints"])
            item["reload"] = item["changed"] or (item["current"] and bool(manifest.get("reload_pending")))
            directory: dict[str, t.Any] = {"path": entry["dest_dir"], **entry["directory"]}
            if not item["current"] and (content_change or repair or not manifest):
                directory["manifest"] = {
                    "certificate_id": entry["id"],
                    "domain_name": entry["domain_name"],
                    "serial": item["facts"].get("serial"),
                    "sha256_fingerprint": item["facts"].get("sha256_fingerprint"),
                    "reload_pending": acts and (item["reload"] or bool(manifest.get("reload_pending"))),
                }
            directories.append(directory)
            drifted = item["drift"]["files"]
            files += decide.apply_files(entry, contents if not item["current"] else None, drifted)
            if self._diff and ((actions and (content_change or self._check)) or drifted or item["drift"]["directory"]):
                diffs.append(decide.diff(entry, state, item["facts"], actions, drifted))
        stale = [p for item in work for p in item["state"].get("stale") or []]
        must_write = any(d.get("manifest") for d in directories) or any(i["changed"] for i in work)
        attributes = any(i["drift"]["files"] or i["drift"]["directory"] for i in work)
        applied: dict[str, t.Any] = {"files": [], "manifests": [], "swept": []}
        if not self._check and (must_write or attributes or stale or staging):
            module_args = {"files": files, "directories": directories, "keep_backups": args["keep_backups"], "sweep": bool(stale), "staging": staging}
            jobs = [i["unwrap"] for i in work if i.get("unwrap") and not i["current"]]
            if jobs:
                module_args["unwrap"] = jobs
            applied = self._module(APPLY_MODULE, module_args, task_vars, secret=True)
        tidied = attributes or bool(stale or staging)
        return self._report(
            work, applied=applied, diffs=diffs, swept_controller=swept_controller, downloaded=downloaded, tidied=tidied, args=args, task_vars=task_vars
        )

    def _earlier_pending(self, args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> t.Any:
        if args.get("pending") is not None:
            return args["pending"]
        # Read through ansible_facts: the bare name of a returned fact is deprecated from ansible-core 2.20 on.
        facts = task_vars.get("ansible_facts") or {}
        return self._templar.template(facts["deploy__pending"]) if "deploy__pending" in facts else None

    def _report(
        self,
        work: list[dict[str, t.Any]],
        *,
        applied: dict[str, t.Any],
        diffs: list[dict[str, t.Any]],
        swept_controller: list[str],
        downloaded: bool,
        tidied: bool,
        args: dict[str, t.Any],
        task_vars: dict[str, t.Any],
    ) -> dict[str, t.Any]:
        """The task's result: each certificate's outcome, the pending reloads for the handler, the diffs."""
        done = {f["path"]: f for f in applied.get("files") or []}
        certificates, new = [], {"services": [], "restore": [], "manifests": [], "certificates": [], "planned": self._check}
        for item in work:
            entry = item["entry"]
            if self._check:
                changed_paths = [p for p, a in item["actions"].items() if a in ("created", "replaced", "removed")]
            else:
                changed_paths = [p for p in (f["path"] for f in entry["files"]) if done.get(p, {}).get("action") in ("created", "replaced", "removed")]
                item["changed"] = bool(changed_paths) or item["changed"]
            certificates.append(
                decide.certificate_result(
                    entry,
                    item["facts"],
                    downloaded=bool(item.get("contents")),
                    planned=self._check and not item["current"],
                    changed=item["changed"],
                    files_changed=changed_paths,
                )
            )
            if item["reload"] or (self._check and item["changed"]):
                new["services"] += entry["services"]
                new["manifests"].append(manifest_path(entry["dest_dir"]))
                new["certificates"].append(decide.pending_certificate(entry, item["facts"]))
                new["restore"] += [{"path": p, "backup": done[p].get("backup")} for p in changed_paths if p in done]
        reload = any(i["reload"] for i in work)
        settled = [i["entry"] for i in work if i["state"].get("manifest") and not i["reload"] and not i["changed"]]
        pending = decide.merge_pending(self._earlier_pending(args, task_vars), new if reload else {**new, "planned": False}, settled=settled)
        changed = reload or tidied or any(c["changed"] for c in certificates)
        result: dict[str, t.Any] = {
            "changed": changed,
            "deployment": {
                "changed": any(c["changed"] for c in certificates),
                "check_mode": self._check,
                "certificates": certificates,
                "services_reloaded": [],
                "verified_endpoints": [],
            },
            "reload_pending": reload,
            "downloaded": downloaded,
            "swept": (applied.get("swept") or []) + swept_controller,
            "ansible_facts": {"deploy__pending": pending},
        }
        if diffs:
            result["diff"] = diffs
        return result
