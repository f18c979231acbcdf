"""Who works a ticket, as each vendor's ticket payload says, reaches the TicketSnapshot."""

from __future__ import annotations

from tests.connectors.harness import Harness, drain, past
from tests.connectors.harness_zendesk import ZendeskHarness


def test_zendesk_names_the_assignee_from_the_sideloaded_users(zendesk: ZendeskHarness) -> None:
    ticket_id = zendesk.add_ticket(subject="Refund", customer_name="Dana", customer_email=
                                   "dana@example.com", body="Where is my refund?", at=past(30))
    before = drain(zendesk.connector(), None, past(45))
    assert before.messages[-1].ticket.assignee is None  # nobody has answered yet
    zendesk.add_message(ticket_id, "agent", "Looking into it", past(20))
    after = drain(zendesk.connector(), None, past(45))
    assert {m.ticket.assignee for m in after.messages} == {"Sam Rivera"}
    assert all(m.ticket.group is None for m in after.messages)


def test_every_vendor_fills_assignment_or_leaves_it_empty(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Login", customer_name="Lee", customer_email=
                                   "lee@example.com", body="I cannot log in", at=past(30))
    harness.add_message(ticket_id, "agent", "Try resetting it", past(20))
    messages = drain(harness.connector(), None, past(45)).messages
    assignees = {m.ticket.assignee for m in messages}
    assert len(assignees) == 1
    expected = {"zendesk": "Sam Rivera", "freshdesk": "Riley Chen",  # one lookup per agent
                "helpscout": None,  # the sandbox leaves it unassigned
                "rt": None}[harness.kind]  # RT's owner stays Nobody until someone takes it
    assert assignees == {expected}
