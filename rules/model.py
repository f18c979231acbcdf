"""Typed rule definitions, as support-ops people write them in YAML.

A rule is `name`, `when` (conditions, all optional, combined with AND), `actions`, and
its lifecycle knobs (`repeat_after`, `escalate_if_worse_by`, `resolve_after` with
`on_resolve`, `inhibited_by`).  Everything is validated here with pydantic
(`extra="forbid"`: an unknown key is an error), including what crosses fields: note
templates may only use known placeholders, `expr` must parse and use known features,
`inhibited_by` must name a rule listed above.  Each error carries its location so the
daemon's config loader can print `FILE:LINE: key.path: message`.  The defaults are the
original article's semantics (shared/DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rules.expr import validate_expr
from rules.notes import validate_template

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: Normalised helpdesk priorities, lowest first (mirrors connectors.base.PRIORITIES; the
#: rules package may not import connectors, a test keeps the two equal).
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")

#: Signals a scorer may report (mirrors daemon.scoring.base.SIGNALS, checked by a test).
KNOWN_SIGNALS: frozenset[str] = frozenset(
    {"churn_risk", "legal_threat", "manager_request", "repeat_contact", "abusive", "urgent",
     "prompt_injection", "scorer_disagreement"}
)

Priority = Literal["low", "normal", "high", "urgent"]
TrendMethod = Literal["article", "ewma"]

#: ewma_alpha when `method: ewma` does not set one: the latest message weighs as much
#: as everything before it together.
DEFAULT_EWMA_ALPHA = 0.5


def priority_rank(priority: str | None) -> int:
    """Rank of a priority; unknown or missing ranks below `low` (so any rule raises it)."""
    if priority is None or priority not in PRIORITIES:
        return -1
    return PRIORITIES.index(priority)


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '24h', '7d', '1w' or a number of seconds; never negative."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 24h or 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError("expected a duration such as 15m, 24h or 7d")


def _as_tuple(value: object) -> object:
    """Let a single string stand for a one-item list (`status: open`)."""
    return (value,) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Tag = Annotated[str, Field(pattern=r"^[^\s,]{1,80}$")]
Tags = Annotated[tuple[Tag, ...], BeforeValidator(_as_tuple)]
Names = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=80)], ...],
                  BeforeValidator(_as_tuple)]
RuleName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsecutiveNegative(Strict):
    """The latest `count` customer messages all scored strictly below `below`."""

    count: int = Field(ge=1, le=50)
    below: float = Field(ge=-1, le=1)


class When(Strict):
    """Conditions; each is optional and all that are given must hold."""

    trend: Literal["declining", "improving", "stable"] | None = None
    decline_threshold: float = Field(0.3, ge=0, le=2)
    method: TrendMethod = "article"
    ewma_alpha: float | None = Field(None, gt=0, le=1)
    current_avg_below: float | None = Field(None, ge=-1, le=1)
    last_score_below: float | None = Field(None, ge=-1, le=1)
    min_customer_messages: int | None = Field(None, ge=1, le=10_000)
    consecutive_negative: ConsecutiveNegative | None = None
    signals_any: Names | None = None
    signals_window: int = Field(3, ge=1, le=10_000)
    sources: Names | None = None
    priority_below: Priority | None = None
    has_tags: Tags | None = None
    lacks_tags: Tags | None = None
    status: Names | None = None
    expr: str | None = Field(None, min_length=1, max_length=1000)

    @field_validator("signals_any")
    @classmethod
    def _known_signals(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for signal in value or ():
            if signal not in KNOWN_SIGNALS:
                raise ValueError(f"unknown signal {signal!r} (known: "
                                 f"{', '.join(sorted(KNOWN_SIGNALS))})")
        return value

    @field_validator("expr")
    @classmethod
    def _valid_expr(cls, value: str | None) -> str | None:
        if value is not None:
            validate_expr(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> When:
        if self.ewma_alpha is not None and self.method != "ewma":
            raise ValueError("ewma_alpha only applies with method: ewma")
        conditions = {name for name in type(self).model_fields if getattr(self, name) is not None}
        # decline_threshold, method and signals_window tune other conditions; alone
        # they would match every ticket.
        if not conditions - {"decline_threshold", "method", "ewma_alpha", "signals_window"}:
            raise ValueError("needs at least one condition (an empty `when` matches every "
                             "ticket)")
        return self

    @property
    def alpha(self) -> float:
        return self.ewma_alpha if self.ewma_alpha is not None else DEFAULT_EWMA_ALPHA


class Actions(Strict):
    add_tags: Tags = ()
    remove_tags: Tags = ()
    priority: Priority | None = None  # only ever raises the ticket's priority
    note: str | None = Field(None, min_length=1, max_length=5000)  # a template
    notify: Names = ()  # names of notifiers configured in the same file

    @field_validator("note")
    @classmethod
    def _valid_note(cls, value: str | None) -> str | None:
        if value is not None:
            validate_template(value)
        return value

    @model_validator(mode="after")
    def _no_contradiction(self) -> Actions:
        both = set(self.add_tags) & set(self.remove_tags)
        if both:
            raise ValueError(f"tags both added and removed: {', '.join(sorted(both))}")
        return self

    @property
    def empty(self) -> bool:
        return not (self.add_tags or self.remove_tags or self.priority or self.note
                    or self.notify)


class Rule(Strict):
    name: RuleName
    when: When
    actions: Actions = Actions()
    repeat_after: Duration | None = None  # None: once per episode (per ticket without resolve)
    escalate_if_worse_by: float | None = Field(None, gt=0, le=2)  # off by default
    resolve_after: Duration | None = None  # None: never announce a resolve
    on_resolve: Actions | None = None
    inhibited_by: Names = ()

    @field_validator("repeat_after")
    @classmethod
    def _positive_repeat(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("repeat_after must be longer than 0 (leave it out to fire once)")
        return value

    @model_validator(mode="after")
    def _lifecycle(self) -> Rule:
        if self.on_resolve is not None:
            if self.resolve_after is None:
                raise ValueError("on_resolve needs resolve_after (how long the condition "
                                 "must stay false)")
            if self.on_resolve.priority is not None:
                raise ValueError("on_resolve cannot set a priority (priorities are only "
                                 "ever raised)")
        if self.name in self.inhibited_by:
            raise ValueError("a rule cannot inhibit itself")
        return self


class RuleSet(Strict):
    """The ordered rules of a config; evaluated top to bottom."""

    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        problems: list[InitErrorDetails] = []
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.name in seen:
                problems.append(_problem(("rules", index, "name"), rule.name, "duplicate_rule",
                                         f"rule name {rule.name!r} is already used by rule "
                                         f"#{seen[rule.name] + 1}"))
            for position, target in enumerate(rule.inhibited_by):
                if target not in seen and target != rule.name:
                    later = any(other.name == target for other in self.rules)
                    message = (f"rule {target!r} must be listed above this rule" if later
                               else f"unknown rule {target!r}")
                    problems.append(_problem(("rules", index, "inhibited_by", position),
                                             target, "unknown_rule", message))
            seen.setdefault(rule.name, index)
        if problems:
            # Raised as a ValidationError so each problem keeps its own location.
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def notifier_names(self) -> set[str]:
        """Every notifier named by any rule (firing and on_resolve)."""
        return {name for _, name in self.notify_references()}

    def notify_references(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """(location, notifier name) for each `notify` entry, for FILE:LINE errors."""
        for index, rule in enumerate(self.rules):
            sections: list[tuple[str, Actions]] = [("actions", rule.actions)]
            if rule.on_resolve is not None:
                sections.append(("on_resolve", rule.on_resolve))
            for section, actions in sections:
                for position, name in enumerate(actions.notify):
                    yield ("rules", index, section, "notify", position), name

    def by_name(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)


def _problem(loc: tuple[str | int, ...], value: object, kind: str,
             message: str) -> InitErrorDetails:
    # The message goes in through the context: a rule name could contain braces.
    return InitErrorDetails(type=PydanticCustomError(kind, "{message}", {"message": message}),
                            loc=loc, input=value)
