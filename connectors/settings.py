"""Settings every source shares, and the registry from config `kind` to connector.

Each vendor module defines a `Settings` subclass of `SourceSettings` (with its own
`kind` literal and credentials) and a `create()` that builds its connector.  Modules are
imported lazily, so a vendor's optional dependency is only needed when it is configured.
Secrets are `SecretStr`: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

import importlib
import ipaddress
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vocab import Duration

if TYPE_CHECKING:
    from connectors.base import Connector, Notifier


def is_loopback_host(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 or ::1: traffic that never leaves the machine."""
    if host is None:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url(value: str) -> str:
    """An https URL, or http to a loopback host (a sandbox or a local test server).

    Credentials ride on every request: cleartext http to any other host would hand them
    (and the customers' messages) to whoever is on the path.
    """
    parts = urlsplit(value.strip())
    if not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return value
    raise ValueError("must be an https URL (http only to a loopback address such as "
                     "127.0.0.1, for a local test server)")


#: One DNS label: an account's name in its vendor's host name (acme for acme.zendesk.com).
DNS_LABEL = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class SourceSettings(BaseModel):
    """What every helpdesk source is configured with, validated the same way for all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    kind: str
    poll_interval: Duration = timedelta(seconds=60)
    #: Where a source with no cursor yet starts: an ISO time or relative such as -24h.
    start_from: str = "-15m"
    base_url: str | None = None  # overrides the vendor URL (a proxy or a test server)
    page_budget: int = Field(20, ge=1, le=1000)  # pages per poll before yielding
    # Read timeout per socket read, seconds; one whole request may take twice this.
    timeout: float = Field(30.0, gt=0, le=300)
    #: Only tags with this prefix are ever removed (the daemon's namespace); never empty,
    #: or a rule could remove any agent's tag.
    own_tag_prefix: str = Field("sentiment-", min_length=1)

    @field_validator("base_url")
    @classmethod
    def _secure_base_url(cls, value: str | None) -> str | None:
        return None if value is None else secure_url(value)

    def create(self) -> Connector:  # pragma: no cover - every kind overrides
        raise NotImplementedError


class WindowedSourceSettings(SourceSettings):
    """A source whose cursor reads again a window before its watermark (late commits)."""

    #: How far back a changed ticket's messages are compared with those already emitted.
    message_overlap: Duration = timedelta(hours=1)


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
