"""The conformance harness for Zendesk: a running ZendeskSandbox and its connector.

The sandbox serves events immediately (`exclusion_seconds=0`, tests add messages in the
past anyway) and has no incremental budget unless a test sets one; the connector gets
short retry waits so fault tests stay fast, and its own budget high enough for a test's
pages (the budget itself has its own tests).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.http import RateBudget, RetryPolicy
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import TurnRole
from connectors.sandbox.zendesk import ZendeskSandbox
from connectors.zendesk import ZendeskConnector, ZendeskSettings
from tests.connectors.harness import OWN_TAG_PREFIX, TicketState

#: Waits are "slept" on a virtual clock, so max_inline_wait can be an hour.
FAST_RETRIES = RetryPolicy(attempts=2, backoff_base=0.01, backoff_cap=0.05,
                           max_inline_wait=3600.0, connect_timeout=2.0, read_timeout=1.0)


class VirtualClock:
    """Wall time plus an offset that `sleep` advances: waits pass without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


class ZendeskHarness:
    kind = "zendesk"

    def __init__(self, *, page_size: int = 5, oauth: bool = False,
                 **sandbox_options: Any) -> None:
        # Unique credentials per harness so a leak check cannot pass by accident.
        self.email = f"bot-{uuid.uuid4().hex[:6]}@example.com"
        self.api_token = f"zdtok-{uuid.uuid4().hex}"
        self.oauth_token = f"zdoauth-{uuid.uuid4().hex}"
        self.oauth = oauth
        options: dict[str, Any] = {"page_size": page_size, "exclusion_seconds": 0,
                                   "incremental_per_minute": None}
        options.update(sandbox_options)
        self.sandbox = ZendeskSandbox(email=self.email, api_token=self.api_token,
                                      oauth_token=self.oauth_token, **options)
        self.sandbox.start()
        self._connectors: list[ZendeskConnector] = []
        self.clock = VirtualClock()

    def settings(self, **overrides: Any) -> ZendeskSettings:
        values: dict[str, Any] = {
            "name": "zendesk-test", "base_url": self.sandbox.url, "min_age_seconds": 0,
            "incremental_per_minute": 100, "own_tag_prefix": OWN_TAG_PREFIX, "timeout": 2.0}
        if self.oauth:
            values["oauth_token"] = self.oauth_token
        else:
            values.update(email=self.email, api_token=self.api_token)
        values.update(overrides)
        return ZendeskSettings(**values)

    def connector(self, *, page_budget: int | None = None,
                  **overrides: Any) -> ZendeskConnector:
        # The incremental budget is per account URL: every harness has its own port.
        if page_budget is not None:
            overrides["page_budget"] = page_budget
        settings = self.settings(**overrides)
        # Tests read hundreds of pages a minute: a budget of their own unless a test
        # sets incremental_per_minute to check the real one.
        budget = None if "incremental_per_minute" in overrides else RateBudget(
            "test", 100_000, 60.0)
        connector = ZendeskConnector(settings, policy=FAST_RETRIES, clock=self.clock.now,
                                     sleep=self.clock.sleep, budget=budget)
        self._connectors.append(connector)
        return connector

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: datetime, html: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal") -> str:
        return str(self.sandbox.add_ticket(
            subject=subject, customer_name=customer_name, customer_email=customer_email,
            body=body, at=at.timestamp(), html_body=html, tags=tags, priority=priority))

    def add_message(self, ticket_id: str, role: TurnRole, body: str, at: datetime, *,
                    html: bool = False) -> str:
        return str(self.sandbox.add_comment(int(ticket_id), role, body, at.timestamp(),
                                            html_body=html))

    def ticket_state(self, ticket_id: str) -> TicketState:
        ticket = self.sandbox.ticket(int(ticket_id))
        notes = tuple(c["body"] for c in ticket["comments"]
                      if not c["public"] and c["author_id"] == self.sandbox.bot)
        return TicketState(tags=tuple(ticket["tags"]), priority=ticket["priority"],
                           notes=notes, status=ticket["status"])

    def agent_retag(self, ticket_id: str, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        self.sandbox.agent_retag(int(ticket_id), add=add, remove=remove)

    def delete_ticket(self, ticket_id: str) -> None:
        self.sandbox.delete_ticket(int(ticket_id))

    def inject(self, fault: Fault) -> None:
        if fault.path_contains is None:
            fault.path_contains = "/incremental/ticket_events"
        self.sandbox.inject(fault)

    def redirect_to(self, url: str | None) -> None:
        self.sandbox.redirect_location = url

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()
        return [self.api_token, self.oauth_token, basic]

    def reset(self) -> None:
        self.sandbox.reset()

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        self.sandbox.stop()


def make_harness(*, page_size: int = 5) -> ZendeskHarness:
    return ZendeskHarness(page_size=page_size)

