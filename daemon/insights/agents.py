"""Agents' impact: for each public agent reply in the window that a scored customer
message follows, the customer's next score minus the score before the reply.  An agent's
mean change comes with a 95% Student-t interval; agents with fewer than
`MIN_AGENT_SAMPLES` such replies are counted but not ranked.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import Scope, rounded, where_source
from daemon.store import AGENT_KEY, T_MESSAGE, T_REPLY

#: Fewer replies than this cannot tell an agent's effect from noise: counted, not ranked.
MIN_AGENT_SAMPLES = 5
#: A change smaller than this either way is neither better nor worse.
_NOTICEABLE = 0.05

Agent = tuple[str, str]  # (source, agent id): ids are unique within a source
Pair = tuple[float, float]  # the customer's score before the reply, and after it

# Agents are told apart by id (the name where the vendor gives no id).
_AGENT_KEY = AGENT_KEY


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


def _mean(values: Sequence[float]) -> float:
    # fsum: correctly rounded, and far cheaper than statistics.mean's exact fractions
    # over the tens of thousands of replies of a 30-day view.
    return math.fsum(values) / len(values)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95% t interval (needs at least two values)."""
    centre = _mean(values)
    deviation = math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))
    half = t_quantile_975(len(values) - 1) * deviation / math.sqrt(len(values))
    return centre, centre - half, centre + half


def agent_impact(conn: Connection, scope: Scope,
                 min_samples: int = MIN_AGENT_SAMPLES) -> dict[str, Any]:
    """Which agents' replies are followed by the customer feeling better or worse."""
    pairs = _pairs(conn, scope)
    names = _names(conn, scope)
    ranked: list[dict[str, Any]] = []
    hidden: list[dict[str, Any]] = []
    for agent, agent_pairs in pairs.items():
        row = impact_row(agent_pairs)
        row.update({"agent": names.get(agent) or f"agent #{agent[1]}",
                    "agent_id": agent[1], "source": agent[0],
                    "name_known": agent in names})
        (ranked if row["replies"] >= min_samples else hidden).append(row)
    ranked.sort(key=lambda r: (-r["delta_avg"], r["agent"]))
    every = [p for agent_pairs in pairs.values() for p in agent_pairs]
    return {"overall": impact_row(every) if every else None, "agents": ranked,
            "min_samples": min_samples, "hidden_agents": len(hidden),
            "hidden_replies": sum(r["replies"] for r in hidden)}


def _pairs(conn: Connection, scope: Scope) -> dict[Agent, list[Pair]]:
    """Each agent's replies in the window (several in a row count once) that a scored
    customer message followed by the window's end: the customer's score before the reply
    and the next one, as `reply_pair` keeps them (daemon/store/replies.py)."""
    pairs: dict[Agent, list[Pair]] = defaultdict(list)
    for source, agent, before, after in conn.execute(sa.select(
            T_REPLY.c.source, T_REPLY.c.agent, T_REPLY.c.score_before, T_REPLY.c.score_after,
    ).where((T_REPLY.c.last_reply_at > scope.start) & (T_REPLY.c.after_at <= scope.now)
            & where_source(T_REPLY, scope))).all():
        pairs[(source, agent)].append((float(before), float(after)))
    return pairs


def _names(conn: Connection, scope: Scope) -> dict[Agent, str]:
    """The name a lead reads for each agent who wrote in the window."""
    return {(source, str(agent)): name for source, agent, name in conn.execute(sa.select(
        T_MESSAGE.c.source, _AGENT_KEY, sa.func.max(T_MESSAGE.c.author_name)).where(
        (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.author_name.is_not(None)
        & (T_MESSAGE.c.created_at > scope.start) & (T_MESSAGE.c.created_at <= scope.now)
        & where_source(T_MESSAGE, scope)
    ).group_by(T_MESSAGE.c.source, _AGENT_KEY))}


def impact_row(pairs: Sequence[Pair]) -> dict[str, Any]:
    """Replies, mean score before and after, mean change with its 95% interval, and how
    many replies were followed by a noticeably better or worse score."""
    deltas = [after - before for before, after in pairs]
    centre = _mean(deltas)
    low = high = None
    if len(deltas) >= 2:
        centre, low, high = mean_interval(deltas)
    return {"replies": len(pairs), "before_avg": rounded(_mean([b for b, _ in pairs])),
            "after_avg": rounded(_mean([a for _, a in pairs])),
            "delta_avg": rounded(centre),
            "delta_low": rounded(low), "delta_high": rounded(high),
            "improved": sum(1 for d in deltas if d > _NOTICEABLE),
            "worsened": sum(1 for d in deltas if d < -_NOTICEABLE)}
