"""Agents telling us we were wrong, read from the tags they already use.

An agent marks a false alarm by adding the false-alarm tag (default
`sentiment-false-alarm`) to an escalated ticket, or by removing the tag our escalation
put there; and marks a miss by adding the missed tag (default `sentiment-missed`) to a
ticket we did not escalate.  The daemon sees the ticket's tags in the snapshot each poll
already carries, so reading a mark costs no request.  `read_marks` is one pure function
of those tags, the rules, the per-rule history and the feedback state persisted per
(ticket, rule), in the shape of `rules.engine.evaluate`:

- a false alarm is recorded once per firing, against that firing (`fire_count`); it
  closes the rule's episode and mutes the rule on this ticket until the customer writes
  again (`muted_rules`), and a muted rule keeps inhibiting the rules it inhibits;
- removing our tag counts only after the tag was seen on the ticket since the firing (a
  snapshot read before the tag was delivered is not a removal);
- the false-alarm tag counts when it appears: one left on the ticket does not mark the
  next firing too (the ticket-level record "*" remembers whether it was there);
- a miss is recorded once per ticket, for every rule that never fired on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from rules.lifecycle import RuleHistory
from rules.model import RuleSet

#: The key of the ticket-level record (not a valid rule name).
TICKET = "*"

MarkKind = Literal["false_alarm", "missed"]


@dataclass(frozen=True, slots=True)
class FeedbackTags:
    false_alarm: str = "sentiment-false-alarm"
    missed: str = "sentiment-missed"


@dataclass(frozen=True, slots=True)
class FeedbackState:
    """What the daemon remembers of agents' marks on one (ticket, rule)."""

    fire_count: int = 0  # the firing this record is about
    tag_seen: bool = False  # the rule's tag was on the ticket since that firing
    false_alarm_at: datetime | None = None
    false_alarm_via: str | None = None  # "tag" (false-alarm tag added) | "untag"
    muted_message_id: str | None = None  # muted while this is the latest customer message
    missed_at: datetime | None = None  # ticket-level record only
    flag_present: bool = False  # ticket-level: the false-alarm tag was there at last look

    def to_row(self) -> dict[str, Any]:
        return {"fire_count": self.fire_count, "tag_seen": self.tag_seen,
                "false_alarm_at": self.false_alarm_at, "false_alarm_via": self.false_alarm_via,
                "muted_message_id": self.muted_message_id, "missed_at": self.missed_at,
                "flag_present": self.flag_present}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FeedbackState:
        return cls(fire_count=int(row.get("fire_count") or 0),
                   tag_seen=bool(row.get("tag_seen")),
                   false_alarm_at=row.get("false_alarm_at"),
                   false_alarm_via=row.get("false_alarm_via"),
                   muted_message_id=row.get("muted_message_id"),
                   missed_at=row.get("missed_at"), flag_present=bool(row.get("flag_present")))


@dataclass(frozen=True, slots=True)
class Mark:
    rule: str
    kind: MarkKind
    via: str  # "tag", "untag" (false alarms) or "tag" (misses)
    fire_count: int  # the firing a false alarm is about; 0 for a miss
    escalated_at: datetime | None  # when that firing happened


@dataclass(frozen=True, slots=True)
class FeedbackReading:
    marks: tuple[Mark, ...] = ()
    states: Mapping[str, FeedbackState] = field(default_factory=dict)  # changed records
    history: Mapping[str, RuleHistory] = field(default_factory=dict)  # changed histories


def read_marks(*, tags: frozenset[str], rules: RuleSet, history: Mapping[str, RuleHistory],
               states: Mapping[str, FeedbackState], marks: FeedbackTags,
               latest_message_id: str | None, now: datetime) -> FeedbackReading:
    """The marks agents made on one ticket since the last look, and what changes."""
    found: list[Mark] = []
    new_states: dict[str, FeedbackState] = {}
    new_history: dict[str, RuleHistory] = {}
    ticket = states.get(TICKET, FeedbackState())
    flag_now = marks.false_alarm in tags
    flag_appeared = flag_now and not ticket.flag_present
    for rule in rules.rules:
        record = history.get(rule.name)
        state = states.get(rule.name, FeedbackState())
        if record is None or record.fire_count == 0:
            continue
        if record.fire_count != state.fire_count:  # a firing since: a fresh record
            state = FeedbackState(fire_count=record.fire_count)
        before = state
        own_tags = set(rule.actions.add_tags)
        open_alarm = record.state == "firing" and state.false_alarm_at is None
        if open_alarm:
            via = None
            if flag_appeared:
                via = "tag"
            elif own_tags and state.tag_seen and not own_tags & tags:
                via = "untag"
            if via is not None:
                found.append(Mark(rule.name, "false_alarm", via, record.fire_count,
                                  record.last_fired_at))
                state = replace(state, false_alarm_at=now, false_alarm_via=via,
                                muted_message_id=latest_message_id or record.last_message_id)
                # The agent closed the episode: the next holding after the customer
                # writes again is a new first firing.
                new_history[rule.name] = replace(record, state="resolved", resolved_at=now,
                                                 condition_false_since=None)
            elif own_tags & tags and not state.tag_seen:
                state = replace(state, tag_seen=True)
        if state != before or rule.name not in states:
            new_states[rule.name] = state
    if marks.missed in tags and ticket.missed_at is None:
        for rule in rules.rules:
            record = history.get(rule.name)
            if record is None or record.fire_count == 0:
                found.append(Mark(rule.name, "missed", "tag", 0, None))
        ticket = replace(ticket, missed_at=now)
    if ticket.flag_present != flag_now:
        ticket = replace(ticket, flag_present=flag_now)
    if ticket != states.get(TICKET, FeedbackState()) or (
            TICKET not in states and (flag_now or ticket.missed_at is not None)):
        new_states[TICKET] = ticket
    return FeedbackReading(tuple(found), new_states, new_history)


def muted_rules(states: Mapping[str, FeedbackState], latest_message_id: str | None
                ) -> frozenset[str]:
    """Rules an agent marked as a false alarm with no customer message since."""
    return frozenset(rule for rule, state in states.items()
                     if rule != TICKET and state.muted_message_id is not None
                     and state.muted_message_id == latest_message_id)
