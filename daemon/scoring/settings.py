"""Typed configuration of the scorer (`scorer:` in config.yaml) and the factory that builds it.

`parse_scorer_settings(data)` picks the settings class by `kind` and raises pydantic's
ValidationError (the config loader maps it to FILE:LINE); `build_scorer(settings,
cache_dir=...)` returns a ready `Scorer`.  Unknown keys are errors everywhere.  The API
key is a SecretStr: it never shows in a repr, a log line or an error.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from connectors.settings import secure_url
from daemon.scoring.base import Scorer
from daemon.scoring.redact import DEFAULT_KINDS
from vocab import Duration

RedactionKind = Literal["email", "phone", "card", "iban", "url", "long_number"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _checked_model(value: str | None) -> str | None:
    """A model file that loads (check-config reports it, not the first poll)."""
    if value is not None:
        from daemon.scoring.learned import LearnedModel, ModelError

        try:
            LearnedModel.load(value)
        except ModelError as exc:
            raise ValueError(str(exc)) from None
    return value


class LocalScorerSettings(_Strict):
    kind: Literal["local"] = "local"
    #: A calibration made by `helpdesk-sentinel train` (JSON); None: the plain scorer.
    model: str | None = Field(None, min_length=1, max_length=4096)

    _model_loads = field_validator("model")(_checked_model)


class RedactionSettings(_Strict):
    enabled: bool = True
    kinds: tuple[RedactionKind, ...] = DEFAULT_KINDS  # type: ignore[assignment]


class BudgetSettings(_Strict):
    """Per UTC day; past either limit messages are scored offline (marked for rescore)."""

    requests_per_day: int | None = Field(20_000, ge=0)
    input_tokens_per_day: int | None = Field(5_000_000, ge=0)


class BreakerSettings(_Strict):
    failure_threshold: int = Field(5, ge=1, le=1000)
    reset_after: Duration = timedelta(seconds=60)
    spend_limit_cooldown: Duration = timedelta(hours=1)


class CascadeSettings(_Strict):
    """Offline decides confident neutral/positive messages with no hard signal."""

    enabled: bool = False
    min_confidence: float = Field(0.75, ge=0, le=1)


class CacheSettings(_Strict):
    enabled: bool = True
    max_entries: int = Field(10_000, ge=0)
    persist: bool = True  # a SQLite file under the daemon's cache directory
    ttl: Duration = timedelta(days=30)


class AnthropicScorerSettings(_Strict):
    kind: Literal["anthropic"]
    model: str = Field("claude-haiku-5-5", min_length=1, max_length=200)
    api_key: SecretStr
    base_url: str | None = None  # a proxy or the local sandbox
    timeout: float = Field(30.0, gt=0, le=600)  # per request, seconds
    max_retries: int = Field(2, ge=0, le=10)  # the SDK's own retries (429/5xx/529)
    concurrency: int = Field(4, ge=1, le=64)
    batch_size: int = Field(10, ge=1, le=50)  # messages per request
    max_chars_per_message: int = Field(4000, ge=100, le=100_000)
    # output_config.effort for models that support it ("low" keeps a classifier cheap);
    # None sends nothing, which every model accepts.
    effort: Literal["low", "medium", "high"] | None = None
    budget: BudgetSettings = BudgetSettings()
    cascade: CascadeSettings = CascadeSettings()
    redaction: RedactionSettings = RedactionSettings()
    breaker: BreakerSettings = BreakerSettings()
    cache: CacheSettings = CacheSettings()
    #: The offline side (evidence, cascade, fallback) with a trained calibration.
    offline_model: str | None = Field(None, min_length=1, max_length=4096)

    _model_loads = field_validator("offline_model")(_checked_model)

    @field_validator("base_url")
    @classmethod
    def _secure_base_url(cls, value: str | None) -> str | None:
        return None if value is None else secure_url(value)


ScorerSettings = Annotated[LocalScorerSettings | AnthropicScorerSettings,
                           Field(discriminator="kind")]
_ADAPTER: TypeAdapter[LocalScorerSettings | AnthropicScorerSettings] = TypeAdapter(ScorerSettings)


def parse_scorer_settings(data: dict[str, Any]) -> LocalScorerSettings | AnthropicScorerSettings:
    """Validate the `scorer:` mapping; raises pydantic.ValidationError."""
    return _ADAPTER.validate_python(data)


#: The Claude score cache's file in the daemon's cache directory (`<state_dir>/cache`).
SCORE_CACHE_FILE = "claude-scores.sqlite3"


def build_scorer(settings: LocalScorerSettings | AnthropicScorerSettings, *,
                 cache_dir: Path | None = None) -> Scorer:
    from daemon.scoring.local import LocalScorer

    def offline(model: str | None) -> LocalScorer:
        if model is None:
            return LocalScorer()
        from daemon.scoring.learned import LearnedModel, LearnedScorer

        return LearnedScorer(LearnedModel.load(model))

    if isinstance(settings, LocalScorerSettings):
        return offline(settings.model)
    from daemon.scoring.anthropic import ClaudeScorer
    from daemon.scoring.cache import ScoreCache

    cache = None
    if settings.cache.enabled:
        path = (cache_dir / SCORE_CACHE_FILE
                if settings.cache.persist and cache_dir is not None else None)
        cache = ScoreCache(max_entries=settings.cache.max_entries, path=path,
                           ttl_seconds=settings.cache.ttl.total_seconds())
    return ClaudeScorer(settings, offline=offline(settings.offline_model), cache=cache)
