"""Conformance harness for Help Scout: the real connector against the Help Scout sandbox.

The sandbox pages conversations by the harness's `page_size` (Help Scout's own is 25)
so paging is exercised with few conversations; "gone" conversations are merged, the way
Help Scout makes an id disappear (301 on reads, 404 on writes).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.helpscout import HelpScoutConnector, HelpScoutSettings
from connectors.sandbox.base import Fault
from connectors.sandbox.conversations import TurnRole
from connectors.sandbox.helpscout import PRIORITY_FIELD_ID, PRIORITY_OPTIONS, HelpScoutSandbox
from tests.connectors.harness import OWN_TAG_PREFIX, TicketState
from tests.connectors.harness_freshdesk import FAST_POLICY, VirtualClock

PRIORITY_TAG_PREFIX = "priority-"


class HelpScoutHarness:
    kind = "helpscout"

    def __init__(self, *, page_size: int, priority_mode: str = "tag",
                 **sandbox_options: Any) -> None:
        # Unique per harness so a leak check cannot pass by accident.
        self.client_id = f"hsid-{uuid.uuid4().hex[:12]}"
        self.client_secret = f"hssecret-{uuid.uuid4().hex}"
        self.priority_mode = priority_mode
        options: dict[str, Any] = {"page_size": page_size, "thread_page_size": page_size,
                                   "priority_as": priority_mode}
        options.update(sandbox_options)
        self.sandbox = HelpScoutSandbox(client_id=self.client_id,
                                        client_secret=self.client_secret, **options)
        self.sandbox.start()
        self.clock = VirtualClock()
        self._connectors: list[HelpScoutConnector] = []

    def settings(self, **overrides: Any) -> HelpScoutSettings:
        values: dict[str, Any] = {
            "name": "helpscout-test", "kind": "helpscout", "base_url": self.sandbox.url,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "own_tag_prefix": OWN_TAG_PREFIX, "timeout": 2.0,
            "priority_mode": self.priority_mode}
        if self.priority_mode == "field":
            values.update(priority_field_id=PRIORITY_FIELD_ID,
                          priority_options=dict(PRIORITY_OPTIONS))
        values.update(overrides)
        return HelpScoutSettings.model_validate(values)

    def connector(self, *, page_budget: int | None = None,
                  **overrides: Any) -> HelpScoutConnector:
        if page_budget is not None:
            overrides["page_budget"] = page_budget
        connector = HelpScoutConnector(self.settings(**overrides), policy=FAST_POLICY,
                                       clock=self.clock.now, sleep=self.clock.sleep)
        self._connectors.append(connector)
        return connector

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: datetime, html: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal") -> str:
        return str(self.sandbox.add_conversation(
            subject=subject, customer_name=customer_name, customer_email=customer_email,
            body=body, at=at, html_body=html, tags=tags, priority=priority,
            priority_as=self.priority_mode))

    def add_message(self, ticket_id: str, role: TurnRole, body: str, at: datetime, *,
                    html: bool = False) -> str:
        return str(self.sandbox.add_thread(int(ticket_id), role, body, at, html_body=html))

    def ticket_state(self, ticket_id: str) -> TicketState:
        conversation = self.sandbox.conversations[int(ticket_id)]
        tags = tuple(self.sandbox.tag_names(int(ticket_id)))
        priority = "normal"  # no priority tag or field value: normal
        if self.priority_mode == "field":
            by_option = {str(v): k for k, v in PRIORITY_OPTIONS.items()}
            for custom in conversation["customFields"]:
                if custom["id"] == PRIORITY_FIELD_ID:
                    priority = by_option.get(str(custom["value"]), "normal")
        else:
            ranks = ("low", "normal", "high", "urgent")
            found = [t[len(PRIORITY_TAG_PREFIX):] for t in tags
                     if t.startswith(PRIORITY_TAG_PREFIX) and t[len(PRIORITY_TAG_PREFIX):] in ranks]
            priority = max(found, key=ranks.index) if found else "normal"
        return TicketState(tags=tags, priority=priority,
                           notes=tuple(self.sandbox.notes_of(int(ticket_id),
                                                             by=self.sandbox.user_id)),
                           status=str(conversation["status"]))

    def agent_retag(self, ticket_id: str, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        self.sandbox.agent_retag(int(ticket_id), add=add, remove=remove)

    def delete_ticket(self, ticket_id: str) -> None:
        self.sandbox.merge(int(ticket_id))

    def inject(self, fault: Fault) -> None:
        if fault.path_contains is None:
            fault = dataclasses.replace(fault, path_contains="/v2/conversations", method="GET")
        self.sandbox.inject(fault)

    def redirect_to(self, url: str | None) -> None:
        self.sandbox.redirect_location = url

    def secrets(self) -> list[str]:
        secrets = [self.client_secret, self.client_id]
        secrets.extend(self.sandbox.tokens)  # the bearer tokens issued so far
        return secrets

    def reset(self) -> None:
        self.sandbox.reset()

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        self.sandbox.stop()


def make_harness(*, page_size: int) -> HelpScoutHarness:
    return HelpScoutHarness(page_size=page_size)
