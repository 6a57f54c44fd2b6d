"""The query pipeline in visible stages: parse → resolve and plan → execute.

>>> # run(ws, "symbols similar to duty_of_care limit 5")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from kgalign.errors import QuerySyntaxError
from kgalign.query.ast import Explain
from kgalign.query.execute import execute
from kgalign.query.parser import parse
from kgalign.query.plan import Plan, plan
from kgalign.query.result import Result

if TYPE_CHECKING:
    from kgalign.query.context import QueryContext


#: Parsed queries by text: the AST is immutable, and dashboards ask the same questions again.
_parse = functools.lru_cache(maxsize=512)(parse)


def make_plan(ws: QueryContext, text: str) -> Plan:
    """Parse, resolve and plan ``text`` (an ``explain`` query plans what it wraps)."""
    node = _parse(text)
    explain_only = isinstance(node, Explain)
    if explain_only:
        node = node.query
    return Plan(plan(ws, node), explain_only=explain_only)


def explain(ws: QueryContext, text: str) -> str:
    """The plan of a query as indented text."""
    return make_plan(ws, text).describe()


def run(ws: QueryContext, text: str) -> Result:
    """Run a DSL query (or a whole SPARQL query) and return a typed :class:`Result`."""
    t0 = time.perf_counter()
    try:
        p = make_plan(ws, text)
        if p.explain_only:
            desc = p.describe()
            return Result("plan", ["plan"], [{"plan": line} for line in desc.splitlines()], plan=desc,
                          elapsed_ms=(time.perf_counter() - t0) * 1000)
        result = execute(ws, p.root)
    except QuerySyntaxError as e:
        if not e.text:  # errors raised inside a SPARQL pattern: attach the query text for the caret
            raise QuerySyntaxError(e.message, text=text, line=e.line, column=e.column, expected=e.expected) from None
        raise
    result.plan = p.describe()
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    return result
