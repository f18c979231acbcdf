"""Config errors name file, line and key; secrets resolve from env, files and credentials."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
state_dir: ./state
sources:
  - name: zd
    kind: zendesk
    subdomain: acme
    email: ops@example.com
    api_token: ${ZD_TOKEN}
notifiers:
  escalations:
    kind: slack
    webhook_url: file:webhook.txt
rules:
  - name: very-negative-message
    when: {last_score_below: -0.7}
    actions: {add_tags: [sentiment-very-negative], notify: [escalations]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    (tmp_path / "webhook.txt").write_text("https://hooks.slack.com/services/T1/B1/secret\n")
    return path


def _errors(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"ZD_TOKEN": "t0ken", **(env or {})})
    return caught.value.messages


def test_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config.yaml", env={})
    assert [s.name for s in config.sources]
    assert config.scorer.kind == "local"


def test_good_config_resolves_env_and_file_secrets(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    config = load_config(path, env={"ZD_TOKEN": "t0ken"})
    source = config.source("zd")
    assert source.api_token.get_secret_value() == "t0ken"  # type: ignore[attr-defined]
    assert "t0ken" not in repr(source)
    slack = config.notifiers["escalations"]
    assert slack.webhook_url.get_secret_value().endswith("/secret")  # type: ignore[attr-defined]
    assert config.state_dir == tmp_path / "state"
    assert config.database_url == f"sqlite:///{tmp_path / 'state' / 'sentinel.db'}"


def test_typo_names_file_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    email: ops", "    emial: ops"))
    errors = _errors(path)
    assert f"{path}:6: sources[0].emial: unknown key" in errors


def test_wrong_type_and_bad_subdomain(tmp_path: Path) -> None:
    text = GOOD.replace("subdomain: acme", "subdomain: acme.evil.example\n    poll_interval: soon")
    errors = _errors(_write(tmp_path, text))
    assert any(e.startswith(f"{tmp_path}/config.yaml:5: sources[0].subdomain:") for e in errors)
    assert any(e.startswith(f"{tmp_path}/config.yaml:6: sources[0].poll_interval: ")
               and "duration" in e for e in errors)


def test_missing_secret_is_named_without_its_value(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.messages == [
        f"{path}:7: sources[0].api_token: environment variable ZD_TOKEN is not set"]


def test_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "zendesk-token").write_text("from-credential\n")
    path = _write(tmp_path, GOOD.replace("${ZD_TOKEN}", "credential:zendesk-token"))
    config = load_config(path, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.source("zd").api_token.get_secret_value() == "from-credential"  # type: ignore[attr-defined]
    errors = _errors(path)
    assert errors == [f"{path}:7: sources[0].api_token: credential 'zendesk-token' requested "
                      "but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)"]


def test_unknown_notifier_and_duplicate_key(tmp_path: Path) -> None:
    text = GOOD.replace("notify: [escalations]", "notify: [escalatoins]")
    assert _errors(_write(tmp_path, text)) == [
        f"{tmp_path}/config.yaml:15: rules[0].actions.notify[0]: unknown notifier "
        "'escalatoins' (configured: escalations)"]
    text = GOOD.replace("state_dir: ./state\n", "state_dir: ./state\nstate_dir: ./other\n")
    assert _errors(_write(tmp_path, text)) == [
        f"{tmp_path}/config.yaml:2: state_dir: duplicate key"]


def test_alias_bomb_and_oversized_file_are_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    assert _errors(_write(tmp_path, bomb)) == [
        f"{tmp_path}/config.yaml:1: YAML anchors and aliases are not allowed"]
    big = "# " + "x" * (1024 * 1024 + 10) + "\n"
    errors = _errors(_write(tmp_path, big))
    assert len(errors) == 1 and "the limit is 1048576" in errors[0]


def test_unknown_kind_and_invalid_yaml(tmp_path: Path) -> None:
    text = GOOD.replace("kind: zendesk", "kind: zendex")
    assert _errors(_write(tmp_path, text)) == [
        f"{tmp_path}/config.yaml:4: sources[0].kind: unknown kind 'zendex'; "
        "known: freshdesk, helpscout, rt, zendesk"]
    errors = _errors(_write(tmp_path, "rules: [\n  {name: x\n"))
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path}/config.yaml:")
    assert "invalid YAML" in errors[0]


def test_a_broken_section_does_not_hide_the_errors_of_the_others(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("""metrics: {enabled: maybe}
lease: {duration: soon}
sources:
  - {name: zd, kind: zendesk, subdomain: "two words", email: a@b.c, api_token: x}
notifiers:
  chat: {kind: slack, webhook_url: "ftp://hooks.example.com/x"}
rules:
  - {name: r, when: {last_score_below: 5}, actions: {add_tags: [t]}}
""")
    errors = _errors(path)
    assert [e.split(": ")[0].rsplit(":", 1)[1] + " " + e.split(": ")[1] for e in errors] == [
        "1 metrics.enabled", "2 lease.duration", "4 sources[0].subdomain",
        "6 notifiers.chat.webhook_url", "8 rules[0].when.last_score_below"]


def test_check_config_command(tmp_path: Path) -> None:
    bad = _write(tmp_path, GOOD.replace("    email: ops", "    emial: ops"))
    cli = [sys.executable, "-m", "daemon.cli", "check-config", "--config"]
    done = subprocess.run([*cli, str(bad)], capture_output=True, text=True, timeout=60,
                          env={"ZD_TOKEN": "x", "PATH": "/usr/bin:/bin"}, cwd=REPO)
    assert done.returncode == 1
    assert f"{bad}:6: sources[0].emial: unknown key" in done.stderr
    ok = subprocess.run([*cli, str(REPO / "config.yaml")], capture_output=True, text=True,
                        timeout=60, cwd=REPO, env={"PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
