"""Fixtures of the connector tests: one harness (one running sandbox) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.harness import KINDS, Harness, load_harness
from tests.connectors.harness_zendesk import ZendeskHarness


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Every helpdesk kind; a missing harness module fails the test, it never skips."""
    instance = load_harness(request.param, page_size=5)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def zendesk() -> Iterator[ZendeskHarness]:
    instance = ZendeskHarness(page_size=5)
    try:
        yield instance
    finally:
        instance.close()
