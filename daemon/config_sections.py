"""The config's sections that `TopLevel` keeps raw, checked one by one, and the
references between sections.

Sources and notifiers are validated with the class their `kind` names (an unknown kind
gets the closest known one); the scorer with its kind's class; the rules as a RuleSet,
and what they name (notifiers, sources, other rules) even when a rule is broken; the
incident notifiers; a dashboard that other machines could reach.  Every problem is added
as `FILE:LINE: key.path: message` and the checks go on, so one run lists them all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from connectors.settings import (
    NOTIFIER_KINDS,
    SOURCE_KINDS,
    NotifierSettings,
    SourceSettings,
    settings_class,
)
from daemon.config_help import cross_reference_errors, did_you_mean
from daemon.scoring.settings import ScorerSettings, parse_scorer_settings
from daemon.yamlsafe import YamlDocument, format_key, validation_errors
from rules.model import RuleSet
from vocab import parse_duration

if TYPE_CHECKING:
    from daemon.config import DashboardSettings, TopLevel


def parse_start_from(value: str, now: datetime) -> datetime:
    """An ISO time, or a negative duration relative to now such as -24h or -15m."""
    text = value.strip()
    if text.startswith("-"):
        return now - parse_duration(text[1:])
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard_problems(settings: DashboardSettings) -> list[tuple[tuple[str, ...], str]]:
    """A dashboard reachable from other machines must ask for a token (pages show
    customer text); a token short enough to guess is no token."""
    token = settings.token.get_secret_value() if settings.token is not None else ""
    if settings.token is not None and len(token) < 16:
        return [(("dashboard", "token"), "the token must be at least 16 characters")]
    if not is_loopback(settings.addr) and not token:
        return [(("dashboard", "addr"), f"binding {settings.addr} (not loopback) needs "
                 "dashboard.token (for example ${SENTINEL_DASHBOARD_TOKEN} or "
                 "credential:dashboard-token)")]
    return []



@dataclass(slots=True)
class SectionChecks:
    """Checks the sections `TopLevel` keeps raw (scorer, sources, notifiers, rules) and
    the references between sections, adding a `FILE:LINE: key: message` per problem."""

    doc: YamlDocument
    errors: list[str]

    def error(self, key: tuple[str | int, ...], message: str) -> None:
        self.errors.append(f"{self.doc.path}:{self.doc.line_of(key)}: {format_key(key)}: "
                           f"{message}")

    def scorer(self, raw: dict[str, Any]) -> ScorerSettings | None:
        try:
            return parse_scorer_settings(raw)
        except ValidationError as exc:
            self.errors.extend(validation_errors(exc, self.doc, ("scorer",),
                                                 model=ScorerSettings))
        return None

    def by_kind(self, raw: Any, where: tuple[str | int, ...], registry: dict[str, str]) -> Any:
        """Validate one registry-typed section with the class its `kind` names."""
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            self.error(where, f"missing 'kind' (one of: {', '.join(sorted(registry))})")
            return None
        try:
            model = settings_class(registry, kind)
        except KeyError as exc:
            guess = did_you_mean(kind, registry)
            self.error((*where, "kind"),
                       exc.args[0] + (f"; did you mean {guess}?" if guess else ""))
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.errors.extend(validation_errors(exc, self.doc, where, model=model))
        return None

    def sources(self, raws: list[dict[str, Any]]) -> list[SourceSettings]:
        sources: list[SourceSettings] = []
        for index, raw in enumerate(raws):
            where: tuple[str | int, ...] = ("sources", index)
            source = self.by_kind(raw, where, SOURCE_KINDS)
            if source is None:
                continue
            assert isinstance(source, SourceSettings)
            if any(other.name == source.name for other in sources):
                self.error((*where, "name"), f"duplicate source name {source.name!r}")
            try:
                parse_start_from(source.start_from, datetime.now(UTC))
            except (ValueError, OverflowError):
                self.error((*where, "start_from"),
                           "expected an ISO time or a relative time such as -24h")
            sources.append(source)
        return sources

    def notifiers(self, raws: dict[str, dict[str, Any]]) -> dict[str, NotifierSettings]:
        notifiers: dict[str, NotifierSettings] = {}
        for name, raw in raws.items():
            notifier = self.by_kind(raw, ("notifiers", name), NOTIFIER_KINDS)
            if notifier is not None:
                assert isinstance(notifier, NotifierSettings)
                notifiers[name] = notifier
        return notifiers

    def dashboard(self, settings: DashboardSettings) -> None:
        for key, message in dashboard_problems(settings):
            self.error(key, message)

    def rules(self, top: TopLevel) -> RuleSet:
        rules = RuleSet()
        try:
            rules = RuleSet.model_validate({"rules": top.rules})
        except ValidationError as exc:
            self.errors.extend(validation_errors(exc, self.doc, model=RuleSet))
        # References between sections are checked even when a rule is broken, so one run
        # lists them with everything else.
        for key, message in cross_reference_errors(top.rules, top.notifiers,
                                                   [s.get("name") for s in top.sources
                                                    if isinstance(s, dict)]):
            self.error(key, message)
        names = [rule.name for rule in rules.rules]
        for index, name in enumerate(names):
            if names.index(name) != index:
                self.error(("rules", index, "name"), f"duplicate rule name {name!r}")
        return rules

    def incident_notifiers(self, top: TopLevel) -> None:
        for position, target in enumerate(top.incidents.notify):
            if target not in top.notifiers:
                self.error(("incidents", "notify", position),
                           f"unknown notifier {target!r} (configured: "
                           f"{', '.join(sorted(top.notifiers)) or 'none'})")
