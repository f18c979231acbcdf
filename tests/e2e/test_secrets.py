"""Secrets never leak: every error path we can provoke, with recognisable secret values.

One daemon (a subprocess) is configured with a Zendesk API token, a Freshdesk API key, a
Help Scout client secret, a Slack bot token, two Slack webhook URLs and an Anthropic-style
key, all recognisable, and pointed at servers
that refuse them (401), are not there (connection refused), hang past the timeout,
answer 5xx or malformed JSON, or do not know the webhook (404).  It runs long enough to
retry, park and log all of that, then stops; `run --once` and `report` run on the same
state.  Then configs that put the same secrets where validation fails are checked.
Neither stdout, stderr, a log line, an exception text nor the database's error columns
(which `report` shows) may contain any secret, nor the Basic credential built from one.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.sandbox.anthropic import AnthropicSandbox
from connectors.sandbox.base import Fault, SandboxServer
from connectors.sandbox.freshdesk import FreshdeskSandbox
from connectors.sandbox.helpscout import HelpScoutSandbox
from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    ANTHROPIC_KEY,
    REPO,
    SLACK_BOT_TOKEN,
    ZENDESK_TOKEN,
    DaemonProcess,
    StateDb,
    check_config,
    daemon_env,
    log_events,
    run_once,
    wait_for,
)

WEBHOOK_PATH = "/services/TSECRET9/BSECRET8/SeCrEtWebhookPart42"
WEBHOOK_SECRET = "SeCrEtWebhookPart42"
BASIC = base64.b64encode(f"bot@example.com/token:{ZENDESK_TOKEN}".encode()).decode()
FRESHDESK_KEY = "fdSECRETkey-90ab12cd"
FRESHDESK_BASIC = base64.b64encode(f"{FRESHDESK_KEY}:X".encode()).decode()
HELPSCOUT_SECRET = "hsSECRETclient-55cd77"
SECRETS = {"zendesk token": ZENDESK_TOKEN, "zendesk basic credential": BASIC,
           "freshdesk key": FRESHDESK_KEY, "freshdesk basic credential": FRESHDESK_BASIC,
           "help scout client secret": HELPSCOUT_SECRET,
           "slack bot token": SLACK_BOT_TOKEN, "webhook path": WEBHOOK_PATH,
           "webhook secret part": WEBHOOK_SECRET, "anthropic key": ANTHROPIC_KEY}
ANGRY = ("Worst support ever. Horrible, useless, I hate this. Completely unacceptable.")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def _source(name: str, url: str, timeout: float = 2) -> str:
    return f"""
  - name: {name}
    kind: zendesk
    base_url: {url}
    email: bot@example.com
    api_token: ${{T_ZENDESK_TOKEN}}
    poll_interval: 1s
    start_from: -10m
    min_age_seconds: 0
    timeout: {timeout}"""


@pytest.mark.slow
def test_no_secret_in_any_output_on_every_error_path(tmp_path: Path) -> None:
    now = time.time()
    healthy = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    refusing = ZendeskSandbox(email="bot@example.com", api_token="another-token",
                              exclusion_seconds=0, incremental_per_minute=None).start()
    hanging = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    failing = ZendeskSandbox(email="bot@example.com", api_token=ZENDESK_TOKEN,
                             exclusion_seconds=0, incremental_per_minute=None).start()
    slack = SlackSandbox(tokens=("xoxb-the-right-one",), channels=("#escalations",))
    slack.start()
    claude = AnthropicSandbox(api_key="sk-ant-the-right-one")
    claude.start()
    freshdesk = FreshdeskSandbox(api_key="the-right-freshdesk-key")
    freshdesk.start()
    helpscout = HelpScoutSandbox(client_secret="the-right-helpscout-secret")
    helpscout.start()
    servers: list[SandboxServer] = [healthy, refusing, hanging, failing, slack, claude,
                                    freshdesk, helpscout]
    daemon: DaemonProcess | None = None
    try:
        for server in (healthy, refusing, hanging, failing):
            ticket = server.add_ticket(subject="Secrets", customer_name="Pat",
                                       customer_email="pat@example.com", body=ANGRY,
                                       at=now - 30)
            # The healthy one's writes fail too: 5xx, malformed JSON and a hang.
            if server is healthy:
                server.inject(Fault("503", count=3, method="PUT"))
                server.inject(Fault("malformed", count=2, path_contains=f"/tickets/{ticket}"))
                server.inject(Fault("slow", count=1, delay=3.0, method="PUT"))
        hanging.inject(Fault("slow", count=100, delay=3.0))
        failing.inject(Fault("500", count=100))
        failing.inject(Fault("malformed", count=100))  # after the 500s are used up
        dead = closed_port()
        config = tmp_path / "config.yaml"
        config.write_text(f"""
state_dir: {tmp_path / 'state'}
log: {{level: debug, format: json}}
outbox: {{interval: 0.5s, backoff_base: 0.5s, backoff_cap: 2s, max_attempts: 4}}
scorer:
  kind: anthropic
  api_key: ${{T_ANTHROPIC_KEY}}
  base_url: {claude.url}
  timeout: 2
  max_retries: 0
sources:{_source("healthy", healthy.url)}{_source("refusing", refusing.url)}\
{_source("hanging", hanging.url, timeout=1)}{_source("failing", failing.url)}\
{_source("refused", f"http://127.0.0.1:{dead}")}
  - name: freshdesk-refusing
    kind: freshdesk
    base_url: {freshdesk.url}
    api_key: ${{T_FRESHDESK_KEY}}
    poll_interval: 1s
  - name: helpscout-refusing
    kind: helpscout
    base_url: {helpscout.url}
    client_id: sandbox-helpscout-id
    client_secret: ${{T_HELPSCOUT_SECRET}}
    poll_interval: 1s
notifiers:
  bot:
    kind: slack
    bot_token: ${{T_SLACK_TOKEN}}
    channel: "#escalations"
    base_url: {slack.url}/api
    min_interval: 0
  webhook-404:
    kind: slack
    webhook_url: ${{T_WEBHOOK_404}}
  webhook-refused:
    kind: slack
    webhook_url: ${{T_WEBHOOK_DEAD}}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions:
      add_tags: [sentiment-very-negative]
      priority: high
      note: "Very negative ({{last_score:+.2f}})"
      notify: [bot, webhook-404, webhook-refused]
    repeat_after: 24h
""")
        env = daemon_env(T_WEBHOOK_404=f"{slack.url}{WEBHOOK_PATH}",
                         T_FRESHDESK_KEY=FRESHDESK_KEY, T_HELPSCOUT_SECRET=HELPSCOUT_SECRET,
                         T_WEBHOOK_DEAD=f"http://127.0.0.1:{dead}{WEBHOOK_PATH}")
        db = StateDb(config)
        daemon = DaemonProcess(config, tmp_path / "daemon.log", env).start()

        def everything_failed_at_least_once() -> bool:
            sources = {r["source"]: r for r in db.rows("SELECT * FROM source_state")}
            outbox = db.outbox()
            return (all(sources.get(n, {}).get("last_error")
                        for n in ("refusing", "hanging", "failing", "refused",
                                  "freshdesk-refusing", "helpscout-refusing"))
                    and len(outbox) >= 4
                    and all(r["status"] == "parked" or r["target"] in ("healthy", "bot")
                            for r in outbox if r["source"] == "healthy"))

        wait_for(everything_failed_at_least_once, 90, "every error path to be taken")
        assert daemon.terminate() == 0
        outputs = {"run": daemon.log_path.read_text(errors="replace")}
        once = run_once(config, env, timeout=120, expect_exit=1)  # its sources are broken
        outputs["run --once"] = once["_output"]
        for args in (["report"], ["report", "--json"]):
            done = subprocess.run([sys.executable, "-m", "daemon.cli", *args, "--config",
                                   str(config)], cwd=REPO, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
            outputs[" ".join(args)] = done.stdout + done.stderr
        outputs["database"] = repr(db.rows("SELECT * FROM source_state")) + repr(db.outbox())

        # The paths were really taken: an auth refusal, a connection refused, timeouts,
        # 5xx and malformed bodies, a webhook 404, an invalid bot token, a scorer 401.
        events = log_events(outputs["run"])
        errors = " ".join(str(e.get("error", "")) for e in events)
        for expected in ("refused (401)", "ConnectionError", "timed out", "answered 500",
                         "not JSON", "404"):
            assert expected in errors + outputs["database"], expected
        assert any(r["status"] == "parked" for r in db.outbox())
        assert claude.calls and not any(call.api_key_ok for call in claude.calls)
        assert not slack.messages  # the bot token was wrong and the webhook unknown
        assert any(r.path == WEBHOOK_PATH and r.status == 404 for r in slack.request_log)
        assert any(r.path.endswith("chat.postMessage") for r in slack.request_log)
        assert healthy.requests_to("/incremental/ticket_events")  # the token was accepted
        assert any(r.status == 401 for r in freshdesk.request_log)
        assert any(r.status in (400, 401) for r in helpscout.request_log)

        found = {where: leaks(text) for where, text in outputs.items() if leaks(text)}
        print("\nsecrets:", {"outputs_checked": {k: len(v) for k, v in outputs.items()},
                             "log_events": len(events), "leaks": found})
        assert found == {}
    finally:
        if daemon is not None:
            daemon.kill()
        for sandbox in servers:
            sandbox.stop()


CONFIGS_WITH_SECRETS = {
    "webhook_bad_scheme": f"""
notifiers:
  escalations:
    kind: slack
    webhook_url: "ftp://hooks.slack.com{WEBHOOK_PATH}"
""",
    "webhook_with_channel": f"""
notifiers:
  escalations:
    kind: slack
    webhook_url: "https://hooks.slack.com{WEBHOOK_PATH}"
    channel: "#ops"
""",
    "token_wrong_type": f"""
sources:
  - name: zd
    kind: zendesk
    subdomain: acme
    email: bot@example.com
    api_token: {{nested: "{ZENDESK_TOKEN}"}}
""",
    "token_with_oauth": f"""
sources:
  - name: zd
    kind: zendesk
    subdomain: acme
    email: bot@example.com
    api_token: "{ZENDESK_TOKEN}"
    oauth_token: "{SLACK_BOT_TOKEN}"
""",
    "key_in_a_list": f"""
scorer:
  kind: anthropic
  api_key: ["{ANTHROPIC_KEY}"]
""",
    "key_under_unknown_key": f"""
scorer:
  kind: anthropic
  api_key: "{ANTHROPIC_KEY}"
  api_kee: "{ANTHROPIC_KEY}"
""",
    "bot_token_bad_channel": f"""
notifiers:
  escalations:
    kind: slack
    bot_token: "{SLACK_BOT_TOKEN}"
    channel: "not a channel {SLACK_BOT_TOKEN}"
""",
    "broken_yaml_after_secret": f"""
sources:
  - name: zd
    kind: zendesk
    api_token: "{ZENDESK_TOKEN}
""",
}


@pytest.mark.parametrize("name", sorted(CONFIGS_WITH_SECRETS))
def test_config_errors_never_echo_a_secret(name: str, tmp_path: Path) -> None:
    config = tmp_path / f"{name}.yaml"
    config.write_text(CONFIGS_WITH_SECRETS[name])
    code, output = check_config(config)
    assert code == 1
    assert output.startswith(f"{config}:"), output
    print(f"\n{name}: {output.strip()}")
    assert leaks(output) == []
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once", "--config",
                           str(config)], cwd=REPO, env=daemon_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert leaks(done.stdout + done.stderr) == []
