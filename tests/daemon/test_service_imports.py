"""The daemon does not load httpx unless the Claude scorer made a client, and its
shutdown still stops that scorer's clients when it did."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from daemon import service
    assert "httpx2" not in sys.modules, "httpx loaded at start"
    service._stop_limited_clients(grace=0.0)  # nothing to stop, and no import for it
    assert "httpx2" not in sys.modules, "httpx loaded at shutdown"
    from daemon.scoring.http_limits import LimitedTransport
    transport = LimitedTransport(deadline=60.0)
    assert transport.stop_at is None
    service._stop_limited_clients(grace=30.0)
    assert transport.stop_at is not None, "the Claude scorer's client was not stopped"
    print("ok")
""")


def test_httpx_is_loaded_only_for_the_claude_scorer_and_its_clients_are_stopped() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
