"""The dashboard over real HTTP: hostile ticket text stays text, access is enforced, the
pages only read, and the numbers are `report --json`'s on the same database."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from connectors.base import Message, TicketSnapshot
from daemon.cli import main
from daemon.config import ConfigError, DashboardSettings, load_config
from daemon.dashboard import start_dashboard
from daemon.dashboard.server import DashboardServer
from daemon.pipeline import Pipeline
from daemon.store import Store
from tests.daemon.helpers import ARTICLE_RULES, ScriptedScorer
from tests.e2e.support import REPO

HOSTILE_SUBJECT = '<script>alert("subject")</script><img src=x onerror=alert(1)>'
HOSTILE_NAME = '"><svg onload=alert("name")>'
HOSTILE_AGENT = "<b onmouseover=alert('agent')>Mallory</b>"
HOSTILE_BODY = "score=-0.9 &lt;script&gt;alert('body')&lt;/script&gt; \x1b[31mred\x07 it's <i>"
HOSTILE_URL = "javascript:alert('url')"
TOKEN = "dash-token-0123456789abcdef"


def _message(message_id: str, ticket_id: str, body: str, at: datetime, *,
             role: str = "customer", subject: str = "Printer on fire", url: str | None = None,
             requester: str = "Dana Customer", agent: str = "Sam") -> Message:
    return Message(
        message_id=message_id, ticket_id=ticket_id, author_role=role,  # type: ignore[arg-type]
        public=True, created_at=at, body=body,
        ticket=TicketSnapshot(ticket_id=ticket_id, subject=subject,
                              url=url if url is not None else
                              f"https://help.example.test/agent/tickets/{ticket_id}",
                              status="open", priority="high", requester=requester),
        author_id="c1" if role == "customer" else f"id-{agent}",
        author_name=None if role == "customer" else agent)


def fill(store: Store, now: datetime) -> None:
    """A week of ordinary conversations, plus one hostile ticket."""
    store.create_schema()
    store.sources.ensure(["zd", "fd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    for source in ("zd", "fd"):
        batch = []
        for ticket in range(12):
            start = now - timedelta(days=ticket % 7, hours=ticket)
            scores = [0.4, -0.1 - ticket / 20, -0.6 - ticket / 40] if ticket % 3 == 0 else \
                [0.2, 0.3 - ticket / 30]
            for n, score in enumerate(scores):
                at = start + timedelta(minutes=30 * n)
                batch.append(_message(f"{ticket}-{n}", str(ticket), f"score={score:.2f} text",
                                      at))
                batch.append(_message(f"{ticket}-{n}r", str(ticket), "On it", at +
                                      timedelta(minutes=5), role="agent",
                                      agent="Sam" if ticket % 2 else "Jo"))
        pipeline.process(source, batch, "c1")
    hostile = [_message("h1", "666", "score=0.3 hello", now - timedelta(hours=2),
                        subject=HOSTILE_SUBJECT, url=HOSTILE_URL, requester=HOSTILE_NAME),
               _message("h2", "666", "sure", now - timedelta(hours=1, minutes=50),
                        role="agent", subject=HOSTILE_SUBJECT, url=HOSTILE_URL,
                        requester=HOSTILE_NAME, agent=HOSTILE_AGENT),
               _message("h3", "666", HOSTILE_BODY, now - timedelta(hours=1),
                        subject=HOSTILE_SUBJECT, url=HOSTILE_URL, requester=HOSTILE_NAME)]
    pipeline.process("zd", hostile, "c2")


@contextlib.contextmanager
def serving(store: Store, token: str | None = None,
            addr: str = "127.0.0.1") -> Iterator[DashboardServer]:
    settings = DashboardSettings(enabled=True, addr=addr, port=0,
                                 token=token)  # type: ignore[arg-type]
    server = start_dashboard(store, settings, lambda: ARTICLE_RULES, ["zd", "fd"])
    try:
        yield server
    finally:
        server.close()


def get(server: DashboardServer, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection(server.address, server.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


class _Elements(HTMLParser):
    """Every element and attribute the browser would build, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(body: str) -> _Elements:
    parser = _Elements()
    parser.feed(body)
    parser.close()
    return parser


class _Metrics(HTMLParser):
    """`data-metric` values of the overview's cards."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("data-metric") and found.get("data-value") is not None:
            self.values.setdefault(str(found["data-metric"]), str(found["data-value"]))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    db = Store(db_url)
    fill(db, datetime.now(UTC))
    yield db
    db.close()


PAGES = ["/", "/?days=30", "/?source=zd", "/at-risk", "/agents", "/tickets/zd/666",
         "/tickets/zd/3"]


def test_hostile_ticket_text_is_escaped_on_every_page(store: Store) -> None:
    with serving(store) as server:
        texts = {}
        for path in PAGES:
            status, _, body = get(server, path)
            assert status == 200, (path, body[:500])
            page = elements(body)
            tags = {tag for tag, _ in page.tags}
            assert not tags & {"script", "img", "iframe", "object", "b", "i"}, (path, tags)
            for tag, attrs in page.tags:
                assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
                for name in ("href", "src", "action"):
                    assert not (attrs.get(name) or "").lower().startswith("javascript"), path
            assert "\x1b" not in body and "\x07" not in body, path
            texts[path] = "".join(page.text)
        # What a person reads: the hostile strings, literally.
        for path in ("/at-risk", "/tickets/zd/666"):
            assert HOSTILE_SUBJECT in texts[path], path
            assert HOSTILE_NAME in texts[path], path
        ticket = texts["/tickets/zd/666"]
        assert "#666 in zd (no link from the helpdesk)" in ticket  # javascript: is no link
        # The stored message (entities decoded by the normaliser) shows as literal text.
        assert "<script>alert('body')</script>" in ticket
        assert HOSTILE_AGENT in ticket


def test_ticket_links_go_to_the_helpdesk_and_the_ticket_page(store: Store) -> None:
    with serving(store) as server:
        _, _, body = get(server, "/at-risk")
    links = re.findall(r'class="helpdesk-link" href="([^"]+)"', body)
    assert links and all(re.fullmatch(r"https://help\.example\.test/agent/tickets/\d+", link)
                         for link in links)
    pages = re.findall(r'class="ticket-link" href="([^"]+)"', body)
    assert "/tickets/zd/666" in pages


def test_security_headers_and_read_only(store: Store) -> None:
    with serving(store) as server:
        status, headers, _ = get(server, "/")
        assert status == 200
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            status, headers, _ = get(server, "/", method=method)
            assert status == 405 and headers["allow"] == "GET, HEAD"
        assert get(server, "/nope")[0] == 404
        assert get(server, "/tickets/zd/no-such-ticket")[0] == 404
        status, _, body = get(server, "/?source=%3Cscript%3E")
        assert status == 400 and "unknown source &#39;&lt;script&gt;&#39;" in body
        assert get(server, "/?days=0")[0] == 400
        assert get(server, "/?days=abc")[0] == 400
        # A name that resolves elsewhere (DNS rebinding) gets nothing without a token.
        assert get(server, "/", headers={"Host": "evil.example:80"})[0] == 421


def test_token_is_required_and_never_echoed(store: Store) -> None:
    with serving(store, token=TOKEN) as server:
        status, headers, body = get(server, "/")
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        assert get(server, "/", {"Authorization": "Bearer wrong-token-0000000000"})[0] == 401
        assert get(server, "/", {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        status, headers, body = get(server, f"/at-risk?days=30&token={quote(TOKEN)}")
        assert status == 303 and headers["location"] == "/at-risk?days=30"
        cookie = headers["set-cookie"].split(";")[0]
        assert TOKEN not in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
        status, _, body = get(server, "/at-risk?days=30", {"Cookie": cookie})
        assert status == 200 and TOKEN not in body
        assert get(server, "/", {"Cookie": "sentinel_dashboard=forged"})[0] == 401
        assert get(server, "/?token=wrong")[0] == 401
        # With a token, any Host may ask (the token is what protects it).
        assert get(server, "/", {"Authorization": f"Bearer {TOKEN}",
                                 "Host": "dash.example"})[0] == 200


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "dash.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n{body}")
    return path


def test_check_config_refuses_an_open_dashboard(tmp_path: Path) -> None:
    open_one = _config(tmp_path, "dashboard:\n  enabled: true\n  addr: 0.0.0.0\n  port: 8765\n")
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "check-config", "--config",
                           str(open_one)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert re.search(r"dash\.yaml:4: dashboard\.addr: binding 0\.0\.0\.0 \(not loopback\) "
                     r"needs dashboard\.token", done.stderr), done.stderr
    weak = _config(tmp_path, "dashboard: {addr: 0.0.0.0, token: short}\n")
    with pytest.raises(Exception, match=r"dashboard\.token: the token must be at least 16"):
        load_config(weak, env={})
    env = {"DASH_TOKEN": TOKEN}
    ok = _config(tmp_path, "dashboard: {addr: 0.0.0.0, token: '${DASH_TOKEN}'}\n")
    assert load_config(ok, env=env).top.dashboard.token is not None
    for loopback in ("127.0.0.1", "::1", "localhost"):
        path = _config(tmp_path, f"dashboard: {{addr: '{loopback}'}}\n")
        assert load_config(path, env={}).top.dashboard.token is None


def test_dashboard_numbers_equal_report_json(store: Store, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f"database: {{url: '{store.url}'}}\n"
                               "sources:\n  - {name: zd, kind: zendesk, base_url: "
                               "'http://127.0.0.1:9', email: a@example.com, api_token: t}\n"
                               "  - {name: fd, kind: freshdesk, base_url: "
                               "'http://127.0.0.1:9', api_key: k}\n")
    for days, source in ((7, None), (30, None), (7, "zd"), (30, "fd")):
        args = ["report", "--config", str(config), "--json", "--days", str(days)]
        if source:
            args += ["--source", source]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(args) == 0
        report: dict[str, Any] = json.loads(out.getvalue())
        query = f"/?days={days}" + (f"&source={source}" if source else "")
        with serving(store) as server:
            status, _, body = get(server, query)
            _, _, risk = get(server, query.replace("/?", "/at-risk?"))
        assert status == 200
        parser = _Metrics()
        parser.feed(body)
        shown = parser.values
        assert float(shown["avg_sentiment"]) == report["avg_sentiment"]
        for key in ("negative_tickets", "declining_conversations", "scored_messages"):
            assert int(shown[key]) == report[key], key
        assert report["scored_messages"] > 0
        fired = dict(re.findall(r'<tr data-rule="([^"]+)">.*?data-metric="fired">(\d+)<',
                                body))
        assert {k: int(v) for k, v in fired.items()} == report["escalations_by_rule"]
        shown_risk = re.findall(r'<tr data-ticket="([^"]+)">', risk)
        assert shown_risk[:len(report["at_risk"])] == [
            f"{t['source']}/{t['ticket_id']}" for t in report["at_risk"]]


def test_dashboard_command_serves_until_asked_to_stop(store: Store, tmp_path: Path) -> None:
    config = _config(tmp_path, f"database: {{url: '{store.url}'}}\n"
                               "log: {level: info, format: json}\n"
                               "dashboard: {addr: 127.0.0.1, port: 0}\n")
    process = subprocess.Popen([sys.executable, "-m", "daemon.cli", "dashboard", "--config",
                                str(config)], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        url = ""
        for _ in range(50):  # a few log lines come first
            line = process.stdout.readline()
            if line.startswith("dashboard: http://"):
                url = line.split(" ", 1)[1].strip()
                break
        assert url, "the command did not say where it listens"
        host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/at-risk")
        response = conn.getresponse()
        assert response.status == 200 and b"Tickets at risk" in response.read()
        conn.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_a_taken_port_is_a_clear_error(store: Store) -> None:
    with serving(store) as first:
        settings = DashboardSettings(enabled=True, addr="127.0.0.1", port=first.port)
        with pytest.raises(ConfigError, match=rf"dashboard: cannot listen on 127\.0\.0\.1:"
                                              rf"{first.port}: .*dashboard\.port"):
            start_dashboard(store, settings, lambda: ARTICLE_RULES, ["zd"])
