"""Fixtures for the scoring tests: the Anthropic sandbox on a real socket, and a factory
for Claude scorers pointed at it (the real SDK, real HTTP, fast retries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.sandbox.anthropic import AnthropicSandbox
from daemon.scoring.anthropic import ClaudeScorer
from daemon.scoring.cache import ScoreCache
from daemon.scoring.local import LocalScorer
from daemon.scoring.settings import AnthropicScorerSettings, parse_scorer_settings

API_KEY = "sk-ant-test-0123456789abcdef"


class FakeClock:
    """Monotonic time moved by the test, for the breaker."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def offline() -> LocalScorer:
    return LocalScorer()


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[AnthropicSandbox]:
    # retry-after-ms keeps the SDK's retries in milliseconds instead of seconds.
    server = AnthropicSandbox(api_key=API_KEY, retry_after=None, retry_after_ms="5")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(_sandbox_server: AnthropicSandbox) -> AnthropicSandbox:
    """The shared sandbox, reset: no calls, no queued behaviours, the test key."""
    _sandbox_server.reset()
    _sandbox_server.api_key = API_KEY
    return _sandbox_server


ScorerFactory = Callable[..., ClaudeScorer]


@pytest.fixture
def make_scorer(sandbox: AnthropicSandbox, offline: LocalScorer) -> Iterator[ScorerFactory]:
    made: list[ClaudeScorer] = []

    def factory(*, score_cache: ScoreCache | None = None, clock: FakeClock | None = None,
                **overrides: Any) -> ClaudeScorer:
        data: dict[str, Any] = {"kind": "anthropic", "api_key": API_KEY,
                                "base_url": sandbox.url, "max_retries": 1, "timeout": 5,
                                "model": "claude-haiku-5-5"}
        data.update(overrides)
        settings = parse_scorer_settings(data)
        assert isinstance(settings, AnthropicScorerSettings)
        scorer = ClaudeScorer(settings, offline=offline, cache=score_cache, clock=clock)
        made.append(scorer)
        return scorer

    yield factory
    for scorer in made:
        scorer.close()
