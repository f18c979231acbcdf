"""The `expr` escape hatch: a sandboxed boolean expression over a conversation's features.

Support-ops people can write `expr: "current_avg < -0.4 and 'vip' in tags"` when the
named conditions are not enough.  It is never `eval`: the text is parsed with `ast`
in expression mode, checked against a small allow-list of syntax (comparisons,
arithmetic, `and`/`or`/`not`, `in`, literals, a few pure functions; no attributes, no
comprehensions, no powers, `%` on numbers only: string formatting can build gigabytes)
and known feature names when the config loads, then run by
`simpleeval` (a well-kept sandboxed evaluator with its own limits) over plain values.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from simpleeval import DEFAULT_OPERATORS, EvalWithCompoundTypes

#: Names an expression can read, with a sample of the runtime type (used for the
#: load-time dry run).  Scores are raw; direction and current_avg are rounded to 2
#: decimals like everywhere else.
FEATURES: Mapping[str, Any] = {
    "trend": "declining",  # per the rule's method and decline_threshold
    "direction": -0.42,
    "current_avg": -0.61,
    "last_score": -0.8,
    "min_score": -0.8,
    "max_score": 0.3,
    "mean_score": -0.2,
    "messages": 4,  # customer messages scored so far
    "scores": (0.3, -0.1, -0.4, -0.8),  # oldest first
    "signals": frozenset({"churn_risk"}),  # in the last `signals_window` messages
    "tags": frozenset({"vip"}),
    "priority": "normal",  # "" when the helpdesk has none
    "priority_rank": 1,  # low=0 normal=1 high=2 urgent=3, -1 when unknown
    "status": "open",
    "source": "zendesk",
    "language": "de",  # the latest customer message's (ISO 639-1), "" when unknown
}

FUNCTIONS: Mapping[str, Any] = {
    "abs": abs, "min": min, "max": max, "len": len, "round": round, "sum": sum,
    "int": int, "float": float,
}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Name, ast.Load, ast.Constant, ast.Call, ast.IfExp, ast.Tuple, ast.List, ast.Set,
    ast.Subscript, ast.Slice,
)

_MAX_NODES = 200


class ExprError(ValueError):
    """An expression that is not allowed; the message names the problem, never data."""


@lru_cache(maxsize=512)
def validate_expr(expression: str) -> ast.expr:
    """Parse and check an expression; returns the tree to evaluate.  Raises ExprError."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"expr is not a valid expression: {exc.msg}"
                        f" (column {exc.offset or 0})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_NODES:
        raise ExprError(f"expr is too long ({len(nodes)} parts; the limit is {_MAX_NODES})")
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise ExprError(f"expr: {type(node).__name__} is not allowed (use comparisons, "
                            f"and/or/not, in, arithmetic and {', '.join(sorted(FUNCTIONS))})")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise ExprError(f"expr: only these functions can be called: "
                                f"{', '.join(sorted(FUNCTIONS))}")
            if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
                raise ExprError("expr: functions take plain positional arguments only")
        elif isinstance(node, ast.Name):
            if node.id not in FEATURES and node.id not in FUNCTIONS:
                raise ExprError(f"expr: unknown name {node.id!r} (known: "
                                f"{', '.join(sorted(FEATURES))})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) \
                and len(node.value) > 200:
            raise ExprError("expr: string literals are limited to 200 characters")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) \
                and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            raise ExprError(f"expr: {_MOD_MESSAGE}")
    try:
        run_expr(tree.body, FEATURES)
    except TypeError as exc:
        # A type mix-up (`trend < 1`) shows on any data; other runtime errors (a
        # division by zero) depend on the data and are handled when evaluating.
        raise ExprError(f"expr does not fit the feature types: {exc}") from None
    except Exception:  # see above: not a config error
        pass
    return tree.body


_MOD_MESSAGE = "% takes numbers only (string formatting is not allowed)"


def _number_mod(left: Any, right: Any) -> Any:
    # `'%999999999s' % x` builds a gigabyte string: `%` is a remainder of numbers here.
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        raise TypeError(_MOD_MESSAGE)
    return left % right


_OPERATORS: Mapping[type[ast.AST], Any] = {**DEFAULT_OPERATORS, ast.Mod: _number_mod}


def run_expr(tree: ast.expr, features: Mapping[str, Any]) -> bool:
    """Evaluate a validated expression over features; exceptions propagate to the caller."""
    evaluator = EvalWithCompoundTypes(operators=dict(_OPERATORS), names=dict(features),
                                      functions=dict(FUNCTIONS))
    return bool(evaluator.eval("", previously_parsed=tree))
