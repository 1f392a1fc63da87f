# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the cjj365.certctrl collection: no compatibility promise for other users.
# The one HTTP client of the collection. Modules reach it through _module.py, plugins through
# plugin_utils/_client.py; nothing here knows which side it runs on.

import datetime
import email.utils
import ipaddress
import math
import os
import random
import re
import time
import typing as t
import urllib.parse
import warnings

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION

from ansible_collections.cjj365.certctrl.plugins.module_utils._errors import (
    CertCtrlError,
    InvalidResponseError,
    TransportError,
    api_error,
)

try:
    import requests
    from requests.exceptions import ConnectTimeout, ReadTimeout, SSLError
    from requests.structures import CaseInsensitiveDict
except ImportError as exc:  # pragma: no cover - reported by the adapters with missing_required_lib
    requests = None
    REQUESTS_IMPORT_ERROR: t.Optional[Exception] = exc
else:
    REQUESTS_IMPORT_ERROR = None

# galaxy.yml's version, written here because modules run where galaxy.yml is not; tests/unit/test_version_claims.py keeps the two equal.
COLLECTION_VERSION = "0.1.0"
USER_AGENT = f"cjj365.certctrl/{COLLECTION_VERSION} ansible-core/{ANSIBLE_VERSION}"
DEFAULT_API_URL = "https://api.cjj365.cc"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # the largest page the lookup and the inventory let a user ask for
# Answers after which a request may be sent again: the server (or a proxy) did not do the work now.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# The one retryable answer that also says the server did not act: even a POST may be sent again after it.
RATE_LIMITED = 429
# Answers to a write that may hide a success (the server may have acted before failing): re-read before sending again.
UNCERTAIN_STATUSES = frozenset({500, 502, 503, 504})
# Page sizes a server may cap a list at without saying so (the contract's default limit, the updates endpoint's cap...).
LIKELY_PAGE_CAPS = frozenset({50, 100, 200, 250, 500, 1000})
_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")
# Visible ASCII only: whitespace, control or non-ASCII characters in a key are a pasting accident.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
# A JSON string field holding key material, possibly cut off by a truncated answer: its value is redacted in messages.
_SECRET_JSON_FIELD = re.compile(r'("(?:der|private_key\w*|key_pem|privkey\w*|enc_privkey\w*)"\s*:\s*")[^"]*("?)')
_PRIVATE_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
_VERIFY_FAILED = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|CertificateError|doesn.t match", re.IGNORECASE)


class RetryPolicy:
    """When and how long to wait before sending a request again."""

    def __init__(
        self,
        retries: int = 5,
        statuses: frozenset = RETRYABLE_STATUSES,
        backoff_base: float = 0.5,  # seconds; attempt n waits up to base * 2**n (full jitter)
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,  # a server's Retry-After is honoured up to this many seconds
    ) -> None:
        self.retries = retries
        self.statuses = statuses
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max

    def delay(self, attempt: int, retry_after: t.Optional[float]) -> float:
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(retry_after, 0.0), self.retry_after_max)
        # The exponent is capped: 2**attempt overflows a float long before it matters.
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** min(max(attempt, 0), 32))))


def parse_retry_after(value: t.Optional[str]) -> t.Optional[float]:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 10.2.3); None for anything else."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is always UTC
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


class Download:
    def __init__(self, content: bytes, headers: t.Mapping[str, str]) -> None:
        self.content = content
        self.headers = headers  # case-insensitive: proxies (HTTP/2) may lower-case header names


class Page:
    def __init__(self, items: t.List[t.Any], meta: t.Optional[t.Dict[str, t.Any]]) -> None:
        self.items = items
        self.meta = meta  # the envelope's meta ({"total", "offset", "limit"}) when the server sends one


class _Answer:
    def __init__(self, data: t.Any, meta: t.Optional[t.Dict[str, t.Any]]) -> None:
        self.data = data
        self.meta = meta


class _Retryable(Exception):
    """Internal: one attempt failed in a way that may succeed when sent again."""

    def __init__(self, error: CertCtrlError, retry_after: t.Optional[float] = None, sent: bool = True) -> None:
        super().__init__(error.msg)
        self.error = error
        self.retry_after = retry_after
        self.sent = sent  # False when the server cannot have acted on the request


class CertCtrlClient:
    """A requests.Session with the API's conventions: bearer auth, TLS options, retries, error envelope.

    GET, PUT and DELETE are retried on connection errors and on 429/502/503/504. A POST is re-sent only
    when the server certainly did not act on it (429, or the connection was never established);
    callers re-read the state after any other failure of a create.
    """

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        api_key: t.Optional[str] = None,
        validate_certs: bool = True,
        ca_path: t.Optional[str] = None,
        timeout: float = 30,
        retry_policy: t.Optional[RetryPolicy] = None,
        on_retry: t.Optional[t.Callable[[str], None]] = None,
        sleep: t.Callable[[float], None] = time.sleep,
        warn: t.Optional[t.Callable[[str], None]] = None,
    ) -> None:
        if requests is None:
            raise CertCtrlError("the Python library 'requests' is required", exception=str(REQUESTS_IMPORT_ERROR))
        if not api_key or not api_key.strip():
            raise CertCtrlError("api_key is required: set the api_key option or the CERTCTRL_API_KEY environment variable")
        api_key = api_key.strip()
        if not _TOKEN_CHARS.fullmatch(api_key):
            # requests would refuse the header with the whole value in its message: never let that happen.
            raise CertCtrlError("api_key contains whitespace, control or non-ASCII characters; check how it was copied")
        if validate_certs and ca_path and not os.path.exists(ca_path):
            raise CertCtrlError(f"ca_path {ca_path!r} does not exist; set it to the PEM CA bundle that signed the server certificate")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
            raise CertCtrlError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.policy = retry_policy or RetryPolicy()
        if self.policy.retries < 0:
            raise CertCtrlError(f"retries must be 0 or more (0 sends each request once), got {self.policy.retries!r}")
        self.api_url = normalize_api_url(api_url)
        if cleartext(self.api_url) and warn is not None:
            warn(
                f"api_url {self.api_url} uses plain http: the API key and every answer travel unencrypted over the network;"
                " use https (plain http is accepted without this warning only on a loopback address)"
            )
        self.timeout = timeout
        self._on_retry = on_retry or (lambda msg: None)
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"})
        # Passed with every request too: a session-level verify loses against REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
        # (requests merges the environment first), which would silently ignore ca_path and validate_certs=false.
        self._verify: t.Union[bool, str] = (ca_path or True) if validate_certs else False
        self.session.verify = self._verify
        self._secret = api_key
        # Counted for benchmarks and for tests that measure work, not time.
        self.stats = {"requests": 0, "retries": 0}

    # -- public verbs -------------------------------------------------------------------------

    def get(self, path: str, params: t.Optional[t.Dict[str, t.Any]] = None) -> t.Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: t.Any = None) -> t.Any:
        return self.request("POST", path, body={} if body is None else body)

    def put(self, path: str, body: t.Any) -> t.Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> t.Any:
        return self.request("DELETE", path)

    def get_page(self, path: str, params: t.Optional[t.Dict[str, t.Any]] = None) -> Page:
        """GET one page of a list: its items and the envelope's ``meta`` (``total``, ``offset``, ``limit``) when sent."""
        answer = self._with_retries("GET", path, lambda: self._json_once("GET", path, params, None))
        if not isinstance(answer.data, list):
            raise InvalidResponseError(f"GET {path} answered {type(answer.data).__name__} where a list was expected", path=path)
        return Page(items=answer.data, meta=answer.meta)

    def iter_items(
        self, path: str, params: t.Optional[t.Mapping[str, t.Any]] = None, *, page_size: int = DEFAULT_PAGE_SIZE, limit: t.Optional[int] = None
    ) -> t.Iterator[t.Any]:
        """The items of a list endpoint, page by page (offset/limit), at most ``limit`` of them.

        The end of the list: ``meta.total`` when the server sends it; otherwise an empty page, or a page shorter than
        the page size in force. A server may cap the page size silently (production-shape row 4): a ``meta.limit``
        smaller than asked is that cap, and without meta a short page of a usual cap's length (100...) is followed by
        one more request, so a cap is never taken for the end.
        """
        base = dict(params or {})
        offset, cap = 0, None
        while limit is None or offset < limit:
            want = page_size if limit is None else min(page_size, limit - offset)
            page = self.get_page(path, {**base, "offset": offset, "limit": want})
            items = page.items
            yield from items
            offset += len(items)
            if not items:
                return
            total = _meta_int(page.meta, "total")
            if total is not None:
                if offset >= total:
                    return
                continue
            echoed = _meta_int(page.meta, "limit")
            if echoed is not None and 0 < echoed < want:
                cap = echoed
            in_force = min(want, cap) if cap else want
            if len(items) < in_force:
                if cap is None and len(items) in LIKELY_PAGE_CAPS:
                    cap = len(items)  # maybe the server's silent cap: the next page tells
                    continue
                return

    def paginate(
        self, path: str, params: t.Optional[t.Dict[str, t.Any]] = None, *, page_size: int = DEFAULT_PAGE_SIZE, limit: t.Optional[int] = None
    ) -> t.List[t.Any]:
        """Every item of a list endpoint (see ``iter_items``), or the first ``limit`` items."""
        return list(self.iter_items(path, params, page_size=page_size, limit=limit))

    def download(self, path: str, *, max_bytes: int, headers: t.Optional[t.Dict[str, str]] = None) -> Download:
        """GET a binary body (the bundle zip, whose limit is _resources.BUNDLE_MAX_BYTES), refusing anything larger than ``max_bytes``."""
        return self._with_retries("GET", path, lambda: self._download_once(path, max_bytes, headers or {}))

    def request(self, method: str, path: str, *, params: t.Optional[t.Dict[str, t.Any]] = None, body: t.Any = None) -> t.Any:
        """Send one API request and return the ``data`` of the answer (None for 204 or an empty body)."""
        return self._with_retries(method, path, lambda: self._json_once(method, path, params, body)).data

    def close(self) -> None:
        self.session.close()

    # -- one attempt ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: t.Any) -> "requests.Response":
        if not path.startswith("/"):
            path = "/" + path
        self.stats["requests"] += 1
        try:
            with warnings.catch_warnings():
                # validate_certs=false is the user's explicit choice; urllib3's warning would only add noise.
                warnings.simplefilter("ignore")
                response = self.session.request(method, self.api_url + path, timeout=self.timeout, allow_redirects=False, verify=self._verify, **kwargs)
        except (requests.exceptions.RequestException, OSError) as exc:
            raise self._transport_failure(method, path, exc) from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location", "?")
            raise InvalidResponseError(
                f"{method} {path}: the server answered HTTP {response.status_code} redirecting to {location};"
                " redirects are not followed, set api_url to the API's final address",
                status=response.status_code,
                method=method,
                path=path,
            )
        if response.status_code >= 400:
            error = _error_from(response, method, path, self._scrub)
            if response.status_code in self.policy.statuses:
                raise _Retryable(error, retry_after=parse_retry_after(response.headers.get("Retry-After")), sent=response.status_code != RATE_LIMITED)
            raise error
        return response

    def _transport_failure(self, method: str, path: str, exc: Exception) -> Exception:
        """The exception to raise for a request that got no HTTP answer: ``_Retryable`` when sending it again may help."""
        where = f"{method} {path}"
        if isinstance(exc, SSLError):
            if _VERIFY_FAILED.search(str(exc)):
                return TransportError(
                    f"{where}: TLS verification of {self.api_url} failed ({self._scrub(_tls_reason(exc))}); set ca_path to the CA"
                    " bundle that signed the server certificate (validate_certs=false disables the check, not recommended)",
                    method=method,
                    path=path,
                )
            # Not a certificate problem (wrong port or scheme, connection cut mid-handshake): a transport error.
            return _Retryable(TransportError(f"{where}: TLS connection to {self.api_url} failed: {self._scrub(_tls_reason(exc))}", method=method, path=path))
        if isinstance(exc, ConnectTimeout):
            error = TransportError(f"{where}: connecting to {self.api_url} timed out after {self.timeout} s", method=method, path=path)
            return _Retryable(error, sent=False)
        if isinstance(exc, ReadTimeout):
            return _Retryable(TransportError(f"{where}: no answer from {self.api_url} within {self.timeout} s (timeout option)", method=method, path=path))
        if isinstance(exc, requests.exceptions.ConnectionError):
            error = TransportError(f"{where}: connection to {self.api_url} failed: {self._scrub(_short(exc))}", method=method, path=path)
            return _Retryable(error, sent=not _never_connected(exc))
        return TransportError(f"{where}: request failed: {self._scrub(_short(exc))}", method=method, path=path)

    def _json_once(self, method: str, path: str, params: t.Optional[t.Dict[str, t.Any]], body: t.Any) -> _Answer:
        response = self._send(method, path, params=params, json=body) if body is not None else self._send(method, path, params=params)
        if response.status_code == 204 or not response.content:
            return _Answer(None, None)
        try:
            payload = response.json()
        except ValueError:
            raise _Retryable(
                InvalidResponseError(
                    f"{method} {path}: HTTP {response.status_code} answer is not valid JSON (truncated or malformed): {self._scrub(response.text[:120])!r}",
                    status=response.status_code,
                    method=method,
                    path=path,
                )
            ) from None
        if isinstance(payload, dict) and "data" in payload:
            meta = payload.get("meta")
            return _Answer(payload["data"], meta if isinstance(meta, dict) else None)
        return _Answer(payload, None)

    def _download_once(self, path: str, max_bytes: int, headers: t.Dict[str, str]) -> Download:
        response = self._send("GET", path, headers={"Accept": "*/*", **headers}, stream=True)
        try:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise _too_large(path, max_bytes)
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(path, max_bytes)
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise _Retryable(TransportError(f"GET {path}: download interrupted: {self._scrub(_short(exc))}", method="GET", path=path)) from None
        finally:
            response.close()
        return Download(content=b"".join(chunks), headers=CaseInsensitiveDict(response.headers))

    def _scrub(self, text: str) -> str:
        """Library and server texts end up in messages: make sure the API key and key material never do
        (a truncated certificate record may carry its ``der``, the private key DER in production)."""
        text = text.replace(self._secret, "<api_key>") if self._secret else text
        return _PRIVATE_PEM.sub("<redacted private key>", _SECRET_JSON_FIELD.sub(r"\1<redacted>\2", text))

    # -- retries -------------------------------------------------------------------------------

    def _with_retries(self, method: str, path: str, attempt_once: t.Callable[[], t.Any]) -> t.Any:
        attempt = 0
        while True:
            try:
                return attempt_once()
            except _Retryable as retryable:
                # A POST may have been acted on unless the server said 429 or we never connected.
                if method == "POST" and retryable.sent:
                    raise retryable.error from None
                if attempt >= self.policy.retries:
                    raise retryable.error from None
                delay = self.policy.delay(attempt, retryable.retry_after)
                attempt += 1
                self.stats["retries"] += 1
                self._on_retry(f"{retryable.error.msg}; retry {attempt}/{self.policy.retries} in {delay:.1f} s")
                self._sleep(delay)


def normalize_api_url(api_url: t.Any) -> str:
    """The base URL without trailing slashes or ``/apiv1`` (the paths add it); anything but http(s)://host is an error."""
    text = str(api_url or "").strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CertCtrlError(f"api_url must be an http:// or https:// URL such as {DEFAULT_API_URL}, got {text!r}")
    if parts.query or parts.fragment:
        raise CertCtrlError(f"api_url must not have a query string or fragment, got {text!r}")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/apiv1"):
        path = path[: -len("/apiv1")]  # the documented form is without /apiv1; accept the common mistake
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, path, "", ""))


def cleartext(api_url: str) -> bool:
    """True when requests to ``api_url`` would leave this machine unencrypted (plain http to a non-loopback host)."""
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme != "http":
        return False
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def check_page_size(page_size: int) -> int:
    """A page size a user asked for (lookup, inventory), or an error naming the range the client accepts."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise CertCtrlError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
    return page_size


def _error_from(response: "requests.Response", method: str, path: str, scrub: t.Callable[[str], str]) -> CertCtrlError:
    try:
        envelope = response.json()["error"]
        code, what = envelope.get("code"), str(envelope.get("what") or envelope.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        ctype = response.headers.get("Content-Type", "no content type")
        code, what = None, f"(no error envelope; {ctype} body starts {response.text[:120]!r})"
    body = scrub(response.text[:500]) if response.content else ""
    return api_error(status=response.status_code, code=code, what=scrub(what), method=method, path=path, reason=response.reason or "", body=body)


def _meta_int(meta: t.Optional[t.Dict[str, t.Any]], name: str) -> t.Optional[int]:
    """An integer field of a list's ``meta``; None when absent or not a non-negative integer."""
    value = (meta or {}).get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _never_connected(exc: Exception) -> bool:
    """True when the TCP connection was never established, so the server cannot have seen the request."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text or "Name or service not known" in text


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _tls_reason(exc: Exception) -> str:
    """The OpenSSL reason ("certificate verify failed: self-signed certificate ...") without urllib3's wrapping."""
    found = re.search(r"\[SSL[^\]]*\]\s*(.+?)\s*(?:\(_ssl\.c:\d+\)|'\)|$)", str(exc))
    return found.group(1).strip() if found else _short(exc)


def _too_large(path: str, max_bytes: int) -> InvalidResponseError:
    return InvalidResponseError(f"GET {path}: the download is larger than the {max_bytes} byte limit; refusing it", path=path)


__all__ = [
    "COLLECTION_VERSION",
    "DEFAULT_API_URL",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "RATE_LIMITED",
    "RETRYABLE_STATUSES",
    "UNCERTAIN_STATUSES",
    "USER_AGENT",
    "CertCtrlClient",
    "Download",
    "Page",
    "RetryPolicy",
    "check_page_size",
    "cleartext",
    "normalize_api_url",
    "parse_retry_after",
]
