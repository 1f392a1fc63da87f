# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The host's part of deploying a DEVICE_REQUIRED certificate: certificate_files' O(unwrap) jobs. The controller sent
# the wrapped key (it cannot open it) and the certificate; here the device's secret key opens it, the key is matched
# to the certificate and the secret files (private.key, combined.pem, bundle.pfx) are rendered, in memory, before the
# transaction that writes them with the certificate's other files. The plaintext key exists only on this host.

import base64
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _device_key as device_key
from ansible_collections.cjj365.certctrl.plugins.module_utils._bundle import check_key, public_bundle, render
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

NOTHING_CHANGED = "; nothing was changed"


def _secret_key(key_dir: str) -> bytes:
    pair = device_key.read_keypair(key_dir)
    if pair is None:
        raise CertCtrlError(
            f"this host has no cert-ctrl device key in {key_dir} (dev_sk.bin): enroll it first (cjj365.certctrl.device_key and"
            " cjj365.certctrl.device, or the cjj365.certctrl.deploy role's enroll entry point); nothing was changed"
        )
    return pair[0]


def render_job(job: t.Dict[str, t.Any]) -> t.Dict[str, bytes]:
    """path -> content of one job's secret files, from the wrapped key and the certificate PEM."""
    what = f"certificate {job.get('certificate_id')}"
    try:
        der = device_key.unwrap_private_key(job["material"], _secret_key(job["key_dir"]))
        bundle = public_bundle(job["certificate_pem"])
        bundle.entries["private.key"] = device_key.private_key_pem(der)
        check_key(bundle)
        names = [f["name"] for f in job["files"]]
        contents = render(bundle, names, pfx_password=job.get("pfx_password"), bundle_password=None, friendly_name=job.get("friendly_name"))
    except CertCtrlError as exc:
        msg = exc.msg if exc.msg.endswith(NOTHING_CHANGED) else exc.msg + NOTHING_CHANGED
        raise CertCtrlError(f"{what}: {msg}", **exc.details) from None
    return {f["path"]: contents[f["name"]] for f in job["files"] if f["name"] in contents}


def fill_files(files: t.List[t.Dict[str, t.Any]], jobs: t.List[t.Dict[str, t.Any]]) -> None:
    """Give each O(files) entry a job renders its O(files[].content); every job runs before any file is touched."""
    if not jobs:
        return
    missing = device_key.missing_libraries(for_unwrap=True)
    if missing:
        raise CertCtrlError(f"{missing}; nothing was changed")
    rendered: t.Dict[str, bytes] = {}
    for job in jobs:
        rendered.update(render_job(job))
    for item in files:
        if item["path"] in rendered:
            item["content"] = base64.b64encode(rendered[item["path"]]).decode("ascii")


__all__ = ["fill_files", "render_job"]
