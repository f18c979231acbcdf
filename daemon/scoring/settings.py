"""Scorer settings by `kind`, and the factory the daemon calls.  (Placeholder: local only.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from daemon.scoring.base import Scorer


class LocalScorerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["local"] = "local"


ScorerSettings = LocalScorerSettings


def parse_scorer_settings(data: dict[str, Any]) -> ScorerSettings:
    return LocalScorerSettings.model_validate(data)


def build_scorer(settings: ScorerSettings, *, cache_dir: Path | None = None) -> Scorer:
    from daemon.scoring.local import LocalScorer

    return LocalScorer()
