"""The one HTTP layer every connector and notifier uses.

It owns what must be right once and never again per vendor: a timeout on every call,
an overall deadline per request and a cap on the response size (see "Deadlines" below),
the classification of failures into `RetriableError` / `FatalError`, waits that come from
the server (`Retry-After`, `X-RateLimit-Retry-After`, both the seconds and the HTTP-date
form, capped), a per-client "not before" time so no request is sent before a server's
Retry-After elapsed, named request budgets (Zendesk's 10-per-minute incremental exports),
no redirects followed with credentials, and error messages that carry neither secrets nor
customer text (method, host, path and status only).

Short waits (up to `RetryPolicy.max_inline_wait`) are slept here, inside the call; longer
ones surface as `RetriableError(retry_after=...)` so the scheduler can move on and the
source is polled again later.  The clock and the sleep are injectable for tests.  The
policy, Retry-After parsing and budgets are in `connectors.waits`.

Every attempt has a wall-clock deadline (`RetryPolicy.deadline`, `connectors.deadline`)
and a body cap (`RetryPolicy.max_response_bytes`, after decompression).  `close()` also
cuts requests in flight, and at shutdown `stop_all_clients(grace)` stops every client:
nothing new is sent or retried, and what is in flight gets `grace` seconds before it is
cut.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import AuthError, FatalError, RetriableError
from connectors.deadline import Watchdog, WatchedAdapter, read_capped, watch
from connectors.waits import Clock, RateBudget, RetryPolicy, Sleep, parse_retry_after

__all__ = ["Clock", "RateBudget", "RetryPolicy", "Sleep", "parse_retry_after"]  # and below


@dataclass(slots=True)
class RequestLog:
    """Counts what went over the wire: for benchmarks, metrics and tests."""

    total: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def record(self, status: int) -> None:
        self.total += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


class ResponseTooLarge(RetriableError):
    """A body over `RetryPolicy.max_response_bytes`; retried later, never held in memory."""


#: Every client alive, so that shutdown can stop them all (`stop_all_clients`).
_CLIENTS: weakref.WeakSet[HttpClient] = weakref.WeakSet()
_CLIENTS_LOCK = threading.Lock()


def stop_all_clients(grace: float = 5.0) -> None:
    """Shutdown: no request starts or is retried any more, and the ones in flight get
    `grace` seconds to finish before their sockets are cut.  Whatever was cut fails with
    a RetriableError: nothing it would have read is consumed, a write is retried later."""
    with _CLIENTS_LOCK:
        clients = list(_CLIENTS)
    for client in clients:
        client.stop(grace)


class HttpClient:
    """A `requests.Session` with the project's timeout, retry and error rules.

    `auth` returns the headers to send (called per attempt so a token can be renewed);
    `on_unauthorized` is called once on a 401 and returns True when new credentials were
    obtained, in which case the request is tried once more (Help Scout's token expiry).
    """

    def __init__(
        self,
        base_url: str,
        *,
        vendor: str,
        auth: Callable[[], Mapping[str, str]] | None = None,
        on_unauthorized: Callable[[], bool] | None = None,
        policy: RetryPolicy | None = None,
        retry_after_headers: tuple[str, ...] = ("Retry-After",),
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        user_agent: str = "helpdesk-sentinel/0.1",
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.vendor = vendor
        self.policy = policy or RetryPolicy()
        self._auth = auth
        self._on_unauthorized = on_unauthorized
        self._retry_after_headers = retry_after_headers
        self._clock = clock
        self._sleep = sleep
        self._session = session or requests.Session()
        adapter = WatchedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._in_flight: set[Watchdog] = set()
        self._in_flight_lock = threading.Lock()
        self._stopping = threading.Event()
        with _CLIENTS_LOCK:
            _CLIENTS.add(self)
        self._session.headers["User-Agent"] = user_agent
        self._session.trust_env = False  # no proxy/netrc surprises carrying credentials
        self._not_before = 0.0
        self.log = RequestLog()

    # -- public -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections, cutting any request still in flight (shutdown)."""
        self._stopping.set()
        self._cut_in_flight()
        self._session.close()

    def stop(self, grace: float) -> None:
        """Start no request and retry none from now on; cut those in flight after `grace`."""
        self._stopping.set()
        cutter = threading.Timer(grace, self._cut_in_flight)
        cutter.daemon = True
        cutter.start()

    def _cut_in_flight(self) -> None:
        with self._in_flight_lock:
            cutting = list(self._in_flight)
        for watchdog in cutting:
            watchdog.fire()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def not_before(self) -> float:
        """Wall-clock time before which this client will not send (a server asked)."""
        return self._not_before

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None,
                 budgets: tuple[RateBudget, ...] = ()) -> Any:
        return self.request_json("GET", path, params=params, budgets=budgets)

    def request_json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                     json: Any = None, budgets: tuple[RateBudget, ...] = ()) -> Any:
        """Send and decode a JSON body; an undecodable body is retriable (parked later)."""
        response = self.request(method, path, params=params, json=json, budgets=budgets)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RetriableError(
                f"{self.vendor}: {method} {self._where(path)} returned a body that is not JSON"
            ) from None

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, budgets: tuple[RateBudget, ...] = (),
                authenticated: bool = True) -> requests.Response:
        """One logical request with retries; returns a 2xx response or raises."""
        url = self.url(path)
        where = self._where(url)
        reauthenticated = False
        last: RetriableError | None = None
        for attempt in range(self.policy.attempts):
            if self._stopping.is_set():
                raise RetriableError(f"{self.vendor}: {method} {where} not sent: stopping")
            self._wait_for_permission(budgets, where)
            headers = dict(self._auth()) if (self._auth and authenticated) else {}
            for budget in budgets:
                budget.spend()
            try:
                response = self._send(method, url, where, params=params, json=json, data=data,
                                      headers=headers)
            except ResponseTooLarge:
                raise
            except RetriableError as exc:
                last = exc
            else:
                self.log.record(response.status_code)
                if response.status_code == 401 and not reauthenticated and self._on_unauthorized:
                    reauthenticated = True
                    if self._on_unauthorized():
                        continue  # new credentials: the same attempt once more
                last = self._failure(response, method, where)
                if last is None:
                    return response
            if not self._pause_before_retry(attempt):
                break
        assert last is not None
        raise last

    def _failure(self, response: requests.Response, method: str,
                 where: str) -> RetriableError | None:
        """None for a 2xx; the RetriableError of a status worth retrying; else raises."""
        status = response.status_code
        if status < 300:
            return None
        if 300 <= status < 400:
            # Never follow: a redirect would carry our credentials to another host.
            raise FatalError(f"{self.vendor}: {method} {where} answered redirect {status}",
                             status)
        if status in (401, 403):
            raise AuthError(f"{self.vendor}: {method} {where} was refused ({status}); "
                            "check the credentials and their permissions", status)
        if status == 409:
            # A conflict (Zendesk safe_update) means our view is stale: resending the same
            # request cannot succeed, so the caller re-reads and decides.
            raise RetriableError(f"{self.vendor}: {method} {where} answered 409 (conflict)")
        if status == 429 or status == 408 or status >= 500:
            wait = self._server_wait(response)
            if status == 429 and wait is None:
                wait = self.policy.default_retry_after
            if wait is not None:
                self._not_before = max(self._not_before, self._clock() + wait)
            return RetriableError(f"{self.vendor}: {method} {where} answered {status}"
                                  f"{self._error_code(response)}", retry_after=wait)
        raise FatalError(f"{self.vendor}: {method} {where} answered {status}"
                         f"{self._error_code(response)}", status)

    def _pause_before_retry(self, attempt: int) -> bool:
        """Sleep the backoff (or the server's wait) before another attempt; False when
        there is none to make, or the wait is long enough to hand to the scheduler."""
        if attempt + 1 >= self.policy.attempts or self._stopping.is_set():
            return False
        wait = max(self._not_before - self._clock(), self.policy.backoff(attempt))
        if wait > self.policy.max_inline_wait:
            return False  # hand the long wait back to the scheduler
        self._sleep(wait)
        return True

    # -- internals ----------------------------------------------------------------

    def _send(self, method: str, url: str, where: str, **kwargs: Any) -> requests.Response:
        """One attempt under the deadline, its body read and capped; RetriableError else."""
        watchdog = Watchdog()
        timer = threading.Timer(self.policy.deadline, watchdog.fire)
        timer.daemon = True
        with self._in_flight_lock:
            self._in_flight.add(watchdog)
        watch(watchdog)
        timer.start()
        response: requests.Response | None = None
        try:
            response = self._session.request(
                method, url, timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                allow_redirects=False, stream=True, **kwargs)
            watch(None)  # the connection is known; later requests are not ours
            read_capped(response, self.policy.max_response_bytes, ResponseTooLarge(
                f"{self.vendor}: {method} {where} answered a body over "
                f"{self.policy.max_response_bytes} bytes; refused"), watchdog)
        except ResponseTooLarge:
            raise
        except (requests.RequestException, OSError) as exc:
            if response is not None:
                response.close()
            if watchdog.fired:
                raise RetriableError(self._cut_message(method, where)) from None
            if isinstance(exc, requests.Timeout):
                raise RetriableError(f"{self.vendor}: {method} {where} timed out") from None
            # str(exc) would include the URL (a webhook path is a secret); name the type only.
            raise RetriableError(
                f"{self.vendor}: {method} {where} failed ({type(exc).__name__})") from None
        finally:
            watch(None)
            timer.cancel()
            with self._in_flight_lock:
                self._in_flight.discard(watchdog)
        if watchdog.fired:  # a body cut short can look complete (no Content-Length)
            response.close()
            raise RetriableError(self._cut_message(method, where))
        return response

    def _cut_message(self, method: str, where: str) -> str:
        if self._stopping.is_set():
            return f"{self.vendor}: {method} {where} was cut short: stopping"
        return f"{self.vendor}: {method} {where} exceeded its {self.policy.deadline:g}s deadline"

    def _wait_for_permission(self, budgets: tuple[RateBudget, ...], where: str) -> None:
        """Honour the server's not-before time and our own budgets, or hand back."""
        for _ in range(3):  # bounded: a budget freed after one wait stays free
            wait = self._not_before - self._clock()
            for budget in budgets:
                wait = max(wait, budget.wait_needed())
            if wait <= 0:
                return
            if wait > self.policy.max_inline_wait:
                raise RetriableError(
                    f"{self.vendor}: waiting {wait:.0f}s before {where} (rate limit)",
                    retry_after=wait)
            self._sleep(wait)

    def _server_wait(self, response: requests.Response) -> float | None:
        for header in self._retry_after_headers:
            wait = parse_retry_after(response.headers.get(header), self._clock(),
                                     self.policy.max_retry_after)
            if wait is not None:
                return wait
        return None

    @staticmethod
    def _error_code(response: requests.Response) -> str:
        """A short vendor error code, never a body (bodies can quote customer text)."""
        try:
            body = response.json()
        except ValueError:
            return ""
        code = None
        if isinstance(body, dict):
            for key in ("error", "code", "title"):
                value = body.get(key)
                if isinstance(value, str):
                    code = value
                    break
        # Only identifier-like codes (APIRateLimitExceeded, invalid_auth): a phrase with
        # spaces could be the customer's words echoed back by a vendor.
        if code and len(code) <= 40 and code.replace("_", "").isalnum():
            return f" ({code})"
        return ""

    def _where(self, url: str) -> str:
        parts = urlsplit(self.url(url))
        return f"{parts.hostname or ''}{_mask_path(parts.path)}"


def _mask_path(path: str) -> str:
    """Slack webhook paths are secrets (/services/T.../B.../XXXX): keep only the prefix."""
    if path.startswith("/services/"):
        return "/services/***"
    return path
