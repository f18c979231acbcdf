"""The daemon's typed configuration, loaded from one YAML file.

Strict like Alertmanager's: unknown keys are errors, references between sections (a rule
naming a notifier) are checked at load, and every error is reported as
`FILE:LINE: key.path: message` so `helpdesk-sentinel check-config` can point at the typo.
Secrets come from `${ENV_VAR}` (or `${ENV_VAR:-default}`), `file:/path`, or
`credential:NAME` (systemd's `$CREDENTIALS_DIRECTORY/NAME`, from `LoadCredential=`); they
are resolved before validation and held as pydantic `SecretStr` afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.settings import (
    NOTIFIER_KINDS,
    SOURCE_KINDS,
    NotifierSettings,
    SourceSettings,
    settings_class,
)
from daemon.scoring.settings import ScorerSettings, parse_scorer_settings
from daemon.yamlsafe import YamlDocument, YamlError, format_key, load_yaml, validation_errors
from rules.model import Duration, RuleSet, parse_duration


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


SANDBOX_PORTS = {"zendesk": 1, "freshdesk": 2, "helpscout": 3, "slack": 4, "anthropic": 5}


def sandbox_placeholder(kind: str) -> str:
    return f"http://127.0.0.1:{SANDBOX_PORTS.get(kind, 6)}"


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REF = re.compile(r"^(file|credential):(\S+)$")


def _resolve_string(value: str, key: tuple[str | int, ...], doc: YamlDocument,
                    errors: list[str], env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: "
                      f"environment variable {name} is not set")
        return ""

    value = _ENV.sub(substitute, value)
    if value.startswith("sandbox://"):
        kind, _, rest = value[len("sandbox://"):].partition("/")
        sandboxes = doc.data.get("sandbox") if isinstance(doc.data, dict) else None
        if not isinstance(sandboxes, dict) or kind not in sandboxes:
            errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: sandbox "
                          f"{kind!r} is not in the `sandbox:` section")
        # A syntactically valid loopback URL until the daemon starts the sandbox and swaps
        # in its real address; the reserved low port tells which sandbox was meant.
        return sandbox_placeholder(kind) + (f"/{rest}" if rest else "")
    ref = _REF.match(value)
    if ref is None:
        return value
    scheme, target = ref.groups()
    if scheme == "credential":
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: credential "
                          f"{target!r} requested but $CREDENTIALS_DIRECTORY is not set "
                          "(use LoadCredential= in the unit)")
            return ""
        if "/" in target or target in (".", ".."):
            errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: "
                          "a credential name cannot contain '/'")
            return ""
        file = Path(directory) / target
    else:
        file = Path(target)
        if not file.is_absolute():
            file = Path(doc.path).parent / file
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: cannot read "
                      f"{scheme} {target!r}: {exc.strerror or type(exc).__name__}")
        return ""


def _resolve(node: Any, key: tuple[str | int, ...], doc: YamlDocument, errors: list[str],
             env: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _resolve(v, (*key, k), doc, errors, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, (*key, i), doc, errors, env) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _resolve_string(node, key, doc, errors, env)
    return node


def parse_start_from(value: str, now: datetime) -> datetime:
    """An ISO time, or a negative duration relative to now such as -24h or -15m."""
    text = value.strip()
    if text.startswith("-"):
        return now - parse_duration(text[1:])
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate everything; raises ConfigError listing every problem found."""
    env = os.environ if env is None else env
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError(exc.messages) from None
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{doc.path}:1: (top level): expected a mapping of sections"])
    errors: list[str] = []
    data = _resolve(doc.data, (), doc, errors, env)
    try:
        top = TopLevel.model_validate(data)
    except ValidationError as exc:
        # Report these, and go on checking the sections that are fine: one run should
        # list every problem, not one section's at a time.
        errors += validation_errors(exc, doc)
        broken = {error["loc"][0] for error in exc.errors() if error["loc"]}
        try:
            top = TopLevel.model_validate(
                {key: value for key, value in data.items() if key not in broken})
        except ValidationError:
            raise ConfigError(errors) from None

    scorer: ScorerSettings | None = None
    try:
        scorer = parse_scorer_settings(top.scorer)
    except ValidationError as exc:
        errors += validation_errors(exc, doc, ("scorer",))

    def error(key: tuple[str | int, ...], message: str) -> None:
        errors.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: {message}")

    def by_kind(raw: Any, where: tuple[str | int, ...], registry: dict[str, str]) -> Any:
        """Validate one registry-typed section with the class its `kind` names."""
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            error(where, f"missing 'kind' (one of: {', '.join(sorted(registry))})")
            return None
        try:
            return settings_class(registry, kind).model_validate(raw)
        except KeyError as exc:
            error((*where, "kind"), exc.args[0])
        except ValidationError as exc:
            errors.extend(validation_errors(exc, doc, where))
        return None

    sources: list[SourceSettings] = []
    for index, raw in enumerate(top.sources):
        where: tuple[str | int, ...] = ("sources", index)
        source = by_kind(raw, where, SOURCE_KINDS)
        if source is None:
            continue
        assert isinstance(source, SourceSettings)
        if any(other.name == source.name for other in sources):
            error((*where, "name"), f"duplicate source name {source.name!r}")
        try:
            parse_start_from(source.start_from, datetime.now(UTC))
        except ValueError:
            error((*where, "start_from"), "expected an ISO time or a relative time such as -24h")
        sources.append(source)

    notifiers: dict[str, NotifierSettings] = {}
    for name, raw in top.notifiers.items():
        notifier = by_kind(raw, ("notifiers", name), NOTIFIER_KINDS)
        if notifier is not None:
            assert isinstance(notifier, NotifierSettings)
            notifiers[name] = notifier

    rules = RuleSet()
    try:
        rules = RuleSet.model_validate({"rules": top.rules})
    except ValidationError as exc:
        errors += validation_errors(exc, doc)
    else:
        for key, target in rules.notify_references():
            if target not in top.notifiers:
                error(key, f"unknown notifier {target!r} (configured: "
                      f"{', '.join(sorted(top.notifiers)) or 'none'})")
        names = [rule.name for rule in rules.rules]
        for index, name in enumerate(names):
            if names.index(name) != index:
                error(("rules", index, "name"), f"duplicate rule name {name!r}")

    if errors:
        raise ConfigError(errors)
    assert scorer is not None
    base = Path(doc.path).resolve().parent
    state_dir = Path(top.state_dir or env.get("STATE_DIRECTORY") or "./var")
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    url = top.database.url or f"sqlite:///{state_dir / 'sentinel.db'}"
    return Config(path=Path(doc.path), top=top, scorer=scorer, sources=sources,
                  notifiers=notifiers, rules=rules, state_dir=state_dir, database_url=url,
                  sandbox=dict(top.sandbox or {}))
