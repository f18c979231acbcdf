"""Every request has an overall deadline and a response-size cap (issue 11, item 8).

A vendor that drips one byte every few seconds never trips a per-read timeout and held
a poll, and shutdown, forever; a 50 MB body cost 700 MB of memory.  These run against a
real local socket server (tests/slow_server.py).  Each call runs in a thread joined with
a generous bound (`outcome_of`), so a client without the deadline fails the test instead
of hanging it.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import RetriableError
from connectors.http import HttpClient, ResponseTooLarge, RetryPolicy
from connectors.slack import SlackSettings
from connectors.zendesk import ZendeskSettings
from tests.ops.slack_support import make_alert
from tests.slow_server import SlowServer, outcome_of


def client(url: str, **policy: Any) -> HttpClient:
    settings = {"attempts": 1, "read_timeout": 10.0, "deadline": 1.0, **policy}
    return HttpClient(url, vendor="test", policy=RetryPolicy(**settings))


@pytest.mark.parametrize("mode", ["drip_body", "drip_headers"])
def test_a_dripping_server_hits_the_deadline(mode: Any) -> None:
    with SlowServer(mode) as server:
        http = client(server.url)
        error = outcome_of(lambda: http.get_json("/api/v2/x.json"))
        http.close()
    assert isinstance(error, RetriableError)
    assert str(error) == "test: GET 127.0.0.1/api/v2/x.json exceeded its 1s deadline"


@pytest.mark.parametrize("mode", ["huge_body", "huge_declared"])
def test_a_huge_body_is_refused_without_holding_it(mode: Any) -> None:
    cap = 1024 * 1024
    with SlowServer(mode) as server:
        http = client(server.url, deadline=30.0, max_response_bytes=cap)
        tracemalloc.start()
        try:
            error = outcome_of(lambda: http.get_json("/big"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        http.close()
    assert isinstance(error, ResponseTooLarge) and isinstance(error, RetriableError)
    assert str(error) == f"test: GET 127.0.0.1/big answered a body over {cap} bytes; refused"
    assert peak < 8 * cap, peak  # the 50 MB body was never held


def test_close_cuts_a_request_in_flight() -> None:
    with SlowServer("drip_body") as server:
        http = client(server.url, deadline=600.0)
        closer = threading.Timer(0.5, http.close)
        closer.start()
        error = outcome_of(lambda: http.get_json("/x"))
        closer.join()
    assert isinstance(error, RetriableError)
    assert str(error) == "test: GET 127.0.0.1/x was cut short: stopping"


def test_shutdown_stops_every_client_after_a_grace() -> None:
    """SIGTERM: nothing new is sent or retried, a request in flight gets a grace period
    and is then cut, so a dripping vendor cannot hold shutdown past systemd's limit."""
    with SlowServer("drip_body") as server:
        http = client(server.url, deadline=600.0, attempts=4, backoff_base=0.01)
        # What stop_all_clients does for every client (it is not called here: it would
        # stop the clients of other tests in this process too).
        stopper = threading.Timer(0.3, http.stop, kwargs={"grace": 0.5})
        stopper.start()
        error = outcome_of(lambda: http.get_json("/x"))
        stopper.join()
        assert isinstance(error, RetriableError)
        assert str(error) == "test: GET 127.0.0.1/x was cut short: stopping"
        assert server.connections == 1  # not retried
        after = outcome_of(lambda: http.get_json("/y"))
        assert str(after) == "test: GET 127.0.0.1/y not sent: stopping"
        assert server.connections == 1
        http.close()


def test_a_zendesk_poll_against_a_dripping_server_ends() -> None:
    with SlowServer("drip_body") as server:
        settings = ZendeskSettings(name="zd", kind="zendesk", base_url=server.url,
                                   email="a@example.com", api_token="t",
                                   timeout=0.5)
        connector = settings.create()
        start = datetime.now(UTC) - timedelta(hours=1)
        error = outcome_of(lambda: connector.poll(None, start))
        connector.close()
    assert isinstance(error, RetriableError), error
    assert "exceeded its 1s deadline" in str(error)


def test_a_slack_alert_to_a_dripping_webhook_ends() -> None:
    with SlowServer("drip_body") as server:
        settings = SlackSettings(kind="slack", timeout=0.5,
                                 webhook_url=f"{server.url}/services/T1/B1/secret")
        notifier = settings.create("escalations")
        began = time.monotonic()
        error = outcome_of(lambda: notifier.send(make_alert()))
        notifier.close()
    assert isinstance(error, RetriableError), error
    assert "exceeded its 1s deadline" in str(error) and "secret" not in str(error)
    print(f"\nslack alert to a dripping webhook gave up after {time.monotonic() - began:.1f}s")
