# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The AnsibleModule side of the modules that run on managed hosts (certificate_files, certificate_files_info,
# service_reload, served_certificate_info): the one place where their errors become fail_json. The counterpart of
# _module.run without the API client, so nothing pulls `requests` onto a host.

import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError

if t.TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule


def os_error_message(exc: OSError) -> str:
    """A failed file operation in the system's words, with the file it failed on."""
    return f"{exc.strerror or exc} ({exc.filename})"


def run(
    module: "AnsibleModule",
    action: t.Callable[[], t.Dict[str, t.Any]],
    *,
    os_error: t.Optional[t.Callable[[OSError], str]] = None,
) -> t.NoReturn:
    """Exit with ``action()``'s result. A CertCtrlError fails with its message and fields; an OSError too when
    ``os_error`` words it (the modules that read or write files), otherwise it stays a traceback: a bug."""
    try:
        result = action()
    except CertCtrlError as exc:
        module.fail_json(**exc.fail_kwargs())
    except OSError as exc:
        if os_error is None:
            raise
        module.fail_json(msg=os_error(exc))
    module.exit_json(**result)


__all__ = ["os_error_message", "run"]
