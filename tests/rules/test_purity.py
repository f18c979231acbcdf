"""rules/ stays pure: no daemon or connectors imports, no I/O modules, no clock reads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "rules"
FORBIDDEN_MODULES = {"daemon", "connectors", "os", "io", "socket", "time", "random",
                     "requests", "sqlalchemy", "sqlmodel", "subprocess", "pathlib", "yaml",
                     "logging", "structlog"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic"}


@pytest.mark.parametrize("path", sorted(RULES.glob("*.py")), ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            roots = set()
        line = getattr(node, "lineno", 0)
        assert not roots & FORBIDDEN_MODULES, f"{path.name}:{line} imports {roots}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_READS, f"{path.name}:{line} reads a clock"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"open", "eval", "exec", "print", "input"}, \
                f"{path.name}:{line} calls {node.func.id}"
