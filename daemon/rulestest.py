"""`helpdesk-sentinel rules test`: replay conversations through the rules before they go live.

In the spirit of `promtool test rules`: a YAML file lists tests, each a ticket snapshot,
messages replayed in order on a fake clock (1 minute apart unless `at` says otherwise)
and what to expect (every firing in order, tags present at the end, the priority at the
end).  Messages carry a given `score` or a `text` scored by the configured scorer after
the same normalisation the daemon applies.  The replay calls the very `rules.evaluate`
the daemon calls after every message, applies each decision with
`rules.engine.apply_actions`, and carries the rule history forward, so lifecycle,
inhibition and priority-only-raises behave exactly as in production.  Exit status: 0
when every test passes, 1 when one fails, 2 when a file cannot be read or validated.

A test may instead list several `tickets` (each a ticket and its messages, with times:
`at` as an ISO time, or `+10m` after that ticket's previous message or, for its first,
after the test's `start`).  Their messages are replayed together in time order through
the rules and through `rules.incidents.evaluate_incidents` with the config's
`incidents:` settings, the rules seeing which tickets are in an open incident (for
`inhibited_by: [incident]`); `expect.incident` then says whether an incident opens, its
members, its topic and whether it resolves (a window after the last message), and
`expect.fired_by_ticket` what each ticket's rules fired.

The file's schema and the test clock are in daemon/rulestest_spec.py, the replays in
daemon/rulestest_replay.py; this module runs the files and judges and reports each test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO, cast

from daemon.rulestest_replay import IncidentReplay, Replay, replay, replay_tickets
from daemon.rulestest_spec import Expect, TestCase, TestFileError, load_test_file
from daemon.scoring.base import Scorer
from daemon.terminal import TerminalSafe
from rules.incidents import IncidentSettings
from rules.model import RuleSet


def run_rules_test(rules: RuleSet, scorer: Scorer, files: Sequence[Path], stdout: TextIO,
                   incidents: IncidentSettings | None = None) -> int:
    """Run every test file; 0 all pass, 1 a test failed, 2 a file is invalid.  Tests with
    several tickets use `incidents` (the config's settings; the defaults otherwise)."""
    status = 0
    stdout = cast(TextIO, TerminalSafe(stdout))  # names and traces are hostile text
    for path in files:
        status = max(status, run_file(Path(path), rules, scorer, stdout, incidents))
    return status


def run_file(path: Path, rules: RuleSet, scorer: Scorer, stdout: TextIO,
             incidents: IncidentSettings | None = None) -> int:
    """One file: 2 when it cannot be read or validated (or a replay cannot run), 1 when
    a test fails, 0 when all pass; each test's verdict as it comes."""
    try:
        doc, test_file = load_test_file(path, rules)
    except TestFileError as exc:
        stdout.write("\n".join(exc.messages) + "\n")
        return 2
    failed = 0
    stdout.write(f"{path}\n")
    for index, case in enumerate(test_file.tests):
        where = f"{doc.path}:{doc.line_of(('tests', index))}"
        try:
            problems, trace = _check(case, rules, scorer, incidents)
        except ValueError as exc:
            stdout.write(f"{where}: tests[{index}]: {exc}\n")
            return 2
        failed += bool(problems)
        _write_verdict(stdout, case.name, where, problems, trace)
    passed = len(test_file.tests) - failed
    stdout.write(f"  {passed} passed, {failed} failed\n")
    return 1 if failed else 0


def _check(case: TestCase, rules: RuleSet, scorer: Scorer,
           incidents: IncidentSettings | None) -> tuple[list[str], list[str]]:
    """The test's unmet expectations and the replay's trace."""
    if case.tickets:
        several = replay_tickets(case, rules, scorer, incidents or IncidentSettings())
        return compare_tickets(case.expect, several), several.trace
    result = replay(case, rules, scorer)
    return compare(case.expect, result), result.trace


def _write_verdict(stdout: TextIO, name: str, where: str, problems: list[str],
                   trace: list[str]) -> None:
    if not problems:
        stdout.write(f"  PASS  {name}\n")
        return
    stdout.write(f"  FAIL  {name}  ({where})\n")
    for problem in problems:
        stdout.write(f"        {problem}\n")
    stdout.write("        replay:\n")
    for line in trace:
        stdout.write(f"          {line}\n")


def compare(expect: Expect, result: Replay) -> list[str]:
    """One line per unmet expectation, `what: expected X, got Y`."""
    problems: list[str] = []
    assert result.ticket is not None
    if expect.fired is not None and list(expect.fired) != result.fired:
        problems.append(f"fired: expected {list(expect.fired)}, got {result.fired}")
    if expect.resolved is not None and list(expect.resolved) != result.resolved:
        problems.append(f"resolved: expected {list(expect.resolved)}, got {result.resolved}")
    if expect.tags is not None:
        missing = [tag for tag in expect.tags if tag not in result.ticket.tags]
        if missing:
            problems.append(f"tags: expected {list(expect.tags)} present, missing {missing}; "
                            f"got {sorted(result.ticket.tags)}")
    if expect.absent_tags is not None:
        present = [tag for tag in expect.absent_tags if tag in result.ticket.tags]
        if present:
            problems.append(f"absent_tags: expected {list(expect.absent_tags)} absent, "
                            f"present {present}")
    if expect.priority is not None and expect.priority != result.ticket.priority:
        problems.append(f"priority: expected {expect.priority}, got {result.ticket.priority}")
    return problems


def compare_tickets(expect: Expect, result: IncidentReplay) -> list[str]:
    problems: list[str] = []
    wanted = expect.incident
    if wanted is not None:
        if not wanted.opened:
            if result.opened:
                problems.append(f"incident: expected none, got {result.opened}")
        elif not result.opened:
            problems.append("incident: expected one to open, none did")
        else:
            incident_id = next(iter(result.members))
            members = sorted(result.members[incident_id])
            if wanted.members is not None and sorted(wanted.members) != members:
                problems.append(f"incident.members: expected {sorted(wanted.members)}, "
                                f"got {members}")
            if wanted.min_members is not None and len(members) < wanted.min_members:
                problems.append(f"incident.min_members: expected {wanted.min_members}, "
                                f"got {len(members)}")
            topic = result.topics[incident_id]
            if wanted.topic is not None and wanted.topic.lower() not in topic.lower():
                problems.append(f"incident.topic: expected {wanted.topic!r} in {topic!r}")
            if wanted.resolved is not None and wanted.resolved != (incident_id in
                                                                    result.resolved):
                problems.append(f"incident.resolved: expected {wanted.resolved}")
    for ticket_id, fired in (expect.fired_by_ticket or {}).items():
        got = result.fired.get(ticket_id)
        if got is None:
            problems.append(f"fired_by_ticket: no ticket {ticket_id!r} in the test")
        elif list(fired) != got:
            problems.append(f"fired_by_ticket[{ticket_id}]: expected {list(fired)}, got {got}")
    return problems
