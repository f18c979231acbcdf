"""The daemon's typed configuration, loaded from one YAML file.

Strict like Alertmanager's: unknown keys are errors, references between sections (a rule
naming a notifier) are checked at load, and every error is reported as
`FILE:LINE: key.path: message` so `helpdesk-sentinel check-config` can point at the typo.
Secrets come from `${ENV_VAR}` (or `${ENV_VAR:-default}`), `file:/path`, or
`credential:NAME` (systemd's `$CREDENTIALS_DIRECTORY/NAME`, from `LoadCredential=`); they
are resolved before validation, only in secret and URL fields (daemon/references.py; a
reference anywhere else is an error), and held as pydantic `SecretStr` afterwards.
Loading goes in steps: the YAML (daemon/yamlsafe.py), the references, the plain-data
sections here, then the sections checked apart (daemon/config_sections.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.demo import SANDBOXES_NOT_INSTALLED, placeholder_url, sandboxes_installed
from connectors.settings import (
    NOTIFIER_KINDS,
    SOURCE_KINDS,
    NotifierSettings,
    SourceSettings,
    settings_class,
)
from daemon.config_sections import SectionChecks
from daemon.config_sections import parse_start_from as parse_start_from  # re-exported
from daemon.references import resolve_references, sandbox_use
from daemon.scoring.settings import (
    AnthropicScorerSettings,
    LocalScorerSettings,
    ScorerSettings,
)
from daemon.yamlsafe import YamlDocument, YamlError, format_key, load_yaml, validation_errors
from rules.incidents import IncidentSettings
from rules.model import RuleSet
from vocab import Duration


class ConfigError(Exception):
    """A config that cannot be used; `messages` are `FILE:LINE: key: message` strings."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    #: SQLAlchemy URL.  Default: a SQLite file under the state directory.
    url: str | None = None
    #: How long start-up waits for a database that is not accepting connections yet
    #: (booting alongside the daemon, failing over) before giving up with exit 1.
    startup_wait: Duration = timedelta(seconds=60)


class LogSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSettings(_Strict):
    enabled: bool = False
    addr: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)


class DashboardSettings(_Strict):
    """The read-only web dashboard (daemon/dashboard); off unless enabled."""

    enabled: bool = False
    addr: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    #: Required to bind anything but loopback: `Authorization: Bearer` or `?token=` once.
    token: SecretStr | None = None


class RetentionSettings(_Strict):
    #: Message text is deleted after this; scores and decisions stay.
    message_text: Duration = timedelta(days=90)


class OutboxSettings(_Strict):
    interval: Duration = timedelta(seconds=2)
    max_attempts: int = Field(8, ge=1, le=100)
    backoff_base: Duration = timedelta(seconds=5)
    backoff_cap: Duration = timedelta(minutes=30)
    batch_size: int = Field(50, ge=1, le=1000)


class ScoringSettings(_Strict):
    max_chars: int = Field(20_000, ge=100, le=1_000_000)
    score_agent_messages: bool = False


class FeedbackSettings(_Strict):
    """Tags agents use to tell the daemon it was wrong (docs/rules.md, "Feedback")."""

    false_alarm_tag: str = Field("sentiment-false-alarm", pattern=r"^[^\s,]{1,80}$")
    missed_tag: str = Field("sentiment-missed", pattern=r"^[^\s,]{1,80}$")


class LeaseSettings(_Strict):
    duration: Duration = timedelta(seconds=30)


class TopLevel(_Strict):
    """Sections that are plain data; sources, notifiers, scorer and rules are checked apart."""

    state_dir: str | None = None  # default: $STATE_DIRECTORY (systemd) or ./var
    database: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    retention: RetentionSettings = RetentionSettings()
    outbox: OutboxSettings = OutboxSettings()
    scoring: ScoringSettings = ScoringSettings()
    lease: LeaseSettings = LeaseSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    watch: bool = False  # reload the rules when the file changes (SIGHUP always does)
    sandbox: dict[str, dict[str, Any]] | None = None
    scorer: dict[str, Any] = Field(default_factory=lambda: {"kind": "local"})
    sources: list[dict[str, Any]] = Field(default_factory=list)
    notifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[Any] = Field(default_factory=list)
    incidents: IncidentSettings = IncidentSettings()  # rules/incidents.py


@dataclass(slots=True)
class Config:
    path: Path
    top: TopLevel
    scorer: ScorerSettings
    sources: list[SourceSettings]
    notifiers: dict[str, NotifierSettings]
    rules: RuleSet
    state_dir: Path
    database_url: str
    sandbox: dict[str, dict[str, Any]] = field(default_factory=dict)

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def _kind_class(registry: dict[str, str]) -> Callable[[Any], type[BaseModel] | None]:
    def pick(raw: Any) -> type[BaseModel] | None:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        try:
            return settings_class(registry, kind) if isinstance(kind, str) else None
        except KeyError:
            return None  # reported as an unknown kind
    return pick


def _scorer_class(raw: Any) -> type[BaseModel] | None:
    kind = raw.get("kind", "local") if isinstance(raw, dict) else None
    classes: dict[str, type[BaseModel]] = {"local": LocalScorerSettings,
                                           "anthropic": AnthropicScorerSettings}
    return classes.get(kind) if isinstance(kind, str) else None


def _refuse_without_sandboxes(doc: YamlDocument) -> None:
    """A config that needs the sandboxes where they are not installed (the production
    package has none) is refused with that one problem: nothing else matters until its
    URLs are real."""
    needs = sandbox_use(doc.data) if isinstance(doc.data, dict) else None
    if needs is not None and not sandboxes_installed():
        raise ConfigError([f"{doc.path}:{doc.line_of(needs)}: {format_key(needs)}: "
                           f"{SANDBOXES_NOT_INSTALLED}"])


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate everything; raises ConfigError listing every problem found."""
    env = os.environ if env is None else env
    doc = _read_document(path)
    _refuse_without_sandboxes(doc)
    errors: list[str] = []
    # Secrets and URLs only: a reference in a note or a tag is an error (daemon/references).
    data = resolve_references(doc, TopLevel, errors, env, sections={"scorer": _scorer_class},
                              listed={"sources": _kind_class(SOURCE_KINDS)},
                              named={"notifiers": _kind_class(NOTIFIER_KINDS)},
                              sandbox_placeholder=placeholder_url)
    top = _validate_top_level(data, doc, errors)
    # Each section is checked even when another one is broken: one run lists every problem.
    sections = SectionChecks(doc, errors)
    scorer = sections.scorer(top.scorer)
    sources = sections.sources(top.sources)
    notifiers = sections.notifiers(top.notifiers)
    sections.dashboard(top.dashboard)
    rules = sections.rules(top)
    sections.incident_notifiers(top)
    if errors:
        # A reference the rule model also checks is reported by both: say it once.
        raise ConfigError(list(dict.fromkeys(errors)))
    assert scorer is not None
    state_dir = _state_dir(doc, top, env)
    url = top.database.url or f"sqlite:///{state_dir / 'sentinel.db'}"
    return Config(path=Path(doc.path), top=top, scorer=scorer, sources=sources,
                  notifiers=notifiers, rules=rules, state_dir=state_dir, database_url=url,
                  sandbox=dict(top.sandbox or {}))


def _read_document(path: str | Path) -> YamlDocument:
    """The file as a YAML mapping (an empty file is an empty one), or ConfigError."""
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError(exc.messages) from None
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{doc.path}:1: (top level): expected a mapping of sections"])
    return doc


def _validate_top_level(data: dict[str, Any], doc: YamlDocument, errors: list[str]) -> TopLevel:
    """The plain-data sections; a broken one is reported and left at its default."""
    try:
        return TopLevel.model_validate(data)
    except ValidationError as exc:
        # Report these, and go on checking the sections that are fine: one run should
        # list every problem, not one section's at a time.
        errors += validation_errors(exc, doc, model=TopLevel)
        broken = {error["loc"][0] for error in exc.errors() if error["loc"]}
    try:
        return TopLevel.model_validate(
            {key: value for key, value in data.items() if key not in broken})
    except ValidationError:
        raise ConfigError(errors) from None


def _state_dir(doc: YamlDocument, top: TopLevel, env: Mapping[str, str]) -> Path:
    """`state_dir`, else systemd's $STATE_DIRECTORY, else ./var; relative to the file."""
    state_dir = Path(top.state_dir or env.get("STATE_DIRECTORY") or "./var")
    if not state_dir.is_absolute():
        state_dir = Path(doc.path).resolve().parent / state_dir
    return state_dir
