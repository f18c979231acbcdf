"""End-to-end latency: a message appears in the helpdesk -> its tag is written back.

One daemon process (SQLite state, offline scorer, the shipped outbox interval) watches
three sandboxes at a 10 s poll interval: Freshdesk, Help Scout and Zendesk.  The
benchmark opens a ticket whose first customer message is very negative in each of them,
`--messages` times, spread over the run at random phases of the poll cycle; a rule tags
such tickets.  Latency of one message = the time the sandbox recorded the tag write minus
the time the message was put in.  Prints one JSON line with p50/p95/max per vendor.

Target (issue 6): p95 under poll interval + 2 s where the vendor API allows it.
Freshdesk and Help Scout list changed tickets immediately, so they are held to it.
Zendesk's incremental export never serves the last 60 seconds (its documented
"Too recent start_time" rule, which the sandbox enforces and the connector respects with
`min_age_seconds: 60`), so its latency has a floor of about a minute plus a poll; it is
reported separately with that floor, not against the target.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import DaemonProcess, emit, percentile, wait_until

from connectors.sandbox.freshdesk import FreshdeskSandbox
from connectors.sandbox.helpscout import HelpScoutSandbox
from connectors.sandbox.zendesk import ZendeskSandbox

TAG = "sentiment-very-negative"
ANGRY = ("This is absolutely horrible and unacceptable, the worst, most useless service I "
         "have ever paid for. Disgusting.")
FD_KEY = "bench-freshdesk-key"
HS_ID, HS_SECRET = "bench-helpscout-id", "bench-helpscout-secret"
ZD_EMAIL, ZD_TOKEN = "bench@example.com", "bench-zendesk-token"


def config_text(state: Path, poll_s: float, outbox_s: float, fd: FreshdeskSandbox,
                hs: HelpScoutSandbox, zd: ZendeskSandbox) -> str:
    return f"""
state_dir: {state}
log: {{level: info, format: json}}
outbox: {{interval: {outbox_s}s}}
sources:
  - {{name: freshdesk, kind: freshdesk, base_url: "{fd.url}", api_key: {FD_KEY},
      poll_interval: {poll_s}s, start_from: -10m}}
  - {{name: helpscout, kind: helpscout, base_url: "{hs.url}", client_id: {HS_ID},
      client_secret: {HS_SECRET}, poll_interval: {poll_s}s, start_from: -10m}}
  - {{name: zendesk, kind: zendesk, base_url: "{zd.url}", email: {ZD_EMAIL},
      api_token: {ZD_TOKEN}, poll_interval: {poll_s}s, start_from: -10m}}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions: {{add_tags: [{TAG}]}}
    repeat_after: 24h
"""


def tag_writes(fd: FreshdeskSandbox, hs: HelpScoutSandbox,
               zd: ZendeskSandbox) -> dict[tuple[str, int], float]:
    """(vendor, ticket id) -> time of the first write that put our tag on the ticket."""
    seen: dict[tuple[str, int], float] = {}
    for write in list(fd.writes):
        if write["kind"] == "update_ticket" and TAG in (write["payload"].get("tags") or []):
            seen.setdefault(("freshdesk", write["ticket_id"]), write["at"])
    for write in list(hs.writes):
        if write["kind"] == "tags" and TAG in write["tags"]:
            seen.setdefault(("helpscout", write["conversation_id"]), write["at"])
    for write in list(zd.writes):
        if write["kind"] == "tags_added" and TAG in write["tags"]:
            seen.setdefault(("zendesk", write["ticket_id"]), write["at"])
    return seen


def summary(latencies: list[float], injected: int) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {"n": len(latencies), "missing": injected - len(latencies),
            "p50_s": rounded(percentile(latencies, 50)),
            "p95_s": rounded(percentile(latencies, 95)),
            "max_s": rounded(max(latencies) if latencies else None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30, help="messages per vendor")
    parser.add_argument("--poll-interval", type=float, default=10.0)
    parser.add_argument("--spacing", type=float, default=4.0,
                        help="mean seconds between two injected messages")
    parser.add_argument("--outbox-interval", type=float, default=2.0,
                        help="the daemon's outbox job interval (shipped default 2 s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    fd = FreshdeskSandbox(api_key=FD_KEY).start()
    hs = HelpScoutSandbox(client_id=HS_ID, client_secret=HS_SECRET).start()
    zd = ZendeskSandbox(email=ZD_EMAIL, api_token=ZD_TOKEN).start()  # the real 60 s rule
    injected: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(config_text(Path(tmp) / "state", args.poll_interval,
                                      args.outbox_interval, fd, hs, zd))
        daemon = DaemonProcess(config, Path(tmp) / "daemon.log", {}).start()
        try:
            def polled_all() -> bool:
                polled = {e.get("source") for e in daemon.events() if e.get("event") == "poll"}
                return polled >= {"freshdesk", "helpscout", "zendesk"}

            wait_until(polled_all, 60, "first poll of every source")
            began = time.time()
            for number in range(args.messages):
                # Exponential gaps: arrivals at random phases of the poll cycle.
                time.sleep(min(4 * args.spacing, rng.expovariate(1 / args.spacing)))
                now = time.time()
                moment = datetime.fromtimestamp(now, UTC)
                name, email = "Bench Customer", f"bench{number}@example.com"
                ticket = fd.add_ticket(subject=f"Bench {number}", body=ANGRY, at=moment,
                                       customer_name=name, customer_email=email)
                injected[("freshdesk", ticket)] = time.time()
                ticket = hs.add_conversation(subject=f"Bench {number}", body=ANGRY, at=moment,
                                             customer_name=name, customer_email=email)
                injected[("helpscout", ticket)] = time.time()
                ticket = zd.add_ticket(subject=f"Bench {number}", body=ANGRY, at=now,
                                       customer_name=name, customer_email=email)
                injected[("zendesk", ticket)] = time.time()
            # Zendesk needs its minute of exclusion plus a poll; leave room for both.
            floor_s = zd.exclusion_seconds
            with contextlib.suppress(TimeoutError):  # what never arrived is `missing`
                wait_until(lambda: set(tag_writes(fd, hs, zd)) >= set(injected),
                           floor_s + 4 * args.poll_interval + 30, "every tag written")
            run_s = time.time() - began
        finally:
            code = daemon.stop()
    for sandbox in (fd, hs, zd):
        sandbox.stop()

    writes = tag_writes(fd, hs, zd)
    per_vendor: dict[str, list[float]] = {"freshdesk": [], "helpscout": [], "zendesk": []}
    for key, at in injected.items():
        if key in writes:
            per_vendor[key[0]].append(writes[key] - at)
    target = args.poll_interval + 2
    result: dict[str, Any] = {
        "bench": "latency", "poll_interval_s": args.poll_interval,
        "outbox_interval_s": args.outbox_interval, "messages_per_vendor": args.messages,
        "target_p95_s": target, "run_s": round(run_s, 1), "daemon_exit": code}
    for vendor, values in per_vendor.items():
        stats = summary(values, args.messages)
        if vendor == "zendesk":
            stats["floor_s"] = floor_s
            stats["p95_minus_floor_s"] = (None if stats["p95_s"] is None
                                          else round(stats["p95_s"] - floor_s, 2))
            stats["note"] = ("incremental export excludes the last 60 s by design; "
                             "floor = 60 s + poll phase")
        else:
            stats["meets_target"] = stats["p95_s"] is not None and stats["missing"] == 0 \
                and stats["p95_s"] < target
        result[vendor] = stats
    emit(result)


if __name__ == "__main__":
    main()
