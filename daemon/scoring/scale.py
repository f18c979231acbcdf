"""The one sentiment scale every scorer uses, in words, numbers and short examples.

The shipped rules (config.yaml) escalate a single message below -0.7 and a conversation
whose recent average is below -0.5 after a decline of 0.3; those thresholds only mean
the same thing for every customer if every scorer puts the same message at the same
place.  `SCALE_TEXT` is given to Claude verbatim in its system prompt, and
docs/scoring.md shows the same text (tests/scoring/test_scale.py checks they agree); the
offline scorer's calibration (daemon.scoring.local) maps its evidence onto the same
anchors.
"""

from __future__ import annotations

#: (score, grade): the anchor points, most negative first.
ANCHORS: tuple[tuple[float, str], ...] = (
    (-0.9, "furious"), (-0.75, "angry"), (-0.5, "negative"), (-0.2, "mild"),
    (0.0, "neutral"), (0.6, "positive"),
)

#: Grades of the graded evaluation set, most negative first (daemon.evaluate).
GRADES: tuple[str, ...] = tuple(grade for _score, grade in ANCHORS)

SCALE_TEXT = """\
Score scale (the same for every language):
-0.9 to -1.0 furious: insults, threats (lawyer, chargeback), repeated "unacceptable", "worst ever", shouting.
  e.g. "Fourth time I'm writing. Nobody reads my emails. Absolutely unacceptable!" / "Ihr seid unfähig, mein Anwalt ist informiert."
-0.7 to -0.9 angry: clearly angry, says so or demands; every angry message is below -0.7.
  e.g. "This is unacceptable, I was promised a refund two weeks ago." / "C'est inacceptable, personne ne répond."
about -0.5 negative: plainly dissatisfied or complaining, without anger.
  e.g. "I'm disappointed with the replacement, it stopped working." / "Estoy decepcionado con la calidad."
about -0.2 mild: mild annoyance, hedged ("a bit", "etwas", "un peu", "un poco", "um pouco").
  e.g. "I'm a bit disappointed this still isn't fixed." / "Um pouco chato que demore tanto."
0 neutral: requests, questions, facts, problem reports without emotion.
  e.g. "How do I change my email address?" / "Mein Drucker zeigt Fehler E-42, was bedeutet das?"
above 0 satisfied: thanks for a fix, praise; about +0.6 for clear satisfaction, +0.9 delighted.
  e.g. "Thanks, everything works now!" / "Muito obrigado, resolveram rápido."
Sarcasm counts as what it means ("Great, another outage." is negative). Politeness in a complaint does not soften it."""
