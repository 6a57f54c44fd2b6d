"""Execute stage: run a plan against the store, the concept space and the matcher."""

from __future__ import annotations

import operator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import KgalignError, QuerySyntaxError
from kgalign.index import operators
from kgalign.index.operators import Candidates
from kgalign.query.ast import SparqlFilter
from kgalign.query.plan import QuestionOp, SetOpPlan, SparqlPlan
from kgalign.query.result import DEFAULT_COLUMNS, FeatureHit, PairHit, Result, SymbolHit
from kgalign.store.terms import Literal, NamedNode, Solutions, Triples
from kgalign.symbolic.store import escape_iri

if TYPE_CHECKING:
    from kgalign.query.context import QueryContext

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq, "!=": operator.ne}
#: Above this many candidates the SPARQL semi-join runs the pattern once and intersects.
VALUES_PUSHDOWN_MAX = 2000


def execute(ws: QueryContext, node: Any) -> Result:
    """Run a plan: a whole SPARQL query, a set operation or one question."""
    if isinstance(node, SparqlPlan):
        return run_sparql(ws, node.text, node.span)
    if isinstance(node, SetOpPlan):
        result = _set_op(ws, node)
        if node.limit is not None:
            result.rows = result.rows[: node.limit]
        return result
    assert isinstance(node, QuestionOp)
    rows, extra = _question(ws, node)
    return Result(node.returns, _columns(node.returns, rows), rows, extra=extra)


def _set_op(ws: QueryContext, node: SetOpPlan) -> Result:
    left = _set_op(ws, node.left) if isinstance(node.left, SetOpPlan) else execute(ws, node.left)
    right = _set_op(ws, node.right) if isinstance(node.right, SetOpPlan) else execute(ws, node.right)
    rk = {_key(r) for r in right.rows}
    if node.op == "and":
        rows = [r for r in left.rows if _key(r) in rk]
    elif node.op == "except":
        rows = [r for r in left.rows if _key(r) not in rk]
    else:
        seen = {_key(r) for r in left.rows}
        rows = list(left.rows) + [r for r in right.rows if _key(r) not in seen]
    columns = list(left.columns) + [c for c in right.columns if c not in left.columns and node.op == "or"]
    return Result(left.kind, columns, rows)


def _columns(kind: str, rows: list[Any]) -> list[str]:
    """The kind's identity columns, then the first row's scalar fields, then its list fields."""
    columns = list(DEFAULT_COLUMNS.get(kind, []))
    for r in rows[:1]:
        for k in r.fields:
            if k not in columns and not isinstance(r.fields[k], (list, dict)):
                columns.append(k)
        for k in r.fields:
            if k not in columns:
                columns.append(k)
    return columns


def _key(row: Any) -> Any:
    return row.key


def _sort_key(v: Any) -> tuple:
    if v is None:
        return (1, 0)
    return (0, v.lower() if isinstance(v, str) else v)


def _field(row: Any, name: str) -> Any:
    if name in row.fields:
        return row.fields[name]
    if name == "symbol" and isinstance(row, SymbolHit):
        return row.label
    if name == "feature" and isinstance(row, FeatureHit):
        return row.feature
    alias = {"source": "source_label", "target": "target_label"}
    return getattr(row, alias.get(name, name), None)


def _hit(ws: QueryContext, key: tuple[str, str], score: float | None, table: Any = None, **fields: Any) -> SymbolHit:
    s = (table or ws.symbol_table).get(key[1], key[0])
    label = s.label if s else key[1]
    kind = s.kind if s else ""
    return SymbolHit(key[0], key[1], label, kind, None if score is None else round(float(score), 6), fields)


def _feature(ws: QueryContext, f: int, strength: float | None = None, **fields: Any) -> FeatureHit:
    space = ws.space
    d = space.feature_density(f)
    return FeatureHit(f, space.feature_label(f), None if d is None else round(d, 7),
                      None if strength is None else round(float(strength), 6), fields)


# -- questions over the concept space (vectorised: see kgalign.index.operators) --------------------

#: Questions answered by an operator of :mod:`kgalign.index.operators`.
NEURAL_QUESTIONS = tuple(k for k, o in operators.OPERATORS.items() if o.source is not None)
#: A filtered question first looks this many times its limit deep, and widens by this factor.
FIRST_WINDOW, WIDEN = 4, 8


def _question(ws: QueryContext, op: QuestionOp) -> tuple[list[Any], dict]:
    if op.kind in ("align", "bridges", "sparql_source"):
        return _row_question(ws, op)
    space = ws.space
    if op.kind == "explain_feature":  # one report per feature, each with its own limit
        rows, info = [], []
        stats = space.stats
        for f in op.args["features"]:
            info.append({"feature": f, "label": space.feature_label(f), "density": space.feature_density(f),
                         "snippets": stats.snippets[f][:5] if stats else []})
            rows.extend(_materialise(ws, op, _answer(ws, op, [f])))
        return rows, {"features": info}
    cand = _answer(ws, op, op.args.get("features"))
    rows = _materialise(ws, op, cand)
    if op.kind == "sharing_features":
        return rows, {"query_symbol": op.args["symbol"].to_dict()}
    return rows, {}


def _source(ws: QueryContext, op: QuestionOp, features: list[int] | None, k: int | None) -> Candidates:
    """The question's candidates from its operator (:data:`kgalign.index.operators.OPERATORS`), the
    first ``k`` (or all) in natural order, with a stability column for symbols."""
    space = ws.space
    args = dict(op.args)
    if features is not None:
        args["features"] = features
    if op.kind == "blind_spots":
        min_density = operators.BLIND_SPOT_MIN_DENSITY
        for t in op.thresholds:  # a lower density threshold asks for rarer features than the default
            if t.field == "density" and t.op in (">", ">="):
                min_density = min(min_density, t.value)
        args["min_density"] = min_density
    source = operators.OPERATORS[op.kind].source
    assert source is not None, op.kind
    cand = source(space, args, op.graphs, k)
    if operators.OPERATORS[op.kind].returns == "symbols" and "stability" not in cand.cols:
        cand.cols["stability"] = space.table.stability[cand.ids].astype(np.float64)
    return _rounded(cand)


#: Decimals each number is shown with; thresholds and ``order by`` compare the numbers as shown.
DECIMALS = operators.DECIMALS
_rounded = operators.rounded


def _answer(ws: QueryContext, op: QuestionOp, features: list[int] | None) -> Candidates:
    """Source → SPARQL semi-join and thresholds → order → limit, widening the source's window while
    filters leave fewer rows than the limit and more candidates remain."""
    natural = operators.NATURAL_ORDER[op.kind]
    keys = [(o.field, o.descending) for o in op.order_by]
    reordered = bool(keys) and keys != [natural]
    filtered = op.where is not None or bool(op.thresholds)
    limit = op.limit
    if limit is None or reordered:
        k = None  # every candidate: a new order may bring any of them to the top
    else:
        k = limit * FIRST_WINDOW if filtered else limit
    while True:
        cand = _source(ws, op, features, k)
        kept = _filter(ws, op, cand)
        if k is None or cand.complete or len(kept) >= limit or _past_threshold(op, cand, natural):
            break
        k = k * WIDEN
    if reordered:
        kept = kept.take(_order(ws, op, kept))
    if limit is not None:
        kept = kept.take(slice(0, limit))
    return kept


def _filter(ws: QueryContext, op: QuestionOp, cand: Candidates) -> Candidates:
    keep = np.ones(len(cand), bool)
    for t in op.thresholds:
        col = cand.cols.get(t.field)
        if col is None:
            keep[:] = False
            continue
        with np.errstate(invalid="ignore"):
            keep &= _OPS[t.op](col, t.value) & ~np.isnan(col)
    cand = cand.take(keep)
    if op.where is not None and len(cand):
        iris = _candidate_iris(ws, op, cand)
        found = set(_sparql_bindings(ws, op.where, _variable(op),
                                     iris if len(set(iris)) <= VALUES_PUSHDOWN_MAX else None))
        cand = cand.take(np.fromiter((i in found for i in iris), bool, count=len(iris)))
    return cand


def _past_threshold(op: QuestionOp, cand: Candidates, natural: tuple[str, bool] | None) -> bool:
    """Whether a threshold on the natural order's field already fails at the window's last candidate
    (then no later candidate can pass it, and widening is pointless)."""
    if natural is None or not len(cand):
        return False
    field, descending = natural
    last = cand.cols[field][-1]
    for t in op.thresholds:
        if t.field == field and t.op in ((">", ">=") if descending else ("<", "<=")) and not _OPS[t.op](last, t.value):
            return True
    return False


def _order(ws: QueryContext, op: QuestionOp, cand: Candidates) -> np.ndarray:
    """Positions of ``cand`` sorted by the ``order by`` keys (missing values last), ties kept in
    natural order."""
    n = len(cand)
    keys: list[np.ndarray] = [np.arange(n)]
    for o in reversed(op.order_by):
        if o.field in cand.cols:
            v = cand.cols[o.field].astype(np.float64)
            missing = np.isnan(v)
            v = np.where(missing, 0.0, -v if o.descending else v)
        else:  # textual: the symbol's label, or the feature's index
            texts = _texts(ws, op, cand, o.field)
            _, rank = np.unique(np.asarray([t.lower() if isinstance(t, str) else str(t) for t in texts], dtype=object),
                                return_inverse=True)
            v = -rank if o.descending else rank
            missing = np.zeros(n, bool)
        keys.extend([v, missing])
    return np.lexsort(keys)


def _texts(ws: QueryContext, op: QuestionOp, cand: Candidates, field: str) -> list[Any]:
    if op.returns == "features" or field == "feature":
        return [f"{int(f):012d}" for f in (cand.ids if op.returns == "features" else cand.cols["feature"])]
    table, keys = ws.symbol_table, ws.space.keys
    out = []
    for i in cand.ids:
        g, iri = keys[int(i)]
        s = table.get(iri, g)
        out.append(s.label if s else iri)
    return out


def _variable(op: QuestionOp) -> str:
    return "feature" if op.returns == "features" else "source" if op.returns == "pairs" else "symbol"


def _candidate_iris(ws: QueryContext, op: QuestionOp, cand: Candidates) -> list[str]:
    if op.returns == "features":
        return [f"urn:kgalign:feature:{int(f)}" for f in cand.ids]
    keys = ws.space.keys
    return [keys[int(i)][1] for i in cand.ids]


def _r(x: Any, nd: int) -> float | None:
    x = float(x)
    return None if np.isnan(x) else round(x, nd)


def _materialise(ws: QueryContext, op: QuestionOp, cand: Candidates) -> list[Any]:
    """Typed rows, with labels and the question's extra fields, for the candidates that survived."""
    space, kind, c = ws.space, op.kind, cand.cols
    if kind == "features_of":
        return [_feature(ws, int(f), c["strength"][j], fired_in=_r(c["fired_in"][j], 3)) for j, f in enumerate(cand.ids)]
    if kind == "blind_spots":
        stats = space.stats
        return [_feature(ws, int(f), c["strength"][j], snippets=[s["text"] for s in stats.snippets[int(f)][:3]])
                for j, f in enumerate(cand.ids)]
    keys, table = space.keys, ws.symbol_table
    rows = []
    if kind == "sharing_features":
        s = op.args["symbol"]
        mine = {f: w for f, w, _ in space.support_of((s.graph, s.iri))}
    for j, i in enumerate(cand.ids):
        k = keys[int(i)]
        st = _r(c["stability"][j], 4)
        if kind == "sharing_features":
            theirs = {f: w for f, w, _ in space.table.support(int(i))}
            shared = sorted(set(mine) & set(theirs), key=lambda f: (-min(mine[f], theirs[f]), f))
            ov = c["overlap"][j]
            rows.append(_hit(ws, k, table=table, score=ov, overlap=_r(ov, 6), shared=int(c["shared"][j]), stability=st,
                             shared_features=[f"{f}: {space.feature_label(f)}" for f in shared[:8]]))
        elif kind == "similar_to":
            sim = c["similarity"][j]
            rows.append(_hit(ws, k, table=table, score=sim, similarity=_r(sim, 6), stability=st))
        elif kind == "symbols_activating":
            w = c["strength"][j]
            rows.append(_hit(ws, k, table=table, score=w, strength=_r(w, 6), feature=int(c["feature"][j]), stability=st))
        elif kind == "explain_feature":
            w, f = c["strength"][j], int(c["feature"][j])
            rows.append(_hit(ws, k, table=table, score=w, strength=_r(w, 6), feature=f, feature_label=space.feature_label(f)))
        elif kind == "unstable_symbols":
            rows.append(_hit(ws, k, table=table, score=c["stability"][j], stability=st))
        elif kind == "pruning_candidates":
            w = c["strength"][j]
            reasons = operators.pruning_reasons(int(c["reasons"][j]), float(w), float(c["stability"][j]),
                                              float(c["generic"][j]), float(c["nearest"][j]), cand.meta,
                                              float(c["reliability"][j]))
            rows.append(_hit(ws, k, table=table, score=w, strength=_r(w, 6), stability=st, reasons=reasons))
        else:  # pragma: no cover
            raise AssertionError(kind)
    return rows


# -- questions answered row by row: pairs and SPARQL sources ------------------------------------


def _row_question(ws: QueryContext, op: QuestionOp) -> tuple[list[Any], dict]:
    if op.kind in ("align", "bridges"):
        rows: list[Any] = _pairs(ws, op)
    else:
        rows = _sparql_source(ws, op)
    if op.where is not None and op.kind != "sparql_source":
        rows = _semi_join(ws, rows, op)
    for t in op.thresholds:
        rows = [r for r in rows if (v := _field(r, t.field)) is not None and _OPS[t.op](v, t.value)]
    for ob in reversed(op.order_by):
        rows.sort(key=lambda r, f=ob.field: _sort_key(_field(r, f)), reverse=ob.descending)
        rows.sort(key=lambda r, f=ob.field: _field(r, f) is None)  # missing values last either way
    if op.limit is not None:
        rows = rows[: op.limit]
    return rows, {}


def _sparql_source(ws: QueryContext, op: QuestionOp) -> list[SymbolHit]:
    """The symbols a SPARQL pattern binds to ``?symbol`` (one row per graph declaring the IRI), by
    graph and IRI."""
    embedded = ws.has_space()
    space = ws.space if embedded else None
    out = []
    for iri in dict.fromkeys(_sparql_bindings(ws, op.where, "symbol", None)):
        for s in ws.symbol_table.resolve(f"<{iri}>"):
            if op.graphs is not None and s.graph not in op.graphs:
                continue
            k = (s.graph, s.iri)
            st = space.stability(k) if space is not None and space.has(k) else None
            out.append(_hit(ws, k, st, stability=None if st is None else round(st, 4)))
    out.sort(key=lambda h: (h.graph, h.iri))
    return out


def _pairs(ws: QueryContext, op: QuestionOp) -> list[PairHit]:
    src, tgt = op.args["source"], op.args["target"]
    if op.kind == "align":
        alignment = ws.match(src, tgt)
        space = ws.space if ws.has_space() else None
        out = []
        for c in alignment:
            ev = {e.kind: round(e.score, 4) for e in c.evidence if e.kind != "repair"}
            a, b = (c.subject_graph, c.subject), (c.object_graph, c.object)
            both = space is not None and space.has(a) and space.has(b)
            ov = _overlap(space, a, b) if both else None
            sim = round(space.similarity(a, b), 6) if both else None
            out.append(PairHit(c.subject_graph, c.subject, c.subject_label, c.object_graph, c.object, c.object_label,
                               c.relation, round(c.confidence, 6),
                               {"similarity": sim, "overlap": ov, "lexical": ev.get("lexical"),
                                "structural": ev.get("structural"), "neural": ev.get("neural"),
                                "justification": c.justification}))
        out.sort(key=lambda p: -p.confidence)
        return out
    return _bridges(ws, src, tgt)


def _overlap(space: Any, a: tuple[str, str], b: tuple[str, str]) -> float:
    """Weighted Jaccard overlap of two symbols' supports."""
    fa = {f: w for f, w, _ in space.support_of(a)}
    fb = {f: w for f, w, _ in space.support_of(b)}
    union = set(fa) | set(fb)
    num = sum(min(fa.get(f, 0.0), fb.get(f, 0.0)) for f in union)
    den = sum(max(fa.get(f, 0.0), fb.get(f, 0.0)) for f in union)
    return round(num / den if den else 0.0, 6)


def _bridges(ws: QueryContext, source: str, target: str) -> list[PairHit]:
    """:func:`kgalign.align.bridges.find_bridges` between the two graphs (mutual nearest neighbours
    of one category, well above the pair's typical similarity), with the support overlap and the
    weaker activation strength of each pair."""
    from kgalign.align.bridges import find_bridges

    space = ws.space
    out = []
    # As in the report: a pair the matcher maps is a mapping, not a bridge.
    for b in find_bridges(ws, [ws.match(source, target)], graphs=[source, target]):
        if b.source[0] != source:  # the pair of graphs is taken in sorted order
            b = replace(b, source=b.target, target=b.source, source_label=b.target_label,
                        target_label=b.source_label, relation=_CONVERSE.get(b.relation, b.relation))
        strength = min(space.table.strength[space.row_of(b.source)], space.table.strength[space.row_of(b.target)])
        out.append(PairHit(b.source[0], b.source[1], b.source_label, b.target[0], b.target[1], b.target_label,
                           b.relation, round(float(b.similarity), 6),
                           {"similarity": round(float(b.similarity), 6), "overlap": _overlap(space, b.source, b.target),
                            "strength": round(float(strength), 6), "reason": b.reason}))
    out.sort(key=lambda p: (-p.confidence, p.source, p.target))
    return out


_CONVERSE = {"<": ">", ">": "<"}


# -- SPARQL -----------------------------------------------------------------------------------

def _all_prefixes(ws: QueryContext) -> dict[str, str]:
    merged: dict[str, str] = {}
    for table in ws.symbol_table.prefixes.values():
        for p, ns in table.items():
            merged.setdefault(p, ns)
    return merged


def _run_pattern(ws: QueryContext, where: SparqlFilter, header: str, tail: str) -> Any:
    """Run ``header + pattern + tail + }`` and read its solutions; a SPARQL syntax error points into
    the pattern as written in the DSL text (the engine attaches that text). The pattern is the
    user's SPARQL by design; everything spliced around it (candidate IRIs) is escaped."""
    text = header + where.pattern_text + tail + "\n}"
    try:
        return _solutions(ws.sparql_raw(text, prefixes=_all_prefixes(ws)))
    except QuerySyntaxError as e:
        if e.line is None:
            raise QuerySyntaxError(e.message) from None
        offset = _offset(text, e.line, e.column or 1) - len(header)
        line, column = _relocate(where.pattern_text, min(max(offset, 0), len(where.pattern_text)), where.span)
        raise QuerySyntaxError(e.message, line=line, column=column) from None


def _offset(text: str, line: int, column: int) -> int:
    """Character offset of pyoxigraph's 1-based (line, byte column) in ``text``."""
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    head = lines[line - 1].encode()[: max(column - 1, 0)].decode(errors="ignore")
    return sum(len(x) + 1 for x in lines[: line - 1]) + len(head)


def _relocate(inner: str, offset: int, span: Any) -> tuple[int | None, int | None]:
    """(line, column) in the DSL text of ``offset`` into ``inner``, text that starts at ``span``."""
    if not span.start_line:
        return None, None
    before = inner[:offset]
    newlines = before.count("\n")
    if newlines == 0:
        return span.start_line, span.start_column + offset
    return span.start_line + newlines, offset - before.rfind("\n")


def _solutions(res: Any) -> Any:
    """Read a lazily evaluated result to the end, so evaluation errors surface here as one message."""
    try:
        if isinstance(res, Solutions):
            names = res.variables
            return _Solutions(names, [sol.as_dict() for sol in res])
        if isinstance(res, Triples):
            return list(res)
        return res
    except (OSError, RuntimeError, ValueError) as e:
        raise KgalignError(f"SPARQL evaluation failed: {e}") from None


class _Solutions(list):
    def __init__(self, names: list[str], rows: list[dict[str, Any]]) -> None:
        super().__init__(rows)
        self.names = names


def _sparql_bindings(ws: QueryContext, where: SparqlFilter, var: str, values: list[str] | None) -> list[str]:
    """IRIs the pattern binds to ``?var`` (only among ``values`` when given), in the store's order."""
    tail = ""
    if values is not None:
        tail = "\nVALUES ?" + var + " { " + " ".join(f"<{escape_iri(v)}>" for v in dict.fromkeys(values)) + " }"
    res = _run_pattern(ws, where, f"SELECT DISTINCT ?{var} WHERE {{ ", tail)
    return [t.value for row in res if isinstance(t := row[var], NamedNode)]


def _sparql_pair_bindings(ws: QueryContext, where: SparqlFilter,
                          values: list[tuple[str, str]] | None) -> set[tuple[str | None, str | None]]:
    """``(source, target)`` IRI pairs the pattern binds (None where it leaves a variable unbound)."""
    tail = ""
    if values is not None:
        rows = " ".join(f"(<{escape_iri(a)}> <{escape_iri(b)}>)" for a, b in values)
        tail = "\nVALUES (?source ?target) { " + rows + " }"
    res = _run_pattern(ws, where, "SELECT DISTINCT ?source ?target WHERE { ", tail)

    def iri(t: Any) -> str | None:
        return t.value if isinstance(t, NamedNode) else None

    return {(iri(row["source"]), iri(row["target"])) for row in res}


def _semi_join(ws: QueryContext, rows: list[Any], op: QuestionOp) -> list[Any]:
    """Rows whose identity the ``where`` pattern binds: ``?source`` and ``?target`` for pairs."""
    if not rows:
        return []
    if op.returns != "pairs":
        iris = [r.iri for r in rows]
        keep = set(_sparql_bindings(ws, op.where, "symbol", iris if len(set(iris)) <= VALUES_PUSHDOWN_MAX else None))
        return [r for r in rows if r.iri in keep]
    pairs = list(dict.fromkeys((r.source, r.target) for r in rows))
    found = _sparql_pair_bindings(ws, op.where, pairs if len(pairs) <= VALUES_PUSHDOWN_MAX else None)
    return [r for r in rows if (r.source, r.target) in found or (r.source, None) in found or (None, r.target) in found]


def run_sparql(ws: QueryContext, text: str, span: Any = None) -> Result:
    """A whole SPARQL query, with the artefacts' prefixes known (its own PREFIX lines win)."""
    try:
        res = _solutions(ws.sparql_raw(text, prefixes=_all_prefixes(ws)))
    except QuerySyntaxError as e:
        if e.line is None or span is None:
            raise QuerySyntaxError(e.message, line=e.line, column=e.column) from None
        line, column = _relocate(text, _offset(text, e.line, e.column or 1), span)
        raise QuerySyntaxError(e.message, line=line, column=column) from None
    if isinstance(res, bool):
        return Result("boolean", ["boolean"], [{"boolean": bool(res)}])
    if isinstance(res, list) and not isinstance(res, _Solutions):
        rows = [{"subject": str(t.subject), "predicate": str(t.predicate), "object": str(t.object)} for t in res]
        return Result("triples", ["subject", "predicate", "object"], rows)
    rows = [{n: _plain(sol[n]) for n in res.names} for sol in res]
    return Result("sparql", res.names, rows)


def _plain(term: Any) -> Any:
    if term is None:
        return None
    return term.value if isinstance(term, (NamedNode, Literal)) else str(term)
