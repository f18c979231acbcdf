"""The wall-clock deadline of one HTTP request, whatever phase it is in.

`requests` timeouts apply per socket read, so a server that drips one byte every few
seconds never trips them and holds a poll (and shutdown) forever.  Here a watchdog timer
shuts the request's socket down when its deadline passes (connect, headers, body), and
the request fails with a retriable error.  The socket is found through a connection pool
that records, per thread, which connection the current request took (`WatchedAdapter`).
`read_capped` reads a streamed body in chunks and refuses it past a size cap, so a huge
or endless body costs at most the cap in memory.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the watchdog of the request this thread is sending


class Watchdog:
    """Shuts one request's socket down when its deadline passes."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.fired = False
        self.done = False
        self._lock = threading.Lock()

    def attach(self, connection: Any) -> None:
        with self._lock:
            self.connection = connection
            if self.fired:
                self._cut()

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return  # the connection may already serve another request
            self.fired = True
            self._cut()

    def finish(self) -> None:
        with self._lock:
            self.done = True

    def _cut(self) -> None:
        sock = getattr(self.connection, "sock", None)
        if sock is None:
            return  # still connecting: the connect timeout bounds that
        # The plain socket's shutdown, also for TLS: it wakes the reading thread without
        # touching the SSL object that thread is using.  OSError: already closed.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _attach(connection: Any) -> Any:
    watchdog: Watchdog | None = getattr(_current, "watchdog", None)
    if watchdog is not None:
        watchdog.attach(connection)
    return connection


class _WatchedPool(HTTPConnectionPool):
    """Tells the current request's watchdog which connection it is using."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _attach(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _attach(super()._get_conn(timeout))


class WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedPool, "https": _WatchedHTTPSPool}


def watch(watchdog: Watchdog | None) -> None:
    """The watchdog of this thread's next connection (None: no longer ours to watch)."""
    _current.watchdog = watchdog


def read_capped(response: requests.Response, cap: int, too_large: Exception,
                watchdog: Watchdog) -> None:
    """Read the streamed body into the response, refusing it (`too_large`) past `cap`."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        response.close()
        raise too_large
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > cap:
            response.close()
            raise too_large
        chunks.append(chunk)
    watchdog.finish()
    # What `response.content` would have read, without reading past the cap.
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]
    response.close()  # the body is complete: the connection goes back to the pool
