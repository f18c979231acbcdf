"""A small HTTP server running in a background thread: the metrics endpoint and the
dashboard are both one of these, so starting, naming and stopping them is written once."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Self


@dataclass(slots=True)
class ServedInThread:
    """A running server (`socketserver`-style: serve_forever/shutdown/server_close) and
    the thread serving it; `close()` stops it and frees the port."""

    server: Any
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def address(self) -> str:
        return str(self.server.server_address[0])

    @property
    def url(self) -> str:
        host = self.address if ":" not in self.address else f"[{self.address}]"
        return f"http://{host}:{self.port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
