"""Conformance harness for Freshdesk: the real connector against the Freshdesk sandbox."""

from __future__ import annotations

import base64
import dataclasses
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.freshdesk import PRIORITY_NAMES, FreshdeskConnector, FreshdeskSettings
from connectors.http import RetryPolicy
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import TurnRole
from connectors.sandbox.freshdesk import FreshdeskSandbox
from tests.connectors.harness import OWN_TAG_PREFIX, TicketState

#: Waits are "slept" on a virtual clock, so a server's Retry-After passes at once; each
#: request is retried at most twice inline.
FAST_POLICY = RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.05,
                          max_inline_wait=3600.0, connect_timeout=2.0, read_timeout=1.0)


class VirtualClock:
    """Wall time plus an offset that `sleep` advances: waits pass without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += max(0.0, seconds)


class FreshdeskHarness:
    kind = "freshdesk"

    def __init__(self, *, page_size: int, **sandbox_options: Any) -> None:
        self.page_size = page_size
        # Unique per harness so a leak check cannot pass by accident.
        self.api_key = f"fdkey-{uuid.uuid4().hex}"
        self.sandbox = FreshdeskSandbox(api_key=self.api_key, **sandbox_options)
        self.sandbox.start()
        self.clock = VirtualClock()
        self._connectors: list[FreshdeskConnector] = []

    def settings(self, **overrides: Any) -> FreshdeskSettings:
        values: dict[str, Any] = {"name": "freshdesk-test", "kind": "freshdesk",
                                  "base_url": self.sandbox.url, "api_key": self.api_key,
                                  "page_size": self.page_size,
                                  "own_tag_prefix": OWN_TAG_PREFIX, "timeout": 2.0}
        values.update(overrides)
        return FreshdeskSettings.model_validate(values)

    def connector(self, *, page_budget: int | None = None,
                  **overrides: Any) -> FreshdeskConnector:
        if page_budget is not None:
            overrides["page_budget"] = page_budget
        connector = FreshdeskConnector(self.settings(**overrides), policy=FAST_POLICY,
                                       clock=self.clock.now, sleep=self.clock.sleep)
        self._connectors.append(connector)
        return connector

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: datetime, html: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal") -> str:
        return str(self.sandbox.add_ticket(
            subject=subject, customer_name=customer_name, customer_email=customer_email,
            body=body, at=at, html_body=html, tags=tags, priority=priority))

    def add_message(self, ticket_id: str, role: TurnRole, body: str, at: datetime, *,
                    html: bool = False) -> str:
        return str(self.sandbox.add_conversation(int(ticket_id), role, body, at,
                                                 html_body=html))

    def ticket_state(self, ticket_id: str) -> TicketState:
        ticket = self.sandbox.tickets[int(ticket_id)]
        return TicketState(tags=tuple(ticket["tags"]),
                           priority=PRIORITY_NAMES.get(ticket["priority"]),
                           notes=tuple(self.sandbox.notes_of(int(ticket_id),
                                                             by=self.sandbox.agent_id)),
                           status=str(ticket["status"]))

    def agent_retag(self, ticket_id: str, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        self.sandbox.agent_retag(int(ticket_id), add=add, remove=remove)

    def delete_ticket(self, ticket_id: str) -> None:
        self.sandbox.delete_ticket(int(ticket_id))

    def inject(self, fault: Fault) -> None:
        if fault.path_contains is None:
            fault = dataclasses.replace(fault, path_contains="/api/v2/tickets", method="GET")
        self.sandbox.inject(fault)

    def redirect_to(self, url: str | None) -> None:
        self.sandbox.redirect_location = url

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{self.api_key}:X".encode()).decode()
        return [self.api_key, basic]

    def reset(self) -> None:
        self.sandbox.reset()

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        self.sandbox.stop()


def make_harness(*, page_size: int) -> FreshdeskHarness:
    return FreshdeskHarness(page_size=page_size)

