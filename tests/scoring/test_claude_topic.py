"""Claude's topic label: returned in the same request as the score, cached with it, and
used by incidents instead of the offline topic terms."""

from __future__ import annotations

from connectors.base import Message, TicketSnapshot
from connectors.sandbox.anthropic import AnthropicSandbox
from daemon.incidents import candidate_for
from daemon.scoring.anthropic import OUTPUT_SCHEMA
from daemon.scoring.cache import ScoreCache
from daemon.scoring.claude_answer import topic_label
from tests.daemon.helpers import T0
from tests.scoring.conftest import ScorerFactory

LOGIN = "I still cannot log in since your update, this is terrible and I am furious."


def test_topic_comes_with_the_score_in_one_request_and_is_cached(
        sandbox: AnthropicSandbox, make_scorer: ScorerFactory) -> None:
    scorer = make_scorer(score_cache=ScoreCache())
    first, calm = scorer.score([LOGIN, "Where do I change my shipping address?"])
    assert len(sandbox.calls) == 1  # no extra call for the topic
    assert first.topic == "login failure" and calm.topic == ""
    assert "topic" in OUTPUT_SCHEMA["properties"]["results"]["items"]["properties"]
    assert "topic" not in OUTPUT_SCHEMA["properties"]["results"]["items"]["required"]
    (again,) = scorer.score([LOGIN])
    assert len(sandbox.calls) == 1 and again.topic == "login failure"
    # An incident candidate takes its terms from the label.
    message = Message(message_id="m1", ticket_id="t1", author_role="customer", public=True,
                      created_at=T0, body=LOGIN, ticket=TicketSnapshot(ticket_id="t1"))
    candidate = candidate_for("zd", message, LOGIN, first, -0.3)
    assert candidate is not None
    assert candidate.label == "login failure" and "login" in candidate.terms


def test_a_topic_label_is_plain_short_text() -> None:
    assert topic_label("login\u202e failure\n\x00 " + "x" * 200) == \
        ("login failure " + "x" * 200)[:80]
    assert topic_label(None) == "" and topic_label(["login"]) == ""
