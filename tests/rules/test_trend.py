"""The article's trend exactly (shared/DESIGN.md), and the recency-weighted ewma method."""

from __future__ import annotations

import pytest

from rules.trend import article_trend, compute_trend, ewma_trend


@pytest.mark.parametrize("scores", [[], [-0.9], [0.8]])
def test_fewer_than_two_scores_is_stable_with_direction_zero(scores: list[float]) -> None:
    trend = article_trend(scores)
    assert (trend.trend, trend.direction, trend.raw_direction) == ("stable", 0.0, 0.0)


@pytest.mark.parametrize("scores", [[0.9, -0.9], [0.9, 0.0, -0.9]])
def test_windows_overlap_completely_under_four_scores(scores: list[float]) -> None:
    # first 3 and last 3 are the same scores, so no trend can show yet
    trend = article_trend(scores)
    assert trend.trend == "stable"
    assert trend.raw_direction == pytest.approx(0.0)


def test_windows_overlap_under_six_scores() -> None:
    # 4 scores: recent = s1..s3, earlier = s0..s2, so direction = (s3 - s0) / 3
    trend = article_trend([0.6, 0.0, 0.0, -0.9])
    assert trend.raw_direction == pytest.approx(-0.5)
    assert trend.trend == "declining"
    assert trend.current_avg == -0.3
    # 5 scores: recent = s2..s4, earlier = s0..s2 (s2 shared)
    trend = article_trend([0.3, 0.3, 0.0, -0.6, -0.6])
    assert trend.raw_direction == pytest.approx((0.0 - 1.2) / 3 - 0.6 / 3)


def test_six_or_more_scores_use_disjoint_first_and_last_three() -> None:
    trend = article_trend([0.5, 0.5, 0.5, 9.0 / 10, -0.5, -0.5, -0.5])
    # earlier = 0.5s, recent = last three -0.5s; the 0.9 in the middle is ignored
    assert trend.raw_direction == pytest.approx(-1.0)
    assert (trend.direction, trend.current_avg) == (-1.0, -0.5)


@pytest.mark.parametrize(("scores", "expected"), [
    # raw direction -0.303: declining although it reports as -0.3
    ([0.0, 0.0, 0.0, -0.303, -0.303, -0.303], "declining"),
    # raw direction -0.297: stable although it reports as -0.3
    ([0.0, 0.0, 0.0, -0.297, -0.297, -0.297], "stable"),
    ([0.0, 0.0, 0.0, 0.303, 0.303, 0.303], "improving"),
    ([0.0, 0.0, 0.0, 0.297, 0.297, 0.297], "stable"),
])
def test_threshold_applies_to_the_unrounded_direction(scores: list[float], expected: str) -> None:
    trend = article_trend(scores, 0.3)
    assert trend.trend == expected
    assert abs(trend.direction) == 0.3  # what the article reports


def test_exactly_the_threshold_is_not_a_trend() -> None:
    # strict inequality: direction == -threshold is stable
    assert article_trend([0.5, 0.5, 0.5, 0.0, 0.0, 0.0], decline_threshold=0.5).trend == "stable"
    assert article_trend([0.5, 0.5, 0.5, 0.0, 0.0, 0.0], decline_threshold=0.49).trend \
        == "declining"


def test_current_avg_is_reported_rounded() -> None:
    assert article_trend([0.3, 0.3, 0.3, -0.5, -0.5, -0.512]).current_avg == -0.5
    assert article_trend([0.3, 0.3, 0.3, -0.5, -0.5, -0.518]).current_avg == -0.51


def test_ewma_sees_a_turn_after_two_messages() -> None:
    # the article cannot see anything in 2 or 3 messages
    assert article_trend([0.2, -0.8]).trend == "stable"
    trend = ewma_trend([0.2, -0.8])
    # level = 0.5 * -0.8 + 0.5 * 0.2 = -0.3; baseline = first score 0.2
    assert trend.raw_direction == pytest.approx(-0.5)
    assert (trend.trend, trend.current_avg, trend.method) == ("declining", -0.3, "ewma")


def test_ewma_weighs_the_latest_message_by_alpha() -> None:
    scores = [0.2, 0.2, 0.2, 0.2, -0.9]
    half = ewma_trend(scores, alpha=0.5)
    heavy = ewma_trend(scores, alpha=0.9)
    assert half.current_avg == pytest.approx(round(0.5 * -0.9 + 0.5 * 0.2, 2))
    assert heavy.raw_direction < half.raw_direction < 0
    # a single late bad message is diluted more by the article's three-message window
    assert article_trend(scores).raw_direction > half.raw_direction


def test_ewma_is_flat_on_constant_scores_and_shares_the_short_rule() -> None:
    assert ewma_trend([-0.4] * 8).raw_direction == pytest.approx(0.0)
    assert ewma_trend([-0.9]).trend == "stable"


def test_compute_trend_dispatches_and_refuses_unknown_methods() -> None:
    assert compute_trend([0.5, 0.5, 0.5, -0.5], "article") == article_trend([0.5, 0.5, 0.5, -0.5])
    assert compute_trend([0.5, -0.5], "ewma", alpha=0.7) == ewma_trend([0.5, -0.5], alpha=0.7)
    with pytest.raises(ValueError, match="unknown trend method"):
        compute_trend([0.1, 0.2], "median")
