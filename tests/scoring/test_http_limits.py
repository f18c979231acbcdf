"""The Anthropic SDK's requests have an overall deadline and a response cap (issue 11, item 8).

httpx timeouts apply per read; the client the scorer hands the SDK
(`daemon.scoring.http_limits.limited_http_client`) bounds the whole request and the body.
Run with the real SDK against a real local socket server that misbehaves.
"""

from __future__ import annotations

import threading

import anthropic
import pytest

from daemon.scoring.anthropic import ClaudeScorer
from daemon.scoring.http_limits import LimitedTransport, limited_http_client
from daemon.scoring.local import LocalScorer
from daemon.scoring.settings import AnthropicScorerSettings
from tests.slow_server import Mode, SlowServer, outcome_of


def ask(client: anthropic.Anthropic) -> object:
    return client.messages.create(model="claude-haiku-5-5", max_tokens=10,
                                  messages=[{"role": "user", "content": "hi"}])


def sdk(url: str, *, timeout: float = 10.0, deadline: float = 1.0,
        max_bytes: int = 1024 * 1024) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-ant-test", base_url=url, max_retries=0, timeout=timeout,
        http_client=limited_http_client(timeout=timeout, deadline=deadline,
                                        max_response_bytes=max_bytes))


@pytest.mark.parametrize("mode", ["drip_body", "drip_headers"])
def test_a_dripping_messages_api_times_out(mode: Mode) -> None:
    with SlowServer(mode) as server:
        client = sdk(server.url)
        error = outcome_of(lambda: ask(client))
        client.close()
    assert isinstance(error, anthropic.APITimeoutError), repr(error)


@pytest.mark.parametrize("mode", ["huge_body", "huge_declared"])
def test_a_huge_messages_answer_is_refused(mode: Mode) -> None:
    with SlowServer(mode) as server:
        client = sdk(server.url, deadline=30.0)
        error = outcome_of(lambda: ask(client))
        client.close()
    assert isinstance(error, anthropic.APIConnectionError), repr(error)
    assert not isinstance(error, anthropic.APITimeoutError)


def test_the_scorer_falls_back_offline_when_claude_drips() -> None:
    with SlowServer("drip_body") as server:
        settings = AnthropicScorerSettings(kind="anthropic", api_key="sk-ant-test",
                                           base_url=server.url, timeout=0.5, max_retries=0)
        scorer = ClaudeScorer(settings, offline=LocalScorer(), cache=None)
        scores = outcome_of(lambda: scorer.score(["This is the third time I ask. Awful."]))
        scorer.close()
    assert isinstance(scores, list) and len(scores) == 1, scores
    assert scores[0].scorer == "fallback" and scores[0].needs_rescore, scores[0]


def test_shutdown_cuts_a_claude_request_in_flight_after_a_grace() -> None:
    """What stop_all_limited_clients does for every transport, on one (the global would
    also stop the clients of other tests in this process)."""
    with SlowServer("drip_body") as server:
        transport = LimitedTransport(deadline=600.0)
        client = anthropic.Anthropic(
            api_key="sk-ant-test", base_url=server.url, max_retries=2, timeout=120.0,
            http_client=limited_http_client(timeout=120.0, deadline=600.0,
                                            transport=transport))
        stopper = threading.Timer(0.3, transport.stop, kwargs={"grace": 0.5})
        stopper.start()
        error = outcome_of(lambda: ask(client))
        stopper.join()
        assert isinstance(error, anthropic.APIConnectionError), repr(error)
        assert server.connections == 1  # the SDK's retries were refused without sending
        client.close()
