"""Messages scored offline while Claude was down are re-scored by Claude when it is back.

The real `anthropic` SDK talks to the Messages-API sandbox over a socket; the daemon's
pipeline stores the fallback scores (marked), and `Daemon.rescore` replaces them.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from connectors.sandbox.anthropic import AnthropicSandbox
from daemon.config import load_config
from daemon.service import Daemon
from daemon.store import T_MESSAGE
from tests.daemon.helpers import message

CONFIG = """
state_dir: {state}
scorer:
  kind: anthropic
  api_key: sk-ant-sandbox
  base_url: {url}
  max_retries: 0
  timeout: 5
  cache: {{enabled: false}}
  breaker: {{failure_threshold: 100, reset_after: 1s}}
"""


def test_fallback_scores_are_replaced_when_claude_is_back(tmp_path: Path) -> None:
    sandbox = AnthropicSandbox().start()
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", url=sandbox.url))
    daemon = Daemon(load_config(path, env={})).build()
    try:
        daemon.store.sources.ensure(["zd"])
        sandbox.default_behaviour = "server_error"
        batch = [message("1", "9", "This is awful, my invoice is wrong again."),
                 message("2", "9", "Thanks, that worked great!", minutes=5)]
        result = daemon.pipeline.process("zd", batch, "c1")
        assert result.fallbacks and sum(result.fallbacks.values()) == 2
        assert daemon.rescore() == 0  # still down: the fallback scores stay, still marked
        sandbox.default_behaviour = "ok"
        calls_before = len(sandbox.calls)
        assert daemon.rescore() == 2
        assert len(sandbox.calls) > calls_before
        with daemon.store.reading() as conn:
            rows = conn.execute(sa.select(T_MESSAGE.c.scorer, T_MESSAGE.c.needs_rescore)
                                ).all()
        assert sorted(rows) == [("anthropic", False), ("anthropic", False)]
        assert daemon.rescore() == 0  # nothing left to do
    finally:
        daemon.close()
        sandbox.stop()
