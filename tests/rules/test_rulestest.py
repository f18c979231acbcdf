"""`rules test`: the shipped rules pass their test file, failures and file errors are reported."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from daemon.rulestest import run_rules_test
from daemon.scoring.base import Score, label_for
from daemon.scoring.local import LocalScorer
from daemon.yamlsafe import load_yaml
from rules.model import RuleSet
from tests.rules.support import ARTICLE_RULES, ruleset

REPO = Path(__file__).resolve().parents[2]
SHIPPED_TESTS = REPO / "tests" / "rules" / "shipped_rules_test.yaml"
ISSUE_EXAMPLE = REPO / "tests" / "rules" / "data" / "issue_example.yaml"


def shipped_rules_data() -> list[dict[str, Any]]:
    data = load_yaml(REPO / "config.yaml").data["rules"]
    assert isinstance(data, list)
    return data


class FakeScorer:
    """Scores by keyword and records what it was asked, to check normalisation and batching."""

    name = "fake"
    model = "keywords"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> list[Score]:
        self.batches.append(list(texts))
        out = []
        for text in texts:
            value = -0.9 if "furious" in text else 0.4
            signals = frozenset({"legal_threat"}) if "lawyer" in text else frozenset()
            out.append(Score(score=value, label=label_for(value), confidence=0.9,
                             indicators=("furious",) if value < 0 else (), signals=signals,
                             scorer=self.name, model=self.model))
        return out

    def close(self) -> None:
        return None


def run(rules: RuleSet, files: Sequence[Path], scorer: Any = None) -> tuple[int, str]:
    out = io.StringIO()
    status = run_rules_test(rules, scorer or FakeScorer(), list(files), out)
    return status, out.getvalue()


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_rules_pass_their_test_file() -> None:
    rules = RuleSet.model_validate({"rules": shipped_rules_data()})
    status, output = run(rules, [SHIPPED_TESTS], LocalScorer())
    assert status == 0, output
    assert "18 passed, 0 failed" in output


def test_the_shipped_test_file_catches_a_lost_inhibition() -> None:
    data = shipped_rules_data()
    for rule in data:
        rule.pop("inhibited_by", None)
    status, output = run(RuleSet.model_validate({"rules": data}), [SHIPPED_TESTS], LocalScorer())
    assert status == 1
    assert ("FAIL  calm customer who gets angrier gets one escalation, for the decline"
            in output)
    assert ("fired: expected ['sentiment-declining'], got ['sentiment-declining', "
            "'very-negative-message']") in output


def test_the_shipped_test_file_catches_a_loosened_inequality() -> None:
    data = shipped_rules_data()
    data[0]["when"]["current_avg_below"] = -0.49
    status, output = run(RuleSet.model_validate({"rules": data}), [SHIPPED_TESTS], LocalScorer())
    assert status == 1
    assert "FAIL  current_avg -0.504 rounds to -0.5, which is not below -0.5" in output


def test_the_issues_example_runs_and_reports_expected_and_actual() -> None:
    rules = RuleSet.model_validate({"rules": shipped_rules_data()})
    status, output = run(rules, [ISSUE_EXAMPLE], LocalScorer())
    assert status == 1
    assert "FAIL  calm customer who gets angrier  (" in output
    assert "priority: expected urgent, got high" in output
    # The text ("Third time I ask. Cancel my account.") is angry on the shared scale
    # (docs/scoring.md), so both rules fire on it, in config order.
    assert "fired: expected ['very-negative-message'], got ['very-negative-message', " \
        "'churn-or-legal-threat']" in output
    assert "0 passed, 1 failed" in output


def test_texts_are_normalised_and_scored_in_one_batch(tmp_path: Path) -> None:
    path = write(tmp_path, """
tests:
  - name: angry html
    messages:
      - {text: "<p>I am <b>furious</b></p>"}
      - {author: agent, text: "we are on it"}
      - {text: "and my lawyer agrees"}
    expect:
      fired: [very-negative-message, legal]
      tags: [sentiment-very-negative, legal]
      priority: high
""")
    rules = ruleset([*ARTICLE_RULES, {"name": "legal", "when": {"signals_any": ["legal_threat"]},
                                      "actions": {"add_tags": ["legal"]}}])
    scorer = FakeScorer()
    status, output = run(rules, [path], scorer)
    assert status == 0, output
    assert scorer.batches == [["I am furious", "and my lawyer agrees"]]


def test_times_offsets_and_iso(tmp_path: Path) -> None:
    path = write(tmp_path, """
tests:
  - name: repeats after a day, given as an ISO time
    start: 2026-02-01T08:00:00Z
    messages:
      - {score: -0.9}
      - {score: -0.9, at: "2026-02-02T07:59:00Z"}
      - {score: -0.9, at: 2026-02-02T08:00:00Z}
      - {score: -0.9, at: "+30m"}
      - {score: -0.9, at: "+1d"}
    expect:
      fired: [very-negative-message, very-negative-message, very-negative-message]
""")
    status, output = run(ruleset(ARTICLE_RULES), [path])
    assert status == 0, output


def test_a_failing_test_shows_the_replay(tmp_path: Path) -> None:
    path = write(tmp_path, """
tests:
  - name: expects too much
    ticket: {priority: urgent, tags: [vip]}
    messages:
      - {score: 0.5}
      - {score: -0.8, at: "+2h"}
    expect:
      fired: []
      tags: [vip, sentiment-declining]
      absent_tags: [sentiment-very-negative]
      priority: low
""")
    status, output = run(ruleset(ARTICLE_RULES), [path])
    assert status == 1
    assert output.splitlines()[1:] == [
        f"  FAIL  expects too much  ({path}:3)",
        "        fired: expected [], got ['very-negative-message']",
        "        tags: expected ['vip', 'sentiment-declining'] present, missing "
        "['sentiment-declining']; got ['sentiment-very-negative', 'vip']",
        "        absent_tags: expected ['sentiment-very-negative'] absent, present "
        "['sentiment-very-negative']",
        "        priority: expected low, got urgent",
        "        replay:",
        "          +0:00:00 customer score +0.500",
        "          +2:00:00 customer score -0.800",
        "          +2:00:00   fire very-negative-message (first, very_negative_message) "
        "{'trend': 'stable', 'direction': 0.0, 'current_avg': -0.15, 'last_score': -0.8}",
        "  0 passed, 1 failed",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("tests:\n  - name: x\n    messages: [{score: 0.1}]\n    expect: {fird: []}\n",
     "t.yaml:4: tests[0].expect.fird: unknown key; did you mean fired?"),
    ("tests:\n  - name: x\n    messages:\n      - {score: 0.1, text: hi}\n    expect: {}\n",
     "t.yaml:4: tests[0].messages[0]: a customer message needs exactly one of score or text"),
    ("tests:\n  - name: x\n    messages:\n      - {author: agent, score: 0.1}\n    expect: {}\n",
     "t.yaml:4: tests[0].messages[0]: agent messages are not scored; give only text and at"),
    ("tests:\n  - name: x\n    messages:\n      - {score: 0.1, at: tomorrow}\n    expect: {}\n",
     "t.yaml:4: tests[0].messages[0]: at: expected an offset such as +2h or an ISO time, "
     "got 'tomorrow'"),
    ("tests:\n  - name: x\n    messages:\n      - {score: 1.5}\n    expect: {}\n",
     "t.yaml:4: tests[0].messages[0].score: Input should be less than or equal to 1"),
    ("tests:\n  - name: x\n    messages: [{score: 0.1}]\n    expect: {fired: [nope]}\n",
     "t.yaml:4: tests[0].expect.fired[0]: unknown rule 'nope'"),
    ("tests:\n  - name: x\n    messages:\n      - {score: 0.1, at: '2026-01-05T10:00:00Z'}\n"
     "      - {score: 0.1, at: '2026-01-05T09:00:00Z'}\n    expect: {}\n",
     "t.yaml:2: tests[0]: messages[1].at goes back in time"),
    ("tests:\n  - &a {name: x}\n", "t.yaml:2: YAML anchors and aliases are not allowed"),
    ("tests: []\n", "t.yaml:1: tests: List should have at least 1 item after validation, "
     "not 0"),
])
def test_file_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    status, output = run(ruleset(ARTICLE_RULES), [path])
    assert status == 2
    assert output.splitlines() == [message.replace("t.yaml", str(path), 1)]


def test_status_is_the_worst_over_all_files(tmp_path: Path) -> None:
    passing = write(tmp_path, "tests:\n  - name: calm\n    messages: [{score: 0.5}]\n"
                              "    expect: {fired: []}\n", "pass.yaml")
    failing = write(tmp_path, "tests:\n  - name: calm\n    messages: [{score: 0.5}]\n"
                              "    expect: {fired: [very-negative-message]}\n", "fail.yaml")
    broken = write(tmp_path, "tests: {}\n", "broken.yaml")
    rules = ruleset(ARTICLE_RULES)
    assert run(rules, [passing])[0] == 0
    assert run(rules, [passing, failing])[0] == 1
    assert run(rules, [failing, broken, passing])[0] == 2


INCIDENT_TEST = """
tests:
  - name: outage
    start: 2026-01-05T09:00:00Z
    tickets:
{tickets}
    expect:
      incident: {expect}
      fired_by_ticket: {{"t4": []}}
"""


def _incident_file(tmp_path: Path, count: int, expect: str) -> Path:
    tickets = "\n".join(
        f"      - ticket: {{ticket_id: t{n}}}\n"
        f"        messages: [{{at: +{n * 2}m, score: -0.8, topic: login failure}}]"
        for n in range(count))
    return write(tmp_path, INCIDENT_TEST.format(tickets=tickets, expect=expect))


def test_several_tickets_with_times_can_expect_an_incident_and_inhibition(
        tmp_path: Path) -> None:
    rules = ruleset([{"name": "very-negative", "when": {"last_score_below": -0.7},
                      "inhibited_by": ["incident"], "actions": {"add_tags": ["x"]}}])
    status, out = run(rules, [_incident_file(
        tmp_path, 5, "{opened: true, members: [t0, t1, t2, t3, t4], topic: login, "
                     "resolved: true}")])
    assert status == 0, out
    # Four tickets are no incident; the fifth ticket's rule is then not inhibited either.
    status, out = run(rules, [_incident_file(tmp_path, 4, "{opened: true}")])
    assert status == 1
    assert "incident: expected one to open, none did" in out


def test_a_wrong_incident_expectation_names_what_differs(tmp_path: Path) -> None:
    rules = ruleset([{"name": "very-negative", "when": {"last_score_below": -0.7},
                      "actions": {"add_tags": ["x"]}}])
    status, out = run(rules, [_incident_file(
        tmp_path, 6, "{opened: true, members: [t0, t1], topic: billing}")])
    assert status == 1
    assert "incident.members: expected ['t0', 't1'], got ['t0', 't1', 't2', 't3', 't4', " \
           "'t5']" in out
    assert "incident.topic: expected 'billing' in 'login failure'" in out
    # Without inhibited_by: [incident], the fifth ticket's very negative message fires.
    assert "fired_by_ticket[t4]: expected [], got ['very-negative']" in out


def test_messages_and_tickets_do_not_mix(tmp_path: Path) -> None:
    path = write(tmp_path, """
tests:
  - name: both
    messages: [{score: -0.9}]
    tickets: [{ticket: {ticket_id: a}, messages: [{score: -0.9}]}]
    expect: {fired: []}
""")
    status, out = run(ARTICLE_RULES, [path])
    assert status == 2
    assert "give either messages (one ticket) or tickets (several)" in out
