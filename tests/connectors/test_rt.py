"""What is Request Tracker's own, against a real RT 5 (the conformance suite covers the rest).

The daemon's note must be an RT comment the requestor is never mailed (RT's mail goes to
a capture script; an agent's reply, which is mailed, proves the capture sees mail);
HTML-only messages and attached files; password auth; a missing tags custom field named
clearly; the settings' rules; and the daemon itself, as a process, escalating a ticket a
customer opened in RT.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import FatalError, TicketChange
from connectors.rt import RTSettings
from connectors.settings import SOURCE_KINDS, settings_class
from tests.connectors.harness import Harness, drain, load_harness, past
from tests.connectors.harness_rt import DAEMON_USER, RTHarness


@pytest.fixture
def rt(_harnesses: dict[str, Harness]) -> RTHarness:
    """The session's RT (shared with the conformance suite), with a new queue."""
    if "rt" not in _harnesses:
        _harnesses["rt"] = load_harness("rt", page_size=5)
    harness = _harnesses["rt"]
    assert isinstance(harness, RTHarness)
    harness.reset()
    return harness


def _recipients(message: Any) -> str:
    return " ".join(str(message.get(h, "")) for h in ("To", "Cc", "Bcc")).lower()


def _transaction_types(rt: RTHarness, ticket_id: str, user: str) -> list[str]:
    found = rt.rest("GET", "/transactions", params={
        "query": f"ObjectType = 'RT::Ticket' AND ObjectId = {int(ticket_id)} "
                 f"AND Creator = '{user}'", "fields": "Type", "per_page": 100})
    return [item["Type"] for item in found["items"]]


def test_note_is_a_comment_and_the_requestor_gets_no_mail(rt: RTHarness) -> None:
    customer = "nora.quinn@example.com"
    ticket_id = rt.add_ticket(subject="Export broken", customer_name="Nora Quinn",
                              customer_email=customer, body="The export fails again.",
                              at=past(5))
    before_reply = len(rt.server.mails())
    rt.add_message(ticket_id, "agent", "We are looking into it.", past(4))
    assert any(customer in _recipients(m) for m in rt.server.mails()[before_reply:]), \
        "the capture must see RT's mail to the requestor, or the check below proves nothing"

    marker = "Sentiment declining: handle with care (note 7f3a)"
    before = len(rt.server.mails())
    rt.connector().apply(ticket_id, TicketChange(add_tags=("sentiment-declining",),
                                                 priority="urgent", note=marker))
    after = rt.server.mails()[before:]
    assert not [m for m in after if customer in _recipients(m)]
    state = rt.ticket_state(ticket_id)
    assert state.tags == ("sentiment-declining",)
    assert state.priority == "urgent"
    assert state.notes == (marker,)
    types = _transaction_types(rt, ticket_id, DAEMON_USER)
    assert "Comment" in types and "Correspond" not in types


def test_html_messages_and_attached_files(rt: RTHarness) -> None:
    customer = "omar.haddad@example.com"
    ticket_id = rt.add_ticket(subject="Invoice", customer_name="Omar Haddad",
                              customer_email=customer, body="<p>Where is my <b>invoice</b>?</p>",
                              html=True, at=past(5))
    file_text = "stacktrace line 42 zqxj"
    rt.rest("POST", f"/ticket/{ticket_id}/correspond", user=customer, json={
        "Content": "Log attached.", "ContentType": "text/plain",
        "Attachments": [{"FileName": "error.log", "FileType": "text/plain",
                         "FileContent": base64.b64encode(file_text.encode()).decode()}]})
    got = drain(rt.connector(), None, past(10)).messages
    assert [(m.author_role, m.body_is_html) for m in got] == [("customer", True),
                                                              ("customer", False)]
    assert "<b>invoice</b>" in got[0].body
    assert got[1].body.strip() == "Log attached."
    assert not any(file_text in m.body for m in got)


def test_password_auth_recognises_its_own_comments(rt: RTHarness) -> None:
    ticket_id = rt.add_ticket(subject="Login", customer_name="Pia Lund",
                              customer_email="pia.lund@example.com", body="Cannot log in",
                              at=past(5))
    connector = rt.connector(token=None, username=DAEMON_USER, password=rt.server.password)
    first = drain(connector, None, past(10))
    connector.apply(ticket_id, TicketChange(note="Escalated by helpdesk-sentinel"))
    later = drain(connector, first.cursor, past(10)).messages
    assert [(m.body, m.own_note, m.public) for m in later] == [
        ("Escalated by helpdesk-sentinel", True, False)]


def test_missing_tags_field_is_named_and_nothing_is_written(rt: RTHarness) -> None:
    ticket_id = rt.add_ticket(subject="Refund", customer_name="Raj Patel",
                              customer_email="raj.patel@example.com", body="Refund please",
                              at=past(5), priority="normal")
    connector = rt.connector(tags_field="no-such-field")
    with pytest.raises(FatalError, match=r"no custom field 'no-such-field'.*docs/rt\.md"):
        connector.apply(ticket_id, TicketChange(add_tags=("sentiment-x",), priority="urgent",
                                                note="n"))
    state = rt.ticket_state(ticket_id)
    assert (state.priority, state.notes) == ("normal", ())
    connector.apply(ticket_id, TicketChange(priority="high"))  # no tags: no field needed
    assert rt.ticket_state(ticket_id).priority == "high"


@pytest.mark.parametrize("values, error", [
    ({"base_url": "http://rt.example.com", "token": "t"}, "https"),
    ({"base_url": "https://rt.example.com"}, "either `token`"),
    ({"base_url": "https://rt.example.com", "token": "t", "username": "u", "password": "p"},
     "either `token`"),
    ({"base_url": "https://rt.example.com", "password": "p"}, "needs `username`"),
    ({"base_url": "https://rt.example.com", "token": "t",
      "priorities": {"low": 0, "normal": 90, "high": 80, "urgent": 100}}, "low < normal"),
    ({"base_url": "https://rt.example.com", "token": "t", "queues": ["a' OR 1=1"]}, "quotes"),
])
def test_settings_refuse_what_cannot_work(values: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        RTSettings.model_validate({"name": "rt", **values})


def test_rt_is_a_source_kind() -> None:
    assert settings_class(SOURCE_KINDS, "rt") is RTSettings
    settings = RTSettings.model_validate({"name": "rt", "base_url": "http://127.0.0.1:8080",
                                          "token": "1-2-abc"})
    assert "1-2-abc" not in repr(settings) and "1-2-abc" not in repr(settings.create())


def test_the_daemon_escalates_a_ticket_a_customer_opened(rt: RTHarness, tmp_path: Path) -> None:
    from tests.e2e.support import VERY_NEGATIVE, daemon_env, run_once

    customer = "sven.berg@example.com"
    ticket_id = rt.add_ticket(subject="Cancel my account", customer_name="Sven Berg",
                              customer_email=customer, body="Hello, a question about billing.",
                              at=past(5))
    rt.add_message(ticket_id, "customer", VERY_NEGATIVE[1], past(4))
    config = tmp_path / "config.yaml"
    config.write_text(f"""
state_dir: {tmp_path}
scorer: {{kind: local}}
sources:
  - name: rt
    kind: rt
    base_url: {rt.server.url}
    token: ${{T_RT_TOKEN}}
    queues: [{rt.queue}]
    start_from: -30m
notifiers: {{}}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions:
      add_tags: [sentiment-very-negative]
      priority: high
      note: "Very negative message ({{last_score:+.2f}})"
""")
    before = len(rt.server.mails())
    totals = run_once(config, daemon_env(T_RT_TOKEN=rt.server.token), timeout=300)
    assert rt.server.token not in totals["_output"]
    state = rt.ticket_state(ticket_id)
    assert "sentiment-very-negative" in state.tags
    assert state.priority == "high"
    assert len(state.notes) == 1 and state.notes[0].startswith("Very negative message (-")
    assert not [m for m in rt.server.mails()[before:] if customer in _recipients(m)]


def test_check_source_names_a_missing_tags_field(rt: RTHarness, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.e2e.support import REPO, daemon_env

    def check(tags_field: str) -> tuple[int, str]:
        config = tmp_path / f"{tags_field}.yaml"
        config.write_text(f"""
state_dir: {tmp_path}
sources:
  - {{name: helpdesk, kind: rt, base_url: "{rt.server.url}", token: "${{T_RT_TOKEN}}",
      queues: [{rt.queue}], tags_field: {tags_field}}}
notifiers: {{}}
rules: []
""")
        done = subprocess.run([sys.executable, "-m", "daemon.cli", "check-source", "--config",
                               str(config)], cwd=REPO, capture_output=True, text=True,
                              timeout=120, env=daemon_env(T_RT_TOKEN=rt.server.token))
        return done.returncode, done.stdout + done.stderr

    code, output = check("no-such-field")
    assert code == 1, output
    assert f"custom field 'no-such-field' is missing for queue '{rt.queue}'" in output
    assert rt.server.token not in output
    code, output = check("sentiment-tags")
    assert (code, output.strip()) == (0, "helpdesk: OK")
