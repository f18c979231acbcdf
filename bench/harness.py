"""What the end-to-end benchmarks share: daemon processes, a scratch PostgreSQL schema, waits.

The benchmarks in this folder run the real daemon (`python -m daemon.cli run`) as a
subprocess against sandbox servers started in the benchmark's own process, exactly as
the end-to-end tests do, and read what happened from the sandboxes (requests, writes),
the database and /proc.  This module holds the plumbing so each benchmark reads as its
measurement: start and stop daemons, make and drop a PostgreSQL schema, wait with a
bound, read a process's memory, and take percentiles.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from connectors.sandbox.base import Request, Response  # noqa: E402
from connectors.sandbox.zendesk import ZendeskSandbox  # noqa: E402

PG_URL = os.environ.get("SENTINEL_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class GatedZendesk(ZendeskSandbox):
    """A Zendesk sandbox whose export shows nothing until `released`.

    Loading a backlog takes seconds; without the gate the daemons would start on the
    first tickets while the last are still being put in, and a drain time would be short
    by that much.  Until released the export answers as a quiet account does.
    """

    released = False

    def _ticket_events(self, request: Request) -> Response:
        if self.released:
            return super()._ticket_events(request)
        start = int(request.param("start_time") or 0)
        return Response(200, {"ticket_events": [], "next_page": None, "count": 0,
                              "end_of_stream": True, "end_time": start})


@contextmanager
def pg_schema(base_url: str = PG_URL) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped on exit."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, connect_args={"connect_timeout": 10})
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               every: float = 0.2) -> float:
    """Seconds until `predicate()` held; raises TimeoutError after `timeout` seconds."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(every)
    raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")


@dataclass(slots=True)
class DaemonProcess:
    """`helpdesk-sentinel run` on a config file, JSON logs to a file."""

    config: Path
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli", "run", "--config", str(self.config)],
                cwd=REPO, env={**os.environ, **self.env}, stdout=out,
                stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the process, in kB, from /proc."""
        out: dict[str, int] = {}
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one JSON line on stdout."""
    print(json.dumps(result, sort_keys=False), flush=True)
