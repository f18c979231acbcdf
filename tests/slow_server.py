"""A hostile HTTP server on a real local socket: drips bytes slowly or sends huge bodies.

Used by the deadline and size-cap tests of the HTTP layer, the Slack notifier and the
Anthropic client.  Every loop is bounded in bytes and stops when the server is closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

Mode = Literal["drip_body", "drip_headers", "huge_body", "huge_declared"]

DRIP_BYTES = 2_000  # at `interval` a byte: far longer than any test waits
HUGE_BYTES = 50 * 1024 * 1024

HANG_GUARD = 45.0  # seconds; only reached by a client that waits for the whole drip


def outcome_of(call: Callable[[], Any]) -> BaseException | Any:
    """What `call` returned or raised; fails the test if it is still running at the guard."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the test to inspect
            box.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=HANG_GUARD)
    assert not worker.is_alive(), "the request hung past its deadline"
    return box[0]




class SlowServer:
    def __init__(self, mode: Mode, *, interval: float = 0.2) -> None:
        self.mode = mode
        self.interval = interval
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> SlowServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.closing(conn), contextlib.suppress(OSError):
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            for piece in self._answer():
                if self._stop.is_set():
                    return
                conn.sendall(piece)

    def _answer(self) -> Iterator[bytes]:
        json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if self.mode == "drip_body":
            yield json_head + f"Content-Length: {DRIP_BYTES}\r\n\r\n".encode()
            for _ in range(DRIP_BYTES):
                yield b" "
                self._stop.wait(self.interval)
        elif self.mode == "drip_headers":
            yield b"HTTP/1.1 200 OK\r\nX-Slow: "
            for _ in range(DRIP_BYTES):
                yield b"a"
                self._stop.wait(self.interval)
        else:
            length = f"Content-Length: {HUGE_BYTES}\r\n" if self.mode == "huge_declared" else ""
            yield json_head + f"{length}Connection: close\r\n\r\n".encode() + b"["
            block = b"0," * 32768
            for _ in range(HUGE_BYTES // len(block)):
                yield block
