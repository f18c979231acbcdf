"""Conformance harness for Freshdesk: the real connector against the Freshdesk sandbox."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from datetime import datetime

from connectors.base import Connector
from connectors.freshdesk import PRIORITY_NAMES, FreshdeskConnector, FreshdeskSettings
from connectors.http import RetryPolicy
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import TurnRole
from connectors.sandbox.freshdesk import FreshdeskSandbox
from tests.connectors.harness import TicketState

API_KEY = "fd-test-key-7d1c0b5e9a"

#: Server waits capped low so retry paths run in milliseconds; the logic is unchanged.
FAST_POLICY = RetryPolicy(attempts=4, backoff_base=0.01, backoff_cap=0.05,
                          default_retry_after=0.05, max_retry_after=0.05,
                          max_inline_wait=1.0, connect_timeout=2.0, read_timeout=2.0)


class FreshdeskHarness:
    kind = "freshdesk"

    def __init__(self, *, page_size: int, **sandbox_options: object) -> None:
        self.page_size = page_size
        self.sandbox: FreshdeskSandbox = FreshdeskSandbox(api_key=API_KEY,
                                                          **sandbox_options)  # type: ignore[arg-type]
        self.sandbox.start()

    def settings(self, **overrides: object) -> FreshdeskSettings:
        values: dict[str, object] = {"name": "freshdesk-test", "kind": "freshdesk",
                                     "base_url": self.sandbox.url, "api_key": API_KEY,
                                     "page_size": self.page_size}
        values.update(overrides)
        return FreshdeskSettings.model_validate(values)

    def connector(self, **overrides: object) -> FreshdeskConnector:
        return FreshdeskConnector(self.settings(**overrides), policy=FAST_POLICY)

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
                           notes=tuple(self.sandbox.notes_of(int(ticket_id))),
                           status=str(ticket["status"]))

    def delete_ticket(self, ticket_id: str) -> None:
        self.sandbox.delete_ticket(int(ticket_id))

    def inject(self, fault: Fault) -> None:
        if fault.path_contains is None:
            fault = dataclasses.replace(fault, path_contains="/api/v2/tickets", method="GET")
        self.sandbox.inject(fault)

    def redirect_to(self, url: str | None) -> None:
        self.sandbox.redirect_location = url

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{API_KEY}:X".encode()).decode()
        return [API_KEY, basic, f"Basic {basic}"]

    def reset(self) -> None:
        self.sandbox.reset()

    def close(self) -> None:
        self.sandbox.stop()


def make_harness(*, page_size: int) -> FreshdeskHarness:
    return FreshdeskHarness(page_size=page_size)


_: type[Connector] = FreshdeskConnector  # the connector satisfies the protocol
