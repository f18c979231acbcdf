"""The lifecycle decision as a table, like Alertmanager's needsUpdate tests, and its JSON."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.lifecycle import Policy, RuleHistory, needs_update, resolve_due_at

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)

FIRING = RuleHistory(rule="r", state="firing", first_fired_at=NOW - 30 * H,
                     last_fired_at=NOW - 2 * H, fire_count=1, last_severity=0.6,
                     last_message_id="m1")
FALSE_FOR_5H = replace(FIRING, condition_false_since=NOW - 5 * H)
RESOLVED = replace(FIRING, state="resolved", resolved_at=NOW - H)

REPEAT_24H = Policy(repeat_after=24 * H)
REPEAT_1H = Policy(repeat_after=H)
WORSE = Policy(repeat_after=24 * H, escalate_if_worse_by=0.3)
RESOLVE_4H = Policy(repeat_after=24 * H, resolve_after=4 * H)
RESOLVE_6H = Policy(repeat_after=24 * H, resolve_after=6 * H)
RESOLVE_NOW = Policy(resolve_after=timedelta(0))

# (case, previous, holds, inhibited, severity, policy, expected step, expected why)
TABLE = [
    ("first firing", None, True, False, 0.6, REPEAT_24H, "first", "first firing of an episode"),
    ("first firing without repeat", None, True, False, 0.6, Policy(), "first",
     "first firing of an episode"),
    ("nothing, nothing to remember", None, False, False, 0.6, REPEAT_24H, "none", "not holding"),
    ("inhibited before any firing", None, True, True, 0.9, REPEAT_24H, "none", "inhibited"),
    ("within repeat_after", FIRING, True, False, 0.6, REPEAT_24H, "none",
     "within repeat_after"),
    ("no repeat_after: once only", FIRING, True, False, 0.6, Policy(), "none",
     "within repeat_after"),
    ("repeat_after elapsed", FIRING, True, False, 0.6, REPEAT_1H, "repeat",
     "repeat_after elapsed"),
    ("repeat_after exactly elapsed", FIRING, True, False, 0.6, Policy(repeat_after=2 * H),
     "repeat", "repeat_after elapsed"),
    ("inhibited after repeat_after", FIRING, True, True, 0.6, REPEAT_1H, "none", "inhibited"),
    ("worse by the step exactly", FIRING, True, False, 0.9, WORSE, "worse",
     "clearly worse than at the last firing"),
    ("worse but not by enough", FIRING, True, False, 0.89, WORSE, "none", "within repeat_after"),
    ("worse is off by default", FIRING, True, False, 1.0, REPEAT_24H, "none",
     "within repeat_after"),
    ("better is never worse", FIRING, True, False, 0.1, WORSE, "none", "within repeat_after"),
    ("condition stops, no resolve_after", FIRING, False, False, 0.0, REPEAT_24H, "none",
     "not holding"),
    ("condition stops, waiting", FIRING, False, False, 0.0, RESOLVE_4H, "none",
     "waiting to resolve"),
    ("false long enough", FALSE_FOR_5H, False, False, 0.0, RESOLVE_4H, "resolve",
     "condition false for resolve_after"),
    ("false not long enough", FALSE_FOR_5H, False, False, 0.0, RESOLVE_6H, "none",
     "waiting to resolve"),
    ("resolve_after 0 resolves at once", FIRING, False, False, 0.0, RESOLVE_NOW, "resolve",
     "condition false for resolve_after"),
    ("holds again before resolving", FALSE_FOR_5H, True, False, 0.6, RESOLVE_6H, "none",
     "within repeat_after"),
    ("new episode after resolve", RESOLVED, True, False, 0.6, REPEAT_24H, "first",
     "first firing of an episode"),
    ("resolved stays resolved", RESOLVED, False, False, 0.0, RESOLVE_4H, "none", "resolved"),
    ("inhibited after resolve", RESOLVED, True, True, 0.6, REPEAT_24H, "none", "inhibited"),
]

# not applicable (a ticket filter excludes the ticket): nothing fires, nothing changes
NOT_APPLICABLE = [None, FIRING, FALSE_FOR_5H, RESOLVED]


@pytest.mark.parametrize("previous", NOT_APPLICABLE)
@pytest.mark.parametrize("holds", [True, False])
def test_not_applicable_changes_nothing(previous: RuleHistory | None, holds: bool) -> None:
    transition = needs_update(previous, rule="r", holds=holds, inhibited=False, severity=0.9,
                              policy=Policy(repeat_after=H, resolve_after=timedelta(0),
                                            escalate_if_worse_by=0.1),
                              now=NOW, applicable=False)
    assert (transition.step, transition.why, transition.history) == \
        ("none", "not applicable", previous)


@pytest.mark.parametrize(("case", "previous", "holds", "inhibited", "severity", "policy",
                          "step", "why"), TABLE, ids=[row[0] for row in TABLE])
def test_needs_update_table(case: str, previous: RuleHistory | None, holds: bool,
                            inhibited: bool, severity: float, policy: Policy, step: str,
                            why: str) -> None:
    transition = needs_update(previous, rule="r", holds=holds, inhibited=inhibited,
                              severity=severity, policy=policy, now=NOW, message_id="m2")
    assert (transition.step, transition.why) == (step, why)


@pytest.mark.parametrize(("message_id", "step"), [("m1", "none"), ("m2", "repeat"),
                                                  (None, "repeat")])
def test_a_repeat_needs_a_customer_message_since_the_last_firing(message_id: str | None,
                                                                 step: str) -> None:
    # a periodic re-evaluation of a silent ticket must not re-alert every repeat_after
    transition = needs_update(FIRING, rule="r", holds=True, inhibited=False, severity=0.6,
                              policy=REPEAT_1H, now=NOW, message_id=message_id)
    assert transition.step == step
    if step == "none":
        assert transition.why == "no customer message since the last firing"
        assert transition.history == FIRING


def test_firing_records_the_episode() -> None:
    first = needs_update(None, rule="r", holds=True, inhibited=False, severity=0.55,
                         policy=REPEAT_24H, now=NOW, message_id="m1").history
    assert first == RuleHistory(rule="r", state="firing", first_fired_at=NOW,
                                last_fired_at=NOW, fire_count=1, last_severity=0.55,
                                last_message_id="m1")
    later = NOW + 25 * H
    repeat = needs_update(first, rule="r", holds=True, inhibited=False, severity=0.7,
                          policy=REPEAT_24H, now=later, message_id="m7").history
    assert repeat == replace(first, last_fired_at=later, fire_count=2, last_severity=0.7,
                             last_message_id="m7")
    again = needs_update(RESOLVED, rule="r", holds=True, inhibited=False, severity=0.6,
                         policy=REPEAT_24H, now=NOW, message_id="m1").history
    assert again is not None
    assert (again.first_fired_at, again.fire_count, again.resolved_at) == (NOW, 2, None)


def test_false_since_is_kept_from_the_first_false_evaluation() -> None:
    waiting = needs_update(FIRING, rule="r", holds=False, inhibited=False, severity=0.0,
                           policy=RESOLVE_4H, now=NOW).history
    assert waiting is not None and waiting.condition_false_since == NOW
    still = needs_update(waiting, rule="r", holds=False, inhibited=False, severity=0.0,
                         policy=RESOLVE_4H, now=NOW + H).history
    assert still is not None and still.condition_false_since == NOW
    resolved = needs_update(still, rule="r", holds=False, inhibited=False, severity=0.0,
                            policy=RESOLVE_4H, now=NOW + 4 * H)
    assert resolved.step == "resolve"
    assert resolved.history == replace(FIRING, state="resolved", resolved_at=NOW + 4 * H)


def test_holding_again_clears_the_pending_resolve() -> None:
    for inhibited in (False, True):
        history = needs_update(FALSE_FOR_5H, rule="r", holds=True, inhibited=inhibited,
                               severity=0.6, policy=RESOLVE_6H, now=NOW).history
        assert history == FIRING


def test_resolve_due_at() -> None:
    assert resolve_due_at(FALSE_FOR_5H, RESOLVE_6H) == NOW + H
    assert resolve_due_at(FIRING, RESOLVE_6H) is None  # still holding
    assert resolve_due_at(FALSE_FOR_5H, REPEAT_24H) is None  # never resolves
    assert resolve_due_at(RESOLVED, RESOLVE_6H) is None


def test_history_json_round_trip_and_shape() -> None:
    record = replace(FALSE_FOR_5H, last_severity=0.61)
    data = record.to_json()
    assert data == {
        "rule": "r", "state": "firing", "first_fired_at": "2026-03-01T06:00:00+00:00",
        "last_fired_at": "2026-03-02T10:00:00+00:00", "fire_count": 1,
        "last_severity": 0.61, "condition_false_since": "2026-03-02T07:00:00+00:00",
        "resolved_at": None, "last_message_id": "m1"}
    assert RuleHistory.from_json(data) == record


@pytest.mark.parametrize(("data", "message"), [
    ({"rule": "r", "colour": 1}, "unknown keys"),
    ({"state": "firing"}, "rule name"),
    ({"rule": "r", "state": "pending"}, "state"),
    ({"rule": "r", "fire_count": -1}, "fire_count"),
    ({"rule": "r", "fire_count": True}, "fire_count"),
    ({"rule": "r", "last_severity": "high"}, "last_severity"),
    ({"rule": "r", "last_fired_at": 1700000000}, "ISO"),
    ({"rule": "r", "last_message_id": 17}, "last_message_id"),
])
def test_history_from_json_rejects_malformed_records(data: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RuleHistory.from_json(data)


_times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]))


@given(state=st.sampled_from(["firing", "resolved"]), first=_times, last=_times,
       false_since=_times, resolved=_times, count=st.integers(0, 10**6),
       severity=st.floats(-2, 2, allow_nan=False), message_id=st.none() | st.text(max_size=20))
def test_history_json_round_trip_is_exact(state: str, first: datetime | None,
                                          last: datetime | None, false_since: datetime | None,
                                          resolved: datetime | None, count: int,
                                          severity: float, message_id: str | None) -> None:
    record = RuleHistory(rule="sentiment-declining", state=state,  # type: ignore[arg-type]
                         first_fired_at=first, last_fired_at=last, fire_count=count,
                         last_severity=severity, condition_false_since=false_since,
                         resolved_at=resolved, last_message_id=message_id)
    restored = RuleHistory.from_json(record.to_json())
    assert restored == record
    # equal datetimes in different zones compare equal; the offsets must survive too
    assert [t.utcoffset() if t else None for t in (restored.first_fired_at,
                                                   restored.last_fired_at)] == \
        [t.utcoffset() if t else None for t in (first, last)]
