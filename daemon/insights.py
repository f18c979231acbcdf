"""The read-only query layer behind `report` and the dashboard: one set of numbers.

Every figure a support lead sees, in the terminal (`report`, `report --json`) or in the
browser (the dashboard), comes from the functions here, so the two can never disagree.
Nothing here writes.  Windows are `(now - days, now]` by message time, UTC.

Definitions, in one place:
- average sentiment: mean score of the customer messages scored in the window;
- negative tickets: distinct tickets with a customer message scored below -0.5 in the
  window (the original article's number);
- declining conversations: tickets with a customer message in the window whose trend,
  computed by `rules.trend.compute_trend` over all their customer scores up to `now`,
  is `declining`, with the method and threshold of the first configured rule that
  watches for a decline (the article's defaults when none does): what the rules call
  declining, not a second definition;
- escalation outcomes: per (ticket, rule) that fired in the window, what the rule's
  persisted state says now: still active, resolved, or marked a false alarm;
- agent impact: for each public agent reply in the window that a scored customer message
  follows, the customer's next score minus the score before the reply; an agent's mean
  change comes with a 95% Student-t interval and agents with fewer than
  `MIN_AGENT_SAMPLES` such replies are counted but not ranked.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean, stdev
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store import (
    T_ESCALATION,
    T_FEEDBACK,
    T_MESSAGE,
    T_OUTBOX,
    T_RULE,
    T_SOURCE,
    T_TICKET,
    Store,
)
from rules.model import RuleSet
from rules.trend import Trend, compute_trend
from vocab import aware

#: The article's thresholds, used for the "negative" count and the plain-words reasons.
NEGATIVE_BELOW = -0.5
VERY_NEGATIVE_BELOW = -0.7
#: Fewer replies than this cannot tell an agent's effect from noise: counted, not ranked.
MIN_AGENT_SAMPLES = 5
#: Signals worth a sentence on the at-risk page, in words a lead reads.
SIGNAL_WORDS = {"churn_risk": "talks about cancelling", "legal_threat": "mentions legal steps",
                "manager_request": "asks for a manager", "abusive": "is abusive",
                "urgent": "says it is urgent", "repeat_contact": "says they have written before"}
EXCERPT_CHARS = 240

# A message in a language the scorer cannot read has a score of 0.0 that means "not read",
# not "calm": like the rules (rules/engine.py), every number here leaves it out.
_CUSTOMER_SCORED = ((T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.score.is_not(None)
                    & T_MESSAGE.c.language_supported.is_not(False))


class UnknownSource(ValueError):
    """A `--source` (or `?source=`) that no configured or stored source has."""


@dataclass(frozen=True, slots=True)
class TrendSettings:
    """How the rules decide `declining`: taken from the first rule that watches for it."""

    method: str = "article"
    decline_threshold: float = 0.3
    alpha: float = 0.5

    @classmethod
    def from_rules(cls, rules: RuleSet | None) -> TrendSettings:
        for rule in (rules.rules if rules is not None else ()):
            if rule.when.trend == "declining":
                return cls(rule.when.method, rule.when.decline_threshold, rule.when.alpha)
        return cls()

    def trend(self, scores: Sequence[float]) -> Trend:
        return compute_trend(scores, self.method, self.decline_threshold, self.alpha)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which messages a view covers: the last `days` days up to `now`, one source or all."""

    now: datetime
    days: int = 7
    source: str | None = None

    def __post_init__(self) -> None:
        if self.days <= 0:
            raise ValueError("days must be a positive number")
        # Stored times are UTC; comparing with anything else would shift the window.
        object.__setattr__(self, "now", aware(self.now))

    @property
    def start(self) -> datetime:
        return self.now - timedelta(days=self.days)


@dataclass(slots=True)
class _Conversation:
    """One active ticket's scored customer messages up to `now`, oldest first."""

    source: str
    ticket_id: str
    count: int
    scores: list[float]
    last_id: int
    last_signals: tuple[str, ...]
    trend: Trend = field(init=False)


def _signals(raw: str | None) -> tuple[str, ...]:
    """A stored JSON list of signals, read as text (most are empty: no parsing then)."""
    if not raw or raw == "[]":
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _with_history(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A rule_state row whose history was read as text, with the history parsed only when
    it may hold a false-alarm mark (thousands of rows, almost none marked)."""
    marked = {str(key): value for key, value in row.items()}
    text = marked.pop("history", None) or ""
    if "false_alarm" in text or "verdict" in text or "feedback" in text:
        with contextlib.suppress(ValueError):  # unreadable: no mark can be read from it
            marked["history"] = json.loads(text)
    return marked


def _iso(moment: datetime | None) -> str | None:
    value = aware(moment)
    return value.isoformat() if value else None


def _round(value: float | None, digits: int = 2) -> float | None:
    # + 0.0 turns a rounded -0.0 into 0.0, which prints as +0.00, not -0.00.
    return None if value is None else round(float(value), digits) + 0.0


def t_quantile_975(df: int) -> float:
    """The 97.5th percentile of Student's t with `df` degrees of freedom.

    Exact table values up to 30 (the small samples where it matters); above, the
    Cornish-Fisher expansion around the normal quantile, within 1e-4 of the exact value.
    """
    table = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
             2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
             2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df <= len(table):
        return table[df - 1]
    z = 1.959964
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95% t interval (needs at least two values)."""
    centre = mean(values)
    half = t_quantile_975(len(values) - 1) * stdev(values) / math.sqrt(len(values))
    return centre, centre - half, centre + half


def _feedback_of(columns: Any) -> Any:
    """The join condition from a (source, ticket_id, rule) relation to its agents' marks."""
    return ((T_FEEDBACK.c.source == columns.source)
            & (T_FEEDBACK.c.ticket_id == columns.ticket_id) & (T_FEEDBACK.c.rule == columns.rule))


def _false_alarm(row: Mapping[Any, Any]) -> bool:
    """Whether a (ticket, rule) state is marked a false alarm, read from whatever the
    schema holds: a `false_alarm*` column of rule_state, or a mark in its history."""
    for key, value in row.items():
        if str(key).startswith("false_alarm") and value:
            return True
    history = row.get("history") or {}
    if isinstance(history, Mapping):
        if history.get("false_alarm") or history.get("false_alarm_at"):
            return True
        if history.get("verdict") == "false_alarm" or history.get("feedback") == "false_alarm":
            return True
    return False


class Insights:
    """Read-only queries on a Store; `trend` is how the rules define a decline."""

    def __init__(self, store: Store, trend: TrendSettings | None = None) -> None:
        self.store = store
        self.trend = trend or TrendSettings()
        self.has_language = "language" in T_MESSAGE.c
        # An agent's false-alarm mark on a (ticket, rule): rules.feedback, kept in
        # escalation_feedback and joined to the rule state wherever an outcome is shown.
        self._false_alarm_columns = [T_FEEDBACK.c.false_alarm_at]

    # -- scope -------------------------------------------------------------------------

    def sources(self) -> list[str]:
        """Sources the database knows: configured ones (source_state) and stored tickets."""
        with self.store.reading() as conn:
            names = set(conn.execute(sa.select(T_SOURCE.c.source)).scalars())
            names |= set(conn.execute(sa.select(T_TICKET.c.source).distinct()).scalars())
        return sorted(names)

    def check_source(self, source: str | None, configured: Iterable[str] = ()) -> None:
        if source is None:
            return
        known = set(self.sources()) | set(configured)
        if source not in known:
            raise UnknownSource(f"unknown source {source!r} (known: "
                                f"{', '.join(sorted(known)) or 'none yet'})")

    def _where_source(self, table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
        return (table.c.source == scope.source) if scope.source else sa.true()

    # -- conversations ---------------------------------------------------------------------

    def _active(self, scope: Scope) -> Any:
        """(source, ticket_id) of tickets with a scored customer message in the window."""
        return sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
            _CUSTOMER_SCORED & (T_MESSAGE.c.created_at > scope.start)
            & (T_MESSAGE.c.created_at <= scope.now) & self._where_source(T_MESSAGE, scope)
        ).distinct().subquery()

    def _conversations(self, conn: Connection, scope: Scope) -> list[_Conversation]:
        """Every ticket with a scored customer message in the window, with its whole
        scored customer series up to `now` (what the rules saw last) and its trend.

        Reads (source, ticket, id, score) only, in index order (ix_message_series covers
        it), and the signals of each ticket's latest message apart: this is the hot
        path of the overview with 100,000 stored messages."""
        active = self._active(scope)
        query = sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.id, T_MESSAGE.c.score,
        ).join(active, (T_MESSAGE.c.source == active.c.source)
               & (T_MESSAGE.c.ticket_id == active.c.ticket_id)).where(
            _CUSTOMER_SCORED & (T_MESSAGE.c.created_at <= scope.now)
        ).order_by(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at,
                   T_MESSAGE.c.id)
        series: dict[tuple[str, str], tuple[list[float], int]] = {}
        # fetchall: one driver call; iterating the result fetches row by row (slower).
        for source, ticket_id, row_id, score in conn.execute(query).all():
            known = series.get((source, ticket_id))
            scores = known[0] if known is not None else []
            scores.append(float(score))
            series[(source, ticket_id)] = (scores, row_id)
        signals = self._signals_of(conn, [last_id for _, last_id in series.values()])
        out = []
        for (source, ticket_id), (scores, last_id) in series.items():
            conversation = _Conversation(source, ticket_id, len(scores), scores, last_id,
                                         signals.get(last_id, ()))
            conversation.trend = self.trend.trend(scores)
            out.append(conversation)
        return out

    def _signals_of(self, conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """The signals of these messages, where they have any."""
        out: dict[int, tuple[str, ...]] = {}
        for start in range(0, len(ids), 900):
            for row_id, raw in conn.execute(sa.select(
                    T_MESSAGE.c.id, sa.cast(T_MESSAGE.c.signals, sa.Text)).where(
                    T_MESSAGE.c.id.in_(list(ids[start:start + 900])))):
                found = _signals(raw)
                if found:
                    out[row_id] = found
        return out

    def _series(self, conn: Connection, keys: Sequence[tuple[str, str]], now: datetime
                ) -> dict[tuple[str, str], list[tuple[float, datetime]]]:
        """Whole scored customer series (score, time) of a few tickets, oldest first."""
        out: dict[tuple[str, str], list[tuple[float, datetime]]] = {k: [] for k in keys}
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, ticket_id in keys:
            by_source[source].append(ticket_id)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 500):
                rows = conn.execute(sa.select(
                    T_MESSAGE.c.ticket_id, T_MESSAGE.c.score, T_MESSAGE.c.created_at).where(
                    (T_MESSAGE.c.source == source)
                    & T_MESSAGE.c.ticket_id.in_(ids[start:start + 500])
                    & _CUSTOMER_SCORED & (T_MESSAGE.c.created_at <= now)
                ).order_by(T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at, T_MESSAGE.c.id))
                for ticket_id, score, created_at in rows:
                    out[(source, ticket_id)].append((float(score), created_at))
        return out

    # -- the overview --------------------------------------------------------------------

    def summary(self, scope: Scope, conn: Connection | None = None,
                conversations: list[_Conversation] | None = None) -> dict[str, Any]:
        """The article's three numbers (declining as the rules define it) and volume."""
        if conn is None:
            with self.store.reading() as reader:
                return self.summary(scope, reader, conversations)
        in_window = ((T_MESSAGE.c.created_at > scope.start)
                     & (T_MESSAGE.c.created_at <= scope.now)
                     & self._where_source(T_MESSAGE, scope))
        avg, scored = conn.execute(sa.select(sa.func.avg(T_MESSAGE.c.score),
                                             sa.func.count(T_MESSAGE.c.score)).where(
            in_window & _CUSTOMER_SCORED)).one()
        negative = sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
            in_window & _CUSTOMER_SCORED & (T_MESSAGE.c.score < NEGATIVE_BELOW)
        ).distinct().subquery()
        negative_tickets = conn.execute(sa.select(sa.func.count()).select_from(negative)).scalar()
        agent_replies = conn.execute(sa.select(sa.func.count()).where(
            in_window & (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public)).scalar()
        if conversations is None:
            conversations = self._conversations(conn, scope)
        declining = sum(1 for c in conversations if c.trend.trend == "declining")
        return {"avg_sentiment": _round(avg) if scored else 0,
                "scored_messages": int(scored or 0),
                "negative_tickets": int(negative_tickets or 0),
                "declining_conversations": declining,
                "active_tickets": len(conversations),
                "agent_replies": int(agent_replies or 0),
                "trend_method": self.trend.method,
                "decline_threshold": self.trend.decline_threshold}

    def daily(self, scope: Scope, conn: Connection | None = None) -> list[dict[str, Any]]:
        """Per UTC day of the window: customer messages and their mean score (read from
        ix_message_recent alone, without touching the rows)."""
        if conn is None:
            with self.store.reading() as reader:
                return self.daily(scope, reader)
        first_day = (scope.now - timedelta(days=scope.days - 1)).date()
        since = datetime.combine(first_day, datetime.min.time(), tzinfo=scope.now.tzinfo)
        # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS...' text: its prefix is the UTC day,
        # much cheaper than date() on every row.
        day = (sa.func.substr(T_MESSAGE.c.created_at, 1, 10) if self.store.is_sqlite
               else sa.func.date(T_MESSAGE.c.created_at)).label("day")
        rows = conn.execute(sa.select(
            day, sa.func.count(), sa.func.avg(T_MESSAGE.c.score),
            sa.func.count(T_MESSAGE.c.score),
        ).where((T_MESSAGE.c.created_at >= since) & (T_MESSAGE.c.created_at <= scope.now)
                & (T_MESSAGE.c.author_role == "customer")
                & self._where_source(T_MESSAGE, scope)).group_by(day)).all()
        by_day = {str(r[0]): r for r in rows}
        out = []
        for offset in range(scope.days):
            current: date = first_day + timedelta(days=offset)
            row = by_day.get(current.isoformat())
            scored = int(row[3] or 0) if row else 0
            out.append({"day": current.isoformat(),
                        "customer_messages": int(row[1] or 0) if row else 0,
                        "scored_messages": scored,
                        "avg_sentiment": _round(row[2]) if row and scored else None})
        return out

    def escalations(self, scope: Scope, conn: Connection | None = None) -> list[dict[str, Any]]:
        """Per rule: firings in the window, tickets, and each ticket's outcome now."""
        if conn is None:
            with self.store.reading() as reader:
                return self.escalations(scope, reader)
        fired = sa.select(
            T_ESCALATION.c.rule, T_ESCALATION.c.source, T_ESCALATION.c.ticket_id,
            sa.func.count().label("fires"),
        ).where((T_ESCALATION.c.kind == "fire")
                & (T_ESCALATION.c.at > scope.start) & (T_ESCALATION.c.at <= scope.now)
                & self._where_source(T_ESCALATION, scope)
                ).group_by(T_ESCALATION.c.rule, T_ESCALATION.c.source,
                           T_ESCALATION.c.ticket_id).subquery()
        query = sa.select(fired.c.rule, fired.c.fires, T_RULE.c.state,
                          sa.cast(T_RULE.c.history, sa.Text).label("history"),
                          *self._false_alarm_columns).select_from(fired.outerjoin(
                              T_RULE, (T_RULE.c.source == fired.c.source)
                              & (T_RULE.c.ticket_id == fired.c.ticket_id)
                              & (T_RULE.c.rule == fired.c.rule)).outerjoin(
                              T_FEEDBACK, _feedback_of(fired.c)))
        rules: dict[str, dict[str, Any]] = {}
        for row in conn.execute(query).mappings():
            entry = rules.setdefault(row["rule"], {"rule": row["rule"], "fired": 0,
                                                   "tickets": 0, "active": 0, "resolved": 0,
                                                   "false_alarm": 0})
            entry["fired"] += int(row["fires"])
            entry["tickets"] += 1
            if _false_alarm(_with_history(row)):
                entry["false_alarm"] += 1
            elif row["state"] == "resolved":
                entry["resolved"] += 1
            else:
                entry["active"] += 1
        return [rules[name] for name in sorted(rules)]

    def breakdown(self, scope: Scope, column: str, conn: Connection | None = None,
                  conversations: list[_Conversation] | None = None) -> list[dict[str, Any]]:
        """Customer messages, mean score and negative tickets per `source` or `language`."""
        if conn is None:
            with self.store.reading() as reader:
                return self.breakdown(scope, column, reader, conversations)
        key = T_MESSAGE.c[column]
        in_window = ((T_MESSAGE.c.created_at > scope.start)
                     & (T_MESSAGE.c.created_at <= scope.now)
                     & self._where_source(T_MESSAGE, scope) & _CUSTOMER_SCORED)
        negative = sa.func.count(sa.distinct(sa.case(
            (T_MESSAGE.c.score < NEGATIVE_BELOW, T_MESSAGE.c.source + "\x1f"
             + T_MESSAGE.c.ticket_id), else_=None)))
        rows = conn.execute(sa.select(key, sa.func.count(), sa.func.avg(T_MESSAGE.c.score),
                                      sa.func.count(sa.distinct(
                                          T_MESSAGE.c.source + "\x1f" + T_MESSAGE.c.ticket_id)),
                                      negative).where(in_window).group_by(key)).all()
        out: list[dict[str, Any]] = [{column: value if value is not None else "unknown", "scored_messages": int(n),
                "avg_sentiment": _round(avg), "tickets": int(tickets),
                "negative_tickets": int(neg)} for value, n, avg, tickets, neg in rows]
        if column == "language":
            unread: dict[Any, int] = dict(conn.execute(sa.select(key, sa.func.count()).where(
                (T_MESSAGE.c.created_at > scope.start) & (T_MESSAGE.c.created_at <= scope.now)
                & self._where_source(T_MESSAGE, scope) & (T_MESSAGE.c.author_role == "customer")
                & T_MESSAGE.c.language_supported.is_(False)).group_by(key)).all())
            for row in out:
                row["unsupported"] = int(unread.pop(row["language"], 0))
            out += [{"language": value or "unknown", "scored_messages": 0, "avg_sentiment": None,
                     "tickets": 0, "negative_tickets": 0, "unsupported": int(n)}
                    for value, n in unread.items()]
        if column == "source":
            if conversations is None:
                conversations = self._conversations(conn, scope)
            declining: dict[str, int] = defaultdict(int)
            for conversation in conversations:
                if conversation.trend.trend == "declining":
                    declining[conversation.source] += 1
            for row in out:
                row["declining_conversations"] = declining.get(row["source"], 0)
        out.sort(key=lambda r: (-r["scored_messages"], str(r[column])))
        return out

    def overview(self, scope: Scope) -> dict[str, Any]:
        """Everything on the overview page, in one read transaction."""
        with self.store.reading() as conn:
            conversations = self._conversations(conn, scope)
            return {
                "summary": self.summary(scope, conn, conversations),
                "escalations": self.escalations(scope, conn),
                "by_source": self.breakdown(scope, "source", conn, conversations),
                "by_language": (self.breakdown(scope, "language", conn)
                                if self.has_language else None),
            }

    # -- tickets ---------------------------------------------------------------------------

    def at_risk(self, scope: Scope, limit: int = 25, conn: Connection | None = None,
                conversations: list[_Conversation] | None = None) -> list[dict[str, Any]]:
        """Tickets active in the window with a reason to worry, worst recent average first."""
        if conn is None:
            with self.store.reading() as reader:
                return self.at_risk(scope, limit, reader, conversations)
        if conversations is None:
            conversations = self._conversations(conn, scope)
        active = self._active_rules(conn, scope)
        candidates = []
        for conversation in conversations:
            key = (conversation.source, conversation.ticket_id)
            reasons = self._reasons(conversation, active.get(key, []))
            if reasons:
                candidates.append((conversation, reasons))
        candidates.sort(key=lambda c: (c[0].trend.current_avg, c[0].scores[-1], c[0].source,
                                       c[0].ticket_id))
        chosen = candidates[:limit]
        keys = [(c.source, c.ticket_id) for c, _ in chosen]
        tickets = self._tickets(conn, keys)
        series = self._series(conn, keys, scope.now)
        bodies = self._bodies(conn, [c.last_id for c, _ in chosen])
        out = []
        for conversation, reasons in chosen:
            key = (conversation.source, conversation.ticket_id)
            ticket = tickets.get(key, {})
            trend = conversation.trend
            out.append({
                "source": conversation.source, "ticket_id": conversation.ticket_id,
                "url": ticket.get("url") or "", "subject": ticket.get("subject") or "",
                "customer": ticket.get("requester"), "priority": ticket.get("priority"),
                "status": ticket.get("status"), "assignee": ticket.get("assignee"),
                "group": ticket.get("assignee_group"),
                "recent_avg": trend.current_avg, "last_score": round(conversation.scores[-1], 2),
                "trend": trend.trend, "direction": trend.direction,
                "messages": conversation.count,
                "scores": [round(score, 3) for score, _ in series[key][-30:]],
                "last_message_at": _iso(series[key][-1][1]) if series[key] else None,
                "last_message_excerpt": _excerpt(bodies.get(conversation.last_id)),
                "active_rules": sorted(active.get(key, [])),
                "reasons": reasons})
        return out

    def _reasons(self, conversation: _Conversation, active_rules: Sequence[str]) -> list[str]:
        reasons = []
        trend = conversation.trend
        if trend.trend == "declining":
            reasons.append(f"Getting worse: sentiment fell {abs(trend.direction):.2f} since "
                           f"the start of the conversation (recent average "
                           f"{trend.current_avg:+.2f}).")
        elif trend.current_avg < NEGATIVE_BELOW:
            reasons.append(f"Recent messages are negative on average "
                           f"({trend.current_avg:+.2f}).")
        last = conversation.scores[-1]
        if last < VERY_NEGATIVE_BELOW:
            reasons.append(f"The latest message is very negative ({last:+.2f}).")
        said = [SIGNAL_WORDS[s] for s in sorted(conversation.last_signals) if s in SIGNAL_WORDS]
        if said:
            reasons.append("In the latest message the customer " + ", ".join(said) + ".")
        if active_rules:
            reasons.append("Escalated and still active: " + ", ".join(sorted(active_rules))
                           + ".")
        return reasons

    def _active_rules(self, conn: Connection, scope: Scope) -> dict[tuple[str, str], list[str]]:
        # The history is read as text and parsed only when it may hold a mark: there is
        # one row per firing (ticket, rule), thousands on a busy helpdesk.
        rows = conn.execute(sa.select(
            T_RULE.c.source, T_RULE.c.ticket_id, T_RULE.c.rule,
            sa.cast(T_RULE.c.history, sa.Text).label("history"), *self._false_alarm_columns,
        ).select_from(T_RULE.outerjoin(T_FEEDBACK, _feedback_of(T_RULE.c))).where(
            (T_RULE.c.state == "firing") & self._where_source(T_RULE, scope))).mappings()
        out: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in rows:
            if not _false_alarm(_with_history(row)):
                out[(row["source"], row["ticket_id"])].append(row["rule"])
        return out

    def _tickets(self, conn: Connection, keys: Sequence[tuple[str, str]]
                 ) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, ticket_id in keys:
            by_source[source].append(ticket_id)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 500):
                for row in conn.execute(sa.select(T_TICKET).where(
                        (T_TICKET.c.source == source)
                        & T_TICKET.c.ticket_id.in_(ids[start:start + 500]))).mappings():
                    out[(source, row["ticket_id"])] = dict(row)
        return out

    def _bodies(self, conn: Connection, ids: Sequence[int]) -> dict[int, str | None]:
        if not ids:
            return {}
        return {row_id: body for row_id, body in conn.execute(sa.select(
            T_MESSAGE.c.id, T_MESSAGE.c.body).where(T_MESSAGE.c.id.in_(list(ids))))}

    def ticket(self, source: str, ticket_id: str, now: datetime) -> dict[str, Any] | None:
        """One ticket: its messages with scores and indicators, rule firings, outcomes."""
        with self.store.reading() as conn:
            ticket = conn.execute(sa.select(T_TICKET).where(
                (T_TICKET.c.source == source) & (T_TICKET.c.ticket_id == ticket_id)
            )).mappings().first()
            messages = conn.execute(sa.select(
                T_MESSAGE.c.message_id, T_MESSAGE.c.author_role, T_MESSAGE.c.author_name,
                T_MESSAGE.c.author_id, T_MESSAGE.c.public, T_MESSAGE.c.created_at,
                T_MESSAGE.c.body, T_MESSAGE.c.score, T_MESSAGE.c.label,
                T_MESSAGE.c.indicators, T_MESSAGE.c.signals,
            ).where((T_MESSAGE.c.source == source) & (T_MESSAGE.c.ticket_id == ticket_id)
                    & (T_MESSAGE.c.created_at <= now)).order_by(
                T_MESSAGE.c.created_at, T_MESSAGE.c.id).limit(5000)).mappings().all()
            events = conn.execute(sa.select(
                T_ESCALATION.c.rule, T_ESCALATION.c.kind, T_ESCALATION.c.reason,
                T_ESCALATION.c.numbers, T_ESCALATION.c.at,
            ).where((T_ESCALATION.c.source == source) & (T_ESCALATION.c.ticket_id == ticket_id)
                    ).order_by(T_ESCALATION.c.at, T_ESCALATION.c.id).limit(1000)).mappings().all()
            states = conn.execute(sa.select(T_RULE.c.rule, T_RULE.c.state, T_RULE.c.history,
                                            *self._false_alarm_columns).select_from(
                T_RULE.outerjoin(T_FEEDBACK, _feedback_of(T_RULE.c))).where(
                (T_RULE.c.source == source) & (T_RULE.c.ticket_id == ticket_id)
            )).mappings().all()
        if ticket is None and not messages:
            return None
        scores = [float(m["score"]) for m in messages
                  if m["author_role"] == "customer" and m["score"] is not None]
        trend = self.trend.trend(scores)
        info = dict(ticket) if ticket else {"source": source, "ticket_id": ticket_id}
        return {
            "source": source, "ticket_id": ticket_id, "url": info.get("url") or "",
            "subject": info.get("subject") or "", "customer": info.get("requester"),
            "priority": info.get("priority"), "status": info.get("status"),
            "assignee": info.get("assignee"), "group": info.get("assignee_group"),
            "tags": list(info.get("tags") or []),
            "trend": {"trend": trend.trend, "direction": trend.direction,
                      "current_avg": trend.current_avg, "method": trend.method},
            "messages": [{
                "message_id": m["message_id"], "role": m["author_role"],
                "author": m["author_name"] or m["author_id"], "public": bool(m["public"]),
                "at": _iso(m["created_at"]), "score": _round(m["score"], 3),
                "label": m["label"], "indicators": list(m["indicators"] or []),
                "signals": list(m["signals"] or []), "excerpt": _excerpt(m["body"])}
                for m in messages],
            "events": [{"rule": e["rule"], "kind": e["kind"], "reason": e["reason"],
                        "numbers": dict(e["numbers"] or {}), "at": _iso(e["at"]),
                        "backfill": False} for e in events],
            "rules": [{"rule": s["rule"], "outcome": "false alarm" if _false_alarm(s) else
                       ("resolved" if s["state"] == "resolved" else "active")}
                      for s in states],
        }

    # -- agents ------------------------------------------------------------------------

    def agent_impact(self, scope: Scope, min_samples: int = MIN_AGENT_SAMPLES,
                     conn: Connection | None = None) -> dict[str, Any]:
        """Which agents' replies are followed by the customer feeling better or worse."""
        if conn is None:
            with self.store.reading() as reader:
                return self.agent_impact(scope, min_samples, reader)
        in_window = ((T_MESSAGE.c.created_at > scope.start)
                     & (T_MESSAGE.c.created_at <= scope.now))
        replied = sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(
            (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public & in_window
            & self._where_source(T_MESSAGE, scope)).distinct().subquery()
        agent_key = sa.func.coalesce(T_MESSAGE.c.author_id, T_MESSAGE.c.author_name, "unknown")
        # Only what the walk needs, with the window test done by the database (a flag,
        # not a timestamp to convert per row).
        rows = conn.execute(sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.author_role,
            T_MESSAGE.c.score, agent_key,
            sa.case((T_MESSAGE.c.created_at > scope.start, 1), else_=0),
        ).join(replied, (T_MESSAGE.c.source == replied.c.source)
               & (T_MESSAGE.c.ticket_id == replied.c.ticket_id)).where(
            T_MESSAGE.c.public & (T_MESSAGE.c.created_at <= scope.now)
            & T_MESSAGE.c.author_role.in_(("customer", "agent"))
        ).order_by(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at,
                   T_MESSAGE.c.id)).all()
        pairs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        ticket: tuple[str, str] | None = None
        last_customer: float | None = None
        waiting: list[tuple[str, str]] = []  # agents whose reply awaits the next score
        before: float = 0.0
        for source, ticket_id, role, score, agent, recent in rows:
            if (source, ticket_id) != ticket:
                ticket, last_customer, waiting = (source, ticket_id), None, []
            if role == "customer":
                if score is None:
                    continue
                for waiting_agent in waiting:
                    pairs[waiting_agent].append((before, float(score)))
                waiting = []
                last_customer = before = float(score)
            elif last_customer is not None and recent and (source, agent) not in waiting:
                waiting.append((source, agent))  # several replies in a row count once
        # Agents are told apart by id within a source; the name is what a lead reads.
        names: dict[tuple[str, str], str] = {
            (source, str(agent)): name for source, agent, name in conn.execute(sa.select(
                T_MESSAGE.c.source, agent_key, sa.func.max(T_MESSAGE.c.author_name)).where(
                (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.author_name.is_not(None)
                & in_window & self._where_source(T_MESSAGE, scope)
            ).group_by(T_MESSAGE.c.source, agent_key))}
        ranked: list[dict[str, Any]] = []
        hidden: list[dict[str, Any]] = []
        for agent, agent_pairs in pairs.items():
            row = _impact_row(agent_pairs)
            row.update({"agent": names.get(agent) or f"agent #{agent[1]}",
                        "agent_id": agent[1], "source": agent[0],
                        "name_known": agent in names})
            (ranked if row["replies"] >= min_samples else hidden).append(row)
        ranked.sort(key=lambda r: (-r["delta_avg"], r["agent"]))
        every = [p for agent_pairs in pairs.values() for p in agent_pairs]
        return {"overall": _impact_row(every) if every else None, "agents": ranked,
                "min_samples": min_samples, "hidden_agents": len(hidden),
                "hidden_replies": sum(r["replies"] for r in hidden)}

    # -- operations --------------------------------------------------------------------

    def operations(self, scope: Scope) -> dict[str, Any]:
        """Outbox backlog, parked deliveries and poll health per source."""
        with self.store.reading() as conn:
            parked = conn.execute(sa.select(
                T_OUTBOX.c.id, T_OUTBOX.c.source, T_OUTBOX.c.ticket_id, T_OUTBOX.c.kind,
                T_OUTBOX.c.target, T_OUTBOX.c.attempts, T_OUTBOX.c.last_error,
                T_OUTBOX.c.created_at).where(T_OUTBOX.c.status == "parked").order_by(
                T_OUTBOX.c.id.desc()).limit(50)).mappings().all()
            counts = {status: count for status, count in conn.execute(sa.select(
                T_OUTBOX.c.status, sa.func.count()).where(T_OUTBOX.c.status.in_(
                    ("pending", "parked"))).group_by(T_OUTBOX.c.status))}
            sources = conn.execute(sa.select(T_SOURCE).order_by(T_SOURCE.c.source)
                                   ).mappings().all()
        return {
            "outbox": {"pending": int(counts.get("pending", 0)),
                       "parked": int(counts.get("parked", 0)),
                       "parked_items": [{**dict(r), "created_at": _iso(r["created_at"])}
                                        for r in parked]},
            "sources": [{"source": s["source"], "last_success_at": _iso(s["last_success_at"]),
                         "last_poll_at": _iso(s["last_poll_at"]), "last_error": s["last_error"],
                         "consecutive_failures": s["consecutive_failures"], "polls": s["polls"],
                         "messages": s["messages"], "owner": s["owner"]}
                        for s in sources if scope.source is None or s["source"] == scope.source],
        }


def _impact_row(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    deltas = [after - before for before, after in pairs]
    low = high = None
    if len(deltas) >= 2:
        _, low, high = mean_interval(deltas)
    return {"replies": len(pairs), "before_avg": _round(mean(b for b, _ in pairs)),
            "after_avg": _round(mean(a for _, a in pairs)),
            "delta_avg": _round(mean(deltas)),
            "delta_low": _round(low), "delta_high": _round(high),
            "improved": sum(1 for d in deltas if d > 0.05),
            "worsened": sum(1 for d in deltas if d < -0.05)}


def _excerpt(body: str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """The start of a message on one line; None when retention removed the text."""
    if body is None:
        return None
    text = " ".join(body.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
