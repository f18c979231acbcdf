"""Conformance harness for Request Tracker: the real connector against a real RT 5.

The RT is Debian's (see rt_server.py), not a look-alike.  The connector reaches it through
`RTProxy`, a pass-through on loopback built on the sandbox machinery, so the suite can
inject faults (429, 5xx, slow, malformed, dropped), answer with redirects and count the
requests exactly as with the vendor sandboxes; everything else is RT's own answer.

Customers are unprivileged RT users who open tickets and reply through REST 2.0 with
their own password; agents reply and comment as `agent-sam`; priorities and agents' tags
are set by the test administrator.  RT stamps every transaction with its own clock, so
the `at` times the suite passes only order the turns (which they already do).  `reset()`
gives each test a new queue, and the connector watches only that queue.  Without RT the
harness skips with the reason, except under CI=true where it fails.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from connectors.rest import priority_from_number
from connectors.rt import DEFAULT_PRIORITIES, RTConnector, RTSettings
from connectors.sandbox.base import Fault, Request, Response, SandboxServer
from connectors.sandbox.conversations import TurnRole
from tests.connectors.harness import OWN_TAG_PREFIX, TicketState
from tests.connectors.harness_freshdesk import FAST_POLICY, VirtualClock
from tests.connectors.rt_server import ADMIN, RTServer, missing

#: The suite's fast retries, with a read timeout a real RT needs: posting a comment runs
#: RT's scrips (and their mail) before it answers, seconds on a busy machine.  A "slow"
#: fault is made slower than this timeout (`inject`), as it is for the other vendors.
RT_POLICY = dataclasses.replace(FAST_POLICY, read_timeout=8.0)
TAGS_FIELD = "sentiment-tags"
AGENT = "agent-sam"
DAEMON_USER = "sentinel"
_FORWARDED = ("authorization", "content-type", "accept")


class RTProxy(SandboxServer):
    """Every request forwarded to RT as it came, unless a fault or redirect is set."""

    vendor = "rt"

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream
        self.redirect_location: str | None = None
        self._session = requests.Session()
        self._session.trust_env = False
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            self.route(method, r"/.*", self._forward)

    def authenticate(self, request: Request) -> Response | None:
        if self.redirect_location:
            return Response(302, b"", {"Location": self.redirect_location})
        return None

    def not_found(self) -> Response:
        return Response(404, {"message": "Not Found"})

    def _forward(self, request: Request) -> Response:
        query = urlencode([(k, v) for k, values in request.query.items() for v in values])
        answer = self._session.request(
            request.method, f"{self.upstream}{request.path}" + (f"?{query}" if query else ""),
            data=request.body or None, timeout=60, allow_redirects=False,
            headers={k: v for k, v in request.headers.items() if k in _FORWARDED})
        headers = {k: v for k, v in answer.headers.items()
                   if k.lower() in ("content-type", "location", "retry-after")}
        return Response(answer.status_code, answer.content, headers)

    def reset(self) -> None:
        self.clear_faults()
        self.redirect_location = None
        with self._lock:
            self.request_log.clear()
            self.writes.clear()


class RTHarness:
    kind = "rt"

    def __init__(self, *, page_size: int) -> None:
        self.page_size = page_size
        self.server = RTServer().start()
        self.sandbox = RTProxy(self.server.url)
        self.sandbox.start()
        self.clock = VirtualClock()
        self.queue = ""
        self._customers: dict[str, str] = {}  # ticket id -> customer's user name
        self._known_users: set[str] = set()
        self._connectors: list[RTConnector] = []
        self.reset()

    # -- RT as its users -------------------------------------------------------------

    def rest(self, method: str, path: str, *, user: str = ADMIN, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.server.url}/REST/2.0{path}",
                                    auth=(user, self.server.password), timeout=60, **kwargs)
        assert response.status_code < 300, f"{method} {path} as {user}: {response.status_code}"
        return response.json() if response.content else None

    def _customer(self, name: str, email: str) -> str:
        if email not in self._known_users:
            self.rest("POST", "/user", json={"Name": email, "EmailAddress": email,
                                             "RealName": name, "Privileged": 0,
                                             "Password": self.server.password})
            self._known_users.add(email)
        return email

    def _last_transaction(self, ticket_id: str, kind: str) -> str:
        found = self.rest("GET", "/transactions", params={
            "query": f"ObjectType = 'RT::Ticket' AND ObjectId = {int(ticket_id)} "
                     f"AND Type = '{kind}'", "orderby": "id", "order": "DESC", "per_page": 1})
        return str(found["items"][0]["id"])

    # -- Harness -----------------------------------------------------------------------

    def settings(self, **overrides: Any) -> RTSettings:
        values: dict[str, Any] = {"name": "rt-test", "kind": "rt", "base_url": self.sandbox.url,
                                  "token": self.server.token, "queues": [self.queue],
                                  "page_size": self.page_size, "tags_field": TAGS_FIELD,
                                  "own_tag_prefix": OWN_TAG_PREFIX, "timeout": 2.0}
        values.update(overrides)
        return RTSettings.model_validate(values)

    def connector(self, *, page_budget: int | None = None, **overrides: Any) -> RTConnector:
        if page_budget is not None:
            overrides["page_budget"] = page_budget
        connector = RTConnector(self.settings(**overrides), policy=RT_POLICY,
                                clock=self.clock.now, sleep=self.clock.sleep)
        self._connectors.append(connector)
        return connector

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: datetime, html: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal") -> str:
        customer = self._customer(customer_name, customer_email)
        created = self.rest("POST", "/ticket", user=customer, json={
            "Queue": self.queue, "Subject": subject, "Requestor": customer_email,
            "Content": body, "ContentType": "text/html" if html else "text/plain"})
        ticket_id = str(created["id"])
        self._customers[ticket_id] = customer
        update: dict[str, Any] = {}
        if tags:
            update["CustomFields"] = {TAGS_FIELD: list(tags)}
        if priority is not None:
            update["Priority"] = DEFAULT_PRIORITIES[priority]
        if update:
            self.rest("PUT", f"/ticket/{ticket_id}", json=update)
        return ticket_id

    def add_message(self, ticket_id: str, role: TurnRole, body: str, at: datetime, *,
                    html: bool = False) -> str:
        user = self._customers[ticket_id] if role == "customer" else AGENT
        action = "comment" if role == "note" else "correspond"
        self.rest("POST", f"/ticket/{int(ticket_id)}/{action}", user=user, json={
            "Content": body, "ContentType": "text/html" if html else "text/plain"})
        return self._last_transaction(ticket_id, "Comment" if role == "note" else "Correspond")

    def comments_by(self, ticket_id: str, user: str) -> tuple[str, ...]:
        found = self.rest("GET", "/transactions", params={
            "query": f"ObjectType = 'RT::Ticket' AND ObjectId = {int(ticket_id)} "
                     f"AND Type = 'Comment' AND Creator = '{user}'",
            "orderby": "id", "per_page": 100})
        bodies = []
        for item in found["items"]:
            parts = self.rest("GET", f"/transaction/{item['id']}/attachments",
                              params={"fields": "Content,ContentType"})["items"]
            bodies += [p["Content"] for p in parts if p.get("ContentType") == "text/plain"]
        return tuple(bodies)

    def ticket_state(self, ticket_id: str) -> TicketState:
        ticket = self.rest("GET", f"/ticket/{int(ticket_id)}")
        tags = next((tuple(cf["values"]) for cf in ticket.get("CustomFields", [])
                     if cf.get("name") == TAGS_FIELD), ())
        return TicketState(tags=tags, priority=priority_from_number(ticket["Priority"],
                                                             DEFAULT_PRIORITIES),
                           notes=self.comments_by(ticket_id, DAEMON_USER),
                           status=str(ticket["Status"]))

    def agent_retag(self, ticket_id: str, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        """An agent edits the tags custom field in RT's UI (read, change, write)."""
        tags = [t for t in self.ticket_state(ticket_id).tags if t not in remove]
        tags += [t for t in add if t not in tags]
        self.rest("PUT", f"/ticket/{int(ticket_id)}", json={"CustomFields": {TAGS_FIELD: tags}})

    def delete_ticket(self, ticket_id: str) -> None:
        self.rest("DELETE", f"/ticket/{int(ticket_id)}")

    def inject(self, fault: Fault) -> None:
        if fault.path_contains is None:
            fault = dataclasses.replace(fault, path_contains="/REST/2.0/transactions",
                                        method="GET")
        if fault.kind == "slow":  # slow means: slower than the client waits
            fault = dataclasses.replace(
                fault, delay=max(fault.delay, RT_POLICY.read_timeout + 0.6))
        self.sandbox.inject(fault)

    def redirect_to(self, url: str | None) -> None:
        self.sandbox.redirect_location = url

    def secrets(self) -> list[str]:
        return [self.server.token, self.server.token.split("-")[-1]]

    def reset(self) -> None:
        self.sandbox.reset()
        self.queue = f"sentinel-{uuid.uuid4().hex[:12]}"
        self.rest("POST", "/queue", json={"Name": self.queue})

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
        self.sandbox.stop()
        self.server.stop()


def make_harness(*, page_size: int) -> RTHarness:
    reason = missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"{reason}; .ci/run installs it")
        pytest.skip(f"{reason} (CI=true makes this a failure)")
    return RTHarness(page_size=page_size)
