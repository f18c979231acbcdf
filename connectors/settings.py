"""Settings every source shares, and the registry from config `kind` to connector.

Each vendor module defines a `Settings` subclass of `SourceSettings` (with its own
`kind` literal and credentials) and a `create()` that builds its connector.  Modules are
imported lazily, so a vendor's optional dependency is only needed when it is configured.
Secrets are `SecretStr`: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rules.model import parse_duration

if TYPE_CHECKING:
    from connectors.base import Connector, Notifier

Seconds = Annotated[timedelta, BeforeValidator(parse_duration)]


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    kind: str
    poll_interval: Seconds = timedelta(seconds=60)
    #: Where a source with no cursor yet starts: an ISO time or relative such as -24h.
    start_from: str = "-15m"
    base_url: str | None = None  # overrides the vendor URL (a proxy or a test server)
    page_budget: int = Field(20, ge=1, le=1000)  # pages per poll before yielding
    timeout: float = Field(30.0, gt=0, le=300)  # read timeout per request, seconds

    def create(self) -> Connector:  # pragma: no cover - every kind overrides
        raise NotImplementedError


class NotifierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str

    def create(self, name: str) -> Notifier:  # pragma: no cover - every kind overrides
        raise NotImplementedError


#: config `kind` -> "module:SettingsClass"
SOURCE_KINDS: dict[str, str] = {
    "zendesk": "connectors.zendesk:ZendeskSettings",
    "freshdesk": "connectors.freshdesk:FreshdeskSettings",
    "helpscout": "connectors.helpscout:HelpScoutSettings",
    "rt": "connectors.rt:RTSettings",
}
#: config `kind` -> "module:function(settings) -> list of problems", the online setup
#: check `helpdesk-sentinel check-source` runs (kinds without one are only validated).
SETUP_CHECKS: dict[str, str] = {
    "rt": "connectors.rt_setup:check_rt_setup",
}
NOTIFIER_KINDS: dict[str, str] = {
    "slack": "connectors.slack:SlackSettings",
}


def settings_class(registry: dict[str, str], kind: str) -> type[BaseModel]:
    """The settings class registered for `kind`; KeyError lists the known kinds."""
    target = registry.get(kind)
    if target is None:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(sorted(registry))}")
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    assert isinstance(cls, type) and issubclass(cls, BaseModel)
    return cls
