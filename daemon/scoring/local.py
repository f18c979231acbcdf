"""The offline scorer: VADER with support-language adjustments.  No network, no model."""

from __future__ import annotations

from collections.abc import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from daemon.scoring.base import Score, label_for

_NEUTRALISE = ("help", "please", "kindly", "pls", "plz", "thanks", "thank", "hope",
               "hopefully", "support")
_NEGATIVE = {"waiting": -1.5, "refund": -1.2, "still": -1.0, "again": -0.8, "cancel": -1.5,
             "cancelled": -1.5, "stuck": -1.5, "broken": -2.0, "charged": -1.2,
             "overcharged": -2.2, "escalate": -1.5, "manager": -1.0, "ignored": -2.0,
             "unacceptable": -2.5, "ridiculous": -2.2}


class LocalScorer:
    name = "local"
    model = "vader-support"

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()
        for word in _NEUTRALISE:
            self._vader.lexicon.pop(word, None)
        self._vader.lexicon.update(_NEGATIVE)

    def score(self, texts: Sequence[str]) -> list[Score]:
        out = []
        for text in texts:
            polarity = self._vader.polarity_scores(text)["compound"]
            out.append(Score(score=polarity, label=label_for(polarity),
                             confidence=min(1.0, abs(polarity) + 0.3), scorer=self.name,
                             model=self.model))
        return out

    def close(self) -> None:
        return None
