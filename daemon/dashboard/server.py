"""The dashboard's HTTP server: stdlib `ThreadingHTTPServer` in a thread, GET only.

Read-only by construction: GET (and HEAD) are answered, every other method is 405.
Access: with `dashboard.token` set, a request needs `Authorization: Bearer <token>` or
the session cookie that `?token=<token>` sets once (the browser is then redirected to
the same URL without the token, so it stays out of history and server logs).  Without a
token the server only binds loopback (check-config refuses otherwise) and only answers
requests whose Host is a loopback name, so a web page elsewhere cannot reach it through
DNS rebinding.  Every response carries a Content Security Policy that allows nothing but
this origin and no script at all, and `Cache-Control: no-store` (pages hold customer text).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from daemon.dashboard.pages import Page, Pages
from daemon.logs import get_logger
from daemon.served import ServedInThread

log = get_logger("sentinel.dashboard")

COOKIE = "sentinel_dashboard"
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'none'; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie never is the token."""
    return hmac.new(token.encode(), b"helpdesk-sentinel dashboard session",
                    hashlib.sha256).hexdigest()


def _host_name(host: str) -> str:
    """The name part of a Host header (`[::1]:8765` -> `[::1]`, `a:80` -> `a`)."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class _Handler(BaseHTTPRequestHandler):
    server: DashboardHTTPServer
    timeout = 30  # a client that sends nothing does not hold a thread forever
    protocol_version = "HTTP/1.1"
    server_version = "helpdesk-sentinel"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _refuse_method(self) -> None:
        self._send(Page(405, b"read-only: GET only\n", "text/plain; charset=utf-8"),
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _answer(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        token = self.server.token
        if token is None:
            if _host_name(self.headers.get("Host") or "") not in LOOPBACK_HOSTS:
                self._send(Page(421, b"this dashboard answers loopback names only\n",
                                "text/plain; charset=utf-8"), send_body=send_body)
                return
        else:
            offered = query.pop("token", None)
            if offered is not None and hmac.compare_digest(offered.encode(), token.encode()):
                location = url.path + ("?" + urlencode(query) if query else "")
                self._send(Page(303, b""), send_body=send_body, extra={
                    "Location": location,
                    "Set-Cookie": f"{COOKIE}={session_value(token)}; HttpOnly; "
                                  "SameSite=Strict; Path=/"})
                return
            if not self._authorised(token):
                self._send(Page(401, b"Sign in: open the dashboard once with ?token=<the "
                                     b"configured dashboard.token>, or send Authorization: "
                                     b"Bearer <token>.\n", "text/plain; charset=utf-8"),
                           send_body=send_body, extra={"WWW-Authenticate": "Bearer"})
                return
        try:
            page = self.server.pages.render(url.path, query)
        except Exception:
            log.exception("dashboard_error", path=url.path)
            page = Page(500, b"internal error; see the daemon's log\n",
                        "text/plain; charset=utf-8")
        self._send(page, send_body=send_body)

    def _authorised(self, token: str) -> bool:
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer ") and hmac.compare_digest(
                header[len("Bearer "):].strip().encode(), token.encode()):
            return True
        expected = session_value(token)
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and hmac.compare_digest(value.encode(), expected.encode()):
                return True
        return False

    def _send(self, page: Page, send_body: bool = True,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(page.body)

    def log_message(self, format: str, *args: Any) -> None:
        # The stdlib would print the request line, query string (a token) and all.
        return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("dashboard_request", method=self.command,
                  path=urlsplit(self.path).path[:200], status=code)


class DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], pages: Pages, token: str | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.pages = pages
        self.token = token


@dataclass(slots=True)
class DashboardServer(ServedInThread):
    """A running dashboard; `close()` stops it and frees the port."""


def start_server(pages: Pages, addr: str, port: int, token: str | None,
                 on_start: Callable[[DashboardServer], None] | None = None) -> DashboardServer:
    """Serve `pages` on addr:port (port 0: the OS picks one) in a background thread."""
    httpd = DashboardHTTPServer((addr, port), pages, token)
    thread = threading.Thread(target=httpd.serve_forever, name="dashboard", daemon=True)
    thread.start()
    server = DashboardServer(httpd, thread)
    if on_start is not None:
        on_start(server)
    return server
