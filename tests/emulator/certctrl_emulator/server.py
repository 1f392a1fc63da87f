"""HTTP(S) front: stdlib ThreadingHTTPServer, TLS handshake in the connection thread, faults, logging."""

import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import routes
from .app import Req, Resp, error_resp, json_resp
from .errors import NOT_FOUND, RATE_LIMITED, UNEXPECTED_RESULT, ApiError

MAX_BODY = 1024 * 1024
STATUS_CODES = {429: RATE_LIMITED, 404: NOT_FOUND}


class _Drop(Exception):
    """Close the connection without answering."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "certctrl-emulator/0.1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    sys_version = ""

    def setup(self):
        super().setup()
        try:  # headers and body are separate writes: avoid the Nagle / delayed-ACK 40 ms stall
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # the JSON request log replaces the stderr access log
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True

    def _dispatch(self):
        app = self.server.app
        started = time.monotonic()
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        method = self.command
        is_admin = path == "/_admin" or path.startswith("/_admin/")
        entry = {"method": method, "path": path, "route": None, "key": None}
        resp = None
        try:
            raw = self._read_body()
            req = Req(app, method, path, query, self.headers, raw)
            fault = None if is_admin else app.faults.match(method, path)
            resp = self._handle(req, fault, entry, is_admin)
            if fault is not None and fault.kind in ("drop_after", "malformed") and resp.stream is not None:
                resp.stream.close()
                resp.stream, resp.body = None, b'{"data": '
            if fault is not None and fault.kind == "drop_after":
                raise _Drop()
            if fault is not None and fault.kind == "malformed":
                text = resp.body
                cut = text[: max(9, len(text) // 2)] if text else b'{"data": '
                resp = Resp(200, cut, headers={})
        except _Drop:
            entry["status"] = 0
            self.close_connection = True
            self._log(entry, started, 0, is_admin)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        except ApiError as err:
            resp = error_resp(err)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            resp = error_resp(ApiError(500, UNEXPECTED_RESULT, "internal emulator error (details on its stderr)"))
        entry["status"] = resp.status
        # logged before sending, so a client that got its answer always finds it in the counters
        self._log(entry, started, 0 if method == "HEAD" or resp.status == 204 else resp.length, is_admin)
        self._send(resp)

    def _handle(self, req, fault, entry, is_admin):
        app = self.server.app
        router = routes.ADMIN if is_admin else routes.API
        route, params, allowed = router.match(req.method, req.path, app.shape)
        if route is not None:
            entry["route"] = f"{req.method} {route.template}"
        if fault is not None:
            if fault.kind == "drop":
                raise _Drop()
            if fault.kind == "slow":
                time.sleep(fault.delay)
            if fault.kind == "status":
                headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                code = app.shape.method_not_allowed_code if fault.status == 405 else STATUS_CODES.get(fault.status, UNEXPECTED_RESULT)
                return json_resp(fault.status, {"error": {"code": code, "what": f"injected fault: HTTP {fault.status}"}}, headers)
        try:
            if route is None:
                raise ApiError(404, NOT_FOUND, f"no route for {req.method} {req.path}")
            if allowed:
                raise ApiError(
                    405,
                    app.shape.method_not_allowed_code,
                    "method {} not allowed on {} (allowed: {})".format(req.method, route.template, ", ".join(allowed)),
                    {"Allow": ", ".join(allowed)},
                )
            req.params = params
            if is_admin:
                app.check_admin(req)
            elif route.auth:
                app.authenticate(req)
                entry["key"] = req.key["name"]
                retry = app.limiter.check(req.key["name"])
                if retry is not None:
                    raise ApiError(
                        429,
                        RATE_LIMITED,
                        "rate limited: API key '{}' exceeded {} requests per {:g} s".format(req.key["name"], app.limiter.limit, app.limiter.window),
                        {"Retry-After": str(retry)},
                    )
            return route.handler(req)
        except ApiError as err:
            return error_resp(err)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        if not length:
            return b""
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, 5000, "request body too large")
        return self.rfile.read(n)

    def _send(self, resp):
        self.send_response(resp.status)
        if resp.ctype and resp.status != 204:
            self.send_header("Content-Type", resp.ctype)
        for k, val in resp.headers.items():
            self.send_header(k, val)
        if resp.status != 204:
            self.send_header("Content-Length", str(resp.length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD" or resp.status == 204:
            if resp.stream:
                resp.stream.close()
            return 0
        if resp.stream is None:
            self.wfile.write(resp.body)
            return len(resp.body)
        sent = 0
        try:
            while True:
                chunk = resp.stream.read(256 * 1024)
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        finally:
            resp.stream.close()
        return sent

    def _log(self, entry, started, sent, is_admin):
        if is_admin:
            return
        entry["bytes"] = sent
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        entry["ts"] = round(time.time(), 3)
        if entry["route"] is None:
            entry["route"] = "{} (unmatched)".format(entry["method"])
        self.server.app.record({k: entry.get(k) for k in ("ts", "method", "path", "route", "status", "bytes", "duration_ms", "key")})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, app, ssl_context=None):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        traceback.print_exc(file=sys.stderr)

    def url(self, scheme):
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{port}"


def tls_context(cert_file, key_file):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class Running:
    """One or two listening servers (HTTPS + plain HTTP, or plain HTTP only) on threads."""

    def __init__(self, app, host="127.0.0.1", port=0, tls=None, http_port=0):
        self.app = app
        self.servers = []
        if tls:
            self.main = Server((host, port), app, tls_context(*tls))
            self.plain = Server((host, http_port), app)
            self.servers = [self.main, self.plain]
            self.base_url = self.main.url("https")
            self.http_url = self.plain.url("http")
        else:
            self.main = Server((host, port), app)
            self.plain = None
            self.servers = [self.main]
            self.base_url = self.main.url("http")
            self.http_url = None
        self.threads = []

    def start(self):
        for srv in self.servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        stoppers = [threading.Thread(target=srv.shutdown) for srv in self.servers]
        for t in stoppers:
            t.start()
        for t in stoppers + self.threads:
            t.join(timeout=5)
        for srv in self.servers:
            srv.server_close()
