"""Plan stage: a resolved query as a tree of operators, and ``explain`` text for it.

Each question becomes one operator that reads the concept space (FAISS, the supports'
inverted index, feature statistics) or runs the matcher, followed by the filters its
modifiers ask for: a SPARQL semi-join (the candidates pushed into the pattern as
``VALUES``, so the store only checks those), thresholds, ordering and a limit. Set
operations combine operators by the rows' identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kgalign.errors import QuerySyntaxError
from kgalign.index.operators import NATURAL_ORDER, OPERATORS
from kgalign.query.ast import (
    Align,
    Bridges,
    ExplainFeature,
    FeaturesOf,
    Modifiers,
    Question,
    RulesUsing,
    SetOp,
    SharingFeatures,
    SimilarTo,
    SparqlFilter,
    SparqlQuery,
    SparqlSource,
    SymbolsActivating,
    Threshold,
)
from kgalign.query.resolve import Resolver
from kgalign.symbolic.symbols import Symbol

if TYPE_CHECKING:
    from kgalign.query.context import QueryContext

#: Rows a question returns when the query names no limit (``rules using`` is a symbolic question,
#: answered from the rules' atoms, not an operator over the concept space).
DEFAULT_LIMITS = {**{k: o.default_limit for k, o in OPERATORS.items()}, "rules_using": None}
#: Inside a set operation, operands without their own limit look this far.
OPERAND_LIMIT = 200
#: Operators that can return just the first k candidates (and widen the window when filters need more).
WINDOWED = tuple(k for k, o in OPERATORS.items() if o.windowed)


@dataclass
class QuestionOp:
    """One question, resolved: ``args`` holds its symbol / graphs / features."""

    question: Question
    kind: str
    args: dict[str, Any]
    graphs: set[str] | None
    limit: int | None
    thresholds: tuple[Threshold, ...]
    order_by: tuple[Any, ...]
    where: SparqlFilter | None
    returns: str

    def describe(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        lines = []
        if self.limit is not None:
            lines.append(f"{pad}Limit {self.limit}")
            depth += 1
            pad = "  " * depth
        if self.order_by:
            keys = ", ".join(f"{o.field} {'desc' if o.descending else 'asc'}" for o in self.order_by)
            lines.append(f"{pad}Order by {keys}")
            depth += 1
            pad = "  " * depth
        if self.where is not None and self.kind != "sparql_source":
            lines.append(f"{pad}SPARQL semi-join {{ {self.where.pattern_text.strip()} }} (candidates pushed down as VALUES)")
            depth += 1
            pad = "  " * depth
        for t in self.thresholds:
            lines.append(f"{pad}Filter {t.field} {t.op} {t.value:g}")
            depth += 1
            pad = "  " * depth
        source = self._source()
        if self.limit is not None and self.kind in WINDOWED and (self.where is not None or self.thresholds):
            keys = [(o.field, o.descending) for o in self.order_by]
            if not keys or keys == [NATURAL_ORDER[self.kind]]:
                source += f" (first {self.limit * 4} candidates, widened ×8 until {self.limit} pass)"
        lines.append(f"{pad}{source}")
        return lines

    def _source(self) -> str:
        a = self.args
        sym: Symbol | None = a.get("symbol")
        return OPERATORS[self.kind].description.format(
            name=f"{sym.label} <{sym.iri}> ({sym.graph})" if sym else "",
            features=a.get("features"), source=a.get("source"), target=a.get("target"),
            matcher=a["matcher"].describe() if a.get("matcher") else "",
            graphs=f" in graphs {sorted(self.graphs)}" if self.graphs else "",
            pattern=self.where.pattern_text.strip() if self.where else "",
        )


@dataclass
class SetOpPlan:
    """``and`` / ``or`` / ``except`` by the rows' identity, in the left side's order (``or`` appends
    the right side's new rows). Operands without a ``limit`` look :data:`OPERAND_LIMIT` deep, and
    then the outermost operation keeps as many rows as the largest of its questions would alone
    (its ``limit`` or its default), so ``Q and Q``, ``Q or Q`` and ``Q`` give the same rows; when
    every question has its own ``limit`` the result is already bounded and is kept whole."""

    op: str
    left: Any
    right: Any
    returns: str
    limit: int | None = None

    def describe(self, depth: int = 0) -> list[str]:
        name = {"and": "Intersect", "or": "Union", "except": "Difference"}[self.op]
        lines = []
        if self.limit is not None:
            lines.append("  " * depth + f"Limit {self.limit}")
            depth += 1
        return [*lines, "  " * depth + name, *self.left.describe(depth + 1), *self.right.describe(depth + 1)]


@dataclass
class SparqlPlan:
    text: str
    returns: str = "sparql"
    #: where the query stands in the DSL text (SPARQL error positions are moved there)
    span: Any = None

    def describe(self, depth: int = 0) -> list[str]:
        lines = self.text.strip().splitlines() or [""]
        more = " …" if len(lines) > 1 else ""
        return ["  " * depth + f"SPARQL query: {lines[0]}{more}"]


@dataclass
class Plan:
    root: Any
    explain_only: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return "\n".join(self.root.describe())


def plan(ws: QueryContext, node: Any, *, operand: bool = False) -> Any:
    """Resolve and plan one AST node (not an ``Explain``: see :func:`kgalign.query.engine.run`)."""
    if isinstance(node, SparqlQuery):
        return SparqlPlan(node.text, span=node.span)
    if isinstance(node, SetOp):
        left = plan(ws, node.left, operand=True)
        right = plan(ws, node.right, operand=True)
        return SetOpPlan(node.op, left, right, left.returns, None if operand else _set_limit(node))
    assert isinstance(node, Question)
    r = Resolver(ws)
    m: Modifiers = node.modifiers
    args: dict[str, Any] = {}
    if isinstance(node, (SharingFeatures, SimilarTo, FeaturesOf)):
        args["symbol"] = r.symbol(node.symbol, results_filter=not isinstance(node, FeaturesOf))
    if isinstance(node, (SymbolsActivating, ExplainFeature)):
        args["features"] = [r.feature(f) for f in node.features]
    if isinstance(node, (Align, Bridges)):
        args["source"], args["target"] = r.graph(node.source), r.graph(node.target)
    if isinstance(node, Align):
        args["matcher"] = ws.matcher_plan(args["source"], args["target"])
    graphs = {r.graph(m.graph)} if m.graph is not None else None
    limit = m.limit if m.limit is not None else DEFAULT_LIMITS[node.kind]
    if operand and m.limit is None:
        limit = OPERAND_LIMIT if limit is not None else None
    where = node.pattern if isinstance(node, SparqlSource) else m.where
    if isinstance(node, RulesUsing):  # a SPARQL source over the rules' kga:usesSymbol links
        from kgalign.symbolic.rules import rules_using_pattern

        sym = r.symbol(node.symbol, results_filter=True)
        if m.where is not None:
            raise QuerySyntaxError("'rules using' takes no 'where' pattern; write 'symbols where { ... }'")
        where = SparqlFilter(rules_using_pattern(sym.iri), span=node.span)
        return QuestionOp(node, "sparql_source", {"symbol": sym}, graphs, limit, m.thresholds, m.order_by, where,
                          node.spec.returns)
    return QuestionOp(node, node.kind, args, graphs, limit, m.thresholds, m.order_by, where, node.spec.returns)


def _set_limit(node: SetOp) -> int | None:
    """How many rows a set operation keeps (see :class:`SetOpPlan`)."""
    questions, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, SetOp):
            stack.extend((n.left, n.right))
        else:
            questions.append(n)
    if all(q.modifiers.limit is not None for q in questions):
        return None
    limits = [q.modifiers.limit if q.modifiers.limit is not None else DEFAULT_LIMITS[q.kind] for q in questions]
    return None if None in limits else max(limits)
