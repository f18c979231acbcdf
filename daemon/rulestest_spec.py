"""What a `rules test` file may say, and reading one: the schema and the test clock.

The file is validated strictly (unknown keys, a customer message with both a score and
a text, time going backwards, a rule name the config does not have), every problem as
`FILE:LINE: key.path: message`, before anything is replayed.  A message's time is its
`at` (an ISO time, or `+10m` after the previous message) or one minute after the
previous message; the first is at the test's `start` (a Monday morning, UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from daemon.yamlsafe import YamlDocument, YamlError, load_yaml, validation_errors
from rules.model import KNOWN_SIGNALS, Priority, RuleSet, parse_duration

#: Where a test's clock starts unless it sets `start` (a Monday morning, UTC).
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT_GAP = timedelta(minutes=1)
MAX_MESSAGES = 10_000  # per test: keeps a replay bounded


def _as_tuple(value: object) -> object:
    return (value,) if isinstance(value, str) else value


Strings = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]


class _Strict(BaseModel):
    # ticket_id: 1234 in YAML is an int; people mean the id.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class TicketSpec(_Strict):
    source: str = "test"
    ticket_id: str = "1"
    subject: str = ""
    status: str | None = "open"
    priority: Priority | None = None
    tags: Strings = ()
    requester: str | None = None


class MessageSpec(_Strict):
    author: Literal["customer", "agent"] = "customer"
    score: float | None = Field(None, ge=-1, le=1)
    text: str | None = Field(None, max_length=100_000)
    at: str | datetime | None = None  # "+2h" after the previous message, or an ISO time
    signals: Strings = ()  # with `score` only: what a scorer would have found
    indicators: Strings = ()
    topic: str | None = Field(None, min_length=1, max_length=80)  # with `score`: its topic

    @model_validator(mode="after")
    def _one_source_of_score(self) -> MessageSpec:
        if self.author == "agent":
            if self.score is not None or self.signals or self.indicators:
                raise ValueError("agent messages are not scored; give only text and at")
        elif (self.score is None) == (self.text is None):
            raise ValueError("a customer message needs exactly one of score or text")
        if (self.signals or self.indicators or self.topic) and self.score is None:
            raise ValueError("signals, indicators and topic go with score; for text the "
                             "scorer finds them")
        unknown = set(self.signals) - KNOWN_SIGNALS
        if unknown:
            raise ValueError(f"unknown signal(s): {', '.join(sorted(unknown))}")
        if isinstance(self.at, str):
            _parse_at(self.at, DEFAULT_START)  # raises ValueError with a useful message
        return self


class IncidentExpect(_Strict):
    opened: bool = True  # whether an incident opens at all
    members: Strings | None = None  # exactly these ticket ids (of the one incident)
    min_members: int | None = Field(None, ge=1)
    topic: str | None = None  # contained in the incident's topic
    resolved: bool | None = None  # resolves within a window after the last message


class Expect(_Strict):
    fired: Strings | None = None  # every firing, in order; [] means none
    resolved: Strings | None = None  # every resolve, in order
    tags: Strings | None = None  # must be on the ticket at the end
    absent_tags: Strings | None = None  # must not be on the ticket at the end
    priority: Priority | None = None  # the ticket's priority at the end
    incident: IncidentExpect | None = None  # with `tickets`
    fired_by_ticket: dict[str, tuple[str, ...]] | None = None  # with `tickets`


class TicketScript(_Strict):
    ticket: TicketSpec
    messages: list[MessageSpec] = Field(min_length=1, max_length=MAX_MESSAGES)


class TestCase(_Strict):
    name: str = Field(min_length=1, max_length=200)
    ticket: TicketSpec = TicketSpec()
    start: datetime = DEFAULT_START
    messages: list[MessageSpec] = Field(default_factory=list, max_length=MAX_MESSAGES)
    tickets: list[TicketScript] = Field(default_factory=list, max_length=1000)
    expect: Expect

    @property
    def clock_start(self) -> datetime:
        """`start` in UTC (a time without a zone is taken as UTC)."""
        return _utc(self.start)

    @model_validator(mode="after")
    def _times_move_forward(self) -> TestCase:
        if bool(self.messages) == bool(self.tickets):
            raise ValueError("give either messages (one ticket) or tickets (several)")
        if self.tickets:
            ids = [script.ticket.ticket_id for script in self.tickets]
            if len(set(ids)) != len(ids):
                raise ValueError("tickets need distinct ticket_id values")
            if self.expect.fired or self.expect.resolved or self.expect.tags \
                    or self.expect.absent_tags or self.expect.priority:
                raise ValueError("with tickets, expect incident and fired_by_ticket")
            for script in self.tickets:
                message_times(self, script.messages)
        else:
            if self.expect.incident is not None or self.expect.fired_by_ticket is not None:
                raise ValueError("expect incident and fired_by_ticket need tickets")
            message_times(self)
        return self


def message_times(case: TestCase, messages: Sequence[MessageSpec] | None = None,
                  ) -> list[datetime]:
    """When each message of a test (or of one of its tickets) happens; ValueError if
    time would go backwards."""
    previous = case.clock_start - DEFAULT_GAP  # so the first message is at `start` by default
    times = []
    for index, message in enumerate(case.messages if messages is None else messages):
        now = _parse_at(message.at, previous)
        if now < previous:
            raise ValueError(f"messages[{index}].at goes back in time")
        times.append(now)
        previous = now
    return times


class TestFile(_Strict):
    tests: list[TestCase] = Field(min_length=1)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_at(at: str | datetime | None, previous: datetime) -> datetime:
    if at is None:
        return previous + DEFAULT_GAP
    if isinstance(at, datetime):
        return _utc(at)
    text = at.strip()
    if text.startswith("+"):
        return previous + parse_duration(text[1:])
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"at: expected an offset such as +2h or an ISO time, got {at!r}") \
            from None


class TestFileError(Exception):
    """A test file that cannot be run; `messages` are `FILE:LINE: key: message` strings."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


def load_test_file(path: Path, rules: RuleSet) -> tuple[YamlDocument, TestFile]:
    """The file, validated against the schema and the rules' names (TestFileError)."""
    try:
        doc = load_yaml(path)
        test_file = TestFile.model_validate(doc.data)
    except YamlError as exc:
        raise TestFileError(exc.messages) from None
    except ValidationError as exc:
        raise TestFileError(validation_errors(exc, doc, model=TestFile)) from None
    errors = _unknown_rules(test_file, rules, doc)
    if errors:
        raise TestFileError(errors)
    return doc, test_file


def _unknown_rules(test_file: TestFile, rules: RuleSet, doc: YamlDocument) -> list[str]:
    names = {rule.name for rule in rules.rules}
    errors = []
    for index, case in enumerate(test_file.tests):
        for key in ("fired", "resolved"):
            for position, name in enumerate(getattr(case.expect, key) or ()):
                if name not in names:
                    where = ("tests", index, "expect", key, position)
                    errors.append(f"{doc.path}:{doc.line_of(where)}: tests[{index}].expect."
                                  f"{key}[{position}]: unknown rule {name!r}")
        for ticket_id, fired in (case.expect.fired_by_ticket or {}).items():
            for position, name in enumerate(fired):
                if name not in names:
                    at = ("tests", index, "expect", "fired_by_ticket", ticket_id, position)
                    errors.append(f"{doc.path}:{doc.line_of(at)}: tests[{index}].expect."
                                  f"fired_by_ticket.{ticket_id}[{position}]: unknown rule "
                                  f"{name!r}")
    return errors
