"""PII redaction, the score cache, the circuit breaker and the daily budget, as units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.scoring.base import Score
from daemon.scoring.cache import ScoreCache, cache_key
from daemon.scoring.guards import CircuitBreaker, DailyBudget
from daemon.scoring.redact import Redactor, iban_valid, luhn_valid
from tests.scoring.conftest import FakeClock

# -- redaction ----------------------------------------------------------------------------

PII_CASES = [
    ("mail me at jane.o'neil+tickets@mail.example.co.uk today", "email",
     "jane.o'neil+tickets@mail.example.co.uk"),
    ("card 4111 1111 1111 1111 expired", "card", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004 please", "card", "5500-0000-0000-0004"),
    ("amex 378282246310005.", "card", "378282246310005"),
    ("IBAN GB82 WEST 1234 5698 7654 32 for the refund", "iban", "GB82 WEST 1234 5698 7654 32"),
    ("iban DE89370400440532013000", "iban", "DE89370400440532013000"),
    ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
    ("call (555) 123-4567 now", "phone", "(555) 123-4567"),
    ("call 0049 30 1234567 now", "phone", "0049 30 1234567"),
    ("call 555.123.4567 now", "phone", "555.123.4567"),
]


@pytest.mark.parametrize(("text", "kind", "secret"), PII_CASES)
def test_each_kind_is_redacted(text: str, kind: str, secret: str) -> None:
    result = Redactor().redact(text)
    assert secret not in result.text
    assert f"[{kind.upper()}]" in result.text
    assert result.counts.get(kind, 0) >= 1


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 is late",  # 16 digits, fails Luhn: an order number
    "ticket #12345 still open after 3 hours",
    "I paid 49.99 on 12/03",
])
def test_non_pii_numbers_survive(text: str) -> None:
    assert Redactor().redact(text).text == text


def test_kinds_are_configurable() -> None:
    text = "jane@example.com https://acme.test/orders/9 4111111111111111"
    only_email = Redactor(["email"]).redact(text).text
    assert "[EMAIL]" in only_email and "4111111111111111" in only_email
    everything = Redactor(["email", "url", "card"]).redact(text).text
    assert everything == "[EMAIL] [URL] [CARD]"
    with pytest.raises(ValueError, match="unknown redaction kinds"):
        Redactor(["names"])


def test_check_digits() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB83WEST12345698765432")


# -- cache ----------------------------------------------------------------------------------

def _score(value: float, *, needs_rescore: bool = False) -> Score:
    return Score(score=value, label="neutral", confidence=0.5, indicators=("x",),
                 signals=frozenset({"urgent"}), scorer="anthropic", model="m",
                 needs_rescore=needs_rescore)


def test_lru_evicts_the_least_recently_used() -> None:
    cache = ScoreCache(max_entries=2)
    cache.put("a", _score(0.1))
    cache.put("b", _score(0.2))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", _score(0.3))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_sqlite_level_survives_a_restart_and_respects_ttl(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite3"
    first = ScoreCache(path=path)
    first.put("k", _score(-0.4))
    first.close()
    second = ScoreCache(path=path)
    assert second.get("k") == _score(-0.4)
    second.close()
    expired = ScoreCache(path=path, ttl_seconds=0.0)
    assert expired.get("k") is None
    expired.close()


def test_fallback_scores_are_never_cached() -> None:
    cache = ScoreCache()
    cache.put("k", _score(0.0, needs_rescore=True))
    assert cache.get("k") is None


def test_key_depends_on_identity_and_text_not_stored_in_clear() -> None:
    key = cache_key("model|1", "my card is broken")
    assert key != cache_key("model|2", "my card is broken")
    assert key != cache_key("model|1", "my card is broken!")
    assert "card" not in key and len(key) == 64


def test_corrupt_row_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite3"
    cache = ScoreCache(path=path)
    assert cache._db is not None
    cache._db.execute("INSERT INTO scores VALUES ('bad', '{not json', 9e18)")
    cache._db.commit()
    assert cache.get("bad") is None
    cache.close()


# -- breaker ----------------------------------------------------------------------------------

def test_breaker_opens_after_threshold_and_allows_one_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10, clock=clock)
    for _ in range(2):
        breaker.record_failure("500")
    assert breaker.state == "closed"
    breaker.record_failure("500")
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(10)
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_failure("500")  # the probe failed: open again for a full period
    assert breaker.state == "open"
    clock.advance(10)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    breaker.record_failure("x")
    breaker.record_success()
    breaker.record_failure("x")
    assert breaker.state == "closed"


def test_disabled_breaker_never_allows() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    breaker.disable("HTTP 401")
    clock.advance(1e9)
    assert breaker.state == "disabled" and not breaker.allow() and not breaker.available()


# -- budget -------------------------------------------------------------------------------------

def test_budget_limits_requests_and_tokens_per_utc_day() -> None:
    now = [datetime(2026, 11, 26, 23, 59, tzinfo=UTC)]
    budget = DailyBudget(requests_per_day=3, input_tokens_per_day=100, now=lambda: now[0])
    assert budget.reserve(40) and budget.reserve(40)
    assert not budget.reserve(40)  # 120 tokens > 100
    assert budget.reserve(20)  # exactly 100
    assert not budget.has_room()
    now[0] += timedelta(minutes=2)  # a new UTC day
    assert budget.has_room() and budget.reserve(100)


def test_budget_settles_to_actual_usage_and_releases() -> None:
    budget = DailyBudget(requests_per_day=None, input_tokens_per_day=100)
    assert budget.reserve(50)
    budget.settle(50, 80)
    assert budget.input_tokens == 80
    assert not budget.reserve(30)
    budget.release(0)
    assert budget.requests == 0
