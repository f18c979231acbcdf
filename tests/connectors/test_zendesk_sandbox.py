"""The Zendesk sandbox's own behaviour, its live mode, the registry, and the shared
conversation library every sandbox is seeded from (kept here: this file is the Zendesk
sandbox's, and the library was written with it).
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta

import pytest
import requests
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from connectors.sandbox import SANDBOX_KINDS, start_sandbox
from connectors.sandbox.conversations import (
    CONVERSATIONS,
    by_key,
    generate,
    schedule,
)
from connectors.sandbox.zendesk import DEFAULT_EMAIL, DEFAULT_TOKEN, ZendeskSandbox
from connectors.zendesk import ZendeskSettings
from daemon.scoring.language import shared_detector
from daemon.scoring.local import LocalScorer
from rules.trend import article_trend
from tests.connectors.harness import drain


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _basic() -> dict[str, str]:
    raw = f"{DEFAULT_EMAIL}/token:{DEFAULT_TOKEN}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


# -- the conversation library ---------------------------------------------------------------

def test_library_is_varied() -> None:
    assert len(CONVERSATIONS) >= 12
    assert len({c.key for c in CONVERSATIONS}) == len(CONVERSATIONS)
    roles = {t.role for c in CONVERSATIONS for t in c.turns}
    assert roles == {"customer", "agent", "note"}
    assert any(t.html for c in CONVERSATIONS for t in c.turns)
    assert any("wrote:" in t.text and "\n> " in t.text for c in CONVERSATIONS for t in c.turns)
    for signal in ("churn_risk", "legal_threat", "manager_request", "repeat_contact"):
        assert any(signal in c.expect for c in CONVERSATIONS), signal
    assert any(not t.text.isascii() for c in CONVERSATIONS for t in c.turns)
    assert all(c.turns[0].role == "customer" for c in CONVERSATIONS)


#: Plain VADER (the article's kind of scorer, stable) and the shipped offline scorer
#: (what `make run` uses): the scripts must behave as labelled under both.
SCORERS = ["vader", "local"]


def _cases(expectation: str) -> list[tuple[str, str]]:
    """(script, scorer) pairs; plain VADER reads English only, so it is asked about the
    English scripts and the shipped scorer about all of them."""
    detector = shared_detector()
    out = []
    for conversation in CONVERSATIONS:
        if expectation not in conversation.expect:
            continue
        english = all(detector.detect(t.text).language == "en"
                      for t in conversation.customer_turns)
        out += [(conversation.key, scorer) for scorer in SCORERS
                if english or scorer != "vader"]
    return out


def _customer_scores(key: str, scorer: str) -> list[float]:
    texts = [t.text for t in by_key(key).customer_turns]
    if scorer == "vader":
        analyzer = SentimentIntensityAnalyzer()
        return [float(analyzer.polarity_scores(text)["compound"]) for text in texts]
    return [s.score for s in LocalScorer().score(texts)]


@pytest.mark.parametrize(("key", "scorer"), _cases("declining"))
def test_declining_scripts_trip_the_articles_decline_rule(key: str, scorer: str) -> None:
    trend = article_trend(_customer_scores(key, scorer))
    assert trend.trend == "declining" and trend.current_avg < -0.5


@pytest.mark.parametrize(("key", "scorer"), _cases("very_negative"))
def test_very_negative_scripts_have_a_message_below_minus_0_7(key: str, scorer: str) -> None:
    assert min(_customer_scores(key, scorer)) < -0.7


@pytest.mark.parametrize(("key", "scorer"), _cases("calm"))
def test_calm_scripts_trip_neither_rule(key: str, scorer: str) -> None:
    scores = _customer_scores(key, scorer)
    trend = article_trend(scores)
    assert not (trend.trend == "declining" and trend.current_avg < -0.5)
    assert scores[-1] >= -0.7


@pytest.mark.parametrize("scorer", SCORERS)
def test_improving_script_improves(scorer: str) -> None:
    assert article_trend(_customer_scores("angry-then-calm", scorer)).trend == "improving"


def test_generate_is_deterministic_and_sized() -> None:
    first = generate(50, 400, seed=7)
    assert first == generate(50, 400, seed=7)
    assert first != generate(50, 400, seed=8)
    assert len(first) == 50 and sum(len(c.turns) for c in first) == 400
    roles = [t.role for c in first for t in c.turns]
    assert {"customer", "agent", "note"} <= set(roles)
    assert all(c.turns[0].role == "customer" for c in first)
    only_customers = generate(10, 40, seed=1, agent_share=0, note_share=0)
    assert {t.role for c in only_customers for t in c.turns} == {"customer"}
    with pytest.raises(ValueError):
        generate(10, 5)


def test_schedule_puts_a_backlog_in_the_recent_past_and_the_rest_later() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    placed = schedule(start, CONVERSATIONS, backlog=4, max_gap=timedelta(seconds=8))
    assert [p.at for p in placed] == sorted(p.at for p in placed)
    backlog = [p for p in placed if p.conversation_index < 4]
    assert all(start - timedelta(minutes=12) <= p.at <= start - timedelta(minutes=2)
               for p in backlog)
    later = [p for p in placed if p.conversation_index >= 4]
    assert all(p.at >= start for p in later)
    for index in range(len(CONVERSATIONS)):  # each script keeps its turn order
        turns = [p.turn_index for p in placed if p.conversation_index == index]
        assert turns == sorted(turns)
    gaps = []
    for index in {p.conversation_index for p in later}:
        times = [p.at for p in later if p.conversation_index == index]
        gaps += [b - a for a, b in itertools.pairwise(times)]
    assert gaps and max(gaps) <= timedelta(seconds=8)


# -- the sandbox --------------------------------------------------------------------------

def test_seeded_sandbox_shows_escalations_on_a_first_poll_and_more_arrive() -> None:
    clock = FakeClock(datetime(2026, 2, 3, 10, 0, tzinfo=UTC).timestamp())
    sandbox = ZendeskSandbox(clock=clock, incremental_per_minute=None)
    sandbox.start()
    try:
        sandbox.seed(max_gap=timedelta(seconds=8))
        settings = ZendeskSettings(name="zd", base_url=sandbox.url, email=DEFAULT_EMAIL,
                                   api_token=DEFAULT_TOKEN)
        connector = settings.create()
        connector._clock = clock
        lookback = datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=15)
        first = drain(connector, None, lookback)
        tickets = {m.ticket.subject for m in first.messages}
        assert by_key("calm-then-angry").subject in tickets
        assert by_key("single-very-negative").subject in tickets
        clock.now += 600
        later = drain(connector, first.cursor, lookback)
        assert later.messages
        assert not {m.message_id for m in later.messages} & {m.message_id for m in
                                                            first.messages}
        connector.close()
    finally:
        sandbox.stop()


def test_auth_forms_and_rate_limit_headers() -> None:
    sandbox = ZendeskSandbox()
    sandbox.start()
    try:
        url = f"{sandbox.url}/api/v2/users/me.json"
        ok = requests.get(url, headers=_basic(), timeout=5)
        assert ok.status_code == 200 and ok.json()["user"]["role"] == "admin"
        for name in ("X-Rate-Limit", "X-Rate-Limit-Remaining", "ratelimit-limit",
                     "ratelimit-remaining", "ratelimit-reset"):
            assert name in ok.headers
        assert sandbox.oauth_token is not None
        bearer = requests.get(url, headers={"Authorization": f"Bearer {sandbox.oauth_token}"},
                              timeout=5)
        assert bearer.status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"},
                        {"Authorization": "Basic " + base64.b64encode(b"a/token:b").decode()}):
            assert requests.get(url, headers=headers, timeout=5).status_code == 401
    finally:
        sandbox.stop()


def test_incremental_budget_and_export_rules() -> None:
    sandbox = ZendeskSandbox(incremental_per_minute=10)
    sandbox.start()
    try:
        url = f"{sandbox.url}/api/v2/incremental/ticket_events.json"
        old = int(datetime.now(UTC).timestamp()) - 3600
        too_recent = requests.get(url, params={"start_time": old + 3590}, headers=_basic(),
                                  timeout=5)
        assert too_recent.status_code == 422
        statuses = [requests.get(url, params={"start_time": old}, headers=_basic(),
                                 timeout=5) for _ in range(10)]
        assert [r.status_code for r in statuses] == [200] * 9 + [429]
        assert int(statuses[-1].headers["Retry-After"]) > 0
        assert statuses[-1].json()["error"] == "APIRateLimitExceeded"
        page = statuses[0].json()
        assert set(page) == {"ticket_events", "next_page", "end_time", "end_of_stream",
                             "count"}
        bad_scope = requests.get(f"{sandbox.url}/api/v2/tickets/show_many.json",
                                 params={"ids": ",".join(str(i) for i in range(101))},
                                 headers=_basic(), timeout=5)
        assert bad_scope.status_code == 400
    finally:
        sandbox.stop()


def test_comments_without_the_sideload_carry_no_text() -> None:
    sandbox = ZendeskSandbox(exclusion_seconds=0)
    sandbox.start()
    try:
        at = datetime.now(UTC).timestamp() - 120
        sandbox.add_ticket(subject="S", customer_name="C", customer_email="c@x.com",
                           body="secret words", at=at)
        url = f"{sandbox.url}/api/v2/incremental/ticket_events.json"
        bare = requests.get(url, params={"start_time": int(at)}, headers=_basic(), timeout=5)
        assert "secret words" not in bare.text
        full = requests.get(url, params={"start_time": str(int(at)), "include": "comment_events"},
                            headers=_basic(), timeout=5)
        assert "secret words" in full.text
    finally:
        sandbox.stop()


def test_registry_starts_a_seeded_zendesk() -> None:
    assert set(SANDBOX_KINDS) == {"zendesk", "freshdesk", "helpscout", "slack", "anthropic"}
    sandbox = start_sandbox("zendesk", seed=True)
    try:
        assert isinstance(sandbox, ZendeskSandbox)
        response = requests.get(f"{sandbox.url}/api/v2/tickets/101.json", headers=_basic(),
                                timeout=5)
        assert response.status_code == 200  # the backlog is already there
    finally:
        sandbox.stop()
    with pytest.raises(KeyError):
        start_sandbox("jira")
