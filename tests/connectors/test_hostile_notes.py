"""Customer text in a note reaches every helpdesk as inert text (issue 11, item 2).

A subject carrying a phishing link and a tracking pixel arrived in Freshdesk as live
HTML; control and bidi characters and an unbounded subject reached Zendesk.  Here a
hostile subject and indicator phrase go through the rule engine's `render` and the real
connector into each vendor's sandbox, and the write the sandbox recorded is checked.
"""

from __future__ import annotations

from connectors.base import TicketChange
from rules.notes import render
from tests.connectors.harness import Harness, past

PHISH = '<a href="https://evil.example/reset">Reset your password</a>'
PIXEL = '<img src="https://track.example/p.gif?id=42" width=1 height=1>'
HIDDEN = "\u202eevil\u2066\u200bhidden\x1b[31m\x07\x00\r\n\x85"
TEMPLATE = ("Very negative customer message (score {last_score:+.2f}) on {subject}.\n"
            "Phrases: {indicators}.")
HTML_NOTES = {"freshdesk", "helpscout"}
NOTE_FIELD = {"zendesk": "body", "freshdesk": "body", "helpscout": "text"}


def _note_written(harness: Harness, ticket_id: str) -> str:
    if harness.kind == "rt":  # the real server: read the comment back from RT itself
        notes = harness.ticket_state(ticket_id).notes
        assert len(notes) == 1, notes
        return notes[0]
    writes = [w for w in harness.sandbox.writes if w["kind"] == "note"]
    assert len(writes) == 1, writes
    body = writes[0][NOTE_FIELD[harness.kind]]
    assert isinstance(body, str)
    return body


def test_hostile_subject_and_phrase_reach_the_note_as_inert_text(harness: Harness) -> None:
    subject = f"Refund {PHISH}{PIXEL} {HIDDEN}" + "x" * 100_000
    ticket_id = harness.add_ticket(subject="Refund", customer_name="Mallory",
                                   customer_email="m@example.com", body="hello",
                                   at=past(10))
    note = render(TEMPLATE, {"last_score": -0.9, "subject": subject,
                             "indicators": f'"{PIXEL}</p><script>alert(1)</script>{HIDDEN}"'})
    harness.connector().apply(ticket_id, TicketChange(note=note))
    body = _note_written(harness, ticket_id)

    for char in "\u202e\u2066\u200b\x1b\x07\x00\r\x85":
        assert char not in body, repr(char)
    assert len(body) < 2_000  # the 100,000-character subject was capped
    assert "Very negative customer message (score -0.90) on Refund" in body
    if harness.kind in HTML_NOTES:
        for live in ("<a ", "<img", "<script", "</p>"):
            assert live not in body, live
        assert "&lt;a href=&quot;https://evil.example/reset&quot;&gt;" in body
        assert "&lt;img src=" in body
        assert body.count("<br>") == 1  # the template's own line break, nothing else
    else:
        assert PHISH in body  # plain text: shown as typed, never rendered
        assert body.count("\n") == 1


def test_ordinary_notes_are_unchanged(harness: Harness) -> None:
    ticket_id = harness.add_ticket(subject="Refund", customer_name="Ada",
                                   customer_email="a@example.com", body="hello", at=past(10))
    note = "Sentiment declining: recent average -0.61 over 4 messages (\u00e9t\u00e9 \U0001f61e)"
    harness.connector().apply(ticket_id, TicketChange(note=note))
    assert _note_written(harness, ticket_id) == note
    assert harness.ticket_state(ticket_id).notes == (note,)
