"""The config snippets of docs/connect.md load, so the walk-through cannot drift from the
code: every source and notifier shown validates with its credentials in place."""

from __future__ import annotations

import re
from pathlib import Path

from daemon.config import load_config

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "connect.md").read_text()


def _blocks() -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    # Blocks inside a numbered step are indented by 3 spaces: take that indent off.
    return [re.sub(r"^ {3}", "", b, flags=re.M).rstrip() + "\n" if b.startswith("   ")
            else b for b in blocks]


def test_every_snippet_of_the_walk_through_is_a_valid_config(tmp_path: Path) -> None:
    credentials = tmp_path / "credstore"
    credentials.mkdir()
    names = set(re.findall(r"credential:([a-z0-9-]+)", DOC))
    assert {"zendesk-oauth-token", "freshdesk-api-key", "helpscout-app-secret",
            "slack-bot-token"} <= names
    for name in names:
        (credentials / name).write_text("secret-value-for-tests\n")
    sources = [b for b in _blocks() if b.startswith("sources:")]
    notifiers = [b for b in _blocks() if b.startswith("notifiers:")]
    assert len(sources) == 3 and len(notifiers) == 1
    for source in sources:
        path = tmp_path / "config.yaml"
        path.write_text(f"state_dir: {tmp_path / 'state'}\n{source}{notifiers[0]}")
        config = load_config(path, env={"CREDENTIALS_DIRECTORY": str(credentials)})
        (loaded,) = config.sources
        assert loaded.name.endswith("-main")
        assert list(config.notifiers) == ["escalations"]


def test_the_sources_it_cites_are_public_urls() -> None:
    urls = re.findall(r"<(https?://[^>]+)>", DOC)
    assert len(urls) >= 6 and all(u.startswith("https://") for u in urls)
    assert "shared" not in DOC
