"""`helpdesk-sentinel train` and the learned offline scorer.

The labelled data is generated here: a made-up team whose customers use jargon the
offline scorer cannot know ("bricked", "stuck on the orange ring" are failures; "humming
along" is praise).  History comes from a real SQLite store written the way the daemon
writes it.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.config import ConfigError, load_config
from daemon.scoring.learned import LearnedModel, LearnedScorer, ModelError
from daemon.scoring.local import LocalScorer
from daemon.scoring.settings import build_scorer, parse_scorer_settings
from daemon.store import Store
from daemon.train import (
    MIN_PER_CLASS,
    MIN_ROWS,
    Example,
    TrainError,
    check_enough,
    read_history,
    run_train,
)

REPO = Path(__file__).resolve().parents[2]
DEVICES = ["hub", "sensor", "bridge", "thermostat", "camera", "doorbell"]
BAD = ["is bricked", "got bricked overnight", "is stuck on the orange ring",
       "flatlined after the update", "keeps doing the orange ring", "is a paperweight now"]
ASK = ["How do I pair the {d} with a second account?", "Which firmware is on the {d}?",
       "Can the {d} run on batteries?", "Where is the serial number of the {d}?"]
GOOD = ["the {d} is humming along now, cheers", "{d} back to humming along, ta",
        "sorted, the {d} hums along", "the {d} is green ring all day now, cheers"]


def team_rows(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        device = rng.choice(DEVICES)
        kind = index % 3
        if kind == 0:
            rows.append((f"My {device} {rng.choice(BAD)}.", "negative"))
        elif kind == 1:
            rows.append((rng.choice(ASK).format(d=device), "neutral"))
        else:
            rows.append((rng.choice(GOOD).format(d=device).capitalize(), "positive"))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "sentiment"])
        writer.writerows(rows)
    return path


def test_train_lifts_macro_f1_on_held_out_team_tickets(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "tickets.csv", team_rows(420, seed=3))
    output = tmp_path / "model.json"
    printed = tmp_path / "out.txt"
    with printed.open("w") as out:
        assert run_train(history_store=None, output=output, data=data, text_column="body",
                         label_column="sentiment", from_history=False, holdout=0.25, seed=1,
                         out=out) == 0
    report = json.loads(printed.read_text())
    holdout = report["holdout"]
    assert holdout["n"] == 105
    assert holdout["trained"]["macro_f1"] >= holdout["untrained"]["macro_f1"] + 0.05
    model = LearnedModel.load(output)
    assert model.trained["rows"] == 315
    scorer = LearnedScorer(model)
    bricked = scorer.score_one("My doorbell is bricked.")
    assert bricked.label in ("negative", "very_negative")
    assert -0.6 < bricked.score < -0.05  # the model alone never makes it "clearly angry"
    assert scorer.score_one("The hub is humming along now, cheers").score > 0.05
    # The offline scorer's hard signals still cap a learned verdict.
    lawyer = scorer.score_one("The hub is humming along now, cheers. My lawyer will call.")
    assert lawyer.score <= -0.5 and "legal_threat" in lawyer.signals


def test_too_little_data_is_refused_with_the_numbers() -> None:
    few = [Example(f"text {i}", "negative") for i in range(150)] + \
          [Example(f"ask {i}", "neutral") for i in range(30)] + \
          [Example(f"yay {i}", "positive") for i in range(5)]
    with pytest.raises(TrainError) as info:
        check_enough(few)
    message = str(info.value)
    assert f"185 labelled rows (need at least {MIN_ROWS})" in message
    assert "negative 150, neutral 30, positive 5" in message
    assert f"need at least {MIN_PER_CLASS} each" in message


def test_cli_refuses_and_names_missing_columns(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "small.csv", team_rows(60, seed=1))
    cli = [sys.executable, "-m", "daemon.cli", "train", "--config", str(REPO / "config.yaml"),
           "--output", str(tmp_path / "m.json"), "--data", str(data)]
    done = subprocess.run([*cli, "--text-column", "body", "--label-column", "sentiment"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert "too little data to train: 60 labelled rows" in done.stderr
    assert not (tmp_path / "m.json").exists()
    wrong = subprocess.run([*cli, "--text-column", "text", "--label-column", "sentiment"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert wrong.returncode == 1 and "no column 'text'" in wrong.stderr


def test_history_gives_claude_labels_and_agents_marks(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.create_schema()
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    messages = []
    for index, (body, score, scorer, ticket) in enumerate([
            ("It is bricked", -0.8, "anthropic", "t1"),
            ("How do I pair it?", 0.0, "anthropic", "t2"),
            ("Humming along", 0.7, "anthropic", "t3"),
            ("Offline guess", -0.4, "fallback", "t4"),
            ("Orange ring again", -0.3, "local", "t5")]):
        messages.append({
            "source": "zd", "message_id": f"m{index}", "ticket_id": ticket,
            "author_role": "customer", "author_id": "c", "author_name": None, "public": True,
            "created_at": now - timedelta(minutes=10 - index), "body": body,
            "body_chars": len(body), "truncated": False, "score": score, "label": "neutral",
            "confidence": 0.9, "indicators": [], "signals": [], "scorer": scorer,
            "model": "x", "needs_rescore": False, "stored_at": now})
    with store.transaction() as conn:
        store.messages.insert(conn, messages)
        store.rules.log_escalations(conn, [
            {"source": "zd", "ticket_id": "t1", "rule": "r", "kind": "false_alarm",
             "reason": "agent_tag", "numbers": {}, "at": now},
            {"source": "zd", "ticket_id": "t5", "rule": "r", "kind": "missed",
             "reason": "agent_tag", "numbers": {}, "at": now}])
    examples = {(e.text, e.label, e.weight, e.origin) for e in read_history(store)}
    store.close()
    assert examples == {
        ("It is bricked", "negative", 1.0, "claude"),
        ("How do I pair it?", "neutral", 1.0, "claude"),
        ("Humming along", "positive", 1.0, "claude"),
        ("It is bricked", "neutral", 3.0, "false_alarm"),
        ("Orange ring again", "negative", 3.0, "missed"),
    }  # fallback and offline scores are not Claude's: not distilled


def test_config_loads_the_model_and_check_config_reports_a_bad_one(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "tickets.csv", team_rows(300, seed=5))
    model = tmp_path / "team.json"
    with (tmp_path / "out.txt").open("w") as out:
        run_train(history_store=None, output=model, data=data, text_column="body",
                  label_column="sentiment", from_history=False, holdout=None, seed=2, out=out)
    settings = parse_scorer_settings({"kind": "local", "model": str(model)})
    scorer = build_scorer(settings)
    assert isinstance(scorer, LearnedScorer) and scorer.model.endswith("+learned")
    # Without a model nothing changes: the plain offline scorer.
    plain = build_scorer(parse_scorer_settings({"kind": "local"}))
    assert type(plain) is LocalScorer
    text = "My order is still broken and I want a refund."
    assert plain.score([text]) == LocalScorer().score([text])

    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "something-else"}')
    config = tmp_path / "config.yaml"
    config.write_text(f"state_dir: {tmp_path}/state\nscorer:\n  kind: local\n"
                      f"  model: {broken}\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert any(":4: scorer.model:" in m and "not a helpdesk-sentinel model" in m
               for m in info.value.messages), info.value.messages
    with pytest.raises(ModelError):
        LearnedModel.load(tmp_path / "missing.json")
