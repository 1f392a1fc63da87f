"""HTTP(S) front: stdlib ThreadingHTTPServer, TLS handshake in the connection thread, logging; faults through ``Faults.around``."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import routes
from .app import App
from .errors import NOT_FOUND, UNEXPECTED_RESULT, ApiError
from .faults import Drop
from .request import Req
from .responses import Resp, error_resp
from .routes import Match

MAX_BODY = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "certctrl-emulator/0.1"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        try:  # headers and body are separate writes: avoid the Nagle / delayed-ACK 40 ms stall
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, fmt: str, *args: Any) -> None:  # the JSON request log replaces the stderr access log
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True

    def _dispatch(self) -> None:
        app: App = self.server.app
        started = time.monotonic()
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        method = self.command
        is_admin = path == "/_admin" or path.startswith("/_admin/")
        entry: dict[str, Any] = {"method": method, "path": path, "route": None, "key": None}
        try:
            resp = self._answer(Req(app, method, path, query, self.headers, self._read_body()), entry, is_admin)
        except Drop:
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

    def _answer(self, req: Req, entry: dict[str, Any], is_admin: bool) -> Resp:
        """Route the request, then handle it through the fault layer (the admin API has no faults)."""
        app: App = self.server.app
        router = routes.ADMIN if is_admin else routes.API
        match = router.match(req.method, req.path, app.shape)
        if match[0] is not None:
            entry["route"] = f"{req.method} {match[0].template}"

        def handle() -> Resp:
            return _handle(app, req, match, entry, is_admin)

        if is_admin:
            return handle()
        return app.faults.around(req.method, req.path, handle, app.shape.method_not_allowed_code)

    def _read_body(self) -> bytes:
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

    def _send(self, resp: Resp) -> int:
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

    def _log(self, entry: dict[str, Any], started: float, sent: int, is_admin: bool) -> None:
        if is_admin:
            return
        entry["bytes"] = sent
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        entry["ts"] = round(time.time(), 3)
        if entry["route"] is None:
            entry["route"] = "{} (unmatched)".format(entry["method"])
        self.server.app.log.record({k: entry.get(k) for k in ("ts", "method", "path", "route", "status", "bytes", "duration_ms", "key")})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


def _handle(app: App, req: Req, match: Match, entry: dict[str, Any], is_admin: bool) -> Resp:
    """The handler's answer (an API error becomes its error answer): 404 / 405, auth and the rate limit first."""
    route, params, allowed = match
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
            app.auth.check_admin(req)
        elif route.auth:
            key = app.auth.authenticate(req)
            entry["key"] = key["name"]
            app.limiter.enforce(key["name"])
        return route.handler(req)
    except ApiError as err:
        return error_resp(err)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], app: App, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(addr, Handler)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        if self.ssl_context is not None:
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        traceback.print_exc(file=sys.stderr)

    def url(self, scheme: str) -> str:
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{port}"


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class Running:
    """One or two listening servers (HTTPS + plain HTTP, or plain HTTP only) on threads."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None, http_port: int = 0) -> None:
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

    def start(self) -> Running:
        for srv in self.servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        stoppers = [threading.Thread(target=srv.shutdown) for srv in self.servers]
        for t in stoppers:
            t.start()
        for t in stoppers + self.threads:
            t.join(timeout=5)
        for srv in self.servers:
            srv.server_close()
