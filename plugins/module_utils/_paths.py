# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The generic read of any JSON resource under /apiv1/me (the api lookup's operation). A path is checked
# against the contract's GET endpoints before anything is sent: nothing else can be requested through it.

import re
import typing as t

from ansible_collections.cjj365.certctrl.plugins.module_utils import _state as state
from ansible_collections.cjj365.certctrl.plugins.module_utils._client import DEFAULT_PAGE_SIZE, CertCtrlClient, check_page_size
from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import CertCtrlError
from ansible_collections.cjj365.certctrl.plugins.module_utils._resources import ME

# Placeholders of the route patterns.
ID = "<id>"
PUBLIC_ID = "<public_id>"
ANY = "<any>"

_ID = re.compile(r"[1-9][0-9]{0,17}")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_PATH = re.compile(r"[A-Za-z0-9_./-]+")


class InvalidPathError(CertCtrlError):
    """A term that is not a readable path under /apiv1/me (the message says why)."""


class Route:
    def __init__(self, pattern: t.Tuple[str, ...], is_list: bool, server_filters: t.Tuple[str, ...] = ()) -> None:
        self.pattern = pattern
        self.is_list = is_list
        self.server_filters = server_filters  # filters also sent as query parameters (still applied locally)

    @property
    def form(self) -> str:
        return "/".join(self.pattern)


# The GET endpoints of the contract that answer JSON. Lists are paged with offset/limit.
READABLE: t.Tuple[Route, ...] = (
    Route(("acme-accounts",), True),
    Route(("acme-accounts", ID), False),
    Route(("acme-accounts", ID, "certificates"), True),
    Route(("certificates",), True),
    Route(("certificates", ID), False),
    Route(("certificates", ID, "devices"), True),
    Route(("certificates", ID, "issues"), True),
    Route(("certificates", ID, "issue-result"), False),
    Route(("certificates", ID, "export"), False),
    Route(("devices",), True, ("status",)),
    Route(("devices", "by-public-id", PUBLIC_ID), False),
    Route(("devices", ID), False),
    Route(("devices", ID, "certificates"), True),
    Route(("devices", ID, "certificates", ID), False),
)

# Paths that exist but must not be read through the generic path, and what to use instead.
REFUSED: t.Tuple[t.Tuple[t.Tuple[str, ...], str], ...] = (
    (("certificate-assign",), "accepts POST only (it assigns a certificate); use the cjj365.certctrl.assign module"),
    (
        ("devices", ID, "certificates", ID, "bundle"),
        "answers a zip that holds the private key, not JSON; use the cjj365.certctrl.device_bundle module or the cjj365.certctrl.deploy role",
    ),
    (("install-config-update", ANY), "accepts POST only"),
    (("certificates", ID, "issues", "history"), "is a legacy alias; read certificates/<id>/issues"),
)

_SEGMENT_MATCHERS: t.Dict[str, t.Pattern] = {ID: _ID, PUBLIC_ID: _PUBLIC_ID, ANY: _SEGMENT}


class ApiPath:
    """A checked term: the absolute API path and the route it matched."""

    def __init__(self, term: str, path: str, route: Route) -> None:
        self.term = term
        self.path = path
        self.route = route

    @property
    def is_list(self) -> bool:
        return self.route.is_list


def readable_forms() -> str:
    return ", ".join(route.form for route in READABLE)


def resolve(term: t.Any) -> ApiPath:
    """Check one term (``certificates/42``, ``/apiv1/me/devices`` ...) and return the path to GET."""
    segments = _segments(term, _checked_text(term))
    for pattern, reason in REFUSED:
        if _matches(pattern, segments):
            raise InvalidPathError(f"{term!r}: {ME}/{'/'.join(pattern)} {reason}")
    for route in READABLE:
        if _matches(route.pattern, segments):
            return ApiPath(term=term, path=f"{ME}/{'/'.join(segments)}", route=route)
    raise InvalidPathError(f"{term!r} is not a readable cert-ctrl resource; readable paths (ids are positive integers): {readable_forms()}")


def _checked_text(term: t.Any) -> str:
    """The term as text, refused when it is not a plain path (a method, a query string, other characters)."""
    if not isinstance(term, str):
        raise InvalidPathError(f"a term must be a path such as 'certificates/42', not {type(term).__name__} {term!r}")
    text = term.strip()
    if re.search(r"(^|[\s?&;])method\s*=", text, re.IGNORECASE):
        raise InvalidPathError(f"{term!r}: this lookup only reads (GET); use the collection's modules to change anything")
    if any(char in text for char in "?&=#"):
        raise InvalidPathError(
            f"{term!r}: query strings are not accepted in a path; pass filters as keyword arguments, "
            "for example lookup('cjj365.certctrl.api', 'devices', status='ACTIVE')"
        )
    if not text or not _PATH.fullmatch(text):
        raise InvalidPathError(f"{term!r}: a path may contain only letters, digits, '-', '_', '.' and '/' (no spaces, '%' or '\\')")
    return text


def _segments(term: str, text: str) -> t.Tuple[str, ...]:
    """The path segments below /apiv1/me (the prefix is optional); none of them empty, '.' or '..'."""
    relative = text.lstrip("/")
    if relative == "apiv1/me" or relative.startswith("apiv1/me/"):
        relative = relative[len("apiv1/me") :].lstrip("/")
    elif relative.split("/", 1)[0] == "apiv1":
        raise InvalidPathError(f"{term!r}: only paths under /apiv1/me/ can be read")
    if relative.endswith("/"):
        relative = relative[:-1]
    segments = tuple(relative.split("/")) if relative else ()
    if not segments:
        raise InvalidPathError(f"{term!r}: name a resource, one of: {readable_forms()}")
    if any(seg in ("", ".", "..") for seg in segments):
        raise InvalidPathError(f"{term!r}: empty, '.' and '..' path segments are not accepted")
    return segments


def read(
    client: CertCtrlClient,
    api_path: ApiPath,
    *,
    filters: t.Optional[t.Mapping[str, t.Any]] = None,
    limit: t.Optional[int] = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    warn: t.Optional[t.Callable[[str], None]] = None,
) -> t.Any:
    """GET one path: the object, or the list items (every page, or the first ``limit`` matches) that match ``filters``.

    Key material never leaves: ``der`` (the private key DER in production) and other secret fields are dropped from
    every object, ``PRIVATE KEY`` texts are redacted."""
    filters = dict(filters or {})
    if not api_path.is_list:
        if filters:
            raise InvalidPathError(f"{api_path.term!r} reads one object; filters ({', '.join(sorted(filters))}) apply to lists only")
        return _without_secrets(client.get(api_path.path))
    return [_without_secrets(item) for item in _read_list(client, api_path, filters, limit=limit, page_size=page_size, warn=warn)]


def _without_secrets(value: t.Any) -> t.Any:
    return state.public(value, keep_heavy=True) if isinstance(value, dict) else value


def _read_list(
    client: CertCtrlClient,
    api_path: ApiPath,
    filters: t.Dict[str, t.Any],
    *,
    limit: t.Optional[int],
    page_size: int,
    warn: t.Optional[t.Callable[[str], None]],
) -> t.List[t.Any]:
    check_page_size(page_size)
    if limit is not None and limit < 1:
        raise CertCtrlError(f"limit must be at least 1, not {limit}")
    if not filters:
        return client.paginate(api_path.path, page_size=page_size, limit=limit)
    params = {name: filters[name] for name in api_path.route.server_filters if isinstance(filters.get(name), str)}
    found: t.List[t.Any] = []
    fields: t.Set[str] = set()
    for item in client.iter_items(api_path.path, params, page_size=page_size):
        if isinstance(item, dict):
            fields.update(item)
        if item_matches(item, filters):
            found.append(item)
            if limit is not None and len(found) >= limit:
                break
    unknown = sorted(set(filters) - fields)
    if warn and fields and unknown:
        warn(f"{api_path.term}: no item has the field(s) {', '.join(unknown)} used as filter(s); known fields: {', '.join(sorted(fields))}")
    return found


def item_matches(item: t.Any, filters: t.Mapping[str, t.Any]) -> bool:
    """Exact match of every filter. A list of wanted values matches any of them; a list field matches when it contains the value."""
    return all(isinstance(item, dict) and key in item and _field_matches(item[key], wanted) for key, wanted in filters.items())


def _field_matches(actual: t.Any, wanted: t.Any) -> bool:
    if isinstance(wanted, (list, tuple, set, frozenset)):
        return any(_field_matches(actual, one) for one in wanted)
    if isinstance(actual, list):
        return any(_same(one, wanted) for one in actual)
    return _same(actual, wanted)


def _same(actual: t.Any, wanted: t.Any) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        # True == 1 in Python; a boolean only equals a boolean (or its JSON spelling)
        if isinstance(wanted, str):
            return isinstance(actual, bool) and wanted.strip().lower() == ("true" if actual else "false")
        return isinstance(actual, bool) and isinstance(wanted, bool) and actual is wanted
    if isinstance(wanted, str) and isinstance(actual, (int, float)):
        return wanted.strip() == str(actual)  # a template often passes numbers as text: id='42'
    return actual == wanted


def _matches(pattern: t.Tuple[str, ...], segments: t.Tuple[str, ...]) -> bool:
    if len(pattern) != len(segments):
        return False
    for expected, seg in zip(pattern, segments):
        matcher = _SEGMENT_MATCHERS.get(expected)
        if matcher is None:
            if seg != expected:
                return False
        elif not matcher.fullmatch(seg):
            return False
    return True


__all__ = ["READABLE", "REFUSED", "ApiPath", "InvalidPathError", "item_matches", "read", "readable_forms", "resolve"]
