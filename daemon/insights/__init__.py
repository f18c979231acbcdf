"""The read-only query layer behind `report` and the dashboard: one set of numbers.

Every figure a support lead sees, in the terminal (`report`, `report --json`) or in the
browser (the dashboard), comes from `Insights`, so the two can never disagree.  Nothing
here writes.  Windows are `(now - days, now]` by message time, UTC.  One module per
question a lead asks: `overview` (the figures and their breakdowns), `at_risk`, `ticket`
(one ticket), `agents` (agents' impact), `escalations` (outcomes per rule), `quality`
(rule precision by the agents' marks), `incidents`, `operations` (outbox, poll health);
`conversations` computes the trend of every active ticket, which several of them need.

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

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from daemon.insights import (
    agents,
    at_risk,
    conversations,
    escalations,
    incidents,
    operations,
    overview,
    quality,
    ticket,
)
from daemon.insights.agents import MIN_AGENT_SAMPLES, mean_interval, t_quantile_975
from daemon.insights.common import (
    NEGATIVE_BELOW,
    VERY_NEGATIVE_BELOW,
    Scope,
    TrendSettings,
    UnknownSource,
)
from daemon.store import T_SOURCE, T_TICKET, Store

__all__ = ["MIN_AGENT_SAMPLES", "NEGATIVE_BELOW", "VERY_NEGATIVE_BELOW", "Insights", "Scope",
           "TrendSettings", "UnknownSource", "mean_interval", "t_quantile_975"]


class Insights:
    """Read-only questions to a Store; `trend` is how the rules define a decline.  Each
    answer is read in one transaction (`Store.reading`), so its figures agree."""

    def __init__(self, store: Store, trend: TrendSettings | None = None) -> None:
        self.store = store
        self.trend = trend or TrendSettings()

    # -- scope -------------------------------------------------------------------------

    def sources(self) -> list[str]:
        """Sources the database knows: configured ones (source_state) and stored tickets."""
        with self.store.reading() as conn:
            names = set(conn.execute(sa.select(T_SOURCE.c.source)).scalars())
            names |= set(conn.execute(sa.select(T_TICKET.c.source).distinct()).scalars())
        return sorted(names)

    def check_source(self, source: str | None, configured: Iterable[str] = ()) -> None:
        """Raise UnknownSource unless `source` is None, stored or configured."""
        if source is None:
            return
        known = set(self.sources()) | set(configured)
        if source not in known:
            raise UnknownSource(f"unknown source {source!r} (known: "
                                f"{', '.join(sorted(known)) or 'none yet'})")

    # -- what a lead asks --------------------------------------------------------------

    def overview(self, scope: Scope) -> dict[str, Any]:
        """Everything on the overview page but the daily chart, in one read transaction."""
        with self.store.reading() as conn:
            active = conversations.conversations(conn, scope, self.trend)
            tickets = overview.ticket_figures(conn, scope)
            return {
                "summary": overview.summary(conn, scope, self.trend, tickets, active),
                "escalations": escalations.outcomes(conn, scope),
                "by_source": overview.by_source(tickets, active),
                "by_language": overview.by_language(tickets),
            }

    def daily(self, scope: Scope) -> list[dict[str, Any]]:
        """Per UTC day of the window: customer messages and their mean score."""
        with self.store.reading() as conn:
            return overview.daily(conn, scope, self.store.is_sqlite)

    def at_risk(self, scope: Scope, limit: int = 25) -> list[dict[str, Any]]:
        """Tickets active in the window with a reason to worry, worst recent average first."""
        with self.store.reading() as conn:
            return at_risk.at_risk(
                conn, scope, conversations.conversations(conn, scope, self.trend), limit)

    def ticket(self, source: str, ticket_id: str, now: datetime) -> dict[str, Any] | None:
        """One ticket: its messages with scores and indicators, rule firings, outcomes."""
        with self.store.reading() as conn:
            return ticket.ticket(conn, source, ticket_id, now, self.trend)

    def agent_impact(self, scope: Scope,
                     min_samples: int = MIN_AGENT_SAMPLES) -> dict[str, Any]:
        """Which agents' replies are followed by the customer feeling better or worse."""
        with self.store.reading() as conn:
            return agents.agent_impact(conn, scope, min_samples)

    def rule_quality(self, scope: Scope) -> dict[str, Any]:
        """Per rule that fired or was marked: fired, false alarms, missed, precision; and
        how often the scorer's verdict was overruled."""
        with self.store.reading() as conn:
            return quality.rule_quality(conn, scope)

    def incidents(self, scope: Scope) -> list[dict[str, Any]]:
        """Incidents with a member in the window, newest first, with their tickets."""
        return incidents.incidents(self.store, scope)

    def operations(self, scope: Scope) -> dict[str, Any]:
        """Outbox backlog, parked deliveries and poll health per source."""
        with self.store.reading() as conn:
            return operations.operations(conn, scope)
