"""The lifecycle of one rule on one ticket: when to fire, fire again, stay quiet, resolve.

Modelled on Alertmanager's `needsUpdate` (notify/dedup_stage.go): one pure function of
the persisted history, whether the condition holds now, whether the rule is
inhibited, how bad things are, the rule's policy and `now`.  It returns the step to
take and the new history; the daemon persists the history per (ticket, rule), so a
restart never fires twice.  Steps:

- `first`: the condition holds and no episode is open (never fired, or resolved since).
- `repeat`: an episode is open, `repeat_after` has passed since the last firing, and a
  customer message arrived since (a silent or closed ticket is not re-alerted by a
  periodic re-evaluation, only a customer who writes again).
- `worse`: an episode is open, `repeat_after` has not passed, and `escalate_if_worse_by`
  is set and severity (minus current_avg) rose at least that much since the last firing.
- `resolve`: the condition has been false for `resolve_after` (measured from the first
  evaluation that saw it false); the episode closes and a later hold is a new `first`.
- `none`: anything else (within repeat_after, inhibited, not applicable to the ticket,
  waiting to resolve, quiet).

Without `resolve_after` an episode never closes, so the rule fires once per ticket and
then only every `repeat_after` (the skeleton's and the article's behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

Step = Literal["first", "repeat", "worse", "resolve", "none"]

#: Severity deltas are compared after rounding so 0.3 means 0.3 despite float noise.
_SEVERITY_DIGITS = 6


@dataclass(frozen=True, slots=True)
class RuleHistory:
    """What happened with one rule on one ticket; persisted by the daemon as JSON."""

    rule: str
    state: Literal["firing", "resolved"] = "firing"
    first_fired_at: datetime | None = None  # start of the current (or last) episode
    last_fired_at: datetime | None = None
    fire_count: int = 0  # over all episodes
    last_severity: float = 0.0  # severity (minus current_avg) at the last firing
    condition_false_since: datetime | None = None  # while firing and the condition is false
    resolved_at: datetime | None = None
    last_message_id: str | None = None  # the latest customer message at the last firing

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state": self.state,
            "first_fired_at": _iso(self.first_fired_at),
            "last_fired_at": _iso(self.last_fired_at),
            "fire_count": self.fire_count,
            "last_severity": self.last_severity,
            "condition_false_since": _iso(self.condition_false_since),
            "resolved_at": _iso(self.resolved_at),
            "last_message_id": self.last_message_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleHistory:
        """Inverse of to_json; raises ValueError on a malformed record."""
        unknown = set(data) - _JSON_KEYS
        if unknown:
            raise ValueError(f"unknown keys in rule history: {', '.join(sorted(unknown))}")
        rule = data.get("rule")
        state = data.get("state", "firing")
        fire_count = data.get("fire_count", 0)
        severity = data.get("last_severity", 0.0)
        if not isinstance(rule, str) or not rule:
            raise ValueError("rule history needs a rule name")
        if state not in ("firing", "resolved"):
            raise ValueError("rule history state must be firing or resolved")
        if isinstance(fire_count, bool) or not isinstance(fire_count, int) or fire_count < 0:
            raise ValueError("rule history fire_count must be a non-negative integer")
        if isinstance(severity, bool) or not isinstance(severity, int | float):
            raise ValueError("rule history last_severity must be a number")
        message_id = data.get("last_message_id")
        if message_id is not None and not isinstance(message_id, str):
            raise ValueError("rule history last_message_id must be a string")
        return cls(rule=rule, state=state,
                   first_fired_at=_parse_iso(data.get("first_fired_at")),
                   last_fired_at=_parse_iso(data.get("last_fired_at")),
                   fire_count=fire_count, last_severity=float(severity),
                   condition_false_since=_parse_iso(data.get("condition_false_since")),
                   resolved_at=_parse_iso(data.get("resolved_at")),
                   last_message_id=message_id)


_JSON_KEYS = frozenset(RuleHistory.__dataclass_fields__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_iso(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("rule history times must be ISO 8601 strings")
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Policy:
    """The lifecycle knobs of a rule (see rules.model.Rule)."""

    repeat_after: timedelta | None = None
    escalate_if_worse_by: float | None = None
    resolve_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    step: Step
    why: str  # short, for logs and tests: "first", "within repeat_after", "inhibited" ...
    history: RuleHistory | None  # the new history (None: still nothing to remember)


def needs_update(previous: RuleHistory | None, *, rule: str, holds: bool, inhibited: bool,
                 severity: float, policy: Policy, now: datetime,
                 applicable: bool = True, message_id: str | None = None) -> Transition:
    """The one lifecycle decision; pure, table-tested in tests/rules/test_lifecycle.py.

    `applicable` is False when the rule's ticket filters (sources, status, priority_below,
    has_tags, lacks_tags) exclude the ticket: nothing fires and the episode is left as it
    is, so a rule's own actions (a tag, a raised priority) never count as a recovery.
    `message_id` is the latest customer message; a repeat needs one newer than the last
    firing's (unknown ids count as new).
    """
    if not applicable:
        return Transition("none", "not applicable", previous)
    if holds:
        if inhibited:
            # Muted, not cleared: an open episode stays open and is not pending resolve.
            return Transition("none", "inhibited", _holding(previous))
        if previous is None or previous.state == "resolved":
            return Transition("first", "first firing of an episode",
                              _fired(previous, rule, severity, now, message_id,
                                     new_episode=True))
        new_message = message_id is None or message_id != previous.last_message_id
        if (policy.repeat_after is not None and previous.last_fired_at is not None
                and now - previous.last_fired_at >= policy.repeat_after):
            if not new_message:
                return Transition("none", "no customer message since the last firing",
                                  _holding(previous))
            return Transition("repeat", "repeat_after elapsed",
                              _fired(previous, rule, severity, now, message_id,
                                     new_episode=False))
        if (policy.escalate_if_worse_by is not None
                and round(severity - previous.last_severity, _SEVERITY_DIGITS)
                >= policy.escalate_if_worse_by):
            return Transition("worse", "clearly worse than at the last firing",
                              _fired(previous, rule, severity, now, message_id,
                                     new_episode=False))
        return Transition("none", "within repeat_after", _holding(previous))
    if previous is None:
        return Transition("none", "not holding", None)
    if previous.state == "resolved":
        return Transition("none", "resolved", previous)
    false_since = previous.condition_false_since or now
    if policy.resolve_after is not None and now - false_since >= policy.resolve_after:
        return Transition("resolve", "condition false for resolve_after",
                          replace(previous, state="resolved", condition_false_since=None,
                                  resolved_at=now))
    return Transition("none", "waiting to resolve" if policy.resolve_after is not None
                      else "not holding", replace(previous, condition_false_since=false_since))


def _holding(previous: RuleHistory | None) -> RuleHistory | None:
    if previous is not None and previous.state == "firing" \
            and previous.condition_false_since is not None:
        return replace(previous, condition_false_since=None)
    return previous


def _fired(previous: RuleHistory | None, rule: str, severity: float, now: datetime,
           message_id: str | None, *, new_episode: bool) -> RuleHistory:
    first = now if new_episode or previous is None else previous.first_fired_at
    return RuleHistory(rule=rule, state="firing", first_fired_at=first, last_fired_at=now,
                       fire_count=(previous.fire_count if previous else 0) + 1,
                       last_severity=severity, condition_false_since=None, resolved_at=None,
                       last_message_id=message_id)


def resolve_due_at(history: RuleHistory, policy: Policy) -> datetime | None:
    """When a resolve becomes due if nothing changes; lets the daemon re-evaluate then."""
    if history.state != "firing" or policy.resolve_after is None \
            or history.condition_false_since is None:
        return None
    return history.condition_false_since + policy.resolve_after
