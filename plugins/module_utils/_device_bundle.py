# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The device_bundle module's job: decide from one light read whether a host needs the bundle, and only
# then download, validate and write it. Zip parsing and validation live in _bundle.py.

import os
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _resources as api
from ansible_collections.cjj365.certctrl.plugins.module_utils import _selectors as selectors
from ansible_collections.cjj365.certctrl.plugins.module_utils._atomic import discard, stage
from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import PASSWORD_HEADER, expected_names, parse_bundle, render, validate
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import CertCtrlClient
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._pem import normalize_fingerprint
from ansible_collections.cjj365.certctrl.plugins.module_utils._x509 import describe_pem


def write_files(dest: str, contents: t.Dict[str, bytes], *, stale: t.Iterable[str] = ()) -> t.Dict[str, str]:
    """Stage every file in ``dest`` (_atomic.stage), then rename them all; a failure to stage leaves ``dest`` as it was.

    ``dest`` is created 0700 when missing. ``stale`` names files to remove (a chain.pem a chain-less certificate
    no longer has), after the new files are in place.
    """
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise CertCtrlError(f"dest {dest} exists and is not a directory; nothing was changed")
    temps: t.Dict[str, str] = {}
    try:
        if not os.path.isdir(dest):
            os.makedirs(dest, mode=0o700)
            os.chmod(dest, 0o700)
        for name, data in contents.items():
            temps[name] = stage(os.path.join(dest, name), data)
            os.chmod(temps[name], 0o600)  # exactly, whatever the umask
    except OSError as exc:
        discard(temps.values())
        raise CertCtrlError(f"writing to {dest} failed ({exc.strerror or exc}); nothing was changed") from None
    paths = {}
    for name, temp in temps.items():
        paths[name] = os.path.join(dest, name)
        os.replace(temp, paths[name])
    for name in stale:
        path = os.path.join(dest, name)
        if name not in contents and os.path.lexists(path):
            os.unlink(path)
    return paths


def sync_device_bundle(
    client: CertCtrlClient,
    *,
    certificate_id: int,
    dest: t.Optional[str],
    files: t.List[str],
    device_id: t.Optional[int] = None,
    device_public_id: t.Optional[str] = None,
    deployed_fingerprint: t.Optional[str] = None,
    pfx_password: t.Optional[str] = None,
    max_bytes: int = api.BUNDLE_MAX_BYTES,
    check_mode: bool = False,
    diff: bool = False,
) -> t.Dict[str, t.Any]:
    """The module's result. One light read decides; the bundle is downloaded only when the host needs it."""
    try:
        deployed = normalize_fingerprint(deployed_fingerprint)
    except CertCtrlError as exc:
        raise CertCtrlError(f"deployed_fingerprint: {exc.msg}") from None
    files = list(dict.fromkeys(files))
    if "bundle.pfx" in files and not pfx_password:
        raise CertCtrlError("files contains bundle.pfx: set pfx_password, the password to protect the PKCS#12 file with")
    did = selectors.device_id(client, device_id=device_id, device_public_id=device_public_id)
    record = api.device_certificate(client, did, certificate_id, detail=True)
    if record is None:
        raise CertCtrlError(
            f"GET /apiv1/me/devices/{did}/certificates/{certificate_id} answered HTTP 404: certificate {certificate_id} is not assigned to"
            f" device {did}, or one of them does not exist (assign it with cjj365.certctrl.assign)",
            status=404,
        )
    certificate = {"id": record.get("id"), "domain_name": record.get("domain_name"), "sans": record.get("sans") or []}
    current = describe_pem(record.get("cert"))
    if current is None:
        raise CertCtrlError(
            f"certificate {certificate_id} ({certificate['domain_name']}) has never been issued, so there is no bundle to deploy;"
            " issue it first (cjj365.certctrl.issue)",
            certificate=certificate,
        )
    needs_update = deployed != normalize_fingerprint(current["sha256_fingerprint"])
    result: t.Dict[str, t.Any] = {
        "changed": needs_update,
        "needs_update": needs_update,
        "downloaded": False,
        "certificate": certificate,
        "x509": current,
        "files": {},
        "checks": [],
    }
    if diff:
        before = {"sha256_fingerprint": deployed_fingerprint or None}
        after = {k: current[k] for k in ("sha256_fingerprint", "serial", "not_after", "sans")} if needs_update else before
        result["diff"] = {"before": before, "after": after}
    if not needs_update or check_mode:
        return result
    if not dest:
        raise CertCtrlError("dest is required: the host needs an update and the files must be written somewhere", needs_update=True, x509=current)
    try:
        download = api.download_bundle(client, device_id=did, certificate_id=certificate_id, max_bytes=max_bytes)
    except CertCtrlError as exc:
        exc.msg = f"{exc.msg}; nothing was changed"
        raise
    result["downloaded"] = True
    bundle = parse_bundle(download.content)
    result["checks"] = validate(bundle, expected_names=expected_names(record), expected_fingerprint=current["sha256_fingerprint"])
    rendered = render(bundle, files, pfx_password=pfx_password, bundle_password=download.headers.get(PASSWORD_HEADER), friendly_name=certificate["domain_name"])
    result["files"] = write_files(dest, rendered, stale=files)
    return result


__all__ = ["sync_device_bundle", "write_files"]
