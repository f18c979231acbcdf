"""The command line a newcomer meets: --version, help with examples for every option, the
default config path, and `backfill --since -30d` working as its help says."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from daemon.cli import DEFAULT_CONFIG, build_parser, join_time_ago_values, main
from tests.daemon.test_daemon_parts import _setup


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"helpdesk-sentinel {metadata.version('helpdesk-sentinel')}\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_every_command_and_option_has_help_and_examples() -> None:
    commands = _subparsers(build_parser())
    assert set(commands) == {"run", "check-config", "rules", "rules test", "eval", "report",
                             "dashboard", "backfill", "forget", "train", "check-source"}
    for name, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("examples:\n  helpdesk-sentinel "), name
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 15, (name, action.dest)
            if action.dest == "config":
                assert action.default == DEFAULT_CONFIG and DEFAULT_CONFIG in action.help
    assert f"(default: {DEFAULT_CONFIG})" in build_parser().format_help()


def test_backfill_since_with_a_space_works_as_its_help_says(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    try:
        done = _cli("backfill", "--config", str(path), "--source", "zd", "--since", "-7d")
    finally:
        sandbox.stop()
    assert done.returncode == 0, done.stderr
    assert "6 fetched, 6 new, 3 scored, 0 escalated" in done.stdout


@pytest.mark.parametrize("since", ["-30d", "-12h", "-90m", "2026-11-01", "2026-11-01T09:00Z"])
def test_since_accepts_both_spellings_and_both_forms(since: str) -> None:
    parser = build_parser()
    for argv in (["backfill", "--source", "zd", "--since", since],
                 ["backfill", "--source", "zd", f"--since={since}"],
                 ["backfill", "--since", since, "--source", "zd"]):
        args = parser.parse_args(join_time_ago_values(argv))
        assert (args.since, args.source) == (since, "zd")


@pytest.mark.parametrize("since", ["-3x", "yesterday", "2026-13-01"])
def test_a_bad_since_is_refused_before_any_work(since: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["backfill", "--config", "/nonexistent.yaml", "--source", "zd", "--since", since])
    assert done.value.code == 2
    assert (f"argument --since: {since!r} is not a time: use an ISO date or time (2026-11-01, "
            "2026-11-01T09:00Z) or a time ago (-30d, -12h, -90m)") in capsys.readouterr().err


def test_missing_default_config_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    if Path(DEFAULT_CONFIG).exists():
        pytest.skip(f"{DEFAULT_CONFIG} exists on this machine; the message is for when it does not")
    assert main(["check-config"]) == 1
    assert capsys.readouterr().err == (
        f"{DEFAULT_CONFIG}: no config file here (the default). Pass --config FILE; the "
        "repository's config.yaml is a working example.\n")


def test_backfill_with_refused_credentials_says_so_in_one_line(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    path.write_text(path.read_text().replace("api_token: parts-token-9911",
                                             "api_token: wrong-token-4242"))
    try:
        done = _cli("backfill", "--config", str(path), "--source", "zd", "--since", "-7d")
    finally:
        sandbox.stop()
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "wrong-token-4242" not in done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("backfill zd:")]
    assert line.startswith("backfill zd: stopped after 0 fetched: ") and "401" in line


def test_backfill_of_a_misspelt_source_names_the_closest(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    try:
        done = _cli("backfill", "--config", str(path), "--source", "zdd", "--since", "-7d")
    finally:
        sandbox.stop()
    assert done.returncode == 2
    assert "unknown source 'zdd'; configured: zd; did you mean zd?" in done.stdout
