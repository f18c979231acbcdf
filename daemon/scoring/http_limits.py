"""An httpx client for the Anthropic SDK with an overall deadline and a response-size cap.

httpx timeouts, like every socket timeout, apply per read: a server that drips a byte
every few seconds never trips them.  `limited_http_client` gives the SDK a client whose
every socket read waits at most until the request's wall-clock deadline (the network
streams are wrapped, so connect, headers and body are all covered), and whose response
bodies are refused past a byte cap while they stream in.  The SDK sees either limit as
an ordinary httpx error (a timeout, a read error) and handles it as it does any other:
retried up to `max_retries`, then the scorer falls back to the offline one.  Responses
are requested uncompressed (`Accept-Encoding: identity`) so the cap counts the bytes
that end up in memory; a server that compresses anyway is refused.

At shutdown `stop_all_limited_clients(grace)` gives requests in flight `grace` seconds,
then shuts their sockets down; later requests fail at once.

The streams are wrapped by replacing the network backend of the transport's connection
pool (httpcore's documented extension point, reached through one private attribute of
httpx's transport); `tests/scoring/test_http_limits.py` fails if that ever stops working.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore2
import httpx2

#: Claude's answers to a batch are a few KiB; far above that is a broken or hostile server.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

_current = threading.local()  # the `_Deadline` of this thread's request in flight


class _Deadline:
    def __init__(self, transport: LimitedTransport, seconds: float) -> None:
        self.transport = transport
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        stop_at = self.transport.stop_at
        return (self.at if stop_at is None else min(self.at, stop_at)) - time.monotonic()


def _remaining(timeout: float | None) -> float | None:
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise httpcore2.ReadTimeout("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner
        self._streams: weakref.WeakSet[_DeadlineStream] = weakref.WeakSet()

    def _track(self, stream: httpcore2.NetworkStream) -> _DeadlineStream:
        wrapped = _DeadlineStream(stream)
        self._streams.add(wrapped)
        return wrapped

    def cut_all(self) -> None:
        """Shut down every socket this backend opened: blocked reads end at once."""
        for stream in list(self._streams):
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore2.NetworkStream:
        return self._track(self._inner.connect_tcp(
            host, port, _remaining(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore2.NetworkStream:
        return self._track(self._inner.connect_unix_socket(path, _remaining(timeout),
                                                           socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._inner:
            size += len(chunk)
            if size > self._max_bytes:
                raise httpx2.ReadError(f"response body over {self._max_bytes} bytes; refused")
            yield chunk

    def close(self) -> None:
        _current.deadline = None
        self._inner.close()


#: Every transport alive, so that shutdown can stop them all.
_TRANSPORTS: weakref.WeakSet[LimitedTransport] = weakref.WeakSet()


def stop_all_limited_clients(grace: float = 5.0) -> None:
    """Shutdown: Claude requests in flight get `grace` seconds, then their sockets are cut
    and every later request fails at once (the scorer falls back to the offline one)."""
    for transport in list(_TRANSPORTS):
        transport.stop(grace)


class LimitedTransport(httpx2.BaseTransport):
    """httpx's own transport with the deadline-bounded network backend and the body cap."""

    def __init__(self, *, deadline: float,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        inner = httpx2.HTTPTransport()
        pool = inner._pool
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore2.NetworkBackend):
            raise RuntimeError("httpx's transport changed: cannot bound the request deadline")
        self._backend = _DeadlineBackend(backend)
        pool._network_backend = self._backend
        self._inner = inner
        self._deadline = deadline
        self._max_bytes = max_response_bytes
        self.stop_at: float | None = None
        _TRANSPORTS.add(self)

    def stop(self, grace: float) -> None:
        self.stop_at = time.monotonic() + grace
        cutter = threading.Timer(grace, self._backend.cut_all)
        cutter.daemon = True
        cutter.start()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _current.deadline = _Deadline(self, self._deadline)
        if self.stop_at is not None and time.monotonic() >= self.stop_at:
            _current.deadline = None
            raise httpx2.ConnectError("not sent: stopping", request=request)
        request.headers["Accept-Encoding"] = "identity"
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            _current.deadline = None
            raise
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        declared = response.headers.get("Content-Length", "")
        problem = None
        if encoding not in ("", "identity"):
            problem = f"compressed response ({encoding[:20]}) although identity was asked"
        elif declared.isdigit() and int(declared) > self._max_bytes:
            problem = f"response body over {self._max_bytes} bytes; refused"
        if problem is not None:
            response.close()
            _current.deadline = None
            raise httpx2.ReadError(problem, request=request)
        assert isinstance(response.stream, httpx2.SyncByteStream)
        return httpx2.Response(status_code=response.status_code, headers=response.headers,
                               stream=_CappedStream(response.stream, self._max_bytes),
                               extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


def limited_http_client(*, timeout: float, deadline: float,
                        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                        connect_timeout: float = 5.0,
                        transport: LimitedTransport | None = None) -> httpx2.Client:
    """An httpx client for `anthropic.Anthropic(http_client=...)` with both limits."""
    transport = transport or LimitedTransport(deadline=deadline,
                                              max_response_bytes=max_response_bytes)
    return httpx2.Client(transport=transport,
                         timeout=httpx2.Timeout(timeout, connect=min(connect_timeout, timeout)),
                         follow_redirects=False, trust_env=False)
