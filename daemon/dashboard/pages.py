"""The dashboard's pages: a URL in, HTML out, from the same queries as `report`.

`Pages.render(path, query)` answers one GET with a `Page` (status, content type, body);
the HTTP server around it (daemon/dashboard/server.py) adds authentication and headers.
Templates are Jinja2 with autoescaping on, so every value from a helpdesk (subjects,
names, message text, even a ticket id in a URL) is escaped where it is shown; links to
the helpdesk are only made from http(s) URLs, so a `javascript:` URL stays text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from daemon.dashboard import charts
from daemon.insights import Insights, Scope, TrendSettings, UnknownSource
from daemon.store import Store
from vocab import utcnow

#: Windows a page may ask for; anything else is a 400 rather than a slow query.
MAX_DAYS = 366
AT_RISK_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"


class BadRequest(ValueError):
    """A query parameter a person can fix; shown on a 400 page."""


def safe_link(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) URL, else None (shown as text, not a link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def ticket_path(source: str, ticket_id: str) -> str:
    return f"/tickets/{quote(source, safe='')}/{quote(ticket_id, safe='')}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _when(iso: str | None) -> str:
    return "" if not iso else iso[:16].replace("T", " ")


class Pages:
    """Renders the dashboard from a Store.  `trend` is read per request (a reload of the
    rules may change how a decline is defined); `configured` names the config's sources."""

    def __init__(self, store: Store, trend: Callable[[], TrendSettings],
                 configured: Callable[[], list[str]] = list,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.trend = trend
        self.configured = configured
        self.clock = clock
        self.env = Environment(loader=PackageLoader("daemon.dashboard", "templates"),
                               autoescape=True, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(ticket_path=ticket_path, safe_link=safe_link, signed=_signed,
                                when=_when, sparkline=charts.sparkline,
                                interval_bar=charts.interval_bar, score_colour=charts.score_colour)
        self._static = {name: resources.files("daemon.dashboard").joinpath(
            "static", name).read_bytes() for name in ("dashboard.css", "favicon.svg")}

    def render(self, path: str, query: Mapping[str, str]) -> Page:
        if path == "/favicon.ico":  # browsers ask for it whatever the page says
            path = "/static/favicon.svg"
        if path.startswith("/static/"):
            name = path[len("/static/"):]
            if name not in self._static:
                return self._error(404, "Not found", "There is no such file.")
            kind = "text/css" if name.endswith(".css") else "image/svg+xml"
            return Page(200, self._static[name], f"{kind}; charset=utf-8")
        started = time.perf_counter()
        try:
            insights = Insights(self.store, self.trend())
            if path == "/":
                context = self._overview(insights, query)
            elif path == "/at-risk":
                context = self._at_risk(insights, query)
            elif path == "/agents":
                context = self._agents(insights, query)
            elif path.startswith("/tickets/") and path.count("/") == 3:
                _, _, source, ticket_id = path.split("/")
                found = self._ticket(insights, unquote(source), unquote(ticket_id))
                if found is None:
                    return self._error(404, "Unknown ticket", "No stored message or snapshot "
                                       "of this ticket.")
                context = found
            else:
                return self._error(404, "Not found", "There is no such page.")
        except (BadRequest, UnknownSource) as exc:
            return self._error(400, "Cannot show this", str(exc))
        context["render_ms"] = round((time.perf_counter() - started) * 1000, 1)
        template = self.env.get_template(context.pop("template"))
        return Page(200, template.render(**context).encode("utf-8"))

    # -- query parameters -----------------------------------------------------------

    def _scope(self, insights: Insights, query: Mapping[str, str]) -> Scope:
        raw_days = query.get("days", "7")
        if not raw_days.isdigit() or not 0 < int(raw_days) <= MAX_DAYS:
            raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}")
        source = query.get("source") or None
        insights.check_source(source, self.configured())
        return Scope(now=self.clock(), days=int(raw_days), source=source)

    def _common(self, insights: Insights, scope: Scope, page: str) -> dict[str, Any]:
        def link(**changes: Any) -> str:
            params = {"days": str(scope.days), "source": scope.source or ""}
            params.update({k: str(v) if v is not None else "" for k, v in changes.items()})
            kept = {k: v for k, v in params.items() if v and not (k == "days" and v == "7")}
            return page + ("?" + urlencode(kept) if kept else "")

        def nav(path: str) -> str:
            kept = {k: v for k, v in (("days", str(scope.days)), ("source", scope.source))
                    if v and not (k == "days" and v == "7")}
            return path + ("?" + urlencode(kept) if kept else "")

        return {"scope": scope, "nav": nav, "sources": sorted(set(insights.sources())
                                                  | set(self.configured())),
                "link": link, "page": page,
                "generated_at": scope.now.isoformat(timespec="seconds")}

    # -- pages ------------------------------------------------------------------------

    def _overview(self, insights: Insights, query: Mapping[str, str]) -> dict[str, Any]:
        scope = self._scope(insights, query)
        overview = insights.overview(scope)
        month = insights.daily(Scope(now=scope.now, days=30, source=scope.source))
        week = month[-7:]  # the same days, read once
        return {**self._common(insights, scope, "/"), "template": "overview.html",
                **overview,
                "chart_week": charts.daily_chart(week, "Last 7 days: mean customer sentiment "
                                                 "per day (line) and customer messages (bars)"),
                "chart_month": charts.daily_chart(month, "Last 30 days: mean customer "
                                                  "sentiment per day (line) and customer "
                                                  "messages (bars)"),
                "operations": insights.operations(scope)}

    def _at_risk(self, insights: Insights, query: Mapping[str, str]) -> dict[str, Any]:
        scope = self._scope(insights, query)
        tickets = insights.at_risk(scope, limit=AT_RISK_LIMIT)
        return {**self._common(insights, scope, "/at-risk"), "template": "at_risk.html",
                "tickets": tickets, "limit": AT_RISK_LIMIT,
                "show_assignment": any(t["assignee"] or t["group"] for t in tickets)}

    def _agents(self, insights: Insights, query: Mapping[str, str]) -> dict[str, Any]:
        scope = self._scope(insights, query)
        impact = insights.agent_impact(scope)
        return {**self._common(insights, scope, "/agents"), "template": "agents.html",
                "impact": impact,
                "unnamed": any(not a["name_known"] for a in impact["agents"])}

    def _ticket(self, insights: Insights, source: str,
                ticket_id: str) -> dict[str, Any] | None:
        now = self.clock()
        ticket = insights.ticket(source, ticket_id, now)
        if ticket is None:
            return None
        scope = Scope(now=now, days=7, source=None)
        indicators: list[str] = []
        for message in ticket["messages"]:
            for phrase in message["indicators"]:
                if phrase not in indicators:
                    indicators.append(phrase)
        return {**self._common(insights, scope, ticket_path(source, ticket_id)),
                "template": "ticket.html", "ticket": ticket, "indicators": indicators,
                "chart": charts.ticket_chart(ticket["messages"], ticket["events"])}

    def _error(self, status: int, title: str, detail: str) -> Page:
        body = self.env.get_template("error.html").render(
            title=title, detail=detail, status=status)
        return Page(status, body.encode("utf-8"))
