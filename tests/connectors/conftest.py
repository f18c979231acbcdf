"""Fixtures of the connector tests.

One running sandbox per helpdesk kind for the whole session, `reset()` before every
test (starting and stopping a server per test costs more than the tests themselves).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.harness import KINDS, Harness, load_harness
from tests.connectors.harness_zendesk import ZendeskHarness


@pytest.fixture(scope="session")
def _harnesses() -> Iterator[dict[str, Harness]]:
    started: dict[str, Harness] = {}
    yield started
    for instance in started.values():
        instance.close()


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest, _harnesses: dict[str, Harness]) -> Harness:
    """Every helpdesk kind; a missing harness module fails the test, it never skips."""
    kind = request.param
    if kind not in _harnesses:
        _harnesses[kind] = load_harness(kind, page_size=5)
    instance = _harnesses[kind]
    instance.reset()
    return instance


@pytest.fixture
def zendesk() -> Iterator[ZendeskHarness]:
    """A Zendesk harness of its own, for tests that change the sandbox's options."""
    instance = ZendeskHarness(page_size=5)
    try:
        yield instance
    finally:
        instance.close()
