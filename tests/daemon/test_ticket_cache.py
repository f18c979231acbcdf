"""The series cache keeps series compact without changing what the rules see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from daemon.pipeline import Pipeline
from daemon.store import Store
from daemon.ticket_cache import Kinds, Packed, compact, extend, pack, shared_signals, unpack
from rules.engine import INDICATOR_WINDOW, ScoredMessage
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message


def _scored(number: int, minutes: int) -> ScoredMessage:
    return ScoredMessage(message_id=f"m{number}", created_at=T0 + timedelta(minutes=minutes),
                         score=-0.1 * number, signals=frozenset({"churn_risk"}),
                         indicators=(f"phrase {number}",))


def test_only_the_quoted_window_keeps_its_phrases_and_signal_sets_are_shared() -> None:
    series = tuple(_scored(n, 10 * n) for n in range(6))
    kept = compact(series)
    assert [m.indicators for m in kept] == [(), (), (), ("phrase 3",), ("phrase 4",),
                                            ("phrase 5",)]
    assert len({id(m.signals) for m in kept}) == 1
    assert kept[0].signals is shared_signals(["churn_risk"])
    # Everything else as it was; an already compact series is returned as it is.
    assert [(m.message_id, m.created_at, m.score) for m in kept] == \
        [(m.message_id, m.created_at, m.score) for m in series]
    assert compact(kept) is kept
    assert compact(()) == ()


def test_a_later_batch_never_needs_a_phrase_the_cache_dropped() -> None:
    cached = tuple(_scored(n, 10 * n) for n in range(8))  # at minutes 0, 10, ... 70
    for minutes in (-5, 5, 35, 45, 55, 65, 75):  # late ones sort in among the cached
        for count in (1, 2, 3):
            new = [_scored(100 + i, minutes + i) for i in range(count)]
            full, kept = extend(cached, new), extend(compact(cached), new)
            assert [m.message_id for m in full] == [m.message_id for m in kept]
            assert [m.indicators for m in full[-INDICATOR_WINDOW:]] == \
                [m.indicators for m in kept[-INDICATOR_WINDOW:]]


def test_cached_series_decide_as_the_database_does(sqlite_url: str) -> None:
    """One pipeline with the cache, one that reads every series from the database:
    the same batches give the same decisions, phrases included."""
    batches = [[message("1", "7", "score=0.3 fine", minutes=0)],
               [message("2", "7", "score=-0.6 broken", minutes=10),
                message("3", "7", "score=-0.65 again", minutes=20)],
               [message("5", "7", "score=-0.7 cancel now", minutes=40)],
               [message("4", "7", "score=-0.9 late one", minutes=30),  # sorts in
                message("6", "7", "score=-0.95 worst", minutes=50)]]
    decided = []
    for size in (5_000, 0):
        store = Store(sqlite_url.replace(".db", f"-{size}.db"))
        store.create_schema()
        store.sources.ensure(["zd"])
        pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES,  # type: ignore[arg-type]
                            clock=lambda: T0 + timedelta(hours=1), series_cache_size=size)
        decided.append([[(t, d.rule, d.kind, d.indicators, d.numbers) for t, d in
                         pipeline.process("zd", batch, f"c{n}").decisions]
                        for n, batch in enumerate(batches)])
        store.close()
    assert decided[0] == decided[1]
    assert any(decisions for decisions in decided[0])


def test_a_packed_series_unpacks_to_the_compact_series() -> None:
    kinds = Kinds()
    series = (
        *(_scored(n, 10 * n) for n in range(6)),
        ScoredMessage(message_id="", created_at=datetime.min.replace(tzinfo=UTC), score=0.0,
                      label="neutral", language="xx", supported=False),
        ScoredMessage(message_id="é\ud800" * 300, created_at=T0 + timedelta(microseconds=7),
                      score=-0.3333, label="negative", signals=frozenset({"urgent"}),
                      indicators=("Ärger \ud800", "", "b" * 70_000), language="de"))
    packed = pack(series, kinds)
    assert isinstance(packed, Packed)
    assert unpack(packed, kinds) == compact(series)
    assert unpack(pack(series[:2], kinds), kinds) == compact(series[:2])  # shorter than the window
    assert unpack(pack((), kinds), kinds) == ()
    again = unpack(pack(series, kinds), kinds)
    assert again[0].signals is again[1].signals  # one frozenset per distinct kind


def test_what_does_not_fit_a_record_stays_a_compact_tuple() -> None:
    kinds = Kinds()
    not_utc = ScoredMessage(message_id="m", score=-0.5, created_at=T0.astimezone(
        timezone(timedelta(hours=2))))
    long_id = ScoredMessage(message_id="x" * 70_000, created_at=T0, score=-0.5)
    for odd in (not_utc, long_id):
        series = (_scored(1, 0), odd)
        kept = pack(series, kinds)
        assert kept == compact(series) and unpack(kept, kinds) == compact(series)
        assert unpack(kept, kinds)[1].created_at.tzinfo is odd.created_at.tzinfo


def test_a_series_with_a_kind_past_the_table_limit_stays_a_tuple() -> None:
    kinds = Kinds()
    kinds.LIMIT = 1  # type: ignore[misc]
    first = (_scored(1, 0),)
    assert isinstance(pack(first, kinds), Packed)
    series = (*first, ScoredMessage(message_id="m2", created_at=T0, score=0.5,
                                    label="positive"))
    assert pack(series, kinds) == compact(series)
