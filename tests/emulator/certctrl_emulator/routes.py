"""The one route table: (method, path template) -> handler, plus the matcher.

A ``:name`` segment matches digits, except ``:public_id`` which matches any segment. Templates are
reported (request log, counters) with every parameter written ``:id``. A route with a feature name (fifth
element) exists only when the profile's ``Shape`` has that feature (``shape.<feature>`` is true).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from . import accounts, admin, certificates, devices, enrollment
from .request import Req
from .responses import Resp, ok
from .shape import Shape

Handler = Callable[[Req], Resp]

ME = "/apiv1/me"


def health(_req: Req) -> Resp:
    return ok({"status": "ok"})


# (method, template, handler, needs API key[, feature of the Shape])
API_ROUTES = [
    ("GET", "/health", health, False),
    ("GET", ME + "/acme-accounts", accounts.list_accounts, True),
    ("POST", ME + "/acme-accounts", accounts.create_account, True),
    ("GET", ME + "/acme-accounts/:acct_id", accounts.get_account, True),
    ("PUT", ME + "/acme-accounts/:acct_id", accounts.update_account, True),
    ("DELETE", ME + "/acme-accounts/:acct_id", accounts.delete_account, True),
    ("GET", ME + "/acme-accounts/:acct_id/certificates", accounts.account_certificates, True),
    ("GET", ME + "/certificates", certificates.list_certificates, True),
    ("POST", ME + "/certificates", certificates.create_certificate, True),
    ("GET", ME + "/certificates/:cert_id", certificates.get_certificate, True),
    ("GET", ME + "/certificates/:cert_id/devices", certificates.certificate_devices, True),
    ("POST", ME + "/certificates/:cert_id/issues", certificates.post_issue, True),
    ("GET", ME + "/certificates/:cert_id/issues", certificates.list_issues, True),
    ("GET", ME + "/certificates/:cert_id/issues/history", certificates.list_issues, True),
    ("GET", ME + "/certificates/:cert_id/issue-result", certificates.get_certificate, True),
    ("GET", ME + "/certificates/:cert_id/export", certificates.export_certificate, True),
    ("GET", ME + "/devices", devices.list_devices, True),
    ("POST", ME + "/devices", enrollment.register_device, True),
    ("GET", ME + "/devices/by-public-id/:public_id", devices.device_by_public_id, True),
    ("GET", ME + "/devices/:device_id", devices.get_device, True),
    ("GET", ME + "/devices/:device_id/certificates", devices.device_certificates, True),
    ("GET", ME + "/devices/:device_id/certificates/:cert_id", devices.device_certificate, True),
    ("DELETE", ME + "/devices/:device_id/certificates/:cert_id", devices.unassign, True, "me_unassign"),
    ("GET", ME + "/devices/:device_id/certificates/:cert_id/bundle", devices.device_bundle, True),
    ("POST", ME + "/certificate-assign", devices.assign, True),
]

ADMIN_ROUTES = [
    ("GET", "/_admin/info", admin.info, True),
    ("GET", "/_admin/counters", admin.counters, True),
    ("GET", "/_admin/requests", admin.requests_log, True),
    ("POST", "/_admin/reset", admin.reset, True),
    ("GET", "/_admin/faults", admin.list_faults, True),
    ("POST", "/_admin/faults", admin.add_fault, True),
    ("DELETE", "/_admin/faults", admin.clear_faults, True),
    ("POST", "/_admin/bundle-faults", admin.add_bundle_fault, True),
    ("DELETE", "/_admin/bundle-faults", admin.clear_bundle_faults, True),
    ("POST", "/_admin/rate-limit", admin.rate_limit, True),
    ("POST", "/_admin/issuance", admin.issuance, True),
    ("POST", "/_admin/certificates/:cert_id/issues/:hid/cancel", admin.cancel_issue, True),
    ("POST", "/_admin/api-keys", admin.create_api_key, True),
    ("POST", "/_admin/devices", admin.create_devices, True),
    ("POST", "/_admin/certificates", admin.create_certificates, True),
    ("PUT", "/_admin/certificates/:cert_id", admin.set_certificate, True),
    ("GET", "/_admin/shape", admin.get_shape, True),
    ("POST", "/_admin/shape", admin.set_shape, True),
]


class Route:
    def __init__(self, method: str, template: str, handler: Handler, auth: bool, feature: str | None = None) -> None:
        self.method = method
        self.handler = handler
        self.auth = auth
        self.feature = feature
        parts = []
        for seg in template.strip("/").split("/"):
            if seg.startswith(":"):
                parts.append("([^/]+)" if seg == ":public_id" else r"(\d{1,18})")
            else:
                parts.append(re.escape(seg))
        self.regex = re.compile("^/" + "/".join(parts) + "$")
        self.template = re.sub(r":[a-z_]+", ":id", template)
        self.name = f"{method} {self.template}"


class Router:
    def __init__(self, table: list[tuple[Any, ...]]) -> None:
        self.routes = [Route(*r) for r in table]

    def match(self, method: str, path: str, shape: Shape | None = None) -> Match:
        """Returns (route, params, allowed_methods). route is None on 404 (allowed empty) or 405.
        Routes whose feature ``shape`` lacks are left out."""
        allowed = []
        for route in self.routes:
            if route.feature and not (shape is not None and getattr(shape, route.feature)):
                continue
            m = route.regex.match(path)
            if not m:
                continue
            if route.method == method:
                return route, m.groups(), None
            allowed.append((route, route.method))
        if allowed:
            return allowed[0][0], None, sorted({a for _r, a in allowed})
        return None, None, []


Match = tuple[Optional[Route], Optional[tuple[str, ...]], Optional[list[str]]]  # (route, params, allowed methods)
API = Router(API_ROUTES)
ADMIN = Router(ADMIN_ROUTES)
