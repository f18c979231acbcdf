"""rules/incidents.py: the pure incident decision, by example and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.incidents import (
    Candidate,
    IncidentSettings,
    IncidentWindow,
    evaluate_incidents,
    is_candidate,
    next_incident_due,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SETTINGS = IncidentSettings(enabled=True, window=timedelta(minutes=30), min_tickets=5,
                            notify=("escalations",))


def cand(ticket: str, minute: float, terms: tuple[str, ...], *, source: str = "zd",
         language: str = "en", message: str | None = None) -> Candidate:
    return Candidate(source=source, ticket_id=ticket,
                     message_id=message or f"{source}-{ticket}-{minute}",
                     at=T0 + timedelta(minutes=minute), score=-0.6, language=language,
                     terms=terms, words=terms)


def run(candidates: list[Candidate], settings: IncidentSettings = SETTINGS,
        until: float | None = None) -> tuple[IncidentWindow, list[tuple[str, int, str]]]:
    """Feed candidates one at a time at their own time (as polls would); then, if
    `until`, a timer-only evaluation then.  Returns (window, [(kind, minute, id)])."""
    window = IncidentWindow()
    log: list[tuple[str, int, str]] = []
    for candidate in candidates:
        evaluation = evaluate_incidents(window, [candidate], settings, candidate.at)
        window = evaluation.window
        minute = int((candidate.at - T0).total_seconds() // 60)
        log += [(d.kind, minute, d.incident.incident_id) for d in evaluation.decisions]
    if until is not None:
        evaluation = evaluate_incidents(window, [], settings, T0 + timedelta(minutes=until))
        window = evaluation.window
        log += [(d.kind, int(until), d.incident.incident_id) for d in evaluation.decisions]
    return window, log


def test_five_tickets_on_one_topic_open_one_incident_on_the_fifth() -> None:
    candidates = [cand(str(i), i, ("login", f"other{i}")) for i in range(5)]
    window, log = run(candidates)
    assert [(kind, minute) for kind, minute, _ in log] == [("open", 4)]
    (incident,) = window.incidents
    assert incident.key_term == "login" and incident.topic == "login"
    assert sorted(m.ticket_id for m in incident.members) == ["0", "1", "2", "3", "4"]
    assert all(m.announced for m in incident.members)
    assert window.candidates == ()  # the members left the pool


def test_four_tickets_or_one_ticket_writing_five_times_is_no_incident() -> None:
    _, log = run([cand(str(i), i, ("login",)) for i in range(4)])
    assert log == []
    _, log = run([cand("same", i, ("login",), message=f"m{i}") for i in range(8)])
    assert log == []


def test_spread_beyond_the_window_is_no_incident() -> None:
    # Five tickets about one thing, but never five within 30 minutes.
    _, log = run([cand(str(i), i * 10, ("login",)) for i in range(5)])
    assert log == []


def test_languages_do_not_mix() -> None:
    candidates = [cand(str(i), i, ("login",), language="en" if i % 2 else "de")
                  for i in range(8)]
    _, log = run(candidates)
    assert log == []


def test_later_tickets_join_with_rate_limited_updates_then_resolve() -> None:
    first = [cand(str(i), i, ("login", f"word{i}")) for i in range(5)]
    later = [cand("5", 5, ("login",)), cand("6", 6, ("page", "login")),
             cand("0", 7, ("login",), message="again"),  # a member writing again
             cand("7", 12, ("crash", "page", "login")),
             cand("8", 13, ("invoice",))]  # another topic: stays in the pool
    window, log = run(first + later, until=60)
    kinds = [(kind, minute) for kind, minute, _ in log]
    # Joins are tagged at once; the thread is told at most every 5 minutes: tickets 5
    # and 6 wait for the update at minute 12 (opened at 4, +5 = 9), ticket 7 comes in it.
    assert kinds == [("open", 4), ("join", 5), ("join", 6), ("join", 12), ("update", 12),
                     ("resolve", 60)]
    assert window.incidents == ()
    assert [c.ticket_id for c in window.candidates] == []  # minute 13 is out of the window


def test_update_waits_for_the_rate_limit_and_a_timer_only_evaluation_sends_it() -> None:
    window, log = run([cand(str(i), i, ("login",)) for i in range(6)])
    assert [k for k, _, _ in log] == ["open", "join"]
    assert len(window.incidents) == 1
    due = next_incident_due(window, SETTINGS)
    assert due == T0 + timedelta(minutes=4 + 5)
    quiet = evaluate_incidents(window, [], SETTINGS, due - timedelta(seconds=1))
    assert quiet.decisions == ()
    update = evaluate_incidents(window, [], SETTINGS, due)
    ((decision),) = update.decisions
    assert decision.kind == "update" and [m.ticket_id for m in decision.members] == ["5"]
    assert decision.sequence == 1
    again = evaluate_incidents(update.window, [], SETTINGS, due + timedelta(minutes=1))
    assert again.decisions == ()


def test_hard_signals_make_a_mild_message_count() -> None:
    assert is_candidate(-0.3, (), -0.3)  # at the threshold counts
    assert not is_candidate(-0.29, (), -0.3)
    assert is_candidate(0.2, ("legal_threat",), -0.3)
    assert not is_candidate(0.2, ("prompt_injection",), -0.3)


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        IncidentSettings.model_validate({"enabled": True, "windw": "30m"})
    with pytest.raises(ValidationError):
        IncidentSettings.model_validate({"min_tickets": 1})
    assert IncidentSettings.model_validate({"window": "45m"}).window == timedelta(minutes=45)


# -- properties ------------------------------------------------------------------------

TERMS = st.sampled_from(["login", "page", "invoice", "crash", "export", "sync", "email"])
STREAM = st.lists(
    st.tuples(st.integers(0, 11), st.floats(0, 120, allow_nan=False), st.sets(TERMS,
              min_size=1, max_size=3), st.sampled_from(["en", "de"])),
    min_size=0, max_size=40)


def _stream(raw: list[tuple[int, float, set[str], str]]) -> list[Candidate]:
    out = [cand(str(ticket), minute, tuple(sorted(terms)), language=language,
                message=f"m{position}")
           for position, (ticket, minute, terms, language) in enumerate(raw)]
    return sorted(out, key=lambda c: c.at)


@settings(max_examples=150, deadline=None)
@given(STREAM)
def test_property_an_open_incident_always_has_min_tickets_distinct_members(raw) -> None:
    candidates = _stream(raw)
    window = IncidentWindow()
    for candidate in candidates:
        evaluation = evaluate_incidents(window, [candidate], SETTINGS, candidate.at)
        for decision in evaluation.decisions:
            tickets = [m.ticket for m in decision.incident.members]
            assert len(tickets) == len(set(tickets))  # one member per ticket
            if decision.kind == "open":
                assert len(tickets) >= SETTINGS.min_tickets
                # every member message is within the window before the opening
                assert all(m.at >= candidate.at - SETTINGS.window
                           for m in decision.incident.members)
                assert all(decision.incident.key_term in c.terms for c in candidates
                           if c.message_id in {m.message_id for m in decision.members})
        window = evaluation.window
        # no message is both pooled and a member
        pooled = {c.message_id for c in window.candidates}
        members = {m.message_id for i in window.incidents for m in i.members}
        assert not pooled & members


@settings(max_examples=100, deadline=None)
@given(STREAM)
def test_property_re_evaluating_the_same_messages_changes_nothing(raw) -> None:
    """Idempotent: a poll seen again (a crash before commit is replayed with the
    committed window) gives no new decision."""
    candidates = _stream(raw)
    window = IncidentWindow()
    for candidate in candidates:
        evaluation = evaluate_incidents(window, [candidate], SETTINGS, candidate.at)
        window = evaluation.window
        again = evaluate_incidents(window, [candidate], SETTINGS, candidate.at)
        assert again.decisions == ()
        assert again.window == window


@settings(max_examples=100, deadline=None)
@given(STREAM, st.integers(2, 8))
def test_property_a_lower_min_tickets_opens_no_later(raw, higher) -> None:
    """Monotonic: requiring fewer tickets never delays the first incident."""
    candidates = _stream(raw)

    def first_open(min_tickets: int) -> datetime | None:
        config = SETTINGS.model_copy(update={"min_tickets": min_tickets})
        window = IncidentWindow()
        for candidate in candidates:
            evaluation = evaluate_incidents(window, [candidate], config, candidate.at)
            if any(d.kind == "open" for d in evaluation.decisions):
                return candidate.at
            window = evaluation.window
        return None

    high = first_open(higher)
    low = first_open(max(2, higher - 1))
    if high is not None:
        assert low is not None and low <= high


@settings(max_examples=100, deadline=None)
@given(STREAM)
def test_property_every_incident_resolves_once_after_a_quiet_window(raw) -> None:
    candidates = _stream(raw)
    window = IncidentWindow()
    opened: set[str] = set()
    resolved: list[str] = []
    for candidate in candidates:
        evaluation = evaluate_incidents(window, [candidate], SETTINGS, candidate.at)
        window = evaluation.window
        opened |= {d.incident.incident_id for d in evaluation.decisions if d.kind == "open"}
        resolved += [d.incident.incident_id for d in evaluation.decisions
                     if d.kind == "resolve"]
    end = T0 + timedelta(minutes=200)
    final = evaluate_incidents(window, [], SETTINGS, end)
    resolved += [d.incident.incident_id for d in final.decisions if d.kind == "resolve"]
    assert sorted(resolved) == sorted(opened)
    assert final.window.incidents == ()
    assert evaluate_incidents(final.window, [], SETTINGS, end).decisions == ()


def test_inhibited_by_incident_keeps_a_rule_quiet_while_its_ticket_is_a_member() -> None:
    from rules.engine import ConversationState, ScoredMessage, TicketView, evaluate
    from rules.model import RuleSet

    rules = RuleSet.model_validate({"rules": [
        {"name": "very-negative", "when": {"last_score_below": -0.7},
         "inhibited_by": ["incident"], "actions": {"add_tags": ["x"]}}]})
    assert rules.inhibited_by_incident()
    messages = (ScoredMessage("m1", T0, -0.9),)
    member = ConversationState(TicketView("zd", "1", in_incident=True), messages)
    assert evaluate(member, rules, {}, T0).decisions == ()
    alone = ConversationState(TicketView("zd", "1"), messages)
    assert [d.rule for d in evaluate(alone, rules, {}, T0).decisions] == ["very-negative"]


def test_incident_is_a_reserved_rule_name() -> None:
    from rules.model import RuleSet

    with pytest.raises(ValidationError, match="the rule name 'incident' is reserved"):
        RuleSet.model_validate({"rules": [
            {"name": "incident", "when": {"last_score_below": -0.7}}]})


def test_one_word_in_two_senses_is_not_one_incident() -> None:
    # "card": three tickets about a gift card's balance, three about a card declined at
    # checkout.  Each group alone is below min_tickets.
    gift = [cand(f"g{i}", i, ("gift", "card", "balanc")) for i in range(3)]
    checkout = [cand(f"c{i}", 3 + i, ("checkout", "card", "declin")) for i in range(3)]
    _, log = run(gift + checkout)
    assert log == []
    # With two more checkout tickets the checkout sense has five and opens alone.
    window, log = run(gift + checkout + [cand(f"c{i}", 6 + i, ("checkout", "card"))
                                         for i in (3, 4)])
    assert [kind for kind, _, _ in log] == ["open"]
    assert sorted(m.ticket_id for m in window.incidents[0].members) == \
        ["c0", "c1", "c2", "c3", "c4"]


def test_a_message_without_the_key_term_joins_on_two_topic_terms() -> None:
    first = [cand(str(i), i, ("checkout", "zahlung", "page")) for i in range(5)]
    window, _ = run(first)
    (incident,) = window.incidents
    key = incident.key_term
    others = [t for t in incident.terms if t != key]
    assert len(others) == 2  # the terms every member shares join the topic
    one = cand("8", 6, (others[0], "basket"))  # one topic term, not the key: stays out
    assert evaluate_incidents(window, [one], SETTINGS, one.at).decisions == ()
    two = cand("9", 7, (others[0], others[1], "basket"))
    evaluation = evaluate_incidents(window, [two], SETTINGS, two.at)
    assert [d.kind for d in evaluation.decisions] == ["join"]
