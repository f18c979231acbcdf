"""The shared REST pieces (connectors/rest.py) on their own; the vendors' suites use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.base import FatalError, RetriableError, TicketGoneError
from connectors.rest import (
    OverlapCursor,
    check_priority_ladder,
    gone_on_missing,
    merge_tags,
    priority_from_number,
    shape_errors_retriable,
)
from connectors.rt import RTSettings
from connectors.settings import SOURCE_KINDS, settings_class

START = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
LADDER = {"low": 0, "normal": 50, "high": 80, "urgent": 100}


def test_cursor_walk_keeps_its_query_and_forgets_ids_outside_the_window() -> None:
    cursor = OverlapCursor.load("rt", None, START)
    assert cursor.begin_walk(timedelta(minutes=2)) == START  # never before the floor
    cursor.remember("7", START + timedelta(minutes=10))
    cursor.remember("9", START + timedelta(minutes=30))
    cursor.page_read([7, 9], last=False)
    resumed = OverlapCursor.load("rt", cursor.dump(timedelta(minutes=2), 100), START)
    assert (resumed.page, resumed.mark, resumed.walk_from) == (2, 0, START)
    assert set(resumed.seen) == {"9"}  # 7 is older than since - overlap
    resumed.page_read([12], last=True)
    assert (resumed.mark, resumed.page, resumed.walk_from) == (12, 1, None)
    assert resumed.begin_walk(timedelta(minutes=2)) == START + timedelta(minutes=28)
    assert not resumed.is_new("9") and resumed.is_new("13")


def test_cursor_of_another_shape_is_refused() -> None:
    with pytest.raises(FatalError, match="not a rt cursor"):
        OverlapCursor.load("rt", '{"since": 3}', START)


def test_merge_tags_only_ever_removes_its_own() -> None:
    assert merge_tags(["vip", "sentiment-old"], ["sentiment-new", "vip"],
                      ["vip", "sentiment-old"], "sentiment-") == ["vip", "sentiment-new"]


@pytest.mark.parametrize("number, name", [(-5, "low"), (0, "low"), (49, "low"),
                                          (50, "normal"), (99, "high"), (100, "urgent"),
                                          (250, "urgent"), ("x", None), (None, None)])
def test_priority_from_number(number: object, name: str | None) -> None:
    assert priority_from_number(number, LADDER) == name


def test_priority_ladder_and_https_rules() -> None:
    check_priority_ladder(LADDER, "rt")
    for bad in ({**LADDER, "high": 50}, {"low": 0, "normal": 1, "high": 2}):
        with pytest.raises(ValueError, match="low < normal"):
            check_priority_ladder(bad, "rt")
    # https (http only to loopback) is SourceSettings' own rule, for RT as for the others.
    settings = {"name": "rt", "kind": "rt", "token": "t"}
    RTSettings.model_validate({**settings, "base_url": "https://rt.example.com"})
    RTSettings.model_validate({**settings, "base_url": "http://127.0.0.1:8080"})
    with pytest.raises(ValueError, match="https"):
        RTSettings.model_validate({**settings, "base_url": "http://rt.example.com"})


def test_errors_are_classified() -> None:
    with pytest.raises(TicketGoneError), gone_on_missing("rt", "ticket 4"):
        raise FatalError("rt: GET /ticket/4 answered 404", 404)
    with pytest.raises(FatalError) as other, gone_on_missing("rt", "ticket 4"):
        raise FatalError("rt: GET /ticket/4 answered 400", 400)
    assert not isinstance(other.value, TicketGoneError)
    with pytest.raises(RetriableError, match="KeyError"), shape_errors_retriable("rt"):
        raise KeyError("items")


#: The smallest valid settings of each source kind.
MINIMAL_SETTINGS: dict[str, dict[str, object]] = {
    "zendesk": {"subdomain": "acme", "email": "a@b.c", "api_token": "t"},
    "freshdesk": {"domain": "acme", "api_key": "k"},
    "helpscout": {"client_id": "i", "client_secret": "s"},
    "rt": {"base_url": "https://rt.example.com", "token": "t"},
}


@pytest.mark.parametrize("kind", sorted(SOURCE_KINDS))
def test_every_source_refuses_an_empty_own_tag_prefix(kind: str) -> None:
    """An empty prefix would let a rule remove any agent's tag: refused for every kind."""
    settings_type = settings_class(SOURCE_KINDS, kind)
    settings = {"name": "s", "kind": kind, **MINIMAL_SETTINGS[kind]}
    assert settings_type.model_validate(settings).own_tag_prefix == "sentiment-"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="own_tag_prefix"):
        settings_type.model_validate({**settings, "own_tag_prefix": ""})


# Cursors as the previous release stored them: they load and dump to the very same text.
STORED_CURSORS = {
    "freshdesk": '{"done":{"7":"2026-12-01T10:00:00Z"},"floor":"2026-12-01T09:00:00Z",'
                 '"page":2,"seen":{"7-description":"2026-12-01T09:30:00Z"},'
                 '"since":"2026-12-01T10:00:00Z","v":1}',
    "helpscout": '{"floor":"2026-12-01T09:00:00Z","page":3,"seen":{"41":"2026-12-01T09:59:00Z"},'
                 '"since":"2026-12-01T10:00:00Z","v":1,"walk_ids":[5,9],'
                 '"walk_start":"2026-12-01T10:05:00Z"}',
    "rt": '{"floor":"2026-12-01T09:00:00Z","mark":12,"page":1,"seen":{"13":"2026-12-01T09:59:00Z"},'
          '"since":"2026-12-01T10:00:00Z","top":13,"v":1,"walk_from":null}',
}


@pytest.mark.parametrize("kind", sorted(STORED_CURSORS))
def test_a_stored_window_cursor_loads_unchanged(kind: str) -> None:
    from connectors.freshdesk import FreshdeskConnector
    from connectors.helpscout import HelpScoutConnector
    from connectors.rt import RTConnector

    connector_type = {"freshdesk": FreshdeskConnector, "helpscout": HelpScoutConnector,
                      "rt": RTConnector}[kind]
    cursor = connector_type.CURSOR.load(kind, STORED_CURSORS[kind], START)
    assert cursor.dump(timedelta(hours=1), 100) == STORED_CURSORS[kind]
    with pytest.raises(FatalError, match=f"not a {kind} cursor"):
        connector_type.CURSOR.load(kind, '{"since": "2026-12-01T10:00:00Z"}', START)
