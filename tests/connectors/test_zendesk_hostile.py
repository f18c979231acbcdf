"""Zendesk answers that could stop a source or flood the account (issue 11, items 9, 10).

- An export page whose `end_time` lies in the future (year 2100) moved the cursor there
  and the source silently read nothing ever again.  The cursor now never passes what the
  vendor can have served (now minus `min_age_seconds`), and the next poll reads on.
- The recovery of a same-second stall had no request budget (3,844 requests in 170 s in
  one run).  It now stops at `stall_request_budget` with a FatalError naming the setting
  (the source pauses with its cursor where it was: nothing is skipped).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import FatalError
from connectors.http import RateBudget
from connectors.sandbox.base import Request, Response
from connectors.sandbox.zendesk import ZendeskSandbox
from connectors.zendesk import Cursor, ZendeskConnector, ZendeskSettings
from tests.connectors.harness import past
from tests.connectors.harness_zendesk import ZendeskHarness

YEAR_2100 = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())


class FutureEndTimeSandbox(ZendeskSandbox):
    """Answers the first export page with an end_time in 2100, then behaves."""

    def __init__(self, **options: object) -> None:
        self.lies_left = 1
        super().__init__(**options)  # type: ignore[arg-type]

    def _ticket_events(self, request: Request) -> Response:
        response = super()._ticket_events(request)
        if self.lies_left > 0 and response.status == 200 and isinstance(response.body, dict):
            self.lies_left -= 1
            response.body["end_time"] = YEAR_2100
            response.body["end_of_stream"] = False
        return response


def test_an_end_time_in_the_future_does_not_stop_the_source() -> None:
    sandbox = FutureEndTimeSandbox(email="bot@example.com", api_token="tok", page_size=50,
                                   exclusion_seconds=0, incremental_per_minute=None)
    sandbox.start()
    try:
        first_at = datetime.now(UTC) - timedelta(minutes=30)
        ticket = sandbox.add_ticket(subject="Broken", customer_name="C",
                                    customer_email="c@example.com", body="It broke",
                                    at=first_at.timestamp())
        settings = ZendeskSettings(name="zd", base_url=sandbox.url, email="bot@example.com",
                                   api_token="tok", min_age_seconds=60)
        connector = ZendeskConnector(settings, budget=RateBudget("t", 1000, 60.0))
        first = connector.poll(None, first_at - timedelta(minutes=5))
        assert [m.body for m in first.messages] == ["It broke"]
        start_time = json.loads(first.next_cursor or "{}")["start_time"]
        assert start_time <= int(datetime.now(UTC).timestamp()) - 60  # never 2100

        later = sandbox.add_comment(ticket, "customer", "Still broken, hello?",
                                    (datetime.now(UTC) - timedelta(seconds=30)).timestamp())
        second = connector.poll(first.next_cursor, first_at)
        assert [m.message_id for m in second.messages] == [str(later)]
        connector.close()
    finally:
        sandbox.stop()


def test_stall_recovery_stops_at_its_request_budget(zendesk: ZendeskHarness) -> None:
    start = past(30)
    tickets = [int(zendesk.add_ticket(subject=f"Outage {n}", customer_name=f"C {n}",
                                      customer_email=f"c{n}@example.com", body="Down?",
                                      at=start + timedelta(seconds=n)))
               for n in range(12)]
    burst_at = past(20).timestamp()
    zendesk.sandbox.pile_up(tickets, burst_at)  # 12 comments in one second > page of 5
    connector = zendesk.connector(stall_request_budget=8)
    cursor = None
    sent_before = len(zendesk.sandbox.request_log)
    with pytest.raises(FatalError) as stopped:
        for _ in range(10):  # the pages before the stall, then the stall itself
            result = connector.poll(cursor, past(35))
            cursor = result.next_cursor
    assert str(stopped.value) == (
        f"zendesk: reading the comments of stalled second {int(burst_at)} needs more than "
        "stall_request_budget (8) requests; raise it to read them (nothing was skipped)")
    recovery = [r for r in zendesk.sandbox.request_log[sent_before:]
                if "/incremental/tickets/cursor" in r.path or r.path.endswith("/comments.json")]
    assert 1 <= len(recovery) <= 8
    # The cursor handed back before the stall still points at or before the stalled second.
    assert cursor is None or Cursor.load(cursor, past(35)).start_time <= int(burst_at)


def test_stall_recovery_within_budget_still_reads_everything(zendesk: ZendeskHarness) -> None:
    start = past(30)
    tickets = [int(zendesk.add_ticket(subject=f"Outage {n}", customer_name=f"C {n}",
                                      customer_email=f"c{n}@example.com", body="Down?",
                                      at=start + timedelta(seconds=n)))
               for n in range(12)]
    burst = zendesk.sandbox.pile_up(tickets, past(20).timestamp())
    connector = zendesk.connector(stall_request_budget=40)
    cursor = None
    seen: list[str] = []
    for _ in range(20):
        result = connector.poll(cursor, past(35))
        seen += [m.message_id for m in result.messages]
        cursor = result.next_cursor
        if result.caught_up:
            break
    assert {str(i) for i in burst} <= set(seen) and len(seen) == len(set(seen)) == 24
