"""Shared machinery of the sandbox servers: real HTTP on 127.0.0.1, routing, faults.

Each vendor sandbox (zendesk.py, freshdesk.py, helpscout.py, slack.py, anthropic.py)
subclasses `SandboxServer`, registers its routes and keeps its own data.  What is common
lives here: a threaded HTTP server on an OS-chosen port, a request log (every request,
for benchmarks and spec checks), a write log (what reached the "helpdesk"), fault
injection on request (429 bursts with or without Retry-After, 5xx, slow responses,
malformed JSON, dropped connections), and a per-minute request budget that answers 429.

These are test doubles of external SaaS written from the vendors' documentation, not
mocks of our code: the daemon talks to them over real sockets exactly as to the vendor.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent verbatim
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Fault:
    """One injected failure.  `kind`: 429, 500, 502, 503, slow, malformed, drop."""

    kind: str
    count: int = 1
    path_contains: str | None = None
    method: str | None = None
    retry_after: str | None = "1"  # None: a 429 without the header (Zendesk edge protection)
    delay: float = 0.0  # for `slow`
    body: Any = None  # optional error body for 429/5xx


@dataclass(slots=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    at: float
    body: Any = None


Handler = Callable[[Request], Response]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-response (timeout tests) are normal here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """A small vendor look-alike.  Subclasses call `route()` in their `__init__`."""

    vendor = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 requests_per_minute: int | None = None) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self.request_log: list[LoggedRequest] = []
        self.writes: list[dict[str, Any]] = []
        self.requests_per_minute = requests_per_minute
        self._window: deque[float] = deque()
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> SandboxServer:
        sandbox = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without it every keep-alive response waits ~40 ms for the client's ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                sandbox._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = _QuietServer((self._host, self._port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"sandbox-{self.vendor}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "sandbox not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- configuration -------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests_to(self, contains: str, method: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.request_log
                    if contains in r.path and (method is None or r.method == method)]

    def record_write(self, kind: str, **details: Any) -> None:
        with self._lock:
            self.writes.append({"kind": kind, "at": time.time(), **details})

    # -- hooks for subclasses ----------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """Return an error response when the request's credentials are wrong."""
        return None

    def rate_limit_headers(self, remaining: int | None) -> dict[str, str]:
        return {}

    def rate_limited(self, retry_after: int) -> Response:
        return Response(429, {"error": "rate_limited"}, {"Retry-After": str(retry_after)})

    def not_found(self) -> Response:
        return Response(404, {"error": "RecordNotFound", "description": "Not found"})

    # -- dispatch ------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains and fault.path_contains not in path:
                    continue
                if fault.method and fault.method != method:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _budget(self) -> tuple[int | None, int | None]:
        """(remaining, retry_after): retry_after set when over the per-minute budget."""
        if self.requests_per_minute is None:
            return None, None
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 60:
                self._window.popleft()
            if len(self._window) >= self.requests_per_minute:
                return 0, max(1, int(60 - (now - self._window[0])) + 1)
            self._window.append(now)
            return self.requests_per_minute - len(self._window), None

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(
            method=http.command, path=parts.path, query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in http.headers.items()}, body=body)
        response = self._respond(request)
        if response is None:  # dropped connection
            http.close_connection = True
            with contextlib.suppress(OSError):
                http.connection.shutdown(2)
            return
        logged_body: Any
        try:
            logged_body = request.json()
        except ValueError:
            logged_body = body.decode("utf-8", "replace")
        with self._lock:
            self.request_log.append(LoggedRequest(request.method, request.path, request.query,
                                                  response.status, time.time(), logged_body))
        payload = response.body if isinstance(response.body, bytes) else (
            b"" if response.body is None else json.dumps(response.body).encode())
        http.send_response(response.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        for name, value in headers.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        if payload:
            http.wfile.write(payload)

    def _respond(self, request: Request) -> Response | None:
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            if fault.kind == "drop":
                return None
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "malformed":
                return Response(200, b'{"truncated": [1, 2', {})
            elif fault.kind == "429":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return Response(429, fault.body if fault.body is not None
                                else {"error": "APIRateLimitExceeded"}, headers)
            else:
                status = int(fault.kind)
                return Response(status, fault.body if fault.body is not None
                                else {"error": "InternalError"}, {})
        remaining, retry_after = self._budget()
        if retry_after is not None:
            return self.rate_limited(retry_after)
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match is None:
                continue
            request.match = match
            try:
                response = handler(request)
            except (ValueError, KeyError, TypeError) as exc:
                response = Response(400, {"error": "InvalidRequest",
                                          "description": type(exc).__name__})
            response.headers.update(self.rate_limit_headers(remaining))
            return response
        return self.not_found()
