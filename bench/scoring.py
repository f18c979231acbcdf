"""Scoring benchmark: prints one JSON line.

- offline_msgs_per_s: the offline scorer on one core (this process, one thread) over a
  deterministic corpus of generated support messages (no data file needed), from the
  process's CPU time, so other work on a shared machine does not count against it;
  offline_wall_msgs_per_s is the same run by the wall clock;
- offline_rss_mb: resident memory the offline scorer adds to the process (its lexicons,
  VADER and the language detector's model), measured before and after building it;
- offline_graded: the same scorer over the project's graded messages
  (bench/data/graded_messages.csv, 5 languages), CPU-time messages per second;
- claude: the Claude scorer over the real SDK against the Anthropic sandbox (in its own
  process, like a remote API) with a fixed latency (default 400 ms) at concurrency 1, 4
  and 16, after one warm-up wave that opens the connections: msgs_per_s, the ideal
  (concurrency / latency * batch_size) and efficiency = measured / ideal; `requests`
  the measured call sent against `first_pass_requests` (one per batch: the difference
  is isolation re-asks, and at concurrency 16 even one costs a whole extra round trip,
  the first pass filling exactly `--rounds` of them), and `client_cpu_s`, the process's
  CPU time over the call (offline evidence, request preparation, the SDK): when it
  approaches rounds x latency the client, not the network, sets the pace;
- input_tokens_per_msg and prompt_overhead_tokens_per_msg: tokens as the sandbox counts
  them (4 characters per token over system prompt, user turn and JSON schema, the
  Anthropic rule of thumb for English) and report in `usage.input_tokens`; overhead =
  total minus the messages' own tokens at the same rate.
- cascade_curve: what a model trained on Claude-scored history saves.  A corpus is scored
  by the sandbox Claude (the "history"); `train`'s fit distils those verdicts into the
  offline scorer on one part; on the other part the Claude scorer runs with the cascade on
  at several `min_confidence` values, once with the plain offline scorer and once with
  the trained one: requests sent against requests without the cascade (saved), and the
  share of messages whose final class (negative/neutral/positive) is Claude's own.  The
  corpus is generated from templates, so the trained model is tested in distribution: on
  a real team's history the gain is smaller; measure it there.

Usage: .venv/bin/python bench/scoring.py [--latency 0.4] [--batch-size 10] [--rounds 3]
       [--skip-curve]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import random
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.sandbox.anthropic import CHARS_PER_TOKEN, AnthropicSandbox
from daemon.scoring.anthropic import ClaudeScorer
from daemon.scoring.local import LocalScorer
from daemon.scoring.settings import AnthropicScorerSettings, parse_scorer_settings

API_KEY = "sk-ant-bench"
_OPENERS = ["Hi,", "Hello team,", "Good morning.", "", "Hey there,"]
_BODIES = [
    "I ordered a replacement charger {n} days ago and it still has not arrived.",
    "Could you please tell me how to change the email address on my account?",
    "This is the third time I am writing about the same billing error.",
    "Thanks a lot, the new version fixed the sync problem for our whole team!",
    "The export keeps failing with an error and we have a deadline on Friday.",
    "I was charged twice for order {n}. I want a refund.",
    "Where can I download the invoice for last month?",
    "Nobody has answered my ticket in {n} days, this is unacceptable.",
    "The app crashes every time I open the camera screen.",
    "Great support as always, thank you for the quick answer.",
    "If this is not fixed today I will cancel my subscription.",
    "Can I upgrade my plan in the middle of the billing cycle?",
]
_CLOSERS = ["Thanks.", "Regards, Sam", "", "Please advise.", "Best"]


def corpus(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        sentences = [rng.choice(_OPENERS)]
        for _ in range(rng.randint(1, 3)):
            sentences.append(rng.choice(_BODIES).format(n=rng.randint(2, 40)))
        sentences.append(rng.choice(_CLOSERS))
        texts.append(" ".join(s for s in sentences if s) + f" (ref {index})")
    return texts


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_offline(texts: list[str]) -> dict[str, float]:
    before = _rss_mb()
    scorer = LocalScorer()
    scorer.score(texts[:200])  # warm-up
    rss = _rss_mb() - before
    started, cpu = time.perf_counter(), time.process_time()
    scorer.score(texts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    graded_path = Path(__file__).resolve().parent / "data" / "graded_messages.csv"
    with graded_path.open(encoding="utf-8", newline="") as handle:
        graded = [row["text"] for row in csv.DictReader(handle)]
    graded_cpu = time.process_time()
    scorer.score(graded)
    graded_cpu = time.process_time() - graded_cpu
    return {"offline_msgs_per_s": round(len(texts) / cpu, 1),
            "offline_wall_msgs_per_s": round(len(texts) / wall, 1),
            "offline_rss_mb": round(rss, 1),
            "offline_graded_msgs_per_s": round(len(graded) / graded_cpu, 1)}


def _serve_sandbox(latency: float, connection: Connection) -> None:
    sandbox = AnthropicSandbox(api_key=API_KEY, latency=latency)
    sandbox.start()
    connection.send(sandbox.url)
    connection.recv()  # until the parent says stop
    sandbox.stop()


def bench_claude(url: str, concurrency: int, batch_size: int, rounds: int,
                 latency: float, offset: int) -> dict[str, float]:
    settings = parse_scorer_settings({
        "kind": "anthropic", "api_key": API_KEY, "base_url": url,
        "concurrency": concurrency, "batch_size": batch_size, "max_retries": 0,
        "budget": {"requests_per_day": None, "input_tokens_per_day": None}})
    assert isinstance(settings, AnthropicScorerSettings)
    scorer = ClaudeScorer(settings, offline=LocalScorer(), cache=None)
    try:
        scorer.score(corpus(batch_size * concurrency, seed=99 + concurrency))  # connections up
        texts = corpus(concurrency * batch_size * rounds, seed=offset)
        tokens_before = scorer.stats["input_tokens"]  # as the API's usage reports them
        requests_before = scorer.stats["requests"]
        started, cpu = time.perf_counter(), time.process_time()
        scores = scorer.score(texts)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        tokens = scorer.stats["input_tokens"] - tokens_before
        requests = scorer.stats["requests"] - requests_before
    finally:
        scorer.close()
    fallbacks = sum(1 for s in scores if s.scorer != "anthropic")
    message_tokens = sum(math.ceil(len(t) / CHARS_PER_TOKEN) for t in texts)
    ideal = concurrency / latency * batch_size
    measured = len(texts) / elapsed
    return {"messages": len(texts), "msgs_per_s": round(measured, 1),
            "ideal_msgs_per_s": round(ideal, 1), "efficiency": round(measured / ideal, 3),
            "fallbacks": fallbacks, "requests": requests,
            "first_pass_requests": math.ceil(len(texts) / batch_size),
            "client_cpu_s": round(cpu, 3),
            "input_tokens_per_msg": round(tokens / len(texts), 1),
            "prompt_overhead_tokens_per_msg": round((tokens - message_tokens) / len(texts), 1)}


CURVE_THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _three(score: float) -> str:
    return "negative" if score <= -0.05 else "positive" if score >= 0.05 else "neutral"


def bench_cascade_curve(batch_size: int, history: int = 1600, test: int = 800) -> dict[str, Any]:
    from daemon.scoring.learned import LearnedScorer
    from daemon.train import Example, fit

    def claude(url: str, offline: LocalScorer, cascade: float | None) -> ClaudeScorer:
        data: dict[str, Any] = {
            "kind": "anthropic", "api_key": API_KEY, "base_url": url, "max_retries": 0,
            "batch_size": batch_size, "concurrency": 4,
            "budget": {"requests_per_day": None, "input_tokens_per_day": None}}
        if cascade is not None:
            data["cascade"] = {"enabled": True, "min_confidence": cascade}
        settings = parse_scorer_settings(data)
        assert isinstance(settings, AnthropicScorerSettings)
        return ClaudeScorer(settings, offline=offline, cache=None)

    past = corpus(history, seed=1234)
    fresh = corpus(test, seed=5678)
    plain = LocalScorer()
    with AnthropicSandbox(api_key=API_KEY) as sandbox:
        reference = claude(sandbox.url, plain, None)
        try:
            labels = [_three(s.score) for s in reference.score(past)]
            truth = [_three(s.score) for s in reference.score(fresh)]
            baseline_requests = reference.stats["requests"]
            reference.score(fresh)  # once more: the requests of the test part alone
            baseline_requests = reference.stats["requests"] - baseline_requests
        finally:
            reference.close()
        started = time.perf_counter()
        model = fit([Example(text, label, 1.0, "claude") for text, label in
                     zip(past, labels, strict=True)], offline=plain, seed=7)
        train_seconds = time.perf_counter() - started
        trained = LearnedScorer(model)
        curves: dict[str, list[dict[str, float]]] = {}
        for name, offline in (("untrained", plain), ("trained", trained)):
            curve = []
            for threshold in CURVE_THRESHOLDS:
                scorer = claude(sandbox.url, offline, threshold)
                try:
                    final = scorer.score(fresh)
                    requests = scorer.stats["requests"]
                    kept = scorer.stats["cascaded"]
                finally:
                    scorer.close()
                agree = sum(1 for s, t in zip(final, truth, strict=True) if _three(s.score) == t)
                curve.append({"min_confidence": threshold,
                              "requests": requests,
                              "requests_saved": round(1 - requests / baseline_requests, 3),
                              "messages_kept_offline": round(kept / len(fresh), 3),
                              "agreement_with_claude": round(agree / len(fresh), 3)})
            curves[name] = curve
    return {"history_messages": history, "test_messages": test, "batch_size": batch_size,
            "requests_without_cascade": baseline_requests,
            "train_seconds": round(train_seconds, 1), "curves": curves}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.4)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--offline-messages", type=int, default=5000)
    parser.add_argument("--skip-curve", action="store_true",
                        help="leave out the cascade-savings curve (it trains a model)")
    args = parser.parse_args()
    from daemon.logs import configure

    configure("warning")  # the scorer's per-message debug lines would drown the JSON

    offline = bench_offline(corpus(args.offline_messages))
    # The sandbox runs in its own process, as the real API would: in this process its
    # JSON work would compete with the client for the GIL and understate the client.
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve_sandbox, args=(args.latency, child),
                                     daemon=True)
    server.start()
    try:
        if not parent.poll(30):
            raise SystemExit("sandbox did not start")
        url = parent.recv()
        claude = {str(c): bench_claude(url, c, args.batch_size, args.rounds, args.latency,
                                       offset=c)
                  for c in (1, 4, 16)}
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()
    overhead = max(result["prompt_overhead_tokens_per_msg"] for result in claude.values())
    curve = None if args.skip_curve else bench_cascade_curve(args.batch_size)
    print(json.dumps({
        **offline,
        "claude": claude,
        "latency_s": args.latency,
        "batch_size": args.batch_size,
        "prompt_overhead_tokens_per_msg": overhead,
        "input_tokens_per_msg": max(r["input_tokens_per_msg"] for r in claude.values()),
        "token_method": f"sandbox estimate: {CHARS_PER_TOKEN} chars/token over system prompt, "
                        "user turn and JSON schema",
        "cascade_curve": curve,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
