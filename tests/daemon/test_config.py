"""Config errors name file, line and key; secrets resolve from env, files and credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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
    assert f"{path}:6: sources[0].emial: unknown key; did you mean email?" in errors


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
        "'escalatoins' (configured: escalations); did you mean escalations?"]
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
        "known: freshdesk, helpscout, rt, zendesk; did you mean zendesk?"]
    # The bracket that is never closed is on line 2, not where the file ends.
    assert _errors(_write(tmp_path, "rules: [\n  {name: x\n")) == [
        f"{tmp_path}/config.yaml:2: the YAML is not valid here: a {{mapping}} that is not "
        "closed with '}' or lacks a ','"]


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
    assert f"{bad}:6: sources[0].emial: unknown key; did you mean email?" in done.stderr
    ok = subprocess.run([*cli, str(REPO / "config.yaml")], capture_output=True, text=True,
                        timeout=60, cwd=REPO, env={"PATH": "/usr/bin:/bin"})
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout


# -- hostile configs (issue 11, part A) -------------------------------------------------------

LEAKY_RULE = """\
  - name: leaky
    when: {last_score_below: -0.5}
    actions:
      add_tags: [file:/etc/passwd]
      note: "token=${ZD_TOKEN} user=${USER:-nobody}"
      notify: [escalations]
"""


def test_references_resolve_only_in_secret_and_url_fields(tmp_path: Path) -> None:
    """Item 1: a rule author cannot pull a secret or a file into a note or a tag."""
    path = _write(tmp_path, GOOD + LEAKY_RULE)
    errors = _errors(path)
    hint = ("references are only resolved in secret and URL fields (api_token, api_key, "
            "base_url, ...); write this value literally")
    assert errors[:2] == [f"{path}:19: rules[1].actions.add_tags[0]: file: {hint}",
                          f"{path}:20: rules[1].actions.note: ${{ZD_TOKEN}} {hint}"]
    # Left unresolved, `${ZD_TOKEN}` also reads as an unknown note placeholder.
    assert errors[2].startswith(f"{path}:20: rules[1].actions.note: unknown placeholder")
    assert not any("t0ken" in error for error in errors)
    # The same references in secret and URL fields still resolve.
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "db").write_text("postgresql+psycopg://u:pw@db.example.com/sentinel\n")
    text = GOOD.replace("state_dir: ./state\n", "state_dir: ./state\ndatabase:\n"
                        "  url: credential:db\n").replace("subdomain: acme", "base_url: "
                                                          "https://${ZD_HOST}")
    config = load_config(_write(tmp_path, text), env={"ZD_TOKEN": "t0ken", "ZD_HOST": "z.example",
                                                      "CREDENTIALS_DIRECTORY": str(creds)})
    assert config.database_url.endswith("@db.example.com/sentinel")
    assert config.source("zd").base_url == "https://z.example"


def test_secret_files_must_be_small_regular_files(tmp_path: Path) -> None:
    """Item 4: a FIFO does not hang the loader, a device or a huge file is an error."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "huge").write_bytes(b"x" * (1024 * 1024))
    outcome: list[list[str]] = []
    for target in (fifo, Path("/dev/zero"), tmp_path / "huge", tmp_path / "nope"):
        path = _write(tmp_path, GOOD.replace("file:webhook.txt", f"file:{target}"))
        worker = threading.Thread(target=lambda p=path: outcome.append(_errors(p)),
                                  daemon=True)
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), f"loading a config naming {target} hangs"
    prefix = f"{tmp_path}/config.yaml:11: notifiers.escalations.webhook_url: cannot read file"
    assert [errors[0] for errors in outcome] == [
        f"{prefix} '{fifo}': not a regular file",
        f"{prefix} '/dev/zero': not a regular file",
        f"{prefix} '{tmp_path}/huge': file is 1048576 bytes; the limit is 65536",
        f"{prefix} '{tmp_path}/nope': No such file or directory"]


def test_deeply_nested_yaml_and_huge_durations_are_config_errors(tmp_path: Path) -> None:
    """Item 4: no RecursionError or OverflowError escapes the loader."""
    deep = "rules: " + "[" * 5000 + "]" * 5000 + "\n"
    assert _errors(_write(tmp_path, deep)) == [
        f"{tmp_path}/config.yaml:1: nested deeper than 64 levels"]
    text = GOOD.replace("    api_token: ${ZD_TOKEN}\n", "    api_token: ${ZD_TOKEN}\n"
                        "    start_from: -99999999w\n").replace(
        "    when: {last_score_below: -0.7}\n",
        "    when: {last_score_below: -0.7}\n    repeat_after: 99999999999w\n")
    assert _errors(_write(tmp_path, text)) == [
        f"{tmp_path}/config.yaml:8: sources[0].start_from: expected an ISO time or a "
        "relative time such as -24h",
        f"{tmp_path}/config.yaml:16: rules[0].repeat_after: duration is too long"]


CLEARTEXT = """\
scorer: {kind: anthropic, api_key: k, base_url: "URL/v1"}
sources:
  - {name: zd, kind: zendesk, base_url: "URL", email: a@b.c, api_token: t}
  - {name: fd, kind: freshdesk, base_url: "URL", api_key: k}
  - {name: hs, kind: helpscout, base_url: "URL", client_id: i, client_secret: s}
  - {name: hs2, kind: helpscout, token_url: "URL/token", client_id: i, client_secret: s}
"""


def test_cleartext_urls_only_to_loopback(tmp_path: Path) -> None:
    """Item 5: credentials never travel over http to a host that is not this machine."""
    path = tmp_path / "config.yaml"
    path.write_text(CLEARTEXT.replace("URL", "http://helpdesk.example.com"))
    message = ("must be an https URL (http only to a loopback address such as 127.0.0.1, "
               "for a local test server)")
    assert _errors(path) == [
        f"{path}:1: scorer.base_url: {message}",
        f"{path}:3: sources[0].base_url: {message}",
        f"{path}:4: sources[1].base_url: {message}",
        f"{path}:5: sources[2].base_url: {message}",
        f"{path}:6: sources[3].token_url: {message}"]
    for url in ("https://helpdesk.example.com", "http://127.0.0.1:8080", "http://[::1]:9",
                "http://localhost:9", "http://127.0.0.2"):
        path.write_text(CLEARTEXT.replace("URL", url))
        load_config(path, env={})
# -- errors a newcomer can fix ---------------------------------------------------------------


@pytest.mark.parametrize(("typo", "expected"), [
    # The closest key of the model at that very path.
    ("    when: {last_score_below: -0.7}",
     "rules[0].when.decline_treshold: unknown key; did you mean decline_threshold?"),
    ("log: {levle: info}", "log.levle: unknown key; did you mean level?"),
    ("scorer: {kind: anthropic, api_key: k, modle: m}",
     "scorer.modle: unknown key; did you mean model?"),
    ("    webhook_url: file:webhook.txt", "notifiers.escalations.min_intervall: unknown key; "
                                          "did you mean min_interval?"),
    # Nothing close: the keys that are allowed there.
    ("log: {colour: yes}", "log.colour: unknown key (known keys here: format, level)"),
])
def test_unknown_key_suggests_the_closest_known_key(tmp_path: Path, typo: str,
                                                    expected: str) -> None:
    replacements = {
        "    when: {last_score_below: -0.7}":
            "    when: {last_score_below: -0.7, decline_treshold: 0.3}",
        "    webhook_url: file:webhook.txt":
            "    webhook_url: file:webhook.txt\n    min_intervall: 2",
    }
    text = (GOOD.replace(typo, replacements[typo]) if typo in replacements
            else GOOD + typo + "\n")
    errors = _errors(_write(tmp_path, text))
    assert [e.split(": ", 1)[1] for e in errors] == [expected]


@pytest.mark.parametrize(("text", "line", "plain"), [
    ("sources:\n  - name: zd\n\tkind: zendesk\n", 3,
     "a tab character; YAML indents with spaces only"),
    ("log:\n  level: \"info\nstate_dir: x\n", 2,
     "a quote or bracket opened here is never closed"),
    ("log:\n  level: info\n format: json\n", 3,
     "this line is not lined up with the lines above it; check its indentation"),
    ("rules:\n  - name: a\n    when: {last_score_below: -0.7}\n    actions:\n"
     "      note: Score: {last_score}\n", 5,
     "a ':' where none can be; put a value that contains ': ' in quotes, or check the "
     "indentation of this line"),
    ("log:\n  level: info\n  format json\n  x: 1\n", 3,
     "a line that is not `key: value`; a ':' is missing, or a quote opened on an earlier "
     "line is not closed"),
    ('a: "x\\y"\n', 1,
     "a backslash in a \"double-quoted\" value; use 'single quotes' or write \\\\"),
])
def test_yaml_syntax_errors_in_plain_words(tmp_path: Path, text: str, line: int,
                                           plain: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert _errors(path) == [f"{path}:{line}: the YAML is not valid here: {plain}"]


def test_cross_references_are_checked_with_the_other_errors(tmp_path: Path) -> None:
    """A broken rule does not hide an unknown notifier or source elsewhere."""
    text = GOOD.replace(
        "    actions: {add_tags: [sentiment-very-negative], notify: [escalations]}",
        "    actions: {add_tags: [sentiment-very-negative], notify: [escalatons]}\n"
        "  - name: Bad Name\n"
        "    when: {last_score_below: -0.7, sources: [zd, zendesk-main]}\n"
        "    actions: {notify: pager}")
    messages = [e.split(": ", 1)[1] for e in _errors(_write(tmp_path, text))]
    assert messages == [
        "rules[1].name: a rule name uses lowercase letters, digits, '-', '_' and '.' (up to "
        "63, starting with a letter or digit), e.g. `sentiment-declining`",
        "rules[0].actions.notify[0]: unknown notifier 'escalatons' (configured: "
        "escalations); did you mean escalations?",
        "rules[1].when.sources[1]: unknown source 'zendesk-main' (configured: zd)",
        "rules[1].actions.notify: unknown notifier 'pager' (configured: escalations)",
    ]


@pytest.mark.parametrize(("before", "after", "expected"), [
    ("subdomain: acme", "subdomain: acme.zendesk.com",
     "sources[0].subdomain: use just the first part of your Zendesk address: `mycompany` "
     "for https://mycompany.zendesk.com (lowercase letters, digits and '-')"),
    ("    webhook_url: file:webhook.txt", "    bot_token: x\n    channel: Escalations Team",
     "notifiers.escalations.channel: use a channel name such as `#escalations` (lowercase, "
     "no spaces) or a channel ID such as `C0123ABCDE`"),
    ("add_tags: [sentiment-very-negative]", "add_tags: [very negative]",
     "rules[0].actions.add_tags[0]: a tag is one word of up to 80 characters, no spaces or "
     "commas, e.g. `sentiment-declining`"),
    ("  - name: zd", "  - name: my zendesk",
     "sources[0].name: a source name uses letters, digits, '-', '_' and '.' (up to 63, "
     "starting with a letter or digit), e.g. `zendesk-main`"),
])
def test_pattern_errors_say_what_a_valid_value_looks_like(tmp_path: Path, before: str,
                                                          after: str, expected: str) -> None:
    errors = _errors(_write(tmp_path, GOOD.replace(before, after)))
    assert expected in [e.split(": ", 1)[1] for e in errors]


def test_freshdesk_domain_pattern_is_explained(tmp_path: Path) -> None:
    text = GOOD.replace("    kind: zendesk\n    subdomain: acme\n    email: ops@example.com\n"
                        "    api_token: ${ZD_TOKEN}",
                        "    kind: freshdesk\n    domain: acme.freshdesk.com\n"
                        "    api_key: ${ZD_TOKEN}")
    assert [e.split(": ", 1)[1] for e in _errors(_write(tmp_path, text))] == [
        "sources[0].domain: use just the first part of your Freshdesk address: `mycompany` "
        "for https://mycompany.freshdesk.com (lowercase letters, digits and '-')"]


def test_inhibitor_references_are_checked_even_when_another_rule_is_broken(
        tmp_path: Path) -> None:
    extra = ("  - name: quiet\n    when: {last_score_below: -0.9}\n"
             "    inhibited_by: [very-negative-mesage]\n")
    only = _errors(_write(tmp_path, GOOD + extra))
    assert [e.split(": ", 1)[1] for e in only] == [
        "rules[1].inhibited_by[0]: unknown rule 'very-negative-mesage'"]
    broken = GOOD.replace("when: {last_score_below: -0.7}", "when: {last_score_below: -7}")
    messages = [e.split(": ", 1)[1] for e in _errors(_write(tmp_path, broken + extra))]
    assert messages == [
        "rules[0].when.last_score_below: Input should be greater than or equal to -1",
        "rules[1].inhibited_by[0]: unknown rule 'very-negative-mesage'"]
